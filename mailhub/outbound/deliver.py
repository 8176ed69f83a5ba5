"""Delivering notifications exactly once, a batch at a time: claim, render, hand over, mark sent.

The claim is a committed status change (queued → sending) with a time stamp. A second job for
the same notification finds it sent, or claimed within the lease, and does nothing; so retries
and sweeper re-enqueues never send it twice. Only a worker killed between the relay's "250"
and the commit after it can cause a repeat, and that repeat carries the same Message-ID.

A job carries up to BATCH ids: one transaction claims and prepares them all (a fan-out to
thousands was bound by commits, not by rendering); each is marked sent as soon as the relay
took it, so a worker killed mid-batch re-sends at most the one mail in flight. Objection and bounce suppression are checked in the claiming transaction, so an
objection recorded while a notification waited in the queue still stops it.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mailhub.db import SessionFactory, unit_of_work
from mailhub.domain import objections
from mailhub.models import (
    Comment,
    Notification,
    NotificationKind,
    NotificationStatus,
    Page,
    Revision,
    Space,
    Suppression,
    Tenant,
    User,
    utcnow,
)
from mailhub.outbound.compose import Envelope, compose
from mailhub.outbound.prepare import Prepared, prepare
from mailhub.outbound.render import Renderer
from mailhub.outbound.signing import DkimSigner
from mailhub.outbound.transport import Transport, TransportError
from mailhub.stores.files import FileStore

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BATCH = 20  # ids per job: fewer commits, and a short resend window if a worker dies
MARK_EVERY = 10  # mails the relay took before they are marked sent in one commit…
MARK_SECONDS = 0.5  # …or this long, whichever comes first
_DONE = (NotificationStatus.SENT, NotificationStatus.FAILED, NotificationStatus.SUPPRESSED)
# Mail an objection does not stop: what the person asked for themselves (a sign-in link, the
# confirmation and outcome of their own privacy request), as Art. 21 allows, and the breach
# notices the law requires (Art. 34). A hard-bouncing address still gets nothing.
_ASKED_FOR = frozenset(
    {
        NotificationKind.SIGN_IN,
        NotificationKind.PRIVACY_VERIFY,
        NotificationKind.PRIVACY_REPORT,
        NotificationKind.BREACH_NOTICE,
        NotificationKind.ACCOUNT_EXPIRY,
    }
)


class Retry(TransportError):
    """Some notifications of a batch met a temporary failure; they are queued again."""


def deliver_notification(
    factory: SessionFactory,
    renderer: Renderer,
    transport: Transport,
    base_url: str,
    notification_id: int,
    lease: timedelta = timedelta(minutes=5),
    signer: DkimSigner | None = None,
    files: FileStore | None = None,
    file_key: bytes = b"",
) -> str:
    """Send one notification if it is still owed; return the status it ends in."""
    return deliver_batch(
        factory,
        renderer,
        transport,
        base_url,
        [notification_id],
        lease,
        signer,
        files=files,
        file_key=file_key,
    )[notification_id]


def deliver_batch(
    factory: SessionFactory,
    renderer: Renderer,
    transport: Transport,
    base_url: str,
    ids: Sequence[int],
    lease: timedelta = timedelta(minutes=5),
    signer: DkimSigner | None = None,
    files: FileStore | None = None,
    file_key: bytes = b"",
) -> dict[int, str]:
    """Send each notification that is still owed; return the status each ends in. Raises
    Retry (after recording everything) when some must be tried again later.

    `files` is where the images that travel inside mails are read; `file_key` signs the links
    to files that mails carry (outbound.files)."""
    results, claimed = _claim(factory, base_url, ids, lease, file_key)
    sent: list[int] = []
    again: dict[int, str] = {}
    failed: dict[int, str] = {}
    batch = getattr(transport, "batch", contextlib.nullcontext)
    with batch():  # one relay connection for the whole job, where the transport has one
        _send_all(factory, renderer, transport, signer, files, claimed, sent, again, failed)
    with unit_of_work(factory) as session:
        for outcome, errors in (
            (NotificationStatus.FAILED, failed),
            (NotificationStatus.QUEUED, again),
        ):
            for id_, error in errors.items():
                session.execute(
                    update(Notification)
                    .where(Notification.id == id_)
                    .values(status=outcome, last_error=error, claimed_at=None)
                )
    results.update(dict.fromkeys(sent, NotificationStatus.SENT))
    results.update(dict.fromkeys(failed, NotificationStatus.FAILED))
    for id_, error in failed.items():
        log.warning("notification %s failed for good: %s", id_, error)
    if again:
        raise Retry(
            f"{len(again)} of {len(ids)} notifications will be retried: {next(iter(again.values()))}"
        )
    return results


def _send_all(
    factory: SessionFactory,
    renderer: Renderer,
    transport: Transport,
    signer: DkimSigner | None,
    files: FileStore | None,
    claimed: list[tuple[int, int, Prepared]],
    sent: list[int],
    again: dict[int, str],
    failed: dict[int, str],
) -> None:
    """Render, sign and hand over each claimed mail; sort the outcomes into the three lists.

    What the relay took is marked sent in one commit per MARK_EVERY mails or MARK_SECONDS,
    whichever comes first: a commit per mail capped a fan-out at a few hundred mails a second on
    PostgreSQL. A worker killed in between re-sends at most those few, with the same Message-ID,
    which mail clients show once.
    """
    unmarked: list[int] = []
    marked_at = time.monotonic()
    try:
        for id_, attempts, prepared in claimed:
            try:
                data, envelope = build(renderer, signer, prepared, files)
                transport.send(f"notification-{id_}", data, envelope.mail_from, envelope.rcpt_to)
                unmarked.append(id_)
            except TransportError as exc:
                final = exc.permanent or attempts >= MAX_ATTEMPTS
                (failed if final else again)[id_] = str(exc)[:2000]
            except Exception as exc:  # a template or data error: this one waits, the batch goes on
                log.exception("notification %s could not be built", id_)
                (failed if attempts >= MAX_ATTEMPTS else again)[id_] = (
                    f"{type(exc).__name__}: {exc}"
                )
            if len(unmarked) >= MARK_EVERY or time.monotonic() - marked_at >= MARK_SECONDS:
                _mark_sent(factory, unmarked, sent)
                marked_at = time.monotonic()
    finally:
        _mark_sent(factory, unmarked, sent)  # what the relay took is recorded, whatever follows


def _mark_sent(factory: SessionFactory, ids: list[int], sent: list[int]) -> None:
    if not ids:
        return
    with unit_of_work(factory) as session:
        session.execute(
            update(Notification)
            .where(Notification.id.in_(ids))
            .values(status=NotificationStatus.SENT, sent_at=utcnow(), last_error="")
            .execution_options(synchronize_session=False)  # no objects loaded to update
        )
    sent.extend(ids)
    ids.clear()


def _claim(
    factory: SessionFactory, base_url: str, ids: Sequence[int], lease: timedelta, file_key: bytes
) -> tuple[dict[int, str], list[tuple[int, int, Prepared]]]:
    """In one transaction: skip what is done or busy, suppress what must not go, claim and
    prepare the rest (minting each mail's keys and tokens)."""
    results: dict[int, str] = {}
    claimed: list[tuple[int, int, Prepared]] = []
    with unit_of_work(factory) as session:
        rows = list(
            session.scalars(
                select(Notification)
                .where(Notification.id.in_(ids))
                .order_by(Notification.id)
                .with_for_update()
            )
        )
        results.update(dict.fromkeys(set(ids) - {n.id for n in rows}, "missing"))
        users = {n.user_id for n in rows if n.user_id is not None}
        objectors = objections.among(session, users)
        bouncing = {
            (tenant_id, address)
            for tenant_id, address in session.execute(
                select(Suppression.tenant_id, Suppression.address).where(
                    Suppression.address.in_({n.to_addr.lower() for n in rows}),
                    Suppression.suppressed,
                )
            )
        }
        held = _load_together(session, rows)  # noqa: F841 (held until the claim commits)
        now = utcnow()
        for n in rows:
            if n.status in _DONE:
                results[n.id] = n.status
            elif n.user_id in objectors and n.kind not in _ASKED_FOR:
                # (What the person asked for themselves is theirs, objection or not.)
                # Objected after this was queued: the objection wins, right up to the send.
                n.status, n.last_error = NotificationStatus.SUPPRESSED, "recipient objected"
                results[n.id] = n.status
            elif (n.tenant_id, n.to_addr.lower()) in bouncing:
                n.status, n.last_error = NotificationStatus.SUPPRESSED, "the address bounces"
                results[n.id] = n.status
            elif (
                n.status == NotificationStatus.SENDING
                and n.claimed_at
                and now - n.claimed_at < lease
            ):
                results[n.id] = "busy"
            else:
                n.status, n.claimed_at, n.attempts = NotificationStatus.SENDING, now, n.attempts + 1
                try:
                    # Checks that can fail (a row gone, tenants crossed) come before anything
                    # is added, so a failure leaves nothing behind for the others' commit.
                    with session.no_autoflush:
                        prepared = prepare(session, n, base_url, file_key)
                except Exception as exc:  # bad data for this one: it fails alone
                    log.exception("notification %s cannot be prepared", n.id)
                    n.status, n.last_error = (
                        NotificationStatus.FAILED,
                        f"{type(exc).__name__}: {exc}",
                    )
                    results[n.id] = n.status
                    continue
                claimed.append((n.id, n.attempts, prepared))
    return results, claimed


def _load_together(session: Session, rows: list[Notification]) -> list[object]:
    """The tenants, recipients, pages, spaces, revisions, comments and authors a job's mails
    are made of, each kind in one query, returned so that the caller holds them: the session
    keeps an object only while something refers to it, so each mail of a fan-out loaded its
    page, space and tenant again (five queries a mail, most of a PostgreSQL delivery's time)."""
    held: list[object] = []

    def load(model: Any, ids: set[int | None]) -> list[Any]:
        wanted = {i for i in ids if i is not None}
        found = list(session.scalars(select(model).where(model.id.in_(wanted)))) if wanted else []
        held.extend(found)
        return found

    load(Tenant, {n.tenant_id for n in rows})
    pages = load(Page, {n.page_id for n in rows})
    load(Space, {p.space_id for p in pages})
    revisions = load(Revision, {n.revision_id for n in rows})
    comments = load(Comment, {n.comment_id for n in rows})
    authors = [*revisions, *comments, *pages]
    load(User, {n.user_id for n in rows} | {a.author_id for a in authors})
    return held


def build(
    renderer: Renderer,
    signer: DkimSigner | None,
    prepared: Prepared,
    files: FileStore | None = None,
) -> tuple[bytes, Envelope]:
    """The bytes of a prepared mail: rendered, composed with the images that travel inside it
    (read from the file store; one erased meanwhile is left out), DKIM-signed where a key is
    set."""
    inline = []
    for part in prepared.draft.related:
        if files is None:
            break
        try:
            inline.append((part, files.path(part.path).read_bytes()))
        except (OSError, ValueError):
            log.info("an image of a mail is gone from the file store; the mail goes without it")
    data, envelope = compose(
        prepared.draft,
        renderer.render(prepared.template, prepared.context, prepared.locale),
        inline=inline,
    )
    if signer is not None:
        data = signer.sign(data, prepared.draft.from_addr.rpartition("@")[2])
    return data, envelope


def send_unstored(
    renderer: Renderer,
    transport: Transport,
    signer: DkimSigner | None,
    prepared: Prepared,
    name: str,
) -> None:
    """A mail that is not kept as a row (the last one to an erased person): built like every
    other, one try."""
    try:
        data, envelope = build(renderer, signer, prepared)
        transport.send(name, data, envelope.mail_from, envelope.rcpt_to)
    except Exception:
        log.warning("could not send %s", name, exc_info=True)
