"""Objections (GDPR Art. 21) and restrictions (Art. 18): a person told the tenant to stop
processing their data, or to keep it but not use it while something is settled.

A row per request, its kind saying which; withdrawing or lifting it sets withdrawn_at, so
when it held is on record. For mail, both mean the same: nothing sent, nothing processed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from mailhub.models.base import Base, utcnow


class Objection(Base):
    __tablename__ = "objections"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(12), default="objection")  # or "restriction"
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)
