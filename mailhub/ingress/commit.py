"""Group commit for accepted mail: the rows of all deliveries waiting at once, in one transaction.

Every "250" waits for a commit, and a commit waits for the disk. With eight sessions storing at
the same time, one writer thread takes all waiting rows and commits them together, so the disk
wait is shared (the way Postfix's queue manager shares its work). Each row is a plain INSERT …
ON CONFLICT DO NOTHING on the delivery key (tenant, Message-ID, bytes, recipients), so a message that is already stored comes back as a
duplicate instead of failing the batch.
"""

from __future__ import annotations

import logging
import queue
import threading
from concurrent.futures import Future
from dataclasses import asdict, dataclass
from typing import cast

from sqlalchemy import Connection, Engine, Table, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from mailhub.models import InboundMessage, utcnow

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


@dataclass(frozen=True)
class Accepted:
    """What became of one delivery for one tenant: its row, and whether it was there already."""

    inbound_id: int
    duplicate: bool


def insert_batch(conn: Connection, rows: list[NewInbound]) -> list[Accepted]:
    """Insert rows (in the caller's transaction); already-stored messages come back as duplicates."""
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    table = cast(Table, InboundMessage.__table__)
    now = utcnow()
    values = [{**asdict(r), "received_at": now, "enqueued_at": now} for r in rows]
    inserted = {
        (row.tenant_id, row.message_id, row.sha256, row.rcpt_key): row.id
        for row in conn.execute(
            insert(table)
            .values(values)
            .on_conflict_do_nothing(
                index_elements=["tenant_id", "message_id", "sha256", "rcpt_key"]
            )
            .returning(
                table.c.id, table.c.tenant_id, table.c.message_id, table.c.sha256, table.c.rcpt_key
            )
        )
    }
    results = []
    claimed: set[int] = set()
    for r in rows:
        key = (r.tenant_id, r.message_id, r.sha256, r.rcpt_key)
        new_id = inserted.get(key)
        if new_id is not None and new_id not in claimed:
            claimed.add(new_id)
            results.append(Accepted(new_id, duplicate=False))
            continue
        existing = conn.scalar(
            select(table.c.id).where(
                table.c.tenant_id == r.tenant_id,
                table.c.message_id == r.message_id,
                table.c.sha256 == r.sha256,
                table.c.rcpt_key == r.rcpt_key,
            )
        )
        if existing is None:
            raise RuntimeError("a conflicting inbound row vanished during insert")
        results.append(Accepted(int(existing), duplicate=True))
    return results


@dataclass
class _Pending:
    row: NewInbound
    future: Future[Accepted]


class GroupCommitter:
    """One writer thread; `store` blocks the caller until its row is committed."""

    def __init__(self, engine: Engine, max_batch: int = MAX_BATCH) -> None:
        self.engine = engine
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="mailhub-commit", daemon=True)
        self._thread.start()

    def store(self, row: NewInbound) -> Accepted:
        pending = _Pending(row, Future())
        self._queue.put(pending)
        return pending.future.result()

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
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
            with self.engine.begin() as conn:
                results = insert_batch(conn, [p.row for p in batch])
        except Exception as exc:  # every caller answers 451 and removes its file
            log.exception("group commit of %d inbound rows failed", len(batch))
            for p in batch:
                p.future.set_exception(exc)
            return
        for p, result in zip(batch, results, strict=True):
            p.future.set_result(result)
