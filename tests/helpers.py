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
    for path in sorted(runtime.settings.outbox_dir.glob("*.eml")):
        msg = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
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
