"""Moving what one machine stored in its folders into the database's blob store, for an
installation that grows from the embedded default to hosts that share no disk
(`mailhub files move-to-database`, with MAILHUB_BLOB_STORE=postgres set).

Each file is stored as the blob the other hosts will look for (the same name its row holds),
checked against what was read, and only then deleted here, so a run cut short loses nothing
and the next run carries on. A file whose name is already taken by different bytes is left
where it is and reported; the same bytes count as moved. Spool files of deliveries that were
interrupted (raw/incoming/) are not mail anyone acknowledged and stay for the sweeper.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from mailhub.stores.blobs import CHUNK, DatabaseBlobs

NO_TENANT = 0  # the outbox's blobs belong to no tenant


@dataclass
class Moved:
    counts: Counter[str] = field(default_factory=Counter)  # by store: files moved
    bytes: int = 0
    conflicts: list[str] = field(default_factory=list)  # "store name": left here, name taken
    skipped: list[str] = field(default_factory=list)  # files that belong to no tenant folder


def move_folder(
    folder: Path, blobs: DatabaseBlobs, moved: Moved, by_tenant: bool = True, suffix: str = ""
) -> None:
    """Every file under `folder` (TENANT_ID/… when `by_tenant`, else NAME`suffix` at its top)
    into `blobs`, named by its path under `folder`."""
    for path, name in _files(folder, by_tenant, suffix, moved):
        tenant_id = int(name.split("/", 1)[0]) if by_tenant else NO_TENANT
        digest, size = _sha256(path)
        stored = blobs.digest(name)
        if stored is None:
            with open(path, "rb") as fh:
                size, stored = blobs.write(tenant_id, name, iter(lambda: fh.read(CHUNK), b""))
        if stored != digest:  # taken by other bytes (or the file changed while read): keep it
            moved.conflicts.append(f"{blobs.store} {name}")
            continue
        path.unlink()
        moved.counts[blobs.store] += 1
        moved.bytes += size


def _files(folder: Path, by_tenant: bool, suffix: str, moved: Moved) -> Iterator[tuple[Path, str]]:
    if not folder.is_dir():
        return
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or path.is_symlink():
            continue
        name = path.relative_to(folder).as_posix()
        top = name.split("/", 1)[0]
        if any(part.startswith(".") for part in name.split("/")) or name.endswith(".tmp"):
            continue  # half-written: a draft, a partial copy, a restore's staging
        if by_tenant and top == "incoming":
            continue  # spool files of interrupted deliveries: the sweeper's
        if by_tenant and (not top.isdigit() or "/" not in name or top == "incoming"):
            moved.skipped.append(f"{folder.name}/{name}")
            continue
        if not by_tenant and ("/" in name or not name.endswith(suffix)):
            moved.skipped.append(f"{folder.name}/{name}")
            continue
        yield path, name


def _sha256(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as fh:
        for data in iter(lambda: fh.read(CHUNK), b""):
            digest.update(data)
            size += len(data)
    return digest.hexdigest(), size


def remove_empty_dirs(folder: Path) -> None:
    """The folders a move emptied (deepest first); the folder itself stays."""
    if not folder.is_dir():
        return
    for path in sorted(folder.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if path.is_dir() and not any(path.iterdir()):
            path.rmdir()
