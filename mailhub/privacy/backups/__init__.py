"""Per-tenant backups, encrypted so that erasure reaches them (crypto-shredding).

A backup is one file, BACKUPS/TENANT_ID/YYYYMMDDTHHMMSS.ffffffZ-XXXXXX.mhb (names sort by
time), a ZIP of:

    manifest.json   in the clear: format, tenant, when, rows per table, whose data is sealed
    rows.bin        every row of the tenant as JSON, compressed, encrypted with the tenant's
                    key; each row that is a person's data (the data map's subject) sealed
                    first with that person's own data key
    files/N.bin     each attachment and thumbnail, sealed the same way (owner's key, then
                    the tenant's)

The keys live in the key store (mailhub/keystore.py), never in a backup. Erasing a person
destroys their key, closing a tenant destroys all of its keys: from then on no backup made
before can reveal them, and nobody has to find and rewrite old backup files.

Restoring replaces the tenant's rows and files with the backup's, skipping every sealed row
whose key is gone and everything that depends on it, and replaying the erasure ledger, so
nobody erased comes back even from a backup older than their erasure. Search is rebuilt.

Rotation is strict: `create` keeps the newest MAILHUB_BACKUP_KEEP backups of the tenant and
deletes the rest (`prune` does only that).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import time
import zipfile
import zlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import JSON, Date, DateTime, Table, delete, insert, select, update
from sqlalchemy.orm import Session

from mailhub.db import SessionFactory, unit_of_work
from mailhub.domain import search
from mailhub.errors import InvalidInput, NotFound
from mailhub.models import Attachment, Base, Erasure, Tenant, User, utcnow
from mailhub.privacy import datamap
from mailhub.privacy.keys import KeyStore
from mailhub.privacy.report import subject_column
from mailhub.privacy.requests import subject_hash

FORMAT = 1
SUFFIX = ".mhb"
# Rebuilt from the items after a restore, and the ledger that must outlive every backup.
NOT_BACKED_UP = frozenset({"search_entries", "erasures"})
# Backed up (for a tenant that lost everything), but a restore leaves them as they are.
NOT_RESTORED = frozenset({"privacy_requests", "privacy_events", "breaches"})


@dataclass(frozen=True)
class Backup:
    path: Path
    created_at: str
    rows: int
    files: int
    size: int


@dataclass(frozen=True)
class Restored:
    rows: int
    files: int
    skipped: dict[str, int]  # rows not restored, by table: their owner's key is destroyed


def tables() -> list[Table]:
    """The tenant's tables in an order where every row comes after what it refers to."""
    return [
        t for t in Base.metadata.sorted_tables if "tenant_id" in t.c and t.name not in NOT_BACKED_UP
    ]


def owners(session: Session, tenant_id: int) -> dict[str, dict[int, int]]:
    """Whose data each row is, by table and row id, from the data map's subjects: a column
    that points at a user or holds their address, or at a row that is someone's."""
    declared = datamap.load()["tables"]
    by_email = {
        email.lower(): uid
        for uid, email in session.execute(
            select(User.id, User.email).where(User.tenant_id == tenant_id)
        )
    }
    owned: dict[str, dict[int, int]] = {"users": {uid: uid for uid in by_email.values()}}
    for table in tables():
        subject = declared.get(table.name, {}).get("subject")
        if table.name == "users" or not subject or subject not in table.c:
            continue
        how = subject_column(table, subject)
        column = table.c[subject]
        refs = [fk.column.table.name for fk in column.foreign_keys]
        rows = session.execute(
            select(table.c.id, column).where(table.c.tenant_id == tenant_id, column.is_not(None))
        )
        if how is not None and how[1] == "id":
            owned[table.name] = {rid: value for rid, value in rows}
        elif how is not None:
            owned[table.name] = {
                rid: by_email[value.lower()] for rid, value in rows if value.lower() in by_email
            }
        elif refs and refs[0] in owned:
            parent = owned[refs[0]]
            owned[table.name] = {rid: parent[value] for rid, value in rows if value in parent}
    return owned


def create(
    factory: SessionFactory, keys: KeyStore, root: Path, files_root: Path, tenant_id: int, keep: int
) -> Backup:
    """Write a backup of the tenant, then prune to the newest `keep`. Every row is read in one
    transaction that sees one moment (REPEATABLE READ on PostgreSQL; SQLite's transactions
    always do), so a backup taken while mail flows never holds a row without what it needs."""
    with factory() as session:
        if session.get_bind().dialect.name == "postgresql":
            session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        tenant = session.get_one(Tenant, tenant_id)
        return _create(session, keys, root, files_root, tenant, keep)


