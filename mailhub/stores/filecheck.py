"""Keeping the file store and the database in step, both ways.

Files are written before their rows commit, so a crash between the two leaves a file that no
row knows about; that is expected and cleaned up here once it is old enough that no
transaction can still be about to commit it. A row whose file is missing is never expected
and is only reported.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailhub.models import Attachment, InboundMessage
from mailhub.stores.files import FileStore
from mailhub.stores.rawstore import RawStore

# Longer than any processing transaction can take, so a file not yet committed is left alone.
STRAY_MIN_AGE = 3600.0


@dataclass(frozen=True)
class FileCheck:
    stray: list[str]  # files no row knows about
    missing: list[str]  # rows' files that are not there


def known_paths(session: Session) -> set[str]:
    paths: set[str] = set()
    for path, thumbnails in session.execute(select(Attachment.path, Attachment.thumbnails)):
        paths.add(path)
        paths.update(thumbnails.values())
    return paths


def check_files(session: Session, files: FileStore, min_age: float = STRAY_MIN_AGE) -> FileCheck:
    stray, missing = files.orphans(known_paths(session), min_age=min_age)
    return FileCheck(stray, missing)


def remove_stray(session: Session, files: FileStore, min_age: float = STRAY_MIN_AGE) -> list[str]:
    found = check_files(session, files, min_age)
    for rel in found.stray:
        files.delete(rel)
    return found.stray


def remove_stray_raw(session: Session, raw: RawStore, min_age: float = STRAY_MIN_AGE) -> int:
    """Raw mail in the database that no inbound row refers to (the SMTP process died between
    the blob's commit and the row's); on a disk, such files are spool files, removed apart."""
    if raw.blobs is None:
        return 0
    known = set(session.scalars(select(InboundMessage.raw_path)))
    stray = [name for name in raw.blobs.names(older_than=min_age) if name not in known]
    for name in stray:
        raw.blobs.delete(name)
    return len(stray)
