"""The backups of a tenant: which exist (newest first), whether one is due, strict rotation,
finding one by name, and how many can still be read for a person.
"""

from __future__ import annotations

import time
from pathlib import Path

from mailhub.errors import NotFound
from mailhub.privacy.backups.archive import SUFFIX, Backup, manifest_of
from mailhub.privacy.keys import KeyStore


def due(root: Path, tenant_id: int, every: float, now: float | None = None) -> bool:
    """Whether the tenant's newest backup is older than `every` seconds (or there is none)."""
    folder = root / str(tenant_id)
    newest = max(
        (p.stat().st_mtime for p in folder.glob(f"*{SUFFIX}")) if folder.is_dir() else (),
        default=None,
    )
    return newest is None or (now if now is not None else time.time()) - newest >= every


def listing(root: Path, tenant_id: int) -> list[Backup]:
    folder = root / str(tenant_id)
    found = []
    for path in sorted(folder.glob(f"*{SUFFIX}"), reverse=True) if folder.is_dir() else []:
        manifest = manifest_of(path)
        found.append(
            Backup(
                path,
                str(manifest["created_at"]),
                sum(manifest["rows"].values()),
                int(manifest["files"]),
                path.stat().st_size,
            )
        )
    return found


def prune(root: Path, tenant_id: int, keep: int) -> list[Path]:
    """Delete all but the newest `keep` backups of the tenant; the deleted ones."""
    folder = root / str(tenant_id)
    if not folder.is_dir():
        return []
    for stale in folder.glob("*.tmp"):
        stale.unlink(missing_ok=True)
    old = sorted(folder.glob(f"*{SUFFIX}"), reverse=True)[keep:]
    for path in old:
        path.unlink()
    return old


def readable_for(keys: KeyStore, root: Path, tenant_id: int, user_id: int) -> int:
    """How many of the tenant's backups could still reveal this person's data."""
    if not keys.has_user_key(tenant_id, user_id):
        return 0
    folder = root / str(tenant_id)
    found = sorted(folder.glob(f"*{SUFFIX}")) if folder.is_dir() else []
    return sum(1 for path in found if user_id in manifest_of(path).get("sealed_for", []))


def find(root: Path, tenant_id: int, name: str) -> Path:
    path = root / str(tenant_id) / Path(name).name
    if not path.is_file():
        raise NotFound(f"no backup {name} for this tenant (see `mailhub backup list`)")
    return path
