"""Where backup files are kept: a folder per tenant on this host (the embedded default,
BACKUPS/TENANT_ID/NAME), or the database's blob store (MAILHUB_BLOB_STORE=postgres, store
"backups", named TENANT_ID/NAME), so that any worker can list, restore and prune the backups
another worker made, and an erasure or a closure run anywhere reaches all of them.

A backup is written to a local file first (ZIP needs to seek while writing) and put on the
shelf whole: renamed into place after an fsync, or streamed into the database a chunk at a
time and then removed. Reading is seekable either way, so a restore fetches only the members
it opens.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from mailhub.errors import NotFound
from mailhub.stores.blobs import CHUNK, DatabaseBlobs
from mailhub.stores.files import fsync_dir

SUFFIX = ".mhb"


class Shelf:
    def __init__(self, root: Path, blobs: DatabaseBlobs | None = None) -> None:
        self.root = root  # the backups, or (with blobs) where new ones are written first
        self.blobs = blobs

    def entries(self, tenant_id: int) -> list[tuple[str, int, float]]:
        """The tenant's backups, newest first: (name, size, when written as a Unix time).
        Names sort by time, so the order is the names'."""
        if self.blobs is not None:
            found = [
                (name.partition("/")[2], size, when)
                for name, size, when in self.blobs.stat(tenant_id)
                if name.endswith(SUFFIX)
            ]
        else:
            folder = self.root / str(tenant_id)
            found = []
            for path in folder.glob(f"*{SUFFIX}") if folder.is_dir() else ():
                try:
                    st = path.stat()
                except FileNotFoundError:  # pruned by another process meanwhile
                    continue
                found.append((path.name, st.st_size, st.st_mtime))
        return sorted(found, reverse=True)

    def open(self, tenant_id: int, name: str) -> BinaryIO:
        """The backup for reading (seekable); NotFound when the tenant has no such backup."""
        name = _checked(name)
        try:
            if self.blobs is not None:
                return self.blobs.open(f"{tenant_id}/{name}")
            return open(self.root / str(tenant_id) / name, "rb")
        except FileNotFoundError:
            raise NotFound(
                f"no backup {name} for this tenant (see `mailhub backup list`)"
            ) from None

    @contextlib.contextmanager
    def drafting(self, tenant_id: int, name: str) -> Iterator[Path]:
        """A local file to write a new backup into before `put` shelves it; gone afterwards
        whether or not it was shelved."""
        folder = self.root / str(tenant_id)
        folder.mkdir(parents=True, exist_ok=True)
        draft = folder / (_checked(name) + ".tmp")
        try:
            yield draft
        finally:
            draft.unlink(missing_ok=True)

    def put(self, tenant_id: int, name: str, draft: Path) -> int:
        """Shelve the finished draft under `name`, durably; its size."""
        with open(draft, "rb") as fh:
            if self.blobs is None:
                os.fsync(fh.fileno())
            else:
                self.blobs.write(
                    tenant_id, f"{tenant_id}/{name}", iter(lambda: fh.read(CHUNK), b"")
                )
        size = draft.stat().st_size
        if self.blobs is None:
            os.replace(draft, self.root / str(tenant_id) / name)
            fsync_dir(self.root / str(tenant_id))  # the rename survives a crash too
        return size

    def delete(self, tenant_id: int, name: str) -> None:
        if self.blobs is not None:
            self.blobs.delete(f"{tenant_id}/{_checked(name)}")
        else:
            (self.root / str(tenant_id) / _checked(name)).unlink(missing_ok=True)

    def drop_drafts(self, tenant_id: int) -> None:
        """Drafts a crashed backup left on this host."""
        folder = self.root / str(tenant_id)
        for stale in folder.glob("*.tmp") if folder.is_dir() else ():
            stale.unlink(missing_ok=True)

    def delete_tenant(self, tenant_id: int) -> int:
        """Every backup of the tenant, and this host's drafts; how many files went."""
        count = 0
        if self.blobs is not None:
            for name in list(self.blobs.names(tenant_id)):
                self.blobs.delete(name)
                count += 1
        folder = self.root / str(tenant_id)
        if folder.exists():
            count += sum(1 for p in folder.rglob("*") if p.is_file())
            shutil.rmtree(folder)
        return count

    def holds(self, tenant_id: int) -> int:
        """What is left of the tenant here: its backups, plus one for a folder of its own."""
        left = len(list(self.blobs.names(tenant_id))) if self.blobs is not None else 0
        folder = self.root / str(tenant_id)
        if folder.exists():
            left += 1 + sum(1 for p in folder.rglob("*") if p.is_file())
        return left

    def files(self, tenant_id: int) -> Iterator[Path]:
        """Every file of the tenant's as a local file, for the proof to read: its backups (from
        the database, one at a time, each copy removed once read) and this host's drafts."""
        folder = self.root / str(tenant_id)
        if folder.is_dir():
            yield from (p for p in sorted(folder.rglob("*")) if p.is_file())
        if self.blobs is not None:
            yield from (path for _, path in self.blobs.copies(tenant_id))


def _checked(name: str) -> str:
    base = Path(name).name
    if base != name or not base.endswith(SUFFIX) or base.startswith("."):
        raise NotFound(f"no backup {name} for this tenant (see `mailhub backup list`)")
    return base
