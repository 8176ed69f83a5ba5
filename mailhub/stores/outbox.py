"""The outbox: where finished mail goes when no relay is set (MAILHUB_SMTP_RELAY empty).

One .eml file per mail in MAILHUB_DATA_DIR/outbox/ (the embedded default), or, with
MAILHUB_BLOB_STORE=postgres, one blob of the store "outbox" per mail, so that what a worker on
one host sends, `mailhub outbox` on any other host shows, and an erasure or a closure run
anywhere finds it. Sending is idempotent per name: the same mail sent twice is one mail.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

from mailhub.errors import NotFound
from mailhub.stores.blobs import DatabaseBlobs

NO_TENANT = 0  # outbox blobs belong to no tenant: closure finds them by the domain they name
SUFFIX = ".eml"


class Outbox:
    def __init__(self, root: Path, blobs: DatabaseBlobs | None = None) -> None:
        self.root = root  # the .eml files, or (with blobs) this host's copies of what it read
        self.blobs = blobs

    def send(self, name: str, data: bytes, mail_from: str, rcpt_to: list[str]) -> None:
        """A transport (outbound/transport.py): the mail is kept durably before this returns."""
        if self.blobs is not None:
            self.blobs.write(NO_TENANT, name + SUFFIX, [data], replace=True)
            return
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / (name + SUFFIX)
        tmp = path.with_suffix(".tmp")
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)

    def names(self) -> list[str]:
        """Every mail's file name (NAME.eml), in name order."""
        if self.blobs is not None:
            return sorted(self.blobs.names(NO_TENANT))
        return sorted(p.name for p in self.root.glob(f"*{SUFFIX}")) if self.root.is_dir() else []

    def read(self, name: str) -> bytes:
        try:
            if self.blobs is not None:
                return self.blobs.read(_checked(name))
            return (self.root / _checked(name)).read_bytes()
        except FileNotFoundError:
            raise NotFound(f"no mail {name} in the outbox (see `mailhub outbox`)") from None

    def delete(self, name: str) -> None:
        if self.blobs is not None:
            self.blobs.delete(_checked(name))
        else:
            (self.root / _checked(name)).unlink(missing_ok=True)

    def prune(self, older_than_days: int, now: float | None = None) -> int:
        """Delete mail written more than `older_than_days` ago; how many went."""
        cutoff = (now if now is not None else time.time()) - older_than_days * 86400
        if self.blobs is not None:
            old = list(self.blobs.names(older_than=time.time() - cutoff))
            for name in old:
                self.blobs.delete(name)
            return len(old)
        count = 0
        for name in self.names():
            path = self.root / name
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    count += 1
            except FileNotFoundError:  # deleted meanwhile
                continue
        return count

    def files(self) -> Iterator[tuple[str, Path]]:
        """Each mail as a local file, for a scan: (name, file). From the database, each copy is
        removed once the caller has read it."""
        if self.blobs is None:
            yield from ((name, self.root / name) for name in self.names())
        else:
            yield from self.blobs.copies(NO_TENANT)


def _checked(name: str) -> str:
    if Path(name).name != name or not name.endswith(SUFFIX) or name.startswith("."):
        raise NotFound(f"no mail {name} in the outbox (see `mailhub outbox`)")
    return name
