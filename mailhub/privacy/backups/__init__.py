"""Per-tenant backups, encrypted so that erasure reaches them (crypto-shredding).

A backup is one file, YYYYMMDDTHHMMSS.ffffffZ-XXXXXX.mhb (names sort by time), kept on the
tenant's shelf (shelf.py: a folder on this host, or the database's blob store), a ZIP of:

    manifest.json   in the clear: format, tenant, when, rows per table, whose data is sealed
    rows.bin        every row of the tenant as JSON, compressed, encrypted with the tenant's
                    key; each row that is a person's data (the data map's subject) sealed
                    first with that person's own data key
    files/N.bin     each attachment and thumbnail, sealed the same way (owner's key, then
                    the tenant's)

The keys live in the key store (mailhub/privacy/keys.py), never in a backup. Erasing a person
destroys their key, closing a tenant destroys all of its keys: from then on no backup made
before can reveal them, and nobody has to find and rewrite old backup files.

Restoring replaces the tenant's rows and files with the backup's, skipping every sealed row
whose key is gone and everything that depends on it, and replaying the erasure ledger, so
nobody erased comes back even from a backup older than their erasure. Search is rebuilt.

Rotation is strict: `create` keeps the newest MAILHUB_BACKUP_KEEP backups of the tenant and
deletes the rest (`prune` does only that).
"""

from __future__ import annotations

from mailhub.privacy.backups.archive import Backup
from mailhub.privacy.backups.catalogue import due, listing, prune, readable_for
from mailhub.privacy.backups.create import create
from mailhub.privacy.backups.restore import Restored, restore
from mailhub.privacy.backups.shelf import Shelf

__all__ = [
    "Backup",
    "Restored",
    "Shelf",
    "create",
    "due",
    "listing",
    "prune",
    "readable_for",
    "restore",
]
