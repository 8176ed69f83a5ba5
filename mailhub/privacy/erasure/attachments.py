"""Step 1 for the attachments that stay: each is examined for the person being erased.

Where the tenant keeps shared content, the person's pages and comments stay with their files,
and anybody's file may name the person (a CV, a vCard, a signed form, a list of staff). Each of
the tenant's attachments that is not going anyway is read — its name, its bytes through the
encodings the proof decodes (privacy/scan.py), and the text search reads from it
(content/extract.py, which opens PDFs and Office files) — and:

- a text file (plain, CSV, HTML, vCard, calendar, JSON, Markdown) that names them is redacted:
  the name and address become "[erased]", and the file is kept;
- any other file that names them is removed with its thumbnails, and its page says, where the
  file was, that an attachment was removed when a member's account was erased;
- a file whose name alone names them is kept under a neutral name;
- a thumbnail that names them (an image's metadata) is removed; the image stays.

A new file is written (and fsynced) before its row points to it, in a short transaction of
its own, and the old file goes after that commits, so a crash at any point leaves either the
old or the new state, and a repeat finishes the job: a row whose file is missing is treated
as removed, and a file of the tenant no row points to that names the person is deleted.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass
from pathlib import PurePosixPath

from sqlalchemy import delete, select, update

from mailhub.content.extract import from_bytes
from mailhub.db import SessionFactory, unit_of_work
from mailhub.models import Attachment, Page
from mailhub.privacy.proof import Places, Subject, mentioned_in, scrub
from mailhub.privacy.scan import found

TEXT_TYPES = frozenset(
    {
        "text/plain",
        "text/csv",
        "text/html",
        "text/vcard",
        "text/x-vcard",
        "text/calendar",
        "text/markdown",
        "application/json",
    }
)
MAX_REDACT = 20 * 1024 * 1024  # a larger text file is removed, not rewritten in memory
STRAY_AGE = 120.0  # younger files may be a worker's, written just before its row commits
_SEPARATORS = re.compile(r"[\s_\-.+]+")


@dataclass
class Examined:
    redacted: int = 0
    removed: int = 0
    renamed: int = 0
    thumbnails: int = 0
    strays: int = 0

    def counts(self) -> dict[str, int]:
        return {
            "attachments redacted": self.redacted,
            "attachments removed": self.removed,
            "attachments renamed": self.renamed,
            "thumbnails removed": self.thumbnails,
            "stray files removed": self.strays,
        }


def examine_attachments(
    factory: SessionFactory, places: Places, subject: Subject, doomed: set[int]
) -> Examined:
    """Redact, remove or rename the tenant's remaining attachments that name the person."""
    needles = subject.needles()
    done = Examined()
    with factory() as session:
        attachments = list(
            session.scalars(
                select(Attachment)
                .where(Attachment.tenant_id == subject.tenant_id, Attachment.id.not_in(doomed))
                .order_by(Attachment.id)
            )
        )
        session.expunge_all()
    for a in attachments:
        _examine(factory, places, a, needles, done)
    done.strays = _strays(factory, places, subject.tenant_id, needles)
    return done


def _examine(
    factory: SessionFactory, places: Places, a: Attachment, needles: list[str], done: Examined
) -> None:
    if not a.path or not places.files.exists(a.path):  # removed by a run that was cut short
        _remove(factory, places, a, done)
        return
    path = places.files.path(a.path)  # in the database: this host's copy, fetched once
    data = path.read_bytes() if a.size <= MAX_REDACT else None
    named = _names(a.filename, needles)
    hit = mentioned_in(path, needles) is not None or _extracted_names(a, data, needles)
    if hit and data is not None and a.content_type.lower() in TEXT_TYPES:
        redacted = _redacted(data, needles)
        if redacted is not None:
            _replace(factory, places, a, redacted, _neutral(a) if named else a.filename)
            done.redacted += 1
            return
    if hit:
        _remove(factory, places, a, done)
        return
    bad_thumbs = [
        rel
        for rel in a.thumbnails.values()
        if places.files.exists(rel) and mentioned_in(places.files.path(rel), needles)
    ]
    if bad_thumbs:
        with unit_of_work(factory) as session:
            session.execute(update(Attachment).where(Attachment.id == a.id).values(thumbnails={}))
        for rel in bad_thumbs:
            places.files.delete(rel)
        done.thumbnails += len(bad_thumbs)
    if named:
        _replace(factory, places, a, path.read_bytes() if data is None else data, _neutral(a))
        done.renamed += 1


