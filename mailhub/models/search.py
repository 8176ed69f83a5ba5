"""What search reads: one entry per page, comment, form and attachment, kept in step with
them in the same transaction (mailhub/domain/search.py), and deleted with them by the database
itself (ON DELETE CASCADE), so an erased item leaves search in the transaction that erases it.

The full-text index over it is the database's own: an FTS5 table on SQLite, a GIN index on
PostgreSQL (schema/migrations, 0015).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mailhub.models.base import Base, utcnow


class SearchEntry(Base):
    __tablename__ = "search_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    space_id: Mapped[int] = mapped_column(ForeignKey("spaces.id"), index=True)
    item_key: Mapped[str] = mapped_column(String(40), unique=True)  # "page:12", "comment:7"
    kind: Mapped[str] = mapped_column(String(12))  # page, comment, form, attachment
    page_id: Mapped[int | None] = mapped_column(
        ForeignKey("pages.id", ondelete="CASCADE"), index=True, default=None
    )
    comment_id: Mapped[int | None] = mapped_column(
        ForeignKey("comments.id", ondelete="CASCADE"), index=True, default=None
    )
    form_id: Mapped[int | None] = mapped_column(
        ForeignKey("forms.id", ondelete="CASCADE"), index=True, default=None
    )
    attachment_id: Mapped[int | None] = mapped_column(
        ForeignKey("attachments.id", ondelete="CASCADE"), index=True, default=None
    )
    title: Mapped[str] = mapped_column(String(300))  # searched ("" for a comment)
    body: Mapped[str] = mapped_column(Text, default="")  # searched
    label: Mapped[str] = mapped_column(String(300), default="")  # shown: a comment's page title
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
