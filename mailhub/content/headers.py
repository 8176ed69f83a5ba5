"""Header text as the parser hands it over, made fit to store."""

from __future__ import annotations


def unescape_surrogates(text: str) -> str:
    """Headers with raw 8-bit bytes (no RFC 2047) come back from the parser as surrogate
    escapes, which no database accepts. Such bytes are mostly UTF-8; else Outlook's
    windows-1252."""
    if not any("\udc80" <= ch <= "\udcff" for ch in text):
        return text
    raw = text.encode("utf-8", "surrogateescape")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("windows-1252", "replace")
