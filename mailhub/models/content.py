"""Content people make: pages with their revisions, and comments on pages.

Bodies are stored already sanitized (HTML) together with a plain-text rendering, so no page
view ever has to trust what came in by mail.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from mailhub.models.base import Base, utcnow


class Page(Base):
    __tablename__ = "pages"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    space_id: Mapped[int] = mapped_column(ForeignKey("spaces.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    source_inbound_id: Mapped[int | None] = mapped_column(
        ForeignKey("inbound_messages.id"), index=True, default=None
    )
    # The page this one sits under in its space's tree (None: at the top). A parent that is
    # deleted leaves its children at the top.
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("pages.id", ondelete="SET NULL"), index=True, default=None
    )
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # Attachments of the page removed by an erasure because they named the person: the page
    # says so where they were.
    attachments_removed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Revision(Base):
    __tablename__ = "revisions"
    __table_args__ = (UniqueConstraint("page_id", "number", name="uq_revisions_page_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("pages.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    body_html: Mapped[str] = mapped_column(Text)
    body_text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Comment(Base):
    __tablename__ = "comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("pages.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    body_html: Mapped[str] = mapped_column(Text)
    body_text: Mapped[str] = mapped_column(Text)
    quoted_text: Mapped[str] = mapped_column(Text, default="")  # trimmed history, shown collapsed
    source_inbound_id: Mapped[int | None] = mapped_column(
        ForeignKey("inbound_messages.id"), index=True, default=None
    )
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Attachment(Base):
    """A file that came with a page or comment; the bytes live in the file store.

    Files before rows: the file (and its thumbnails) are written before this row commits and
    deleted before it is removed.
    """

    __tablename__ = "attachments"
    __table_args__ = (
        Index(  # what the worker has still to read for search
            "ix_attachments_unread",
            "id",
            sqlite_where=text("extracted_text IS NULL"),
            postgresql_where=text("extracted_text IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("pages.id"), index=True)
    comment_id: Mapped[int | None] = mapped_column(
        ForeignKey("comments.id"), index=True, default=None
    )
    uploader_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(500))  # relative to the file store
    # Thumbnail widths to their paths, for images: {"320": "…"}.
    thumbnails: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    content_id: Mapped[str] = mapped_column(String(250), default="")  # for cid: links in HTML
    inline: Mapped[bool] = mapped_column(Boolean, default=False)
    # The words inside the file, for search, read by the worker after the file is stored
    # (domain/attachment_text.py): None until then, "" when there are none it can read.
    extracted_text: Mapped[str | None] = mapped_column(Text, default=None)
    source_inbound_id: Mapped[int | None] = mapped_column(
        ForeignKey("inbound_messages.id"), index=True, default=None
    )
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