def _create(
    session: Session, keys: KeyStore, root: Path, files_root: Path, tenant: Tenant, keep: int
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
            _row(r)
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
            plain = _row(row)
            uid = mine.get(row["id"])
            if uid is None:
                rows.append(plain)
            else:
                sealed = key_of(uid).encrypt(json.dumps(plain).encode()).decode()
                rows.append({"_sealed": uid, "id": row["id"], "data": sealed})
        dump[table.name] = rows
        counts[table.name] = len(rows)
    stamp = utcnow()
    folder = root / str(tenant.id)
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{stamp:%Y%m%dT%H%M%S.%f}Z-{secrets.token_hex(3)}{SUFFIX}"
    tmp = folder / (name + ".tmp")
    files = 0
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as archive:
        members: dict[str, str] = {}
        attachments = Attachment.__table__
        for a in session.execute(
            select(attachments).where(attachments.c.tenant_id == tenant.id)
        ).mappings():
            uid = owned.get("attachments", {}).get(a["id"])
            for rel in [a["path"], *dict(a["thumbnails"] or {}).values()]:
                path = files_root / rel
                if not path.is_file():
                    continue
                data = path.read_bytes()
                if uid is not None:
                    data = key_of(uid).encrypt(data)
                member = f"files/{files}.bin"
                archive.writestr(member, tenant_key.encrypt(data))
                members[member] = rel
                files += 1
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
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    path = folder / name
    os.replace(tmp, path)
    prune(root, tenant.id, keep)
    return Backup(
        path, str(manifest["created_at"]), sum(counts.values()), files, path.stat().st_size
    )


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


def manifest_of(path: Path) -> dict[str, Any]:
    try:
        with zipfile.ZipFile(path) as archive:
            data: dict[str, Any] = json.loads(archive.read("manifest.json"))
    except (zipfile.BadZipFile, KeyError, ValueError):
        raise InvalidInput(f"{path.name} is not a mailhub backup") from None
    return data


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


def restore(
    factory: SessionFactory, keys: KeyStore, files_root: Path, tenant_id: int, path: Path
) -> Restored:
    """Replace the tenant's rows and files with the backup's: the files are unpacked beside
    the store first, the rows replaced in one transaction, and only once it commits do the
    unpacked files take the place of the old ones."""
    staging = files_root / f".restore-{tenant_id}-{secrets.token_hex(4)}"
    try:
        with unit_of_work(factory) as session:
            tenant = session.get_one(Tenant, tenant_id)
            restored = _restore(session, keys, staging, tenant, path)
        _swap_files(files_root, tenant_id, staging)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return restored


def _restore(
    session: Session, keys: KeyStore, staging: Path, tenant: Tenant, path: Path
) -> Restored:
    manifest = manifest_of(path)
    if manifest.get("format") != FORMAT or manifest.get("tenant_id") != tenant.id:
        raise InvalidInput(f"{path.name} is not a backup of {tenant.slug}")
    tenant_key = keys.tenant_key(tenant.id)
    if tenant_key is None:
        raise InvalidInput(f"the keys of {tenant.slug} are destroyed; its backups cannot be read")
    with zipfile.ZipFile(path) as archive:
        try:
            body = json.loads(zlib.decompress(tenant_key.decrypt(archive.read("rows.bin"))))
        except InvalidToken:
            raise InvalidInput(f"{path.name} cannot be opened with {tenant.slug}'s key") from None
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
            update(tenants).where(tenants.c.id == tenant.id).values(_typed(tenants, row))
        )
    count = 0
    for table in tables():
        batch = [_typed(table, r) for r in rows.get(table.name, [])]
        if batch and table.name not in NOT_RESTORED:
            session.execute(insert(table), batch)
            count += len(batch)
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


def _row(row: Any) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in dict(row).items()}


def _typed(table: Table, row: dict[str, Any]) -> dict[str, Any]:
    typed = {}
    for key, value in row.items():
        if key not in table.c:
            continue
        column_type = table.c[key].type
        if isinstance(value, str) and isinstance(column_type, DateTime | Date):
            value = datetime.fromisoformat(value)
        elif isinstance(column_type, JSON) and value is None and not table.c[key].nullable:
            value = {}
        typed[key] = value
    return typed


def _swap_files(files_root: Path, tenant_id: int, staging: Path) -> None:
    folder = files_root / str(tenant_id)
    old = files_root / f".replaced-{tenant_id}-{secrets.token_hex(4)}"
    if folder.is_dir():
        os.replace(folder, old)
    unpacked = staging / str(tenant_id)
    if unpacked.is_dir():
        os.replace(unpacked, folder)
    shutil.rmtree(old, ignore_errors=True)
