"""The access report (GDPR Art. 15): what mailhub holds about one person, read from every table
the data map names a subject for, with each category's purpose and retention, how many items,
and the items themselves (their personal columns, shortened).

Driven by schema/datamap.json: a table whose subject column points at a user (or holds an
address) is read for that user; a new table declared in the map is in the report without any
change here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session

from mailhub.models import Base, Tenant, User
from mailhub.privacy import datamap

ITEMS = 20  # shown per category; the count says how many there are in all
ADDRESS_COLUMNS = ("address", "mail_from", "to_addr")


@dataclass
class Category:
    table: str
    purpose: str
    retention: str
    count: int
    entries: list[dict[str, str]] = field(default_factory=list)  # the newest ITEMS


@dataclass
class Report:
    tenant: str
    name: str
    email: str
    categories: list[Category]


def subject_column(table: Table, subject: str | None) -> tuple[str, str] | None:
    """(column, "id" or "email"): how this table names its subject, if directly."""
    if not subject or subject not in table.c:
        return None
    if table.name == "users":
        return "id", "id"
    column = table.c[subject]
    if any(fk.column.table.name == "users" for fk in column.foreign_keys):
        return subject, "id"
    if subject in ADDRESS_COLUMNS:
        return subject, "email"
    return None


def _shown(value: Any) -> str:
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return text if len(text) <= 300 else text[:297] + "…"


def access_report(session: Session, tenant: Tenant, user: User) -> Report:
    declared = datamap.load()["tables"]
    categories = []
    for name, entry in sorted(declared.items()):
        table = Base.metadata.tables.get(name)
        how = subject_column(table, entry.get("subject")) if table is not None else None
        if table is None or how is None:
            continue
        column, by = how
        match = table.c[column] == (user.id if by == "id" else user.email)
        if "tenant_id" in table.c:
            match = match & (table.c.tenant_id == tenant.id)
        count = session.scalar(select(func.count()).select_from(table).where(match)) or 0
        personal = [
            c for c, meta in entry["columns"].items() if meta.get("personal") and c in table.c
        ]
        entries = []
        if count and personal:
            order = table.c.id.desc() if "id" in table.c else table.c[column]
            for row in session.execute(
                select(*[table.c[c] for c in personal]).where(match).order_by(order).limit(ITEMS)
            ):
                entries.append(
                    {
                        c: _shown(v)
                        for c, v in zip(personal, row, strict=True)
                        if v not in (None, "")
                    }
                )
        categories.append(Category(name, entry["purpose"], entry["retention"], int(count), entries))
    return Report(tenant.name, user.name, user.email, categories)
