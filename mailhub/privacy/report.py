"""The access report (GDPR Art. 15): what mailhub holds about one person, read from every table
the data map names a subject for, with each category's purpose and retention, how many items,
and the items themselves, in words a person recognises (report_words.py).

Driven by schema/datamap.json: a table whose subject column points at a user (or holds an
address) is read for that user; a new table declared in the map is in the report without any
change here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session

from mailhub.models import Base, Tenant, User
from mailhub.privacy import datamap
from mailhub.privacy.report_words import WORDS

ITEMS = 20  # shown per category; the count says how many there are in all
ADDRESS_COLUMNS = ("address", "mail_from", "to_addr")


@dataclass
class Category:
    table: str  # for the request's record; the person reads the words below
    purpose: str
    retention: str
    count: int
    title: str = ""
    what: str = ""
    who: str = ""
    source: str = ""
    listed: list[str] = field(default_factory=list)  # the newest ITEMS, as the person knows them


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


def access_report(session: Session, tenant: Tenant, user: User) -> Report:
    declared = datamap.load()["tables"]
    categories = []
    rank = {name: i for i, name in enumerate(WORDS)}  # the account first, then what they wrote
    for name, entry in sorted(declared.items(), key=lambda kv: (rank.get(kv[0], len(rank)), kv[0])):
        table = Base.metadata.tables.get(name)
        how = subject_column(table, entry.get("subject")) if table is not None else None
        if table is None or how is None:
            continue
        column, by = how
        match = table.c[column] == (user.id if by == "id" else user.email)
        if "tenant_id" in table.c:
            match = match & (table.c.tenant_id == tenant.id)
        count = session.scalar(select(func.count()).select_from(table).where(match)) or 0
        words = WORDS.get(name)
        items: list[str] = []
        if count and words is not None and words.item is not None:
            order = table.c.id.desc() if "id" in table.c else table.c[column]
            columns = [c for c in words.columns if c in table.c]
            for row in session.execute(
                select(*[table.c[c] for c in columns]).where(match).order_by(order).limit(ITEMS)
            ):
                items.append(words.item(session, dict(zip(columns, row, strict=True))))
        categories.append(
            Category(
                name,
                entry["purpose"],
                entry["retention"],
                int(count),
                words.title if words else entry["purpose"][:1].upper() + entry["purpose"][1:],
                words.what if words else "",
                words.who if words else "",
                words.source if words else "",
                items,
            )
        )
    return Report(tenant.name, user.name, user.email, categories)
