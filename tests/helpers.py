"""Helpers that act like people and their mail clients."""

from __future__ import annotations

import base64
import smtplib
import sys
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import func, select

from mailhub.models import InboundMessage, InboundStatus, Notification, NotificationStatus
from mailhub.tasks import Runtime

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
MAIL = TESTS / "mail"
# The `mailhub` command of the virtualenv the tests run in.
MAILHUB = str(Path(sys.executable).parent / "mailhub")


def fixture(name: str) -> bytes:
    return (MAIL / name).read_bytes()


def smtp_send(
    port: int, mail_from: str, rcpts: list[str], raw: bytes
) -> dict[str, tuple[int, bytes]]:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
        return s.sendmail(mail_from, rcpts, raw)


def outbox(runtime: Runtime) -> list[EmailMessage]:
    msgs = []
    for name in runtime.places.outbox.names():  # on the disk, or in the database
        msg = BytesParser(policy=policy.default).parsebytes(runtime.places.outbox.read(name))
        assert isinstance(msg, EmailMessage)
        msgs.append(msg)
    return msgs


def to(msg: EmailMessage) -> str:
    return str(msg["To"].addresses[0].addr_spec)


def reply_like_gmail(original: EmailMessage, sender: str, text: str) -> bytes:
    """A reply shaped the way Gmail writes one: new text, an "On … wrote:" line, quoted history."""
    reply = EmailMessage()
    reply["From"] = sender
    reply["To"] = str(original["Reply-To"])
    reply["Subject"] = "Re: " + str(original["Subject"])
    reply["Message-ID"] = f"<reply-{abs(hash((sender, text)))}@mail.gmail.example>"
    reply["In-Reply-To"] = str(original["Message-ID"])
    reply["References"] = str(original["Message-ID"])
    body = original.get_body(preferencelist=("plain",))
    assert body is not None
    quoted = "\n".join("> " + ln for ln in body.get_content().splitlines())
    reply.set_content(
        f"{text}\n\nOn Tue, Nov 24, 2026 at 10:02 AM Acme <notifications@acme.example>\nwrote:\n\n{quoted}\n"
    )
    return reply.as_bytes()


def final_count(runtime: Runtime) -> int:
    with runtime.sessions() as s:
        return int(
            s.scalar(
                select(func.count())
                .select_from(InboundMessage)
                .where(InboundMessage.status.in_([v.value for v in InboundStatus.final()]))
            )
            or 0
        )


def settled(runtime: Runtime) -> bool:
    """Every inbound message has left processing and every notification is final (sent,
    failed or suppressed): what a relay will receive has been received. Wait for this, then
    look, instead of sleeping or counting mails that a parallel notification can change."""
    busy = (InboundStatus.PENDING.value, InboundStatus.PROCESSING.value)
    owed = (NotificationStatus.QUEUED.value, NotificationStatus.SENDING.value)
    with runtime.sessions() as s:
        inbound = s.scalar(
            select(func.count()).select_from(InboundMessage).where(InboundMessage.status.in_(busy))
        )
        outbound = s.scalar(
            select(func.count()).select_from(Notification).where(Notification.status.in_(owed))
        )
    return not inbound and not outbound


@dataclass(frozen=True)
class DkimTestKey:
    """A signing key and the one TXT record a receiver's DNS lookup would find for it."""

    pem: bytes
    records: dict[bytes, bytes]

    def dns(self, name: bytes, timeout: int = 5) -> bytes | None:
        """dkimpy's dnsfunc: only this key's record exists."""
        return self.records.get(name if name.endswith(b".") else name + b".")


