"""Restoring a backup: the tenant's rows and files replaced with the backup's, skipping every
sealed row whose key is destroyed and whatever depends on it, replaying the erasure ledger,
rebuilding search; files are swapped in only after the rows commit.
"""

from __future__ import annotations

import json
import secrets
import shutil
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import Table, delete, insert, select, update
from sqlalchemy.orm import Session

from mailhub.db import SessionFactory, unit_of_work
from mailhub.domain import search
from mailhub.errors import InvalidInput
from mailhub.models import Base, Erasure, Tenant, User
from mailhub.privacy.backups.archive import FORMAT, NOT_RESTORED, manifest_of, tables, typed_row
from mailhub.privacy.backups.shelf import Shelf
from mailhub.privacy.keys import KeyStore
from mailhub.privacy.requests import subject_hash
from mailhub.progress import Tick, quiet
from mailhub.stores.files import FileStore


@dataclass(frozen=True)
class Restored:
    rows: int
    files: int
    skipped: dict[str, int]  # rows not restored, by table: their owner's key is destroyed


def restore(
    factory: SessionFactory,
    keys: KeyStore,
    files: FileStore,
    tenant_id: int,
    shelf: Shelf,
    name: str,
    tick: Tick = quiet,
) -> Restored:
    """Replace the tenant's rows and files with the backup's: the files are unpacked beside
    the store first, the rows replaced in one transaction, and only once it commits do the
    unpacked files take the place of the old ones."""
    staging = files.root / f".restore-{tenant_id}-{secrets.token_hex(4)}"
    try:
        with unit_of_work(factory) as session, shelf.open(tenant_id, name) as source:
            tenant = session.get_one(Tenant, tenant_id)
            restored = _restore(session, keys, staging, tenant, source, name, tick)
        files.replace_tenant(tenant_id, staging / str(tenant_id))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return restored


def _restore(
    session: Session,
    keys: KeyStore,
    staging: Path,
    tenant: Tenant,
    source: BinaryIO,
    name: str,
    tick: Tick,
) -> Restored:
    manifest = manifest_of(source, name)
    if manifest.get("format") != FORMAT or manifest.get("tenant_id") != tenant.id:
        raise InvalidInput(f"{name} is not a backup of {tenant.slug}")
    tenant_key = keys.tenant_key(tenant.id)
    if tenant_key is None:
        raise InvalidInput(f"the keys of {tenant.slug} are destroyed; its backups cannot be read")
    with zipfile.ZipFile(source) as archive:
        try:
            body = json.loads(zlib.decompress(tenant_key.decrypt(archive.read("rows.bin"))))
        except InvalidToken:
            raise InvalidInput(f"{name} cannot be opened with {tenant.slug}'s key") from None
        erased = {
            (e.user_id, e.subject_hash, e.salt)
            for e in session.scalars(select(Erasure).where(Erasure.tenant_id == tenant.id))
        }
        rows, skipped = _open_rows(keys, tenant.id, body["tables"], erased)
        kept_files = {
            rel
            for a in rows.get("attachments", [])
            for rel in [a["path"], *a["thumbnails"].values()]
        }
        written = 0
        owners_of_files = {
            rel: a.get("_owner")
            for a in rows.get("attachments", [])
            for rel in [a["path"], *a["thumbnails"].values()]
        }
        for member, rel in body["files"].items():
            if rel not in kept_files:
                continue
            data = tenant_key.decrypt(archive.read(member))
            owner = owners_of_files.get(rel)
            if owner is not None:
                user_key = keys.user_key(tenant.id, owner)
                if user_key is None:
                    continue
                data = user_key.decrypt(data)
            target = staging / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            written += 1
    # The record of people's requests and of breaches is not rolled back by a restore: it
    # stays as it is, and finds its accounts again where they come back.
    requests_table = Base.metadata.tables["privacy_requests"]
    linked: dict[int, int] = {
        rid: uid
        for rid, uid in session.execute(
            select(requests_table.c.id, requests_table.c.user_id).where(
                requests_table.c.tenant_id == tenant.id, requests_table.c.user_id.is_not(None)
            )
        )
    }
    session.execute(
        update(requests_table).where(requests_table.c.tenant_id == tenant.id).values(user_id=None)
    )
    for table in reversed(tables()):
        if table.name not in NOT_RESTORED:
            session.execute(delete(table).where(table.c.tenant_id == tenant.id))
    tenants = Base.metadata.tables["tenants"]
    for row in rows.pop("tenants", []):
        session.execute(
            update(tenants).where(tenants.c.id == tenant.id).values(typed_row(tenants, row))
        )
    count = 0
    for table in tables():
        batch = [typed_row(table, r) for r in rows.get(table.name, [])]
        if batch and table.name not in NOT_RESTORED:
            session.execute(insert(table), batch)
            count += len(batch)
            tick(len(batch))
    back = set(session.scalars(select(User.id).where(User.tenant_id == tenant.id)))
    for request_id, user_id in linked.items():
        if user_id in back:
            session.execute(
                update(requests_table)
                .where(requests_table.c.id == request_id)
                .values(user_id=user_id)
            )
    session.flush()
    search.reindex_tenant(session, tenant.id)
    return Restored(count, written, {k: v for k, v in skipped.items() if v})


def _open_rows(
    keys: KeyStore,
    tenant_id: int,
    dumped: dict[str, list[Any]],
    erased: set[tuple[int, str, str]],
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, int]]:
    """The rows that can come back: sealed ones whose key still exists, minus erased people
    (the ledger) and every row that needs a row that cannot come back."""
    user_keys: dict[int, Fernet | None] = {}
    gone: dict[str, set[int]] = {}
    skipped: dict[str, int] = {}
    out: dict[str, list[dict[str, Any]]] = {"tenants": dumped.get("tenants", [])}
    for table in tables():
        kept: list[dict[str, Any]] = []
        for item in dumped.get(table.name, []):
            row = item
            owner = None
            if "_sealed" in item:
                owner = int(item["_sealed"])
                if owner not in user_keys:
                    user_keys[owner] = keys.user_key(tenant_id, owner)
                key = user_keys[owner]
                try:
                    row = json.loads(key.decrypt(item["data"].encode())) if key else None
                except InvalidToken:
                    row = None
            if row is not None and table.name == "users" and _erased(row, erased):
                row = None
            if row is not None:
                row = _unlink(table, row, gone)
            if row is None:
                gone.setdefault(table.name, set()).add(_id_of(item))
                skipped[table.name] = skipped.get(table.name, 0) + 1
                continue
            if table.name == "attachments":
                row["_owner"] = owner
            kept.append(row)
        out[table.name] = kept
    return out, skipped


def _id_of(item: dict[str, Any]) -> int:
    return int(item["id"])  # in the clear even when the row is sealed


def _erased(row: dict[str, Any], erased: set[tuple[int, str, str]]) -> bool:
    return any(
        uid == row["id"] and subject_hash(salt, row["email"]) == digest
        for uid, digest, salt in erased
    )


def _unlink(table: Table, row: dict[str, Any], gone: dict[str, set[int]]) -> dict[str, Any] | None:
    """The row with references to rows that cannot come back cleared, or None if one of
    them is required."""
    for column in table.c:
        for fk in column.foreign_keys:
            target = fk.column.table.name
            value = row.get(column.name)
            if value is None or target not in gone or value not in gone[target]:
                continue
            if not column.nullable:
                return None
            row[column.name] = None
    return row
