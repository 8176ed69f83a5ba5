"""Processing one stored inbound message: route each recipient to its mailbox, once.

`process_inbound` is the use case the worker runs. It marks the message processing, does all
the work in one transaction that ends with a conditional status change, and so a job that runs
twice (a retry, a sweeper's re-enqueue, a worker killed after commit) creates nothing twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy import update
from sqlalchemy.orm import Session

from mailhub.content.noise import NoiseKind, classify
from mailhub.content.parse import ParsedMail, TooDeep, parse_file, parse_head
from mailhub.db import SessionFactory, rowcount, unit_of_work
from mailhub.domain.directory import guest_author, mark_active, user_by_email
from mailhub.mailboxes import bounces, comments, forms, pages, rejections
from mailhub.mailboxes.mail import Mail, Stores
from mailhub.mailboxes.rejections import Rejected
from mailhub.mailboxes.screening import (
    handled_before,
    held_for_moderation,
    objection,
    over_hourly_limit,
    oversize,
)
from mailhub.mailboxes.unsubscribe import unsubscribe
from mailhub.models import Comment, InboundMessage, InboundStatus, Page, Tenant, User, utcnow
from mailhub.outbound import events
from mailhub.routing import Mailbox, route
from mailhub.stores.files import FileBatch

log = logging.getLogger(__name__)


MAX_ATTEMPTS = 5


MAX_BOUNCE_BYTES = 1024 * 1024  # a report's status is near its top; the rest is the bounced mail


@dataclass
class Outcome:
    status: InboundStatus
    reason: str = ""
    notification_ids: list[int] = field(default_factory=list)


class _LostRace(Exception):
    """Another run finished this message first; roll back what this run did."""


def process_inbound(factory: SessionFactory, stores: Stores, inbound_id: int) -> Outcome | None:
    """Handle one message; return what became of it, or None if it was already handled."""
    with unit_of_work(factory) as session:
        msg = session.get(InboundMessage, inbound_id)
        # Held mail waits for a moderator; a stray job for it (a broker redelivery) does nothing.
        if msg is None or msg.status in InboundStatus.final() or msg.status == InboundStatus.HELD:
            return None
        stopped = msg.attempts >= MAX_ATTEMPTS  # every earlier run died before it finished
        msg.status = InboundStatus.PROCESSING
        msg.attempts += 1
        attempts, raw_path = msg.attempts, msg.raw_path
    if stopped:  # a message that kills or stalls its worker is not tried forever
        return give_up(
            factory, stores, inbound_id, f"processing stopped {attempts - 1} times before it ended"
        )
    try:
        unreadable: Rejected | None = None
        try:
            parsed = parse_file(stores.raw.path(raw_path))
        except TooDeep as exc:  # answered from its headers: the sender is told, not left waiting
            parsed = parse_head(stores.raw.path(raw_path))
            unreadable = Rejected("too_deep", str(exc))
        # Files before rows: the batch removes what it wrote if the transaction fails.
        with stores.files.batch() as batch, unit_of_work(factory) as session:
            inbound = session.get_one(InboundMessage, inbound_id)
            outcome = _dispatch(session, batch, stores, inbound, parsed, unreadable)
            _finish(session, inbound_id, outcome)
        return outcome
    except _LostRace:
        return None
    except Exception as exc:
        if attempts < MAX_ATTEMPTS:
            raise  # the actor retries with back-off
        log.exception("inbound %s failed for good", inbound_id)
        return give_up(
            factory, stores, inbound_id, f"processing failed: {type(exc).__name__}: {exc}"
        )


def give_up(factory: SessionFactory, stores: Stores, inbound_id: int, why: str) -> Outcome | None:
    """End a message that could not be processed as failed, with the reason, and tell its
    sender once (unless it is automatic mail); the administrators see it in the inbound log,
    and `mailhub inbound retry` is the only way it is tried again."""
    outcome = Outcome(InboundStatus.FAILED, why)
    try:
        with unit_of_work(factory) as session:
            msg = session.get_one(InboundMessage, inbound_id)
            tenant = session.get_one(Tenant, msg.tenant_id)
            try:
                parsed: ParsedMail | None = parse_head(stores.raw.path(msg.raw_path))
            except (OSError, ValueError):
                parsed = None
            if parsed is not None and msg.mail_from and classify(parsed, msg.mail_from) is None:
                told = rejections.answer(session, tenant, msg, parsed, "not_processed", why)
                if told is not None:
                    outcome.notification_ids.append(told)
            _finish(session, inbound_id, outcome)
    except _LostRace:
        return None
    return outcome


def _finish(session: Session, inbound_id: int, outcome: Outcome) -> None:
    result = session.execute(
        update(InboundMessage)
        .where(
            InboundMessage.id == inbound_id,
            InboundMessage.status.not_in([s.value for s in InboundStatus.final()]),
        )
        .values(status=outcome.status, reason=outcome.reason[:2000], processed_at=utcnow())
    )
    if rowcount(result) != 1:
        raise _LostRace()


def _dispatch(
    session: Session,
    batch: FileBatch,
    stores: Stores,
    msg: InboundMessage,
    parsed: ParsedMail,
    unreadable: Rejected | None = None,
) -> Outcome:
    tenant = session.get_one(Tenant, msg.tenant_id)
    noise = classify(parsed, msg.mail_from)
    verp = [r.arg for r in map(route, msg.rcpt_to) if r.mailbox is Mailbox.BOUNCES]
    if verp:  # a report about a mail mailhub sent, whatever its envelope sender says
        raw = (stores.raw.path(msg.raw_path)).read_bytes()[:MAX_BOUNCE_BYTES]
        done = [bounces.record(session, tenant, key, raw) for key in verp]
        return Outcome(InboundStatus.BOUNCED, "; ".join(done) + "; not answered")
    if noise is not None:
        status = InboundStatus.BOUNCED if noise.kind is NoiseKind.BOUNCE else InboundStatus.IGNORED
        return Outcome(status, f"{noise.kind}: {noise.reason}; not answered")
    handled, earlier = handled_before(session, msg)
    todo = [r for r in msg.rcpt_to if r.lower() not in handled]
    if not todo:
        return Outcome(InboundStatus.IGNORED, f"duplicate of inbound {earlier} (same Message-ID)")
    sender = user_by_email(session, tenant.id, parsed.from_addr) if parsed.from_addr else None
    if sender is not None and msg.mail_from.lower() == sender.email:
        mark_active(sender)  # their account is in use: no deletion for inactivity
    refused = objection(session, sender) or oversize(msg) or unreadable
    if refused is not None:
        return _reject(Mail(session, batch, 0, tenant, msg, parsed, todo), refused)
    held = held_for_moderation(stores, tenant, msg, parsed, todo, sender) or over_hourly_limit(
        session, stores, msg, sender
    )
    if held is not None:
        told = events.held(session, tenant, msg.id, held, parsed.subject)
        return Outcome(InboundStatus.HELD, f"held for moderation: {held}", told)
    mail = Mail(
        session, batch, stores.max_attachment_size, tenant, msg, parsed, todo, stores.image_hosts
    )
    try:
        outcome = _route_all(mail)
    except Rejected as rej:
        return _reject(mail, rej)
    if mail.refused:
        names = ", ".join(f"{name} ({why})" for name, why in mail.refused)
        outcome.reason += f"; refused attachments: {names}"
        _answer(
            mail,
            outcome,
            Rejected(
                "blocked_attachment", f"these attachments were left out: {names}", files=names
            ),
        )
    return outcome


def _reject(mail: Mail, rej: Rejected) -> Outcome:
    outcome = Outcome(InboundStatus.REJECTED, f"{rej.code}: {rej.detail}")
    _answer(mail, outcome, rej)
    return outcome


def _answer(mail: Mail, outcome: Outcome, rej: Rejected) -> None:
    answer = rejections.answer(
        mail.session, mail.tenant, mail.inbound, mail.parsed, rej.code, rej.detail, rej.params
    )
    if answer is not None:
        outcome.notification_ids.append(answer)
    else:
        outcome.reason += " (not answered: told this sender the same today already)"


def _route_all(mail: Mail) -> Outcome:
    parsed = mail.parsed
    if not parsed.from_addr:
        raise Rejected("no_sender", "the message has no usable From address")
    outcome = Outcome(InboundStatus.PROCESSED)
    done: list[str] = []
    seen: set[tuple[Mailbox, str]] = set()
    # Replies by key first, so a reply-all that reached both a reply address and the space's
    # address comments once (pages.from_mail finds the comment already made).
    routes = sorted(
        (route(addr) for addr in mail.recipients), key=lambda r: r.mailbox is not Mailbox.COMMENTS
    )
    for r in routes:
        # However many of its addresses a message names (a mailbox read over IMAP lists them
        # as its headers do), one page per space, one comment per reply key.
        if (r.mailbox, r.arg.lower()) in seen:
            continue
        seen.add((r.mailbox, r.arg.lower()))
        if r.mailbox is Mailbox.PAGES:
            made_here, ids = pages.from_mail(mail, _author(mail), r.arg)
            outcome.notification_ids += ids
            done.append(
                f"page {made_here.id} in {r.arg}"
                if isinstance(made_here, Page)
                else f"comment {made_here.id} on page {made_here.page_id} (a reply to its thread)"
            )
        elif r.mailbox is Mailbox.FORMS:
            form, ids = forms.create_from_mail(mail, _author(mail), r.arg)
            outcome.notification_ids += ids
            done.append(f"form {form.id} in {r.arg}")
        elif r.mailbox is Mailbox.UNSUBSCRIBE:
            acted = unsubscribe(mail, r.arg)
            outcome.notification_ids += acted.notification_ids
            done.append(acted.message)
        elif r.mailbox is Mailbox.COMMENTS:
            made, ids = comments.add_from_reply(mail, r.arg)
            outcome.notification_ids += ids
            done.append(
                f"comment {made.id} on page {made.page_id}"
                if isinstance(made, Comment)
                else f"reply to form {made.id}"
            )
        else:
            raise Rejected(
                "not_supported",
                f"mail to {r.local}@{r.domain} is not handled yet",
                address=f"{r.local}@{r.domain}",
            )
    outcome.reason = "; ".join(done)
    return outcome


def _author(mail: Mail) -> User:
    """Who a new page is by: an active member, or a guest when a moderator approved the mail."""
    session, tenant, sender = mail.session, mail.tenant, mail.parsed.from_addr
    author = user_by_email(session, tenant.id, sender)
    if author is not None and not author.guest:
        if not author.active:
            raise Rejected("not_allowed", f"{sender}'s account is deactivated", sender=sender)
        return author
    if mail.inbound.moderation == "approved":
        return guest_author(session, tenant, sender, mail.parsed.from_name)
    raise Rejected("unknown_sender", f"{sender} is not a member of {tenant.name}", sender=sender)
