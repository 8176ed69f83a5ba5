"""The proof that an erasure (or a tenant's closure) left nothing behind.

Driven by schema/datamap.json: every store the map lists — each table, file store, queue, log
and backup — has a check here, and a store with no check makes the proof itself fail, so a new
place for personal data cannot be added without being covered. A check counts what is left:

- a table: rows whose subject column is the person (their id, or their address), and rows
  whose text or JSON mentions their address or full name anywhere in the tenant;
- the full-text index (SQLite FTS5): documents the index itself still matches for them;
- a file store: files of the tenant whose bytes mention them, plainly or through the
  encodings mail and the web use (RFC 2047 words, quoted-printable, base64, HTML entities,
  JSON escapes, URL encoding, UTF-16, folded lines; ZIP archives are opened: privacy/scan.py).
  A hit names its store and, beside it, the encoding it was found in;
- a queue: mail still queued for them, or from them;
- the log file and its rotated copies: lines that mention them;
- backups: the tenant's backups that hold data sealed for them while their key still exists
  (any such backup could reveal them), backup files that mention them in the clear, and
  their key itself in the key store.

The person's identifiers are held in memory only while the proof runs.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, Engine, MetaData, String, Table, Text, cast, func, or_, select, text
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from mailhub.config import Settings
from mailhub.db import make_engine
from mailhub.models import Base, InboundMessage, InboundStatus, Notification, NotificationStatus
from mailhub.privacy import backups, datamap
from mailhub.privacy.backups.shelf import Shelf
from mailhub.privacy.keys import KeyStore
from mailhub.privacy.report import subject_column
from mailhub.privacy.scan import found_in_file
from mailhub.stores import export_blobs, file_store, in_database, outbox, raw_store
from mailhub.stores.blobs import DatabaseBlobs
from mailhub.stores.files import FileStore
from mailhub.stores.outbox import Outbox
from mailhub.stores.rawstore import RawStore

MIN_NAME = 5  # a shorter name ("Ann") matches too many words to be searched for on its own
ERASED = "[erased]"


@dataclass(frozen=True)
class Places:
    """Where mailhub keeps files, built from settings: what erasure empties and proof reads."""

    files: FileStore
    raw: RawStore
    exports: Path
    outbox: Outbox
    backups: Shelf
    keys: KeyStore
    log_file: Path | None
    # Export archives in the database (MAILHUB_BLOB_STORE=postgres): built under `exports`,
    # then kept here, so that any web host can serve them.
    export_blobs: DatabaseBlobs | None = None

    @classmethod
    def of(cls, settings: Settings, engine: Engine | None = None) -> Places:
        if in_database(settings) and engine is None:
            engine = make_engine(settings.effective_database_url)
        shelf = Shelf(settings.backups_dir)
        if in_database(settings):
            assert engine is not None
            drafts = settings.data_dir / "cache" / "backups"
            shelf = Shelf(drafts, DatabaseBlobs(engine, "backups", drafts))
        return cls(
            file_store(settings, engine),
            raw_store(settings, engine),
            settings.exports_dir,
            outbox(settings, engine),
            shelf,
            KeyStore(
                settings.keys_dir, settings.secret_key, engine if in_database(settings) else None
            ),
            Path(settings.log_file) if settings.log_file else None,
            export_blobs(settings, engine),
        )


@dataclass(frozen=True)
class Subject:
    """The person being erased, as the stores may name them."""

    tenant_id: int
    user_id: int
    email: str
    name: str

    def needles(self) -> list[str]:
        """Lower-case strings whose presence anywhere means the person is still named."""
        found = [self.email.strip().lower()]
        name = " ".join(self.name.split()).lower()
        if len(name) >= MIN_NAME and name not in found:
            found.append(name)
        return found


def scrub(value: Any, needles: list[str]) -> Any:
    """`value` (text, or JSON made of dicts, lists and text) with every needle replaced."""
    if isinstance(value, str):
        for needle in needles:
            value = re.sub(re.escape(needle), ERASED, value, flags=re.IGNORECASE)
        return value
    if isinstance(value, dict):
        return {scrub(k, needles): scrub(v, needles) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v, needles) for v in value]
    return value


def text_columns(table: Table) -> list[Any]:
    return [c for c in table.c if isinstance(c.type, String | Text | JSON)]


def mentions(table: Table, needles: list[str]) -> ColumnElement[bool] | None:
    """A condition: some text or JSON column of the row contains a needle (any case)."""
    conditions = []
    for column in text_columns(table):
        if isinstance(column.type, JSON):
            # JSON is stored with non-ASCII letters escaped ("Zo\u00eb"): look for both.
            value: Any = cast(column, Text)
            wanted = {v for n in needles for v in (n, json.dumps(n)[1:-1])}
        else:
            value, wanted = column, set(needles)
        for needle in sorted(wanted):
            conditions.append(func.lower(value).contains(needle, autoescape=True))
    return or_(*conditions) if conditions else None


def prove(session: Session, places: Places, subject: Subject) -> dict[str, int]:
    """What is left of the person in every store of the data map: {store: hits}."""
    dm = datamap.load()
    needles = subject.needles()
    hits: dict[str, int] = {}
    dialect = session.get_bind().dialect.name
    fts = None
    for name, entry in sorted(dm["tables"].items()):
        if entry.get("only_on", dialect) != dialect:
            continue
        if name.startswith("search_fts"):  # FTS5 and its shadow tables: ask the index
            fts = _fts_hits(session, subject.tenant_id, needles) if fts is None else fts
            hits[f"table {name}"] = fts
            continue
        hits[f"table {name}"] = _table_hits(session, name, entry, subject, needles)
    checks: dict[str, Callable[[Places, Subject, list[str]], Counter[str]]] = {
        "raw_dir": lambda p, s, n: files_hits(files_under(p.raw.root, s.tenant_id, "incoming"), n),
        "files_dir": lambda p, s, n: files_hits(files_under(p.files.root, s.tenant_id), n),
        "outbox_dir": lambda p, s, n: files_hits((f for _, f in p.outbox.files()), n),
        "exports_dir": lambda p, s, n: files_hits(files_under(p.exports, s.tenant_id), n),
        # Backups are encrypted: a mention in the clear would be a broken backup.
        "backups_dir": lambda p, s, n: files_hits(p.backups.files(s.tenant_id), n),
        "keys_dir": lambda p, s, n: Counter(
            {"plain": int(p.keys.has_user_key(s.tenant_id, s.user_id))}
        ),
        "blob_store": lambda p, s, n: blob_hits(p, s.tenant_id, n),
    }
    for name in sorted(dm["file_stores"]):
        record(hits, f"file store {name}", _check(checks, name)(places, subject, needles))
    for name in sorted(dm["queues"]):
        hits[f"queue {name}"] = _queued(session, name, subject)
    for name in sorted(dm["logs"]):
        if name != "application":
            raise ValueError(f"the data map lists log {name!r}, which the proof cannot check")
        record(hits, f"log {name}", files_hits(log_files(places.log_file), needles))
    for name in sorted(dm["backups"]):
        if name != "tenant":
            raise ValueError(f"the data map lists backup {name!r}, which the proof cannot check")
        hits[f"backup {name}"] = backups.readable_for(
            places.keys, places.backups, subject.tenant_id, subject.user_id
        )
    return hits


def _check(
    checks: dict[str, Callable[[Places, Subject, list[str]], Counter[str]]], name: str
) -> Callable[[Places, Subject, list[str]], Counter[str]]:
    if name not in checks:
        raise ValueError(f"the data map lists file store {name!r}, which the proof cannot check")
    return checks[name]


def _table_hits(
    session: Session, name: str, entry: dict[str, Any], subject: Subject, needles: list[str]
) -> int:
    table = Base.metadata.tables.get(name)
    if table is None:  # alembic's own table: read it as it is
        table = Table(name, MetaData(), autoload_with=session.connection())
    conditions: list[ColumnElement[bool]] = []
    how = subject_column(table, entry.get("subject"))
    if how is not None:
        column, by = how
        value = subject.user_id if by == "id" else subject.email
        conditions.append(table.c[column] == value)
    said = mentions(table, needles)
    if said is not None:
        conditions.append(said)
    if not conditions:
        return 0
    query = select(func.count()).select_from(table).where(or_(*conditions))
    if "tenant_id" in table.c:
        query = query.where(table.c.tenant_id == subject.tenant_id)
    elif name == "tenants":
        query = query.where(table.c.id == subject.tenant_id)
    return int(session.scalar(query) or 0)


def _fts_hits(session: Session, tenant_id: int, needles: list[str]) -> int:
    """Documents of the tenant the FTS5 index matches for any needle, read from the index
    itself (rowids only), so an entry deleted from search_entries but left in the index counts."""
    total = 0
    for needle in needles:
        words = re.findall(r"\w+", needle)
        if not words:
            continue
        query = f'tenant_id : "{tenant_id}" AND "{" ".join(words)}"'
        total += fts_matches(session, query)
    return total


def fts_matches(session: Session, query: str) -> int:
    """How many documents the SQLite FTS5 index itself matches for an FTS5 query."""
    found = session.scalar(
        text("SELECT count(*) FROM search_fts WHERE search_fts MATCH :q"), {"q": query}
    )
    return int(found or 0)


def _queued(session: Session, name: str, subject: Subject) -> int:
    """Work still waiting in a queue that is theirs: mail to them, or mail from them."""
    email = subject.email.lower()
    waiting: dict[str, tuple[Any, ...]] = {
        "outbound": (
            Notification,
            Notification.status.in_([NotificationStatus.QUEUED, NotificationStatus.SENDING]),
            or_(Notification.user_id == subject.user_id, func.lower(Notification.to_addr) == email),
        ),
        "inbound": (
            InboundMessage,
            InboundMessage.status.in_([InboundStatus.PENDING, InboundStatus.PROCESSING]),
            func.lower(InboundMessage.mail_from) == email,
        ),
    }
    if name not in waiting:
        raise ValueError(f"the data map lists queue {name!r}, which the proof cannot check")
    model, *conditions = waiting[name]
    query = select(func.count()).select_from(model).where(model.tenant_id == subject.tenant_id)
    return int(session.scalar(query.where(*conditions)) or 0)


def files_under(root: Path, tenant_id: int | None, *extra: str) -> Iterator[Path]:
    """Every file of one tenant in a store (or of the whole store), and of extra folders."""
    for folder in [root if tenant_id is None else root / str(tenant_id)] + [
        root / e for e in extra
    ]:
        if folder.is_dir():
            yield from (p for p in folder.rglob("*") if p.is_file())


def log_files(log_file: Path | None) -> Iterator[Path]:
    if log_file is None or not log_file.parent.is_dir():
        return
    yield from (p for p in log_file.parent.glob(log_file.name + "*") if p.is_file())


def blob_hits(places: Places, tenant_id: int, needles: list[str]) -> Counter[str]:
    """The tenant's blobs in the database (MAILHUB_BLOB_STORE=postgres) that mention a needle,
    read as the files they stand for (a ZIP's members too); none when files are on disk."""
    found: Counter[str] = Counter()
    for blobs in (places.raw.blobs, places.files.blobs, places.export_blobs):
        if blobs is not None:  # each copy is removed once read: the proof leaves none behind
            found += files_hits((path for _, path in blobs.copies(tenant_id)), needles)
    return found


def files_hits(paths: Iterator[Path], needles: list[str]) -> Counter[str]:
    """How many of the files mention a needle, by the encoding it was found in."""
    found: Counter[str] = Counter()
    for path in paths:
        try:
            how = mentioned_in(path, needles)
        except FileNotFoundError:  # removed while we looked: nothing left there
            continue
        if how:
            found[how] += 1
    return found


def mentioned_in(path: Path, needles: list[str]) -> str | None:
    """How the file (or, for a ZIP, a member) mentions a needle (privacy/scan.py), or None.
    What is returned names no file or member: it is kept with the proof."""
    how = found_in_file(path, needles)
    if how is None or not how.startswith("zip member"):
        return how
    if how.startswith("zip member name"):
        return "zip member name"
    return "zip member, " + how.rsplit(": ", 1)[-1]


def record(hits: dict[str, int], store: str, found: Counter[str]) -> None:
    """The store's count, and beside it the encodings other than plain bytes it was seen in."""
    hits[store] = sum(found.values())
    for how, n in sorted(found.items()):
        if how != "plain":
            hits[f"{store} ({how})"] = n
