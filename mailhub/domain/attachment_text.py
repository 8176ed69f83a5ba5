"""Reading the words inside stored attachments, for search (content/extract.py does the
reading). It happens in the background: the worker's sweeper reads a batch each pass, so
storing a mail never waits for a PDF, and a file stored before search read files (or
restored from a backup) is read in its turn. Setting the text re-indexes the attachment in
the same transaction (domain/search.py).

Each file is read in a child process with its own memory and CPU limits and a deadline: a
file made to send a parser into a loop, or to swell in memory, costs that child, which is
killed, and the file is searched by its name only. A pass stops taking new files after
PASS_SECONDS, so the sweeper's other work is never held up for long."""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select

from mailhub.content.extract import MAX_SOURCE, readable
from mailhub.db import SessionFactory, unit_of_work
from mailhub.models import Attachment
from mailhub.stores.files import FileStore

log = logging.getLogger(__name__)

BATCH = 20
FILE_SECONDS = 30.0  # one file's reading, wall clock (the child's CPU limit is lower)
PASS_SECONDS = 20.0  # a pass takes no new file after this long


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
    started = time.monotonic()
    for row in pending:
        if time.monotonic() - started > PASS_SECONDS:
            break  # the rest in the next pass
        text = _read(files, row.path, row.size, row.filename, row.content_type)
        with unit_of_work(sessions) as s:
            # Locked, so an erasure that marks it read (and scrubs) in the meantime wins
            attachment = s.get(Attachment, row.id, with_for_update=True)
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
    if size > MAX_SOURCE or not readable(filename, content_type):
        return ""  # too large, or a kind with no text
    try:
        path = files.path(rel)
    except FileNotFoundError:
        return ""  # gone (a failed transaction's row)
    if not path.is_file():
        return ""
    try:
        child = subprocess.run(
            [sys.executable, "-m", "mailhub.content.extract", str(path), filename, content_type],
            capture_output=True,
            timeout=FILE_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        log.warning("reading attachment text took over %.0f s; searched by name only", FILE_SECONDS)
        return ""
    if child.returncode != 0:
        log.warning(
            "reading attachment text failed (exit %d); searched by name only", child.returncode
        )
        return ""
    return child.stdout.decode("utf-8", "replace")
