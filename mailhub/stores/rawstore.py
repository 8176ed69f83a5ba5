"""The raw mail store: the exact bytes that arrived, one file per message, fsynced.

Mail is held as it arrives, hashed on the way: in memory while it is small (up to IN_MEMORY),
in a spool file past that, so a 50 MB message never sits in memory. Only then is it given its
name under each tenant it is for: written (or the spool renamed or hard-linked) and fsynced,
the directory fsynced. So a row never points at half a message, and each tenant's copy can
be erased on its own.
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
IN_MEMORY = 262144  # a message up to this size is never written to a spool file


class Spool:
    """A message being received, hashed as it comes: kept in memory while it is small, else
    appended to a temporary file.

    Most mail is small: its bytes go from memory straight to the stored file, and no spool
    file is created on the receiving event loop (creating one waits on the directory that the
    other sessions' files are being named in). A message past `in_memory` bytes is written to
    the file from then on, so a 50 MB message never sits in memory.
    """

    def __init__(self, folder: str, in_memory: int = 0) -> None:
        self.folder = folder
        self._path: Path | None = None  # named when first asked: most spools never need one
        self.in_memory = in_memory
        self._memory: bytearray | None = bytearray()  # None once the bytes are in the file
        self._fd: int | None = None
        self._sha = hashlib.sha256()
        self.size = 0
        self.head = b""
        self.renamed = False  # the spool's name was given to the stored file
        if in_memory <= 0:
            self._open()

    @property
    def path(self) -> Path:
        """The spool file's name (there is a file only once the bytes left memory)."""
        if self._path is None:
            self._path = Path(f"{self.folder}/{secrets.token_hex(12)}.tmp")
        return self._path

    def _open(self) -> None:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
        try:
            self._fd = os.open(self.path, flags, 0o600)
        except FileNotFoundError:  # the first spool file here, or its folder was removed
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, flags, 0o600)
        held, self._memory = self._memory, None
        if held:
            _write_all(self._fd, held)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._memory is not None and len(self._memory) + len(data) <= self.in_memory:
            self._memory += data
        else:
            if self._memory is not None:
                self._open()
            assert self._fd is not None, "spool already closed"
            _write_all(self._fd, data)
        self._sha.update(data)
        if len(self.head) < HEAD_BYTES:
            self.head += bytes(data[: HEAD_BYTES - len(self.head)])
        self.size += len(data)

    @property
    def memory(self) -> bytes | None:
        """The whole message when it never left memory (no spool file), else None."""
        return None if self._memory is None else bytes(self._memory)

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
        if self._memory is not None:
            self._memory = bytearray()  # nothing on disk; the bytes are let go
        elif not self.renamed and self._path is not None:
            self._path.unlink(missing_ok=True)

    def read(self) -> bytes:
        return bytes(self._memory) if self._memory is not None else self.path.read_bytes()


def _write_all(fd: int, data: bytes | bytearray | memoryview) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _write_new(path: str, data: bytes) -> None:
    """A new file with `data`, fsynced (its directory is the caller's to fsync)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        _write_all(fd, data)
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(path)
        raise
    os.close(fd)


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

    def spool(self, in_memory: int = IN_MEMORY) -> Spool:
        """A spool for a message being received; up to `in_memory` bytes stay in memory."""
        incoming = self._incoming
        if in_memory > 0:  # no file yet: it is made (and `incoming` with it) when needed
            return Spool(incoming, in_memory)
        return self._retry_in(incoming, lambda: Spool(incoming))

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
        held = spool.memory
        if self.blobs is not None:  # committed in the database before the row, from the file
            spool.close()
            if held is not None:
                chunks = (held[i : i + CHUNK] for i in range(0, len(held), CHUNK))
                self.blobs.write(tenant_id, rel, chunks)
                return rel
            with open(spool.path, "rb") as fh:
                self.blobs.write(tenant_id, rel, iter(lambda: fh.read(CHUNK), b""))
            return rel
        directory = f"{self._root}/{folder}"
        target = f"{self._root}/{rel}"
        if held is not None:  # never left memory: written once, under its name
            self._retry_in(directory, partial(_write_new, target, held))
        else:
            spool.finish()
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
        held = spool.memory
        if held is not None:
            return held
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
