"""Getting mail a web request caused (an answer its owner hears of) on its way after commit."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from sqlalchemy import update

from mailhub.db import SessionFactory, unit_of_work
from mailhub.models import Notification

Notify = Callable[[Iterable[int]], None]


def due_for_next_sweep(sessions: SessionFactory) -> Notify:
    """Without a broker at hand (`mailhub web` alone), mark them due: the sweeper of the
    worker sends them at its next pass instead of after its grace period."""

    def notify(ids: Iterable[int]) -> None:
        wanted = list(ids)
        if not wanted:
            return
        with unit_of_work(sessions) as session:
            session.execute(
                update(Notification)
                .where(Notification.id.in_(wanted))
                .values(enqueued_at=datetime(1970, 1, 1))
            )

    return notify
