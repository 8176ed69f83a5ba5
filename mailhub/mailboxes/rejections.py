"""The backstop: answering mail that cannot be used, politely, and never answering machines.

RFC 3834 §2: automatic responses go to the envelope sender, and never to mail that is itself
automatic (Auto-Submitted other than "no", bulk or list Precedence, a null sender).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from mailhub.content.parse import ParsedMail
from mailhub.errors import MailhubError
from mailhub.models import InboundMessage, Tenant
from mailhub.outbound import events


class Rejected(MailhubError):
    """The message cannot be used; `code` names the rejection template."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


_AUTO_PRECEDENCE = frozenset({"bulk", "junk", "list", "auto_reply"})


def is_automatic(parsed: ParsedMail, mail_from: str) -> bool:
    h = parsed.headers
    sender = mail_from.strip().strip("<>")
    if not sender or sender.split("@")[0].lower() in ("mailer-daemon", "postmaster"):
        return True
    if h.get("auto-submitted", "no").strip().lower() not in ("", "no"):
        return True
    if h.get("precedence", "").strip().lower() in _AUTO_PRECEDENCE:
        return True
    return any(k in h for k in ("x-autoreply", "x-autorespond", "list-id", "list-unsubscribe"))


def answer(
    session: Session,
    tenant: Tenant,
    msg: InboundMessage,
    parsed: ParsedMail,
    code: str,
    detail: str,
) -> int | None:
    """Queue a rejection notice to the sender; None when one must not be sent."""
    if is_automatic(parsed, msg.mail_from):
        return None
    return events.rejection(
        session, tenant, msg.id, msg.mail_from, code, detail, parsed.subject or "(no subject)"
    ).id
