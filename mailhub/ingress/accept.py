"""Accepting a message: check recipients, then store the raw bytes and a row, durably.

This is the only thing ingress does before answering "250": the file is written and fsynced,
then the row commits. Duplicates (same Message-ID, same bytes, same recipients, as when a
sending server retries after a lost "250") are recognised here and not stored twice; the same
mail arriving with other bytes (over IMAP as well) is recognised when it is processed.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.orm import Session

from mailhub.content.parse import message_id_of
from mailhub.db import SessionFactory, unit_of_work
from mailhub.domain.directory import space_by_slug, tenant_by_domain
from mailhub.errors import MailhubError
from mailhub.ingress.commit import Accepted, GroupCommitter, NewInbound, insert_batch
from mailhub.outbound.keys import reply_key_for
from mailhub.routing import NOTIFICATIONS, SEALED, Mailbox, route, seal, shown
from mailhub.stores.rawstore import RawStore, Spool


class UnknownRecipient(MailhubError):
    """Nobody here answers at that address (unknown domain, space or key)."""


@dataclass(frozen=True)
class Envelope:
    mail_from: str
    rcpt_to: tuple[str, ...]
    peer: str = ""
    # (size, limit) of a message too large to fetch from its mailbox: only its header came.
    oversize: tuple[int, int] | None = None


def check_recipient(session: Session, address: str) -> int:
    """The tenant id that answers at this address, or UnknownRecipient saying why not."""
    r = route(address)
    if not r.domain:
        raise UnknownRecipient(f"{address!r} is not a valid address")
    if r.arg.startswith(SEALED):  # a key's hash is how mailhub stores it, never an address
        raise UnknownRecipient(f"no mailbox {shown(address)!r} at {r.domain}")
    tenant = tenant_by_domain(session, r.domain)
    if tenant is None:
        raise UnknownRecipient(f"{r.domain} is not a domain mailhub serves")
    if r.mailbox is Mailbox.BACKSTOP:
        raise UnknownRecipient(f"no mailbox {r.local!r} at {r.domain}")
    if (
        r.mailbox in (Mailbox.PAGES, Mailbox.FORMS)
        and r.arg  # form@: the default space, decided (and explained) when it is processed
        and r.arg != NOTIFICATIONS  # taken, and answered with where to write instead
        and space_by_slug(session, tenant.id, r.arg) is None
    ):
        raise UnknownRecipient(f"no space {r.arg!r} at {r.domain}")
    if r.mailbox is Mailbox.COMMENTS and reply_key_for(session, tenant.id, r.arg) is None:
        raise UnknownRecipient("this reply address is unknown or has expired")
    return tenant.id


class RecipientCache:
    """Remembers recently accepted recipients for a few seconds, so a busy SMTP server does not
    ask the database again for every RCPT to the same space. Refusals are never cached: a
    space or key created a moment ago is found at once."""

    def __init__(self, factory: SessionFactory, ttl: float = 5.0) -> None:
        self.factory = factory
        self.ttl = ttl
        self._known: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()

    def cached(self, address: str) -> int | None:
        """The tenant if the address was accepted within the last `ttl` seconds; no query."""
        with self._lock:
            hit = self._known.get(address)
        if hit is not None and time.monotonic() - hit[1] < self.ttl:
            return hit[0]
        return None

    def tenant_of(self, address: str) -> int:
        hit = self.cached(address)
        if hit is not None:
            return hit
        now = time.monotonic()
        with unit_of_work(self.factory) as session:
            tenant_id = check_recipient(session, address)
        with self._lock:
            if len(self._known) > 10_000:
                self._known.clear()
            self._known[address] = (tenant_id, now)
        return tenant_id


def store_inbound(
    factory: SessionFactory,
    store: RawStore,
    message: Spool | bytes,
    envelope: Envelope,
    tenants: Mapping[str, int] | None = None,
    committer: GroupCommitter | None = None,
) -> list[Accepted]:
    """Store one delivery, once per tenant it is addressed to; committed before returning.

    `message` is a finished spool (as the SMTP server streams it) or the raw bytes. `tenants`
    maps each recipient to its tenant when the caller has checked them already (the SMTP
    server does at RCPT). With a `committer`, the rows commit together with other deliveries'
    rows. Any exception means nothing was accepted and no file is left behind, so the edge
    answers with a temporary failure and the sender retries.
    """
    spool = message if isinstance(message, Spool) else store.spool_bytes(message)
    try:
        if tenants is None:
            with unit_of_work(factory) as session:
                tenants = {rcpt: check_recipient(session, rcpt) for rcpt in envelope.rcpt_to}
        rows = place_delivery(store, spool, envelope, tenants, sync=committer is None)
        try:
            if committer is not None:
                accepted = committer.store(rows, {store.directory_of(r.raw_path) for r in rows})
            else:
                with unit_of_work(factory) as session:
                    accepted = insert_batch(session.connection(), rows)
        except BaseException:
            forget_delivery(store, rows)
            raise
        return settle_delivery(store, rows, accepted)
    finally:
        spool.discard()  # the spool's own name; the placed names stay


def place_delivery(
    store: RawStore, spool: Spool, envelope: Envelope, tenants: Mapping[str, int], sync: bool
) -> list[NewInbound]:
    """Files before rows: the finished spool's bytes under each tenant's own name, fsynced (and,
    with `sync`, their directories too); the rows that record them, to be committed next."""
    by_tenant: dict[int, list[str]] = defaultdict(list)
    for rcpt in envelope.rcpt_to:
        by_tenant[tenants[rcpt]].append(seal(rcpt))  # no reply key or token in clear at rest
    message_id = message_id_of(spool.head, spool.sha256)
    rows: list[NewInbound] = []
    inline = store.inline(spool)  # small, in the database: committed with the row
    try:
        for n, (tenant_id, rcpts) in enumerate(by_tenant.items(), 1):
            rel = (
                store.name_for(tenant_id)
                if inline is not None
                else store.place(spool, tenant_id, last=n == len(by_tenant), sync=sync)
            )
            rows.append(
                NewInbound(
                    tenant_id=tenant_id,
                    mail_from=envelope.mail_from.lower(),
                    rcpt_to=rcpts,
                    message_id=message_id,
                    sha256=spool.sha256,
                    rcpt_key=rcpt_key(rcpts),
                    raw_path=rel,
                    size=spool.size,
                    peer=envelope.peer,
                    oversize=envelope.oversize[0] if envelope.oversize else None,
                    oversize_limit=envelope.oversize[1] if envelope.oversize else None,
                    blob=inline,
                )
            )
    except BaseException:
        forget_delivery(store, rows)
        raise
    return rows


def forget_delivery(store: RawStore, rows: list[NewInbound]) -> None:
    """Remove the files of rows that were not committed."""
    for row in rows:
        store.delete(row.raw_path)


def settle_delivery(
    store: RawStore, rows: list[NewInbound], accepted: list[Accepted]
) -> list[Accepted]:
    """After the commit: a sender's retry of a message already stored keeps no second file."""
    for row, stored in zip(rows, accepted, strict=True):
        if stored.duplicate:
            store.delete(row.raw_path)
    return accepted


def rcpt_key(rcpts: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(r.lower() for r in rcpts)).encode()).hexdigest()
