"""The backups of a tenant: which exist (newest first), whether one is due, strict rotation,
and how many can still be read for a person.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from mailhub.errors import NotFound
from mailhub.privacy.backups.archive import Backup, manifest_of
from mailhub.privacy.backups.shelf import Shelf
from mailhub.privacy.keys import KeyStore


def due(shelf: Shelf, tenant_id: int, every: float, now: float | None = None) -> bool:
    """Whether the tenant's newest backup is older than `every` seconds (or there is none)."""
    newest = max((when for _, _, when in shelf.entries(tenant_id)), default=None)
    return newest is None or (now if now is not None else time.time()) - newest >= every


def _manifests(shelf: Shelf, tenant_id: int) -> Iterator[tuple[str, int, dict[str, Any]]]:
    """The tenant's backups, newest first, with their manifests: (name, size, manifest). One
    pruned meanwhile is left out: it reveals nothing any more."""
    for name, size, _ in shelf.entries(tenant_id):
        try:
            with shelf.open(tenant_id, name) as fh:
                yield name, size, manifest_of(fh, name)
        except NotFound:
            continue


def listing(shelf: Shelf, tenant_id: int) -> list[Backup]:
    return [
        Backup(
            name,
            str(manifest["created_at"]),
            sum(manifest["rows"].values()),
            int(manifest["files"]),
            size,
        )
        for name, size, manifest in _manifests(shelf, tenant_id)
    ]


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
    return sum(
        user_id in manifest.get("sealed_for", []) for _, _, manifest in _manifests(shelf, tenant_id)
    )
