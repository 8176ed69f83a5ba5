"""What a backup file holds: the format, which tables are backed up and restored, whose data
each row is (so it is sealed with that person's key), and rows as JSON and back.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO

from sqlalchemy import JSON, Date, DateTime, Table, select
from sqlalchemy.orm import Session

from mailhub.errors import InvalidInput
from mailhub.models import Base, User
from mailhub.privacy import datamap
from mailhub.privacy.report import subject_column

FORMAT = 1
# Rebuilt from the items after a restore, and the ledger that must outlive every backup.
NOT_BACKED_UP = frozenset({"search_entries", "erasures", "backup_keys"})  # keys: never in one
# Backed up (for a tenant that lost everything), but a restore leaves them as they are.
NOT_RESTORED = frozenset({"privacy_requests", "privacy_events", "breaches"})


@dataclass(frozen=True)
class Backup:
    name: str
    created_at: str
    rows: int
    files: int
    size: int


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


def manifest_of(source: BinaryIO, name: str) -> dict[str, Any]:
    try:
        with zipfile.ZipFile(source) as archive:
            data: dict[str, Any] = json.loads(archive.read("manifest.json"))
    except (zipfile.BadZipFile, KeyError, ValueError):
        raise InvalidInput(f"{name} is not a mailhub backup") from None
    return data


def row_of(row: Any) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in dict(row).items()}


def typed_row(table: Table, row: dict[str, Any]) -> dict[str, Any]:
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
