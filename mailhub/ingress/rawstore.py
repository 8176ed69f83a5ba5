"""The raw mail store: the exact bytes that arrived, one file per message, fsynced.

A file is complete before its row commits (written to a temporary name, fsynced, renamed,
directory fsynced), so a row never points at half a message.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from mailhub.models.base import utcnow


class RawStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def put(self, tenant_id: int, data: bytes) -> str:
        """Write durably and return the path relative to the store."""
        now = utcnow()
        rel = Path(
            str(tenant_id), f"{now:%Y-%m}", f"{now:%Y%m%dT%H%M%S}-{secrets.token_hex(8)}.eml"
        )
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        _fsync_dir(path.parent)
        return rel.as_posix()

    def read(self, rel: str) -> bytes:
        return (self.root / rel).read_bytes()

    def delete(self, rel: str) -> None:
        (self.root / rel).unlink(missing_ok=True)

    def exists(self, rel: str) -> bool:
        return (self.root / rel).is_file()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
