"""The data map: schema/datamap.json, the declared list of every place personal data lives.

Loaded and checked here; the privacy features (export, erasure, proof) are driven by it.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from mailhub import SCHEMA_DIR

DATAMAP_PATH = SCHEMA_DIR / "datamap.json"
REQUIRED = ("purpose", "retention", "erasure")


@cache
def load() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DATAMAP_PATH.read_text(encoding="utf-8"))
    return data


def undeclared(tables: dict[str, list[str]], stores: list[str]) -> list[str]:
    """Everything that exists but is not declared (or declared without purpose, retention and
    erasure), as readable lines; empty when the map is complete."""
    dm = load()
    problems: list[str] = []
    declared = dm["tables"]
    for table, columns in sorted(tables.items()):
        entry = declared.get(table)
        if entry is None:
            problems.append(f"table {table} is not in the data map")
            continue
        problems += [f"table {table}: no {k}" for k in REQUIRED if not entry.get(k)]
        problems += [
            f"column {table}.{c} is not in the data map"
            for c in columns
            if c not in entry["columns"]
        ]
        problems += [
            f"column {table}.{c} is declared but does not exist"
            for c in entry["columns"]
            if c not in columns
        ]
        if any(col.get("personal") for col in entry["columns"].values()) and not entry.get(
            "subject"
        ):
            problems.append(f"table {table} holds personal data but names no subject")
    # FTS5's tables exist only in a SQLite database (PostgreSQL indexes search_entries itself).
    fts5 = any(name.startswith("search_fts") for name in tables)
    problems += [
        f"table {t} is declared but does not exist"
        for t, entry in declared.items()
        if t not in tables and (entry.get("only_on") != "sqlite" or fts5)
    ]
    for store in stores:
        entry = dm["file_stores"].get(store)
        if entry is None:
            problems.append(f"file store {store} is not in the data map")
        else:
            problems += [f"file store {store}: no {k}" for k in REQUIRED if not entry.get(k)]
    return problems
