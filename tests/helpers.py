"""Helpers that act like people and their mail clients."""

from __future__ import annotations

import smtplib
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

from sqlalchemy import func, select

from mailhub.models import InboundMessage, InboundStatus
from mailhub.tasks import Runtime

MAIL = Path(__file__).parent / "mail"


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
