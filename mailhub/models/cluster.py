"""What the processes of one installation agree on through the database alone."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from mailhub.models.base import Base


class Lease(Base):
    """A scheduled job (housekeeping, digests) or a standing duty (reading one IMAP mailbox)
    that one process of the cluster holds at a time (tasks/leader.py)."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200), default="")  # host:pid:nonce
    # While the holder lives it moves this forward; past it, another process may take over.
    expires_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    due_at: Mapped[datetime] = mapped_column(DateTime)  # the next run of a periodic job
    runs: Mapped[int] = mapped_column(Integer, default=0)  # completed runs, for operators
