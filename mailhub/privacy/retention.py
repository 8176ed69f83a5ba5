"""Retention: raw mail is incinerated once it has served its purpose; unused accounts are
deleted after warnings where the tenant says so; rotated logs and mail in the outbox expire.

A message's raw file is destroyed a set number of days after it reached a final status
(MAILHUB_RAW_RETENTION_DAYS, 30) — sooner for mail that was never used (rejected, bounced,
ignored: MAILHUB_REJECTED_RETENTION_DAYS, 7). Files before rows: the file goes first, then the
row is stripped of everything personal and stays as the record of the incineration (tenant,
status, reason code, size, dates), as Rails Action Mailbox's incineration does.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.orm import Session

from mailhub.config import Settings
from mailhub.db import SessionFactory, forget_deleted, rowcount, unit_of_work
from mailhub.domain.inbound_log import strip_inbound
from mailhub.domain.signin import purge_expired
from mailhub.models import (
    ActionToken,
    InboundMessage,
    InboundStatus,
    NotificationKind,
    Tenant,
    User,
    utcnow,
)
from mailhub.outbound.events import owe
from mailhub.privacy.erasure import FORMER_MEMBER, Outcome, erase_user
from mailhub.privacy.proof import Places
from mailhub.privacy.requests import expire_archives
from mailhub.stores.rawstore import RawStore

UNUSED = (InboundStatus.REJECTED, InboundStatus.BOUNCED, InboundStatus.IGNORED)
BATCH = 500


@dataclass(frozen=True)
class Incinerated:
    count: int
    bytes: int


def incinerate_due(
    factory: SessionFactory, raw: RawStore, keep_days: int, keep_unused_days: int
) -> Incinerated:
    now = utcnow()
    used_before = now - timedelta(days=keep_days)
    unused_before = now - timedelta(days=keep_unused_days)
    count = size = 0
    while True:
        with unit_of_work(factory) as session:
            due = list(
                session.scalars(
                    select(InboundMessage)
                    .where(
                        InboundMessage.incinerated_at.is_(None),
                        or_(
                            and_(
                                InboundMessage.status.in_([s.value for s in UNUSED]),
                                InboundMessage.processed_at < unused_before,
                            ),
                            and_(
                                InboundMessage.status.in_(
                                    [InboundStatus.PROCESSED.value, InboundStatus.FAILED.value]
                                ),
                                InboundMessage.processed_at < used_before,
                            ),
                        ),
                    )
                    .order_by(InboundMessage.id)
                    .limit(BATCH)
                    .with_for_update(skip_locked=True)
                )
            )
            for msg in due:
                raw.delete(msg.raw_path)  # files before rows
                strip_inbound(msg)
                msg.incinerated_at = now
                count += 1
                size += msg.size
        if len(due) < BATCH:
            return Incinerated(count, size)


def forget_expired_secrets(factory: SessionFactory, keep_days: int = 30) -> int:
    """Delete action tokens that expired more than `keep_days` ago (until then a late click is
    told "expired" rather than "not valid") and web sessions past their expiry."""
    with unit_of_work(factory) as session:
        tokens = rowcount(
            session.execute(
                delete(ActionToken).where(
                    ActionToken.expires_at < utcnow() - timedelta(days=keep_days)
                )
            )
        )
        return tokens + purge_expired(session)


WARNINGS = (30, 7, 1)  # days before an unused account's deletion, each a mail naming the day


def expire_inactive(
    factory: SessionFactory, places: Places, now: datetime | None = None
) -> tuple[list[int], list[Outcome]]:
    """Accounts unused for their tenant's `inactive_days`: warned 30, 7 and 1 days before
    the day, which the first warning fixes (at least 30 days after it, so every warning
    holds), then erased with a proof. Returns (warnings to send, erasures done)."""
    now = now or utcnow()
    mails: list[int] = []
    due: list[tuple[Tenant, str]] = []
    with unit_of_work(factory) as session:
        for tenant in session.scalars(select(Tenant).where(Tenant.inactive_days.is_not(None))):
            assert tenant.inactive_days is not None
            soon = now + timedelta(days=WARNINGS[0]) - timedelta(days=tenant.inactive_days)
            for user in session.scalars(
                select(User).where(
                    User.tenant_id == tenant.id,
                    User.active,
                    ~User.guest,
                    User.email != FORMER_MEMBER,
                    User.last_active_at <= soon,
                )
            ):
                if user.deletion_due_at is None:
                    natural = user.last_active_at + timedelta(days=tenant.inactive_days)
                    user.deletion_due_at = max(natural, now + timedelta(days=WARNINGS[0]))
                left = user.deletion_due_at - now
                if left <= timedelta(0) and user.inactivity_warned == WARNINGS[-1]:
                    due.append((tenant, user.email))
                    continue
                owed = [w for w in WARNINGS if left <= timedelta(days=w)]
                warn = min(owed) if owed else None
                if warn is not None and (user.inactivity_warned or 10**6) > warn:
                    # Late (the worker was down): the day moves so the warning still holds.
                    later = now + timedelta(days=warn)
                    user.deletion_due_at = max(user.deletion_due_at, later)
                    user.inactivity_warned = warn
                    mails.append(_expiry_mail(session, tenant, user, warn))
    erased = [erase_user(factory, places, tenant, email, via="retention") for tenant, email in due]
    return mails, erased


def _expiry_mail(session: Session, tenant: Tenant, user: User, warn: int) -> int:
    assert user.deletion_due_at is not None
    day = f"{user.deletion_due_at:%Y-%m-%d}"
    return owe(
        session,
        user,
        kind=NotificationKind.ACCOUNT_EXPIRY,
        event_key=f"expiry:{user.id}:{day}:{warn}",
        reason="your account is about to be deleted for not being used",
        context={"due": day, "days": warn},
        message_id=f"<{tenant.slug}/expiry/{user.id}/{day}/{warn}@{tenant.domain}>",
    )


def delete_old_logs(log_file: Path | None, keep_days: int, now: float | None = None) -> int:
    """Rotated copies of the log file older than `keep_days` (the handler deletes them at
    each rotation too; this covers a process that was not running at midnight)."""
    if log_file is None or not log_file.parent.is_dir():
        return 0
    cutoff = (now or time.time()) - keep_days * 86400
    count = 0
    for path in log_file.parent.glob(log_file.name + ".*"):
        if path.is_file() and path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
            count += 1
    return count


@dataclass(frozen=True)
class Retained:
    """What one retention run did."""

    incinerated: Incinerated
    archives: int  # expired export archives deleted
    secrets: int  # expired link tokens and sessions deleted
    logs: int  # old log files deleted
    outbox: int  # old mail deleted from the outbox
    warnings: list[int]  # unused-account warnings to send
    erased: list[Outcome]  # unused accounts erased (each with its last mail to send)


def run_all(factory: SessionFactory, places: Places, settings: Settings) -> Retained:
    """Everything retention does, for the sweeper (hourly) and `mailhub retention run`."""
    incinerated = incinerate_due(
        factory, places.raw, settings.raw_retention_days, settings.rejected_retention_days
    )
    with unit_of_work(factory) as session:
        archives = expire_archives(session, places.exports, blobs=places.export_blobs)
    secrets = forget_expired_secrets(factory)
    logs = delete_old_logs(places.log_file, settings.log_retention_days)
    outbox = places.outbox.prune(settings.outbox_retention_days)
    warnings, erased = expire_inactive(factory, places)
    # Raw mail rows, secrets and accounts deleted above: SQLite's WAL is emptied. PostgreSQL's
    # tables are not rewritten hourly (each erasure rewrites them); autovacuum frees the
    # space, and the README states the bound.
    forget_deleted(factory, rewrite=False)
    return Retained(incinerated, archives, secrets, logs, outbox, warnings, erased)
