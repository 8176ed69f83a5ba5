"""The person's address and name taken out of every other row of the tenant that mentions
them (JSON included), as "[erased]".
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from mailhub.models import (
    Base,
)
from mailhub.privacy import datamap
from mailhub.privacy.proof import (
    Subject,
    mentions,
    scrub,
    text_columns,
)

NOT_SCRUBBED = frozenset({"users", "privacy_events", "erasures", "alembic_version"})


def scrub_mentions(session: Session, subject: Subject) -> int:
    """Replace the person's address and name in every row of the tenant that mentions them."""
    needles = subject.needles()
    changed = 0
    for name in sorted(datamap.load()["tables"]):
        table = Base.metadata.tables.get(name)
        if table is None or name in NOT_SCRUBBED or "tenant_id" not in table.c:
            continue
        said = mentions(table, needles)
        if said is None:
            continue
        columns = text_columns(table)
        rows = session.execute(
            select(table.c.id, *columns).where(table.c.tenant_id == subject.tenant_id, said)
        ).mappings()
        # One statement per set of changed columns, executed for many rows at once.
        batches: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for row in list(rows):
            values = {}
            for column in columns:
                cleaned = scrub(row[column.name], needles)
                if cleaned != row[column.name]:
                    values[f"new_{column.name}"] = cleaned
            if values:
                batches.setdefault(tuple(sorted(values)), []).append(
                    {"row_id": row["id"], **values}
                )
        for keys, params in batches.items():
            statement = (
                update(table)
                .where(table.c.id == bindparam("row_id"))
                .values({k.removeprefix("new_"): bindparam(k) for k in keys})
            )
            session.connection().execute(statement, params)
            changed += len(params)
    return changed