def dkim_test_key(selector: str, domain: str = "acme.example") -> DkimTestKey:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = base64.b64encode(
        key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    name = f"{selector}._domainkey.{domain}.".encode()
    return DkimTestKey(pem, {name: b"v=DKIM1; k=rsa; p=" + public})


def sign_in(client: Any, sessions: Any, tenant_slug: str, email: str) -> str:
    """Sign `email` in on a TestClient the way a magic link does (a minted token consumed by
    mailhub.signin), skipping only the mail; return the session's CSRF token."""
    from mailhub.db import unit_of_work
    from mailhub.domain import directory, signin
    from mailhub.models import SubjectKind, WebSession
    from mailhub.outbound.keys import hash_key, mint_token
    from mailhub.web.auth import COOKIE

    with unit_of_work(sessions) as s:
        tenant = directory.get_tenant(s, tenant_slug)
        user = directory.get_user(s, tenant, email)
        token = mint_token(s, tenant.id, user.id, "signin", SubjectKind.TENANT, tenant.id)
        s.flush()
        opened = signin.sign_in(s, tenant, token)
        s.flush()
        csrf = s.scalars(
            select(WebSession.csrf).where(WebSession.token_hash == hash_key(opened.cookie))
        ).one()
    client.cookies.set(COOKIE, opened.cookie)
    return str(csrf)


def press_sign_in(client: Any, link: str) -> Any:
    """Open a sign-in link and press its button, as a browser does (the page sets the form's
    double-submit cookie and token; only that POST signs in)."""
    import re

    page = client.get(link)
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    return client.post(link, data={"csrf": token.group(1) if token else ""}, follow_redirects=False)


def png(width: int = 900, height: int = 600) -> bytes:
    """A real PNG image, big enough to get thumbnails."""
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), (20, 120, 200)).save(out, "PNG")
    return out.getvalue()


CHROMIUM = "/usr/bin/chromium"


def chromium(playwright: Any) -> Any:
    """Debian's Chromium, headless, as the browser tests drive it."""
    return playwright.chromium.launch(
        executable_path=CHROMIUM,
        headless=True,
        args=["--no-sandbox", "--disable-background-networking"],
    )


# Documents with known words, built here byte by byte, for the text search reads from files


def pdf_with(*lines: str) -> bytes:
    """A one-page PDF showing `lines` in Helvetica (WinAnsi, so "Zoë" is one byte ë)."""
    shown = b"".join(
        b"(" + line.encode("cp1252").replace(b"(", b"\\(").replace(b")", b"\\)") + b") Tj T* "
        for line in lines
    )
    stream = b"BT /F1 12 Tf 14 TL 72 720 Td " + shown + b"ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return out


def zipped(members: dict[str, str]) -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def docx_with(*paragraphs: str) -> bytes:
    w = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    body = "".join(f"<w:p><w:r><w:t>{p}</w:t></w:r></w:p>" for p in paragraphs)
    return zipped(
        {
            "[Content_Types].xml": "<Types/>",
            "word/document.xml": f'<?xml version="1.0" encoding="UTF-8"?>'
            f'<w:document xmlns:w="{w}"><w:body>{body}</w:body></w:document>',
        }
    )


def odt_with(*paragraphs: str) -> bytes:
    ns = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
    body = "".join(f"<text:p>{p}</text:p>" for p in paragraphs)
    return zipped(
        {
            "mimetype": "application/vnd.oasis.opendocument.text",
            "content.xml": f'<?xml version="1.0" encoding="UTF-8"?>'
            f'<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:'
            f'office:1.0" xmlns:text="{ns}"><office:body><office:text>{body}</office:text>'
            f"</office:body></office:document-content>",
        }
    )


def xlsx_with(*cells: str) -> bytes:
    ns = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    strings = "".join(f"<si><t>{c}</t></si>" for c in cells)
    return zipped(
        {
            "xl/sharedStrings.xml": f'<sst xmlns="{ns}" count="{len(cells)}">{strings}</sst>',
            "xl/worksheets/sheet1.xml": f'<worksheet xmlns="{ns}"><sheetData><row r="1">'
            f'<c r="A1"><v>42</v></c></row></sheetData></worksheet>',
        }
    )


def listening(port: int) -> bool:
    """Something accepts connections on 127.0.0.1:port."""
    import socket

    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False
