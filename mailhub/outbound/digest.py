"""Digests: a person's waiting events, per frequency, in one mail.

Each frequency has a cut: the top of the hour (at MAILHUB_HOURLY_DIGEST_MINUTE), the daily hour,
and that hour on Mondays. Items written before the last cut are due. One transaction creates
the digest notification and stamps every item it carries with it, so a collector that runs
twice, or two sweepers at once, can carry an item only once; a person with nothing waiting
gets nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mailhub.db import SessionFactory, unit_of_work
from mailhub.models import DigestItem, Frequency, Notification, NotificationKind, Tenant, User
from mailhub.outbound.contexts import Digest


@dataclass(frozen=True)
class Schedule:
    hourly_minute: int = 0
    daily_hour: int = 7

    def cut(self, frequency: str, now: datetime) -> datetime:
        """The latest cut for `frequency` at or before `now` (naive UTC)."""
        if frequency == Frequency.HOURLY:
            cut = now.replace(minute=self.hourly_minute, second=0, microsecond=0)
            return cut if cut <= now else cut - timedelta(hours=1)
        day = now.replace(hour=self.daily_hour, minute=0, second=0, microsecond=0)
        if day > now:
            day -= timedelta(days=1)
        if frequency == Frequency.DAILY:
            return day
        return day - timedelta(days=day.weekday())  # Monday


def collect_due(factory: SessionFactory, now: datetime, schedule: Schedule) -> list[int]:
    """Create every digest that is due; return the new notifications' ids (to enqueue)."""
    with factory() as session:
        waiting = session.execute(
            select(DigestItem.user_id, DigestItem.frequency, func.min(DigestItem.created_at))
            .where(DigestItem.digest_id.is_(None))
            .group_by(DigestItem.user_id, DigestItem.frequency)
        ).all()
    ids = []
    for user_id, frequency, oldest in waiting:
        cut = schedule.cut(frequency, now)
        if oldest >= cut:
            continue
        try:
            with unit_of_work(factory) as session:
                made = _make(session, user_id, frequency, cut)
        except IntegrityError:
            continue  # another collector made this digest first
        if made is not None:
            ids.append(made)
    return ids


def _make(session: Session, user_id: int, frequency: str, cut: datetime) -> int | None:
    user = session.get_one(User, user_id)
    if not user.active or user.guest:
        return None  # deactivated since: what waits is kept, not sent
    tenant = session.get_one(Tenant, user.tenant_id)
    due = (
        DigestItem.user_id == user_id,
        DigestItem.frequency == frequency,
        DigestItem.digest_id.is_(None),
        DigestItem.created_at < cut,
    )
    first = session.scalar(select(func.min(DigestItem.id)).where(*due))
    if first is None:
        return None
    digest = Notification(
        tenant_id=tenant.id,
        kind=NotificationKind.DIGEST,
        # The first item's id makes the key: the same items can never make a second digest.
        event_key=f"digest:{frequency}:user:{user_id}:from:{first}",
        to_addr=user.email,
        user_id=user_id,
        reason=f"you chose a {frequency} digest",
        context=dict(Digest(frequency=frequency)),
        message_id=f"<{tenant.slug}/digests/{user_id}/{first}@{tenant.domain}>",
    )
    session.add(digest)
    session.flush()
    session.execute(update(DigestItem).where(*due).values(digest_id=digest.id))
    return digest.id
