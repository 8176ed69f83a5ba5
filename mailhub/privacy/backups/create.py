"""Making a backup: one consistent snapshot of the tenant's rows and files, each person's data
sealed with their key, all of it with the tenant's; then the rotation is applied.
"""

from __future__ import annotations

import json
import secrets
import zipfile
import zlib
from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy import select
from sqlalchemy.orm import Session

from mailhub.db import SessionFactory
from mailhub.models import Attachment, Base, Tenant, utcnow
from mailhub.privacy.backups.archive import FORMAT, Backup, owners, row_of, tables
from mailhub.privacy.backups.catalogue import prune
from mailhub.privacy.backups.shelf import SUFFIX, Shelf
from mailhub.privacy.keys import KeyStore
from mailhub.progress import Tick, quiet
from mailhub.stores.files import FileStore


def create(
    factory: SessionFactory,
    keys: KeyStore,
    shelf: Shelf,
    file_store: FileStore,
    tenant_id: int,
    keep: int,
    tick: Tick = quiet,
) -> Backup:
    """Write a backup of the tenant, then prune to the newest `keep`. Every row is read in one
    transaction that sees one moment (REPEATABLE READ on PostgreSQL; SQLite's transactions
    always do), so a backup taken while mail flows never holds a row without what it needs."""
    with factory() as session:
        if session.get_bind().dialect.name == "postgresql":
            session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        tenant = session.get_one(Tenant, tenant_id)
        return _create(session, keys, shelf, file_store, tenant, keep, tick)


def _create(
    session: Session,
    keys: KeyStore,
    shelf: Shelf,
    file_store: FileStore,
    tenant: Tenant,
    keep: int,
    tick: Tick,
) -> Backup:
    tenant_key = keys.tenant_key(tenant.id, create=True)
    assert tenant_key is not None
    owned = owners(session, tenant.id)
    user_keys: dict[int, Fernet] = {}

    def key_of(uid: int) -> Fernet:
        if uid not in user_keys:
            found = keys.user_key(tenant.id, uid, create=True)
            assert found is not None
            user_keys[uid] = found
        return user_keys[uid]

    tenants = Base.metadata.tables["tenants"]
    dump: dict[str, list[Any]] = {
        "tenants": [
            row_of(r)
            for r in session.execute(select(tenants).where(tenants.c.id == tenant.id)).mappings()
        ]
    }
    counts: dict[str, int] = {"tenants": 1}
    for table in tables():
        rows: list[Any] = []
        mine = owned.get(table.name, {})
        for row in session.execute(
            select(table).where(table.c.tenant_id == tenant.id).order_by(table.c.id)
        ).mappings():
            plain = row_of(row)
            uid = mine.get(row["id"])
            if uid is None:
                rows.append(plain)
            else:
                sealed = key_of(uid).encrypt(json.dumps(plain).encode()).decode()
                rows.append({"_sealed": uid, "id": row["id"], "data": sealed})
        dump[table.name] = rows
        counts[table.name] = len(rows)
        tick(len(rows))
    stamp = utcnow()
    name = f"{stamp:%Y%m%dT%H%M%S.%f}Z-{secrets.token_hex(3)}{SUFFIX}"
    files = 0
    with shelf.drafting(tenant.id, name) as tmp:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as archive:
            members: dict[str, str] = {}
            attachments = Attachment.__table__
            for a in session.execute(
                select(attachments).where(attachments.c.tenant_id == tenant.id)
            ).mappings():
                uid = owned.get("attachments", {}).get(a["id"])
                for rel in [a["path"], *dict(a["thumbnails"] or {}).values()]:
                    try:
                        data = file_store.path(rel).read_bytes()
                    except FileNotFoundError:
                        continue
                    if uid is not None:
                        data = key_of(uid).encrypt(data)
                    member = f"files/{files}.bin"
                    archive.writestr(member, tenant_key.encrypt(data))
                    members[member] = rel
                    files += 1
                    tick(1)
            body = {"tables": dump, "files": members}
            packed = zlib.compress(json.dumps(body).encode(), 6)  # compressed, then encrypted
            archive.writestr("rows.bin", tenant_key.encrypt(packed))
            manifest = {
                "format": FORMAT,
                "tenant_id": tenant.id,
                "created_at": stamp.isoformat() + "Z",
                "rows": counts,
                "files": files,
                "sealed_for": sorted(user_keys),
            }
            archive.writestr("manifest.json", json.dumps(manifest, indent=1))
        size = shelf.put(tenant.id, name, tmp)
    prune(shelf, tenant.id, keep)
    return Backup(name, str(manifest["created_at"]), sum(counts.values()), files, size)
