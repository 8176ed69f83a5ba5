"""What the processes of one installation agree on through the database alone."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from mailhub.models.base import Base, utcnow


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


class Blob(Base):
    """A file kept in the database instead of on a disk (MAILHUB_BLOB_STORE=postgres): raw mail,
    attachments and thumbnails, so that hosts share nothing but the database (stores/blobs.py).
    Its bytes are in blob_chunks, a megabyte a row, written and read a chunk at a time."""

    __tablename__ = "blobs"
    __table_args__ = (UniqueConstraint("store", "name", name="uq_blob_name"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    store: Mapped[str] = mapped_column(String(10))  # "raw" or "files"
    name: Mapped[str] = mapped_column(String(500))  # the path the rows refer to
    tenant_id: Mapped[int] = mapped_column(Integer, index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class BlobChunk(Base):
    __tablename__ = "blob_chunks"

    blob_id: Mapped[int] = mapped_column(
        ForeignKey("blobs.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class BackupKey(Base):
    """A backup key kept in the database instead of MAILHUB_KEY_DIR (MAILHUB_BLOB_STORE=postgres),
    so that every worker host opens and shreds the same keys (privacy/keys.py): the tenant's
    (user_id 0) and each person's, wrapped under the key derived from MAILHUB_SECRET_KEY.
    A table of its own, small, so the rewrite after an erasure always reaches it."""

    __tablename__ = "backup_keys"
    __table_args__ = (UniqueConstraint("tenant_id", "user_id", name="uq_backup_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(Integer, index=True)
    user_id: Mapped[int] = mapped_column(Integer)  # 0: the tenant's own key
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