def _names(filename: str, needles: list[str]) -> bool:
    """Whether the file's name names them ("Bob_Builder-CV.pdf" names "bob builder")."""
    lowered = filename.lower()
    spaced = _SEPARATORS.sub(" ", lowered)
    return any(n in lowered or _SEPARATORS.sub(" ", n) in spaced for n in needles)


def _extracted_names(a: Attachment, data: bytes | None, needles: list[str]) -> bool:
    """Whether the text search reads from the file (PDF streams, Office XML) names them."""
    if data is None:
        return False
    text = from_bytes(data, a.filename, a.content_type).lower()
    return any(n in " ".join(text.split()) for n in needles)


def _redacted(data: bytes, needles: list[str]) -> bytes | None:
    """The text with the person taken out, or None when that cannot be done in place (an
    encoding the text is not in, or what is left still names them)."""
    utf16 = data.startswith((b"\xff\xfe", b"\xfe\xff"))  # only with its byte order mark
    for codec in ("utf-16",) if utf16 else ("utf-8", "cp1252", "latin-1"):
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        result: bytes = str(scrub(text, needles)).encode(codec)
        if found(result, needles) is None:
            return result
        return None
    return None


def _neutral(a: Attachment) -> str:
    suffix = PurePosixPath(a.filename).suffix
    if not re.fullmatch(r"\.[A-Za-z0-9]{1,10}", suffix):
        suffix = ""
    return f"attachment-{a.id}{suffix}"


def _replace(
    factory: SessionFactory, places: Places, a: Attachment, data: bytes, filename: str
) -> None:
    """The new bytes and name in a new file, its row pointed at it, then the old file gone."""
    rel = places.files.write(a.tenant_id, filename, data)
    text = from_bytes(data, filename, a.content_type)
    with unit_of_work(factory) as session:
        row = session.get(Attachment, a.id)
        if row is None:
            places.files.delete(rel)
            return
        row.path, row.filename, row.size = rel, filename, len(data)
        row.sha256 = hashlib.sha256(data).hexdigest()
        row.extracted_text = text
    places.files.delete(a.path)


def _remove(factory: SessionFactory, places: Places, a: Attachment, done: Examined) -> None:
    for rel in [a.path, *a.thumbnails.values()]:
        if rel:
            places.files.delete(rel)
    with unit_of_work(factory) as session:
        gone = session.execute(delete(Attachment).where(Attachment.id == a.id)).rowcount  # type: ignore[attr-defined]
        if gone:
            session.execute(
                update(Page)
                .where(Page.id == a.page_id)
                .values(attachments_removed=Page.attachments_removed + 1)
            )
    done.removed += 1


def _strays(factory: SessionFactory, places: Places, tenant_id: int, needles: list[str]) -> int:
    """Files of the tenant no attachment row points to (left by a run cut short between a
    commit and a delete) that name the person."""
    with factory() as session:
        known = {
            rel
            for path, thumbs in session.execute(
                select(Attachment.path, Attachment.thumbnails).where(
                    Attachment.tenant_id == tenant_id
                )
            )
            for rel in (path, *thumbs.values())
        }
    removed = 0
    blobs = places.files.blobs
    if blobs is not None:  # in the database: its rows say how old each is
        for rel in list(blobs.names(tenant_id, older_than=STRAY_AGE)):
            if rel in known:
                continue
            try:
                named = mentioned_in(blobs.cached(rel), needles) is not None
            except FileNotFoundError:
                continue
            finally:
                blobs.uncache(rel)
            if named:
                blobs.delete(rel)
                removed += 1
        return removed
    cutoff = time.time() - STRAY_AGE
    for rel, path in list(places.files.tenant_files(tenant_id)):
        if rel in known or path.stat().st_mtime > cutoff:
            continue
        if mentioned_in(path, needles) is not None:
            places.files.delete(rel)
            removed += 1
    return removed
