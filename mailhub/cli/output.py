"""What commands print: `--json` for scripts, aligned columns for people."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def print_table(rows: Sequence[dict[str, Any]], columns: Sequence[str], empty: str) -> None:
    """`rows` as aligned columns under their names (the last column is not padded), or
    `empty` when there are none."""
    if not rows:
        print(empty)
        return
    cells = [[_cell(row[c]) for c in columns] for row in rows]
    widths = [max(len(c), *(len(line[i]) for line in cells)) for i, c in enumerate(columns)]
    for line in [list(columns), *cells]:
        print("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip())


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M}"
    return "" if value is None else str(value).replace("\n", " ")


def listing(
    args: argparse.Namespace, rows: Sequence[dict[str, Any]], columns: Sequence[str], empty: str
) -> None:
    """A listing as `--json` asks: every field as JSON, or the chosen columns as a table."""
    if args.json:
        print_json(list(rows))
    else:
        print_table(rows, columns, empty)


def paging(cmd: argparse.ArgumentParser, limit: int = 200) -> None:
    """`--limit` and `--offset` for a listing that shows a page of its rows at a time."""
    cmd.add_argument(
        "--limit", type=_count, default=limit, help=f"at most this many (default {limit})"
    )
    cmd.add_argument("--offset", type=_count, default=0, help="skip this many first")


def _count(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if number < 0:
        raise argparse.ArgumentTypeError(f"{value} is below zero")
    return number
