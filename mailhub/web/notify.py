"""Getting mail a web request caused (an answer its owner hears of) on its way after commit."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from mailhub.db import SessionFactory
from mailhub.models import Notification
from mailhub.tasks.sweeper import due_now

Notify = Callable[[Iterable[int]], None]


def due_for_next_sweep(sessions: SessionFactory) -> Notify:
    """Without a broker at hand (`mailhub web` alone), mark them due: the sweeper of the
    worker sends them at its next pass instead of after its grace period."""
    return due_now(sessions, Notification)
