"""The checks a message meets before any mailbox sees it: was it handled before (the same
Message-ID by another path), has its sender objected, did the IMAP reader leave it in the
mailbox for being too large, and must it wait for a moderator (unknown or unauthenticated
sender).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailhub.content.parse import ParsedMail
from mailhub.content.senders import MAX_DKIM_BYTES, authenticate, dmarc_policy
from mailhub.domain.objections import in_force
from mailhub.mailboxes.mail import Stores
from mailhub.mailboxes.rejections import Rejected
from mailhub.models import Comment, InboundMessage, InboundStatus, Page, Tenant, User, utcnow
from mailhub.routing import Mailbox, route


def handled_before(session: Session, msg: InboundMessage) -> tuple[set[str], int | None]:
    """Recipients an earlier message with this Message-ID was already processed for.

    The same mail can arrive with different bytes: over SMTP and through a mailbox (IMAP
    rewrites line ends; MTAs add headers), so byte-level dedupe at acceptance misses it. Only
    recipients are skipped, not the message: an MTA may deliver one mail to two spaces in two
    transactions (or retry one recipient after a 4xx), and each space must still get its page.
    """
    if msg.message_id.endswith("@mailhub.invalid>"):
        return set(), None  # made up from the bytes: different bytes, different mail
    handled: set[str] = set()
    first: int | None = None
    for other_id, rcpts in session.execute(
        select(InboundMessage.id, InboundMessage.rcpt_to).where(
            InboundMessage.tenant_id == msg.tenant_id,
            InboundMessage.message_id == msg.message_id,
            InboundMessage.id != msg.id,
            InboundMessage.status == InboundStatus.PROCESSED,
        )
    ):
        handled |= {r.lower() for r in rcpts}
        first = other_id if first is None else min(first, other_id)
    return handled, first


def objection(session: Session, sender: User | None) -> Rejected | None:
    """Art. 21 and 18: mail from someone who objected to processing, or had it restricted, is
    not processed, only answered (at most once a day) with how to withdraw or lift it."""
    request = in_force(session, sender.id) if sender is not None else None
    if sender is None or request is None:
        return None
    return Rejected(request.kind, f"{sender.email}: {request.kind} in force; not processed")


def oversize(msg: InboundMessage) -> Rejected | None:
    """A message the IMAP reader left in the mailbox for being too large (ingress/imap.py)."""
    if msg.oversize is None:
        return None
    size, limit = _megabytes(msg.oversize), _megabytes(msg.oversize_limit)
    return Rejected(
        "too_large", f"{size} is over the limit of {limit}; left in the mailbox", limit=limit
    )


def _megabytes(value: int | None) -> str:
    return "?" if value is None else f"{value / 1_048_576:.1f} MB"


def held_for_moderation(
    stores: Stores,
    tenant: Tenant,
    msg: InboundMessage,
    parsed: ParsedMail,
    recipients: list[str],
    sender: User | None,
) -> str | None:
    """Why mail must wait for a moderator, or None when it may go on. A moderator's approval
    is final.

    Mail from outside the tenant to a space waits when the tenant moderates unknown senders
    (otherwise it is rejected further on). Mail claiming to be from a member waits when its
    authentication fails, or is missing where the tenant requires it or where the From domain's
    DMARC policy says its mail is always authenticated (unless the tenant turned that off).
    """
    if msg.moderation == "approved" or not parsed.from_addr:
        return None
    if sender is None or sender.guest:
        to_space = any(route(r).mailbox is Mailbox.PAGES for r in recipients)
        if to_space and tenant.unknown_senders == "moderate":
            return f"{parsed.from_addr} is not a member of {tenant.name}"
        return None
    raw = (
        stores.raw.read(msg.raw_path)
        if msg.size <= MAX_DKIM_BYTES
        else stores.raw.read_head(msg.raw_path, 262144)
    )
    domain = parsed.from_addr.rpartition("@")[2]
    verdict = authenticate(raw, domain, stores.trusted_authserv_ids, stores.dnsfunc)
    if verdict.result == "fail":
        return verdict.detail
    if verdict.result == "none" and tenant.require_authenticated:
        return f"{tenant.name} requires authenticated mail: {verdict.detail}"
    if verdict.result == "none" and tenant.apply_dmarc:
        policy = dmarc_policy(domain, stores.dnsfunc)
        if policy in ("quarantine", "reject"):
            return (
                f"{domain} publishes DMARC p={policy} and the mail is not authenticated "
                f"({verdict.detail}): the From address may be forged"
            )
    return None


def over_hourly_limit(
    session: Session, stores: Stores, msg: InboundMessage, sender: User | None
) -> str | None:
    """Why a member's mail waits for a moderator because they published too much by mail in
    the last hour, or None. Counted per author, after authentication, so a runaway script or a
    stolen account is slowed however it changes its envelope sender and client address (the
    SMTP door counts those); nothing is lost, and a moderator's approval is final."""
    limit = stores.author_hourly_limit
    if not limit or sender is None or sender.guest or msg.moderation == "approved":
        return None
    since = utcnow() - timedelta(hours=1)
    made = sum(
        session.scalar(
            select(func.count())
            .select_from(model)
            .where(
                model.author_id == sender.id,
                model.created_at >= since,
                model.source_inbound_id.is_not(None),
            )
        )
        or 0
        for model in (Page, Comment)
    )
    if made < limit:
        return None
    return f"{sender.email} published {made} times by mail in the last hour (the limit is {limit})"
