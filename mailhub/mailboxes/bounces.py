"""bounce+KEY@domain: a delivery status notification about a mail mailhub sent (VERP).

The key names the notification, so the bounce names the address without trusting anything in
the report but its status code. A permanent failure (5.x.x, RFC 3463) suppresses the address at
once; temporary ones (4.x.x) add to a score and suppress it at SOFT_LIMIT, as Discourse does.
A suppressed address gets nothing more (checked again right before each send).
"""

from __future__ import annotations

import email
import re
from email import policy
from email.message import Message

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailhub.models import Notification, Suppression, Tenant, utcnow

SOFT_LIMIT = 5
_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_SMTP_CODE = re.compile(r"\b([45])\d\d[ -]")


def dsn_status(raw: bytes) -> tuple[str, str]:
    """(enhanced status code, diagnostic) of a bounce: from its message/delivery-status part
    (RFC 3464) when it has one, else from the first status code in its text."""
    msg = email.message_from_bytes(raw, policy=policy.compat32)
    for part in msg.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        blocks = part.get_payload()
        for block in blocks[1:] if isinstance(blocks, list) else []:
            if not isinstance(block, Message):
                continue
            status = str(block.get("Status", "")).strip()
            match = _STATUS.search(status)
            if match:
                return match.group(0), str(block.get("Diagnostic-Code", "")).strip()[:500]
    text = _text_of(msg)
    match = _STATUS.search(text)
    if match:
        return match.group(0), _line_with(text, match.group(0))
    code = _SMTP_CODE.search(text)
    if code:
        return f"{code.group(1)}.0.0", _line_with(text, code.group(0))
    return "4.0.0", "no status code in the report"


def _text_of(msg: Message) -> str:
    chunks = []
    for part in msg.walk():
        if part.get_content_maintype() == "text":
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                chunks.append(payload.decode(part.get_content_charset() or "utf-8", "replace"))
    return "\n".join(chunks)


def _line_with(text: str, needle: str) -> str:
    return next((ln.strip() for ln in text.splitlines() if needle in ln), "")[:500]


def record(session: Session, tenant: Tenant, key: str, raw: bytes) -> str:
    """Score the bounce against the address it is about; return what was done, for the log."""
    n = session.scalar(
        select(Notification).where(
            Notification.bounce_key == key, Notification.tenant_id == tenant.id
        )
    )
    if n is None:
        return "a bounce for an unknown key; nothing to score"
    status, diagnostic = dsn_status(raw)
    address = n.to_addr.lower()
    row = session.scalar(
        select(Suppression).where(
            Suppression.tenant_id == tenant.id, Suppression.address == address
        )
    )
    if row is None:
        row = Suppression(tenant_id=tenant.id, address=address, soft_score=0, suppressed=False)
        session.add(row)
    hard = status.startswith("5")
    if hard:
        row.suppressed = True
    else:
        row.soft_score += 1
        row.suppressed = row.suppressed or row.soft_score >= SOFT_LIMIT
    row.last_status, row.last_diagnostic, row.updated_at = status, diagnostic, utcnow()
    session.flush()
    kind = "hard" if hard else "soft"
    state = "suppressed" if row.suppressed else f"soft score {row.soft_score}"
    return f"{kind} bounce {status} for notification {n.id}; address {state}"
