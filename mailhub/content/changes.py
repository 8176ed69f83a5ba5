"""What an edit changed, as a mail can show it: the removed and added lines of the text, a few
of them, each cut to a readable length, and how many more there are.

Lines both versions share at the start and at the end are set aside first (one pass each way),
so an edit of one word in a long page compares one line; what is left is compared line by line
only when it is small (difflib's matcher is quadratic), and otherwise shown as removed, then
added. Bounded in time and in what it returns, whatever the page holds.
"""

from __future__ import annotations

import difflib

SHOWN = 12  # changed lines a mail shows
LINE = 200  # characters of a line shown
_MATCHED = 400  # lines on each side compared by difflib; beyond that, removed then added


def changed_lines(old: str, new: str) -> tuple[list[tuple[str, str]], int]:
    """(sign, line) for up to SHOWN changed lines ("-" removed, "+" added), and how many more."""
    a = [ln.rstrip() for ln in old.splitlines() if ln.strip()]
    b = [ln.rstrip() for ln in new.splitlines() if ln.strip()]
    start = 0
    while start < len(a) and start < len(b) and a[start] == b[start]:
        start += 1
    end_a, end_b = len(a), len(b)
    while end_a > start and end_b > start and a[end_a - 1] == b[end_b - 1]:
        end_a, end_b = end_a - 1, end_b - 1
    a, b = a[start:end_a], b[start:end_b]
    changes: list[tuple[str, str]] = []
    if len(a) <= _MATCHED and len(b) <= _MATCHED:
        matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag != "equal":
                changes += [("-", ln) for ln in a[i1:i2]] + [("+", ln) for ln in b[j1:j2]]
    else:
        changes = [("-", ln) for ln in a] + [("+", ln) for ln in b]
    shown = [(sign, _cut(line)) for sign, line in changes[:SHOWN]]
    return shown, len(changes) - len(shown)


def _cut(line: str) -> str:
    line = " ".join(line.split())
    return line if len(line) <= LINE else line[: LINE - 1] + "…"
