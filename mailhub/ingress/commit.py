"""Group commit for accepted mail: the rows of all deliveries waiting at once, in one transaction.

Every "250" waits for a commit, and a commit waits for the disk. With eight sessions storing at
the same time, one writer thread takes all waiting rows and commits them together, so the disk
wait is shared (the way Postfix's queue manager shares its work): the directories their files
were given names in are fsynced once per batch, then one INSERT … ON CONFLICT DO NOTHING on the
delivery key (tenant, Message-ID, bytes, recipients) runs for all rows (built once, executed
with many parameter sets), so a message that is already stored comes back as a duplicate
instead of failing the batch.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache, partial
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Connection, Dialect, Engine, Table, bindparam, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.schema import ScalarElementColumnDefault

from mailhub.models import DUE_NOW, Blob, BlobChunk, InboundMessage, utcnow
from mailhub.stores.files import fsync_dir

log = logging.getLogger(__name__)

MAX_BATCH = 64


@dataclass(frozen=True)
class NewInbound:
    tenant_id: int
    mail_from: str
    rcpt_to: list[str]
    message_id: str
    sha256: str
    rcpt_key: str
    raw_path: str
    size: int
    peer: str
    oversize: int | None = None  # read over IMAP: too large to fetch; only the header is stored
    oversize_limit: int | None = None
    # The raw bytes, when they are to be stored in the database in the row's own transaction
    # (a message of at most one chunk, MAILHUB_BLOB_STORE=postgres): one commit, not two.
    blob: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Accepted:
    """What became of one delivery for one tenant: its row, and whether it was there already."""

    inbound_id: int
    duplicate: bool


KEY = ("tenant_id", "message_id", "sha256", "rcpt_key")


class _Statements:
    """The INSERT of a delivery and the SELECT of one already stored, compiled once per
    dialect, with SQLAlchemy's own conversion of each value for the driver. They run on the
    driver's cursor: SQLAlchemy's execution machinery cost more than the rest of accepting a
    message (each call builds contexts, results and events for one small row)."""

    def __init__(self, dialect: Dialect) -> None:
        table = cast(Table, InboundMessage.__table__)
        columns = [c for c in table.columns if not c.primary_key]
        insert = pg_insert if dialect.name == "postgresql" else sqlite_insert
        self.insert = (
            insert(table)
            .values({c.name: bindparam(c.name, type_=c.type) for c in columns})
            .on_conflict_do_nothing(index_elements=list(KEY))
            .returning(table.c.id)
            .compile(dialect=dialect)
        )
        self.select = (
            select(table.c.id)
            .where(*(table.c[k] == bindparam(k, type_=table.c[k].type) for k in KEY))
            .compile(dialect=dialect)
        )
        blobs, chunks = cast(Table, Blob.__table__), cast(Table, BlobChunk.__table__)
        self.blob = (
            insert(blobs)
            .values(
                {
                    c: bindparam(c, type_=blobs.c[c].type)
                    for c in ("store", "name", "tenant_id", "size", "sha256", "created_at")
                }
            )
            .returning(blobs.c.id)
            .compile(dialect=dialect)
        )
        self.chunk = (
            insert(chunks)
            .values({c: bindparam(c, type_=chunks.c[c].type) for c in ("blob_id", "seq", "data")})
            .returning(chunks.c.seq)
            .compile(dialect=dialect)
        )
        # What the model fills in by itself: its plain defaults (status, attempts, …).
        self.defaults = {
            c.name: c.default.arg if isinstance(c.default, ScalarElementColumnDefault) else None
            for c in columns
        }
        self.convert = {
            c.name: c.type.dialect_impl(dialect).bind_processor(dialect)
            for c in [*blobs.c, *chunks.c, *columns]  # (names they share have the same types)
        }

    def run(self, cursor: Any, compiled: SQLCompiler, values: dict[str, Any]) -> Any:
        converted = {
            k: (convert(v) if (convert := self.convert.get(k)) is not None else v)
            for k, v in values.items()
        }
        order = compiled.positiontup  # a driver with "?" placeholders takes a tuple
        cursor.execute(compiled.string, tuple(converted[k] for k in order) if order else converted)
        return cursor.fetchone()


@cache
def _statements(dialect: Dialect) -> _Statements:
    return _Statements(dialect)


def _tell(pending: _Pending, outcome: list[Accepted] | BaseException) -> None:
    """Tell a waiting caller; one that cannot be told (its event loop already closed, at
    shutdown) never stops the writer thread, which the other callers wait on."""
    try:
        pending.done(outcome)
    except Exception:
        log.warning("a caller of the group commit could not be told", exc_info=True)


def _settle(future: Any, outcome: list[Accepted] | BaseException) -> None:
    if future.cancelled():  # the SMTP session went away while its rows were committed
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


def insert_batch(conn: Connection, rows: list[NewInbound], due: bool = False) -> list[Accepted]:
    """Insert rows (in the caller's transaction); already-stored messages come back as duplicates.

    `due`: the rows are marked for the worker's next sweep (a process with no broker to its
    worker), instead of being sent to the broker after the commit.
    """
    return insert_rows(conn.dialect, conn.connection.cursor(), rows, due)


def insert_rows(
    dialect: Dialect, cursor: Any, rows: list[NewInbound], due: bool = False
) -> list[Accepted]:
    """`insert_batch` on a driver cursor, in its connection's open transaction."""
    sql = _statements(dialect)
    now = utcnow()
    stamps = {"received_at": now, "enqueued_at": DUE_NOW if due else now}
    results = []
    for r in rows:
        values = sql.defaults | {k: v for k, v in vars(r).items() if k != "blob"} | stamps
        inserted = sql.run(cursor, sql.insert, values)
        if inserted is not None:
            if r.blob is not None:  # a new message's bytes, committed with its row
                blob = {"store": "raw", "name": r.raw_path, "tenant_id": r.tenant_id}
                blob |= {"size": len(r.blob), "sha256": r.sha256, "created_at": now}
                blob_id = sql.run(cursor, sql.blob, blob)[0]
                sql.run(cursor, sql.chunk, {"blob_id": blob_id, "seq": 0, "data": r.blob})
            results.append(Accepted(int(inserted[0]), duplicate=False))
            continue
        existing = sql.run(cursor, sql.select, {k: values[k] for k in KEY})
        if existing is None:
            raise RuntimeError("a conflicting inbound row vanished during insert")
        results.append(Accepted(int(existing[0]), duplicate=True))
    return results


