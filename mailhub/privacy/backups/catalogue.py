"""The backups of a tenant: which exist (newest first), whether one is due, strict rotation,
and how many can still be read for a person.
"""

from __future__ import annotations

import time

from mailhub.errors import NotFound
from mailhub.privacy.backups.archive import Backup, manifest_of
from mailhub.privacy.backups.shelf import Shelf
from mailhub.privacy.keys import KeyStore


def due(shelf: Shelf, tenant_id: int, every: float, now: float | None = None) -> bool:
    """Whether the tenant's newest backup is older than `every` seconds (or there is none)."""
    newest = max((when for _, _, when in shelf.entries(tenant_id)), default=None)
    return newest is None or (now if now is not None else time.time()) - newest >= every


def listing(shelf: Shelf, tenant_id: int) -> list[Backup]:
    found = []
    for name, size, _ in shelf.entries(tenant_id):
        try:
            with shelf.open(tenant_id, name) as fh:
                manifest = manifest_of(fh, name)
        except NotFound:  # pruned meanwhile
            continue
        found.append(
            Backup(
                name,
                str(manifest["created_at"]),
                sum(manifest["rows"].values()),
                int(manifest["files"]),
                size,
            )
        )
    return found


def prune(shelf: Shelf, tenant_id: int, keep: int) -> list[str]:
    """Delete all but the newest `keep` backups of the tenant; the deleted ones' names."""
    shelf.drop_drafts(tenant_id)
    old = [name for name, _, _ in shelf.entries(tenant_id)[keep:]]
    for name in old:
        shelf.delete(tenant_id, name)
    return old


def readable_for(keys: KeyStore, shelf: Shelf, tenant_id: int, user_id: int) -> int:
    """How many of the tenant's backups could still reveal this person's data."""
    if not keys.has_user_key(tenant_id, user_id):
        return 0
    readable = 0
    for name, _, _ in shelf.entries(tenant_id):
        try:
            with shelf.open(tenant_id, name) as fh:
                readable += user_id in manifest_of(fh, name).get("sealed_for", [])
        except NotFound:  # pruned meanwhile: it reveals nothing any more
            continue
    return readable
