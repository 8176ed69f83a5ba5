"""Who a text mentions: "@ann" (a member's address up to the @) or a whole address, not inside
a longer word.

Linear in the text: a match may only start where a word starts (the look-behinds), so a long
run without an "@" is read once, not once per position as an unanchored pattern reads it.
Mentions are looked for in the first SCANNED characters: nobody is notified by name from the
middle of a 5 MB paste, and nothing past it is read.
"""

from __future__ import annotations

import re

SCANNED = 256 * 1024

_HANDLE = re.compile(r"(?<![\w.@])@([a-z0-9][a-z0-9._+-]{0,63})(?![\w@])", re.IGNORECASE)
_ADDRESS = re.compile(r"(?<![a-z0-9._%+-])[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}", re.IGNORECASE)


def mentions_in(text: str) -> tuple[set[str], set[str]]:
    """(handles, addresses), lower-cased."""
    head = text[:SCANNED]
    handles = {h.rstrip(".").lower() for h in _HANDLE.findall(head)}
    addresses = {a.lower() for a in _ADDRESS.findall(head)}
    return handles, addresses
