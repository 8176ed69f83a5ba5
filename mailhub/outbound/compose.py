"""Composing the MIME message for one notification: headers, threading, both bodies.

multipart/alternative with a real text/plain part first (RFC 2046 §5.1.4: last is best).
Auto-Submitted (RFC 3834) on everything, so well-behaved auto-responders stay quiet, and
X-Auto-Response-Suppress for Exchange, which ignores Auto-Submitted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from mailhub.outbound.render import Rendered


@dataclass(frozen=True)
class Envelope:
    mail_from: str
    rcpt_to: list[str]


@dataclass(frozen=True)
class Draft:
    from_name: str
    from_addr: str
    to_name: str
    to_addr: str
    subject: str
    message_id: str
    reason: str
    auto_submitted: str = "auto-generated"
    reply_to: str = ""
    thread_root: str = ""  # Message-ID this mail follows up on
    list_id: str = ""
    return_path: str = ""  # the envelope sender (VERP: bounce+KEY@domain); else from_addr
    extra_headers: dict[str, str] = field(default_factory=dict)


def _address(name: str, addr: str) -> Address:
    local, _, domain = addr.partition("@")
    return Address(display_name=name, username=local, domain=domain)


def compose(draft: Draft, body: Rendered) -> tuple[EmailMessage, Envelope]:
    msg = EmailMessage()
    msg["From"] = _address(draft.from_name, draft.from_addr)
    msg["To"] = _address(draft.to_name, draft.to_addr)
    msg["Subject"] = draft.subject
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = draft.message_id
    if draft.thread_root and draft.thread_root != draft.message_id:
        msg["In-Reply-To"] = draft.thread_root
        msg["References"] = draft.thread_root
    if draft.reply_to:
        msg["Reply-To"] = draft.reply_to
    if draft.list_id:
        msg["List-Id"] = draft.list_id
    msg["Auto-Submitted"] = draft.auto_submitted
    msg["X-Auto-Response-Suppress"] = "All"
    msg["X-Mailhub-Reason"] = draft.reason
    for name, value in draft.extra_headers.items():
        msg[name] = value
    msg.set_content(body.text)
    msg.add_alternative(body.html, subtype="html")
    return msg, Envelope(mail_from=draft.return_path or draft.from_addr, rcpt_to=[draft.to_addr])
