"""Files in the database (MAILHUB_BLOB_STORE=postgres): raw mail, attachments, thumbnails.

With it, the SMTP, worker and web hosts share nothing but the database and the broker: what one
host stores, another reads. A blob is a row in `blobs` (its name is the path the other rows refer
to) and its bytes are rows of `blob_chunks`, CHUNK bytes each, written and read one chunk at a
time, so a 50 MB message never sits whole in memory on either side.

Files before rows, as on a disk: a blob is committed in its own transaction before the row that
refers to it; a crash in between leaves an orphan, which `orphans` finds and the housekeeping
removes (stores/filecheck.py). Each host keeps a cache of the blobs it read (parsers and the web
server want a file); the cache is checked against the database on every use and pruned by each
host's sweeper, so an erased blob does not live on in any host's cache.
"""

from __future__ import annotations

import hashlib
import io
import os
import secrets
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, timedelta
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import Engine, delete, func, insert, select, update

from mailhub.models import Blob, BlobChunk, utcnow

CHUNK = 1024 * 1024


class BlobTooLarge(Exception):
    pass


class DatabaseBlobs:
    """One store's blobs ("raw" or "files") in the database, with this host's cache of them."""

    def __init__(self, engine: Engine, store: str, cache: Path) -> None:
        self.engine = engine
        self.store = store
        self.cache = cache

    def write(
        self,
        tenant_id: int,
        name: str,
        chunks: Iterable[bytes],
        max_size: int = 0,
        replace: bool = False,
    ) -> tuple[int, str]:
        """Store the bytes under `name`, committed before returning: (size, sha256). Raises
        BlobTooLarge (and keeps nothing) when they grow past `max_size` (0: no limit). With
        `replace`, a blob of that name is replaced in the same transaction."""
        digest, size, seq = hashlib.sha256(), 0, 0
        with self.engine.begin() as conn:
            if replace:  # its chunks go with it (ON DELETE CASCADE)
                conn.execute(delete(Blob).where(Blob.store == self.store, Blob.name == name))
            blob_id = conn.execute(
                insert(Blob)
                .values(
                    store=self.store,
                    name=name,
                    tenant_id=tenant_id,
                    size=0,
                    sha256="",
                    created_at=utcnow(),
                )
                .returning(Blob.id)
            ).scalar_one()
            for data in _rechunked(chunks):
                size += len(data)
                if max_size and size > max_size:
                    raise BlobTooLarge(name)  # the transaction rolls back: nothing is kept
                digest.update(data)
                conn.execute(insert(BlobChunk).values(blob_id=blob_id, seq=seq, data=data))
                seq += 1
            conn.execute(
                update(Blob).where(Blob.id == blob_id).values(size=size, sha256=digest.hexdigest())
            )
        return size, digest.hexdigest()

    def chunks(self, name: str) -> Iterator[bytes]:
        """The bytes, a chunk at a time (one query each: nothing more is held)."""
        blob_id = self._id(name)
        if blob_id is None:
            raise FileNotFoundError(f"{self.store} blob {name!r}")
        seq = 0
        while True:
            with self.engine.connect() as conn:
                data = conn.scalar(
                    select(BlobChunk.data).where(BlobChunk.blob_id == blob_id, BlobChunk.seq == seq)
                )
            if data is None:
                return
            yield bytes(data)
            seq += 1

    def read(self, name: str) -> bytes:
        return b"".join(self.chunks(name))

    def open(self, name: str) -> BinaryIO:
        """A seekable reader of the bytes that fetches the chunk it needs when it needs it: a ZIP's
        directory, at its end, is read without the rest. FileNotFoundError when there is none."""
        with self.engine.connect() as conn:
            found = conn.execute(
                select(Blob.id, Blob.size).where(Blob.store == self.store, Blob.name == name)
            ).first()
        if found is None:
            raise FileNotFoundError(f"{self.store} blob {name!r}")
        return io.BufferedReader(_Reader(self.engine, int(found[0]), int(found[1])))

    def stat(self, tenant_id: int) -> list[tuple[str, int, float]]:
        """The tenant's blobs in this store: (name, size, when written as a Unix time)."""
        query = (
            select(Blob.name, Blob.size, Blob.created_at)
            .where(Blob.store == self.store, Blob.tenant_id == tenant_id)
            .order_by(Blob.id)
        )
        with self.engine.connect() as conn:
            return [
                (name, int(size), created.replace(tzinfo=UTC).timestamp())
                for name, size, created in conn.execute(query)
            ]

    def read_head(self, name: str, size: int) -> bytes:
        head = bytearray()
        for data in self.chunks(name):
            head += data[: size - len(head)]
            if len(head) >= size:
                break
        return bytes(head)

    def digest(self, name: str) -> str | None:
        """The stored bytes' SHA-256 (hex), or None when there is no such blob."""
        with self.engine.connect() as conn:
            found = conn.scalar(
                select(Blob.sha256).where(Blob.store == self.store, Blob.name == name)
            )
        return str(found) if found is not None else None

    def exists(self, name: str) -> bool:
        return self._id(name) is not None

    def _id(self, name: str) -> int | None:
        with self.engine.connect() as conn:
            found = conn.scalar(select(Blob.id).where(Blob.store == self.store, Blob.name == name))
        return int(found) if found is not None else None

    def delete(self, name: str) -> None:
        """The blob (its chunks go with it) and this host's cached copy."""
        with self.engine.begin() as conn:
            blob_id = conn.scalar(
                select(Blob.id).where(Blob.store == self.store, Blob.name == name)
            )
            if blob_id is not None:
                conn.execute(delete(BlobChunk).where(BlobChunk.blob_id == blob_id))
                conn.execute(delete(Blob).where(Blob.id == blob_id))
        self.uncache(name)

    def names(self, tenant_id: int | None = None, older_than: float = 0) -> Iterator[str]:
        query = select(Blob.name).where(Blob.store == self.store).order_by(Blob.id)
        if tenant_id is not None:
            query = query.where(Blob.tenant_id == tenant_id)
        if older_than:
            query = query.where(Blob.created_at <= utcnow() - timedelta(seconds=older_than))
        with self.engine.connect() as conn:
            yield from list(conn.scalars(query))

    def total_bytes(self) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.scalar(
                    select(func.coalesce(func.sum(Blob.size), 0)).where(Blob.store == self.store)
                )
                or 0
            )

    # This host's cache: a file for whoever needs one (a parser's mmap, the web's FileResponse)

    def cached(self, name: str) -> Path:
        """A local file with the blob's bytes; FileNotFoundError when the blob is gone (then any
        copy this host had is removed too)."""
        path = self._cache_path(name)
        with self.engine.connect() as conn:
            size = conn.scalar(select(Blob.size).where(Blob.store == self.store, Blob.name == name))
        if size is None:
            self.uncache(name)
            raise FileNotFoundError(f"{self.store} blob {name!r}")
        try:
            if path.stat().st_size == size:
                os.utime(path)  # recently used: kept by the pruning
                return path
        except FileNotFoundError:
            pass
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{secrets.token_hex(6)}.part")  # per caller
        try:
            with open(partial, "wb") as fh:
                for data in self.chunks(name):
                    fh.write(data)
            os.replace(partial, path)
        finally:
            partial.unlink(missing_ok=True)
        return path

    def copies(self, tenant_id: int) -> Iterator[tuple[str, Path]]:
        """Each of the tenant's blobs as a local file, one at a time, for a scan: (name, file).
        A copy is removed as soon as the caller moves on, so the scan leaves none behind; a
        blob deleted meanwhile is skipped."""
        for name in list(self.names(tenant_id)):
            try:
                yield name, self.cached(name)
            except FileNotFoundError:
                continue
            finally:
                self.uncache(name)

    def uncache(self, name: str) -> None:
        self._cache_path(name).unlink(missing_ok=True)

    def prune_cache(self, unused_for: float) -> int:
        """Remove this host's copies unused for `unused_for` seconds, and any whose blob is gone."""
        if not self.cache.is_dir():
            return 0
        cutoff = time.time() - unused_for
        removed = 0
        for path in list(self.cache.rglob("*")):
            if not path.is_file():
                continue
            name = path.relative_to(self.cache).as_posix()
            try:
                if path.stat().st_mtime < cutoff or (
                    not path.name.startswith(".")  # a copy being filled is nobody's to take
                    and not self.exists(name)
                ):
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                pass
        return removed

    def _cache_path(self, name: str) -> Path:
        path = (self.cache / name).resolve()
        if not path.is_relative_to(self.cache.resolve()):
            raise ValueError(f"{name!r} is outside the blob cache")
        return path


