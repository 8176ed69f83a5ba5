"""The file store: attachments and their thumbnails, one directory per tenant.

Files before rows: a use case writes its files through a `FileBatch`, commits its rows, and
only if the transaction fails removes what the batch wrote. Whatever a crash leaves behind is
found by `orphans` (`mailhub files check`) and removed by the sweeper.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import shutil
import time
import unicodedata
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from mailhub.models.base import utcnow
from mailhub.stores.blobs import CHUNK, BlobTooLarge, DatabaseBlobs

_UNSAFE = re.compile(r"[^\w.\- ]+", re.UNICODE)


def safe_filename(name: str, fallback: str = "attachment") -> str:
    """A name that is safe on every file system and in a URL path segment, keeping its letters."""
    name = unicodedata.normalize("NFC", name).replace("/", "_").replace("\\", "_")
    name = _UNSAFE.sub("_", name).strip(" ._")
    if not name:
        return fallback
    stem, dot, ext = name.rpartition(".")
    if dot and len(ext) <= 10:
        return f"{stem[:120]}.{ext}"
    return name[:130]


class FileStore:
    def __init__(self, root: Path, blobs: DatabaseBlobs | None = None) -> None:
        """`blobs`: keep the files in the database (stores/blobs.py); `root` is then this
        host's cache of them."""
        self.root = root
        self.blobs = blobs

    def write(self, tenant_id: int, filename: str, data: bytes) -> str:
        """Write durably under a fresh directory; return the path relative to the store."""
        now = utcnow()
        rel = Path(str(tenant_id), f"{now:%Y-%m}", secrets.token_hex(10), safe_filename(filename))
        if self.blobs is not None:
            self.blobs.write(tenant_id, rel.as_posix(), [data])
            return rel.as_posix()
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "xb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        return rel.as_posix()

    def write_stream(
        self, tenant_id: int, filename: str, chunks: Iterable[bytes], max_size: int
    ) -> tuple[str, int, str] | None:
        """Write chunks durably; return (path, size, sha256), or None (and nothing kept) when
        the stream grows past max_size."""
        now = utcnow()
        rel = Path(str(tenant_id), f"{now:%Y-%m}", secrets.token_hex(10), safe_filename(filename))
        if self.blobs is not None:
            try:
                size, sha256 = self.blobs.write(tenant_id, rel.as_posix(), chunks, max_size)
            except BlobTooLarge:
                return None
            return rel.as_posix(), size, sha256
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        try:
            with open(path, "xb") as fh:
                for chunk in chunks:
                    size += len(chunk)
                    if size > max_size:
                        raise _TooLarge()
                    digest.update(chunk)
                    fh.write(chunk)
                fh.flush()
                os.fsync(fh.fileno())
        except _TooLarge:
            self.delete(rel.as_posix())
            return None
        except BaseException:
            self.delete(rel.as_posix())
            raise
        return rel.as_posix(), size, digest.hexdigest()

    def path(self, rel: str) -> Path:
        """A local file with the bytes (from this host's cache when in the database; then
        FileNotFoundError when the file is gone)."""
        resolved = (self.root / rel).resolve()
        if not resolved.is_relative_to(self.root.resolve()):
            raise ValueError(f"{rel!r} is outside the file store")
        if self.blobs is not None:
            return self.blobs.cached(rel)
        return resolved

    def exists(self, rel: str) -> bool:
        if self.blobs is not None:
            return self.blobs.exists(rel)
        return self.path(rel).is_file()

    def tenant_files(self, tenant_id: int) -> Iterator[tuple[str, Path]]:
        """(relative path, a local file) of each of the tenant's files."""
        if self.blobs is not None:
            for rel in self.blobs.names(tenant_id):
                try:
                    yield rel, self.blobs.cached(rel)
                except FileNotFoundError:
                    continue  # deleted meanwhile
            return
        folder = self.root / str(tenant_id)
        if folder.is_dir():
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    yield path.relative_to(self.root).as_posix(), path

    def replace_tenant(self, tenant_id: int, unpacked: Path) -> None:
        """The tenant's files become those under `unpacked` (a folder laid out as the store)."""
        if self.blobs is not None:
            for rel in list(self.blobs.names(tenant_id)):
                self.blobs.delete(rel)
            for path in sorted(unpacked.rglob("*")) if unpacked.is_dir() else []:
                if path.is_file():
                    rel = f"{tenant_id}/{path.relative_to(unpacked).as_posix()}"
                    with open(path, "rb") as fh:
                        self.blobs.write(tenant_id, rel, iter(lambda: fh.read(CHUNK), b""))
            return
        folder = self.root / str(tenant_id)
        old = self.root / f".replaced-{tenant_id}-{secrets.token_hex(4)}"
        if folder.is_dir():
            os.replace(folder, old)
        if unpacked.is_dir():
            os.replace(unpacked, folder)
        shutil.rmtree(old, ignore_errors=True)

    def delete(self, rel: str) -> None:
        if self.blobs is not None:
            self.blobs.delete(rel)
            return
        path = self.path(rel)
        path.unlink(missing_ok=True)
        for parent in (path.parent, path.parent.parent):  # the per-file dir, then the month
            try:
                parent.rmdir()
            except OSError:
                break

    def all_files(self) -> Iterator[str]:
        if self.blobs is not None:
            yield from self.blobs.names()
            return
        if not self.root.is_dir():
            return
        for path in self.root.rglob("*"):
            if path.is_file():
                yield path.relative_to(self.root).as_posix()

    def orphans(self, known: Iterable[str], min_age: float = 0) -> tuple[list[str], list[str]]:
        """(files no row knows about, rows' paths with no file) — older than `min_age` seconds."""
        known_set = set(known)
        cutoff = time.time() - min_age
        on_disk = set(self.all_files())
        if self.blobs is not None:
            old_enough = set(self.blobs.names(older_than=min_age))
            stray = sorted(rel for rel in on_disk - known_set if rel in old_enough)
            return stray, sorted(known_set - on_disk)
        stray = sorted(
            rel for rel in on_disk - known_set if (self.root / rel).stat().st_mtime <= cutoff
        )
        missing = sorted(known_set - on_disk)
        return stray, missing

    @contextmanager
    def batch(self) -> Iterator[FileBatch]:
        """Files written inside are removed again if the block raises (its rows rolled back)."""
        batch = FileBatch(self)
        try:
            yield batch
        except BaseException:
            batch.undo()
            raise


class _TooLarge(Exception):
    pass


class FileBatch:
    def __init__(self, store: FileStore) -> None:
        self.store = store
        self.written: list[str] = []

    def write(self, tenant_id: int, filename: str, data: bytes) -> str:
        rel = self.store.write(tenant_id, filename, data)
        self.written.append(rel)
        return rel

    def write_stream(
        self, tenant_id: int, filename: str, chunks: Iterable[bytes], max_size: int
    ) -> tuple[str, int, str] | None:
        written = self.store.write_stream(tenant_id, filename, chunks, max_size)
        if written is not None:
            self.written.append(written[0])
        return written

    def undo(self) -> None:
        for rel in self.written:
            self.store.delete(rel)
        self.written.clear()


def fsync_dir(path: Path) -> None:
    """Make a rename, link or unlink in `path` survive a crash."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
