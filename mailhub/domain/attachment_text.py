"""Reading the words inside stored attachments, for search (content/extract.py does the
reading). It happens in the background: the worker's sweeper reads a batch each pass, so
storing a mail never waits for a PDF, and a file stored before search read files (or
restored from a backup) is read in its turn. Setting the text re-indexes the attachment in
the same transaction (domain/search.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select

from mailhub.content.extract import extract
from mailhub.db import SessionFactory, unit_of_work
from mailhub.models import Attachment
from mailhub.stores.files import FileStore

BATCH = 20


def unread(sessions: SessionFactory) -> int:
    """How many attachments wait to be read."""
    with sessions() as s:
        return int(s.scalar(_unread(select(func.count()).select_from(Attachment))) or 0)


def read_pending(
    sessions: SessionFactory,
    files: FileStore,
    limit: int = BATCH,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Read up to `limit` attachments not read yet, oldest first; how many were read.
    `progress` is told of each one done."""
    with sessions() as s:
        pending = s.execute(
            _unread(
                select(
                    Attachment.id,
                    Attachment.path,
                    Attachment.size,
                    Attachment.filename,
                    Attachment.content_type,
                )
            )
            .order_by(Attachment.id)
            .limit(limit)
        ).all()
    done = 0
    for row in pending:
        text = _read(files, row.path, row.size, row.filename, row.content_type)
        with unit_of_work(sessions) as s:
            attachment = s.get(Attachment, row.id)
            # Erased meanwhile, or read by another worker: nothing to do
            if attachment is not None and attachment.extracted_text is None:
                attachment.extracted_text = text
                done += 1
        if progress is not None:
            progress(1)
    return done


def _unread(query: Any) -> Any:
    return query.where(Attachment.extracted_text.is_(None))


def _read(files: FileStore, rel: str, size: int, filename: str, content_type: str) -> str:
    try:
        with files.path(rel).open("rb") as source:
            return extract(source, size, filename, content_type)
    except OSError:  # the file is gone (a failed transaction's row): nothing to read
        return ""