class _Reader(io.RawIOBase):
    """A blob as a read-only, seekable raw file: one query per chunk, the last one kept."""

    def __init__(self, engine: Engine, blob_id: int, size: int) -> None:
        self.engine, self.blob_id, self.size = engine, blob_id, size
        self.pos = 0
        self.seq, self.chunk = -1, b""

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: self.size}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self.pos = base + offset
        return self.pos

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if self.pos >= self.size:
            return 0
        seq, start = divmod(self.pos, CHUNK)
        if seq != self.seq:
            with self.engine.connect() as conn:
                data = conn.scalar(
                    select(BlobChunk.data).where(
                        BlobChunk.blob_id == self.blob_id, BlobChunk.seq == seq
                    )
                )
            if data is None:
                raise FileNotFoundError(f"blob {self.blob_id} lost its chunk {seq}")
            self.seq, self.chunk = seq, bytes(data)
        piece = self.chunk[start : start + len(buffer)]
        buffer[: len(piece)] = piece
        self.pos += len(piece)
        return len(piece)


def _rechunked(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The same bytes in pieces of CHUNK (the last one shorter)."""
    pending = bytearray()
    for data in chunks:
        pending += data
        while len(pending) >= CHUNK:
            yield bytes(pending[:CHUNK])
            del pending[:CHUNK]
    if pending:
        yield bytes(pending)