Outcome = Callable[[list[Accepted] | BaseException], None]


@dataclass
class _Pending:
    rows: list[NewInbound]
    directories: set[str]
    done: Outcome  # called in the writer thread with the rows' fate


class GroupCommitter:
    """One writer thread. `store` blocks the caller until its rows are committed; `stored` is
    the same for a coroutine, woken straight from the writer thread (no thread in between).

    `after_commit` gets the ids of each batch's new rows once they are committed (the broker's
    enqueue), in a thread of its own: a broker that is slow or away delays no commit and no
    "250" (the rows are committed; the sweeper enqueues what never reached the broker).
    """

    def __init__(
        self,
        engine: Engine,
        max_batch: int = MAX_BATCH,
        due: bool = False,
        after_commit: Callable[[list[int]], None] | None = None,
    ) -> None:
        self.engine = engine
        self.max_batch = max_batch
        self.due = due
        self.after_commit = after_commit
        self._raw: Any = None  # the writer thread's own connection, kept between batches
        database = engine.url.database if engine.dialect.name == "sqlite" else None
        self._lock_fd = (
            os.open(f"{database}-ingress.lock", os.O_RDWR | os.O_CREAT, 0o600)
            if database and database != ":memory:"
            else None
        )
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="mailhub-commit", daemon=True)
        self._thread.start()
        self._handed: queue.SimpleQueue[list[int] | None] = queue.SimpleQueue()
        self._hander = threading.Thread(target=self._hand_on, name="mailhub-enqueue", daemon=True)
        if after_commit is not None:
            self._hander.start()

    def store(self, rows: list[NewInbound], directories: set[str]) -> list[Accepted]:
        """Commit the rows; first fsync `directories`, where their files were given names."""
        future: Future[list[Accepted]] = Future()
        self._queue.put(_Pending(rows, directories, partial(_settle, future)))
        return future.result()

    async def stored(self, rows: list[NewInbound], directories: set[str]) -> list[Accepted]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[Accepted]] = loop.create_future()

        def done(outcome: list[Accepted] | BaseException) -> None:
            loop.call_soon_threadsafe(_settle, future, outcome)

        self._queue.put(_Pending(rows, directories, done))
        return await future

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=30)
        if self._hander.is_alive():  # what was committed is handed on before the process ends
            self._handed.put(None)
            self._hander.join(timeout=30)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                if self._raw is not None:
                    self._raw.close()
                    self._raw = None
                if self._lock_fd is not None:
                    os.close(self._lock_fd)
                    self._lock_fd = None
                return
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)  # finish this batch, then stop
                    break
                batch.append(item)
            self._commit(batch)

    def _commit(self, batch: list[_Pending]) -> None:
        try:
            # The files' names survive a crash before the rows commit ("": in the database)
            for directory in set().union(*(p.directories for p in batch)) - {""}:
                fsync_dir(Path(directory))
            results = self._insert([row for p in batch for row in p.rows])
        except Exception as exc:  # every caller answers 451 and removes its files
            log.exception("group commit of %d inbound deliveries failed", len(batch))
            for p in batch:
                _tell(p, exc)
            return
        if self.after_commit is not None:
            fresh = [r.inbound_id for r in results if not r.duplicate]
            if fresh:
                self._handed.put(fresh)
        start = 0
        for p in batch:
            _tell(p, results[start : start + len(p.rows)])
            start += len(p.rows)

    def _hand_on(self) -> None:
        assert self.after_commit is not None
        while (ids := self._handed.get()) is not None:
            try:
                self.after_commit(ids)
            except Exception:  # committed; the sweeper takes what was not enqueued
                log.exception("could not hand %d inbound messages on", len(ids))

    @contextmanager
    def _turn(self) -> Iterator[None]:
        """On SQLite, the `mailhub smtp` processes on one machine take turns at writing.

        SQLite makes a writer that finds the database locked sleep and retry (1, 2, 5, 10 ms …),
        so two processes committing at once leave the disk and the CPU idle. A lock file held
        around the transaction queues them in the kernel instead, which wakes the next one the
        moment the first commits.
        """
        if self._lock_fd is None:
            yield
            return
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def _insert(self, rows: list[NewInbound]) -> list[Accepted]:
        """One transaction on the writer's connection; on any failure the connection goes."""
        if self._raw is None:
            self._raw = self.engine.raw_connection()
        raw, dialect = self._raw, self.engine.dialect
        try:
            with self._turn():
                cursor = raw.cursor()
                if dialect.name == "sqlite":  # the write lock up front, as every mailhub writer
                    cursor.execute("BEGIN IMMEDIATE")
                results = insert_rows(dialect, cursor, rows, self.due)
                raw.commit()
            return results
        except BaseException:
            self._raw = None
            try:
                raw.rollback()
            finally:
                raw.invalidate()  # a broken connection is not given back to the pool
            raise
