"""The raw mail store: the exact bytes that arrived, one file per message, fsynced.

Mail is written to a spool file as it arrives (so a 50 MB message never sits in memory), hashed
on the way, and only then given its name under each tenant it is for: fsynced, hard-linked,
directory fsynced, the spool name removed. So a row never points at half a message, and each
tenant's copy can be erased on its own.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TypeVar

from mailhub.models.base import utcnow
from mailhub.stores.blobs import CHUNK, DatabaseBlobs
from mailhub.stores.files import fsync_dir

T = TypeVar("T")

HEAD_BYTES = 65536  # enough to find the Message-ID without reading the whole message


class Spool:
    """A message being received: appended to a temporary file, hashed as it comes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._sha = hashlib.sha256()
        self.size = 0
        self.head = b""
        self.renamed = False  # the spool's name was given to the stored file

    def write(self, data: bytes | bytearray | memoryview) -> None:
        assert self._fd is not None, "spool already closed"
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        self._sha.update(data)
        if len(self.head) < HEAD_BYTES:
            self.head += bytes(data[: HEAD_BYTES - len(self.head)])
        self.size += len(data)

    @property
    def sha256(self) -> str:
        return self._sha.hexdigest()

    def close(self) -> None:
        """Done writing, without the fsync: the bytes go on to the database, not to stay here."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def finish(self) -> None:
        """Flush to disk; after this the bytes survive a crash once the file is placed."""
        if self._fd is not None:
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = None

    def discard(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if not self.renamed:
            self.path.unlink(missing_ok=True)

    def read(self) -> bytes:
        return self.path.read_bytes()


class RawStore:
    # Names are built as strings, not Paths: this is on every accepted message's way, where
    # pathlib's objects cost a tenth of the SMTP server's time.
    def __init__(self, root: Path, blobs: DatabaseBlobs | None = None) -> None:
        """`blobs`: keep messages in the database (stores/blobs.py); the spool stays here."""
        self.root = root
        self.blobs = blobs
        self._root = str(root)
        self._incoming = os.path.join(self._root, "incoming")
        self._made: set[str] = set()  # directories known to exist (a cache: one stat saved)

    def spool(self) -> Spool:
        incoming = self._incoming
        return self._retry_in(
            incoming, lambda: Spool(Path(f"{incoming}/{secrets.token_hex(12)}.tmp"))
        )

    def _retry_in(self, directory: str, make: Callable[[], T]) -> T:
        """`make()` a name in `directory`, creating it when it is not there (or no longer)."""
        if directory in self._made:
            try:
                return make()
            except FileNotFoundError:  # removed meanwhile (a tenant's files erased)
                self._made.discard(directory)
        os.makedirs(directory, exist_ok=True)
        self._made.add(directory)
        return make()

    def spool_bytes(self, data: bytes) -> Spool:
        spool = self.spool()
        try:
            spool.write(data)
        except BaseException:
            spool.discard()
            raise
        return spool

    def place(self, spool: Spool, tenant_id: int, last: bool = False, sync: bool = True) -> str:
        """Give the finished spool its name under the tenant; return the relative path.

        Each tenant gets its own name for the same bytes (a hard link); the `last` one takes
        the spool's own name over (a rename). Without `sync`, the caller fsyncs the directory
        (`directory_of`) before it commits the row, as the group commit does once per batch.
        """
        rel = self.name_for(tenant_id)
        folder = rel.rsplit("/", 1)[0]
        if self.blobs is not None:  # committed in the database before the row, from the file
            spool.close()
            with open(spool.path, "rb") as fh:
                self.blobs.write(tenant_id, rel, iter(lambda: fh.read(CHUNK), b""))
            return rel
        spool.finish()
        directory = f"{self._root}/{folder}"
        target = f"{self._root}/{rel}"
        self._retry_in(directory, partial(os.rename if last else os.link, spool.path, target))
        spool.renamed = last
        if sync:
            fsync_dir(Path(directory))
        return rel

    def name_for(self, tenant_id: int) -> str:
        """A new message's name under the tenant (its month's folder, the time, a random part)."""
        now = utcnow()
        return f"{tenant_id}/{now:%Y-%m}/{now:%Y%m%dT%H%M%S}-{secrets.token_hex(8)}.eml"

    def inline(self, spool: Spool) -> bytes | None:
        """The finished spool's bytes, when the database keeps messages and this one fits in
        one chunk: the group commit then stores them with the row, in one transaction."""
        if self.blobs is None or spool.size > CHUNK:
            return None
        spool.close()
        with open(spool.path, "rb") as fh:
            return fh.read()

    def directory_of(self, rel: str) -> str:
        """The directory to fsync before the row commits ("" in the database)."""
        return "" if self.blobs is not None else os.path.dirname(f"{self._root}/{rel}")

    def path(self, rel: str) -> Path:
        """A local file with the message (from this host's cache when in the database)."""
        return self.blobs.cached(rel) if self.blobs is not None else self.root / rel

    def put(self, tenant_id: int, data: bytes) -> str:
        """Write bytes durably under a tenant and return the path relative to the store."""
        return self.place(self.spool_bytes(data), tenant_id)

    def remove_stale_spools(self, older_than: float) -> int:
        """Delete spool files left by a receiving process that died mid-DATA; return how many.

        Only files untouched for `older_than` seconds go: a slow client may still be sending.
        """
        incoming = self.root / "incoming"
        if not incoming.is_dir():
            return 0
        cutoff = time.time() - older_than
        removed = 0
        for path in incoming.glob("*.tmp"):
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                pass  # finished or removed by its own process meanwhile
        return removed

    def read_head(self, rel: str, size: int) -> bytes:
        if self.blobs is not None:
            return self.blobs.read_head(rel, size)
        with open(self.root / rel, "rb") as fh:
            return fh.read(size)

    def read(self, rel: str) -> bytes:
        return self.blobs.read(rel) if self.blobs is not None else (self.root / rel).read_bytes()

    def delete(self, rel: str) -> None:
        if not rel:
            return
        if self.blobs is not None:
            self.blobs.delete(rel)
        else:
            (self.root / rel).unlink(missing_ok=True)

    def exists(self, rel: str) -> bool:
        return self.blobs.exists(rel) if self.blobs is not None else (self.root / rel).is_file()
