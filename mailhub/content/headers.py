"""Header text as the parser hands it over, made fit to store."""

from __future__ import annotations

import re
from email.header import decode_header, make_header

# WHATWG Encoding Standard: these labels mean windows-1252, and Outlook relies on it, labelling
# text with dashes and curly quotes (0x80-0x9f) as iso-8859-1.
LATIN1_LABELS = ("iso-8859-1", "iso8859-1", "latin-1", "latin1")
# In an encoded word, us-ascii with 8-bit bytes in it is that windows-1252 too.
_LATIN1_LABELS = re.compile(
    rf"=\?({'|'.join(map(re.escape, LATIN1_LABELS))}|us-ascii)(\*[a-z-]*)?\?", re.I
)


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


def decode_latin1_as_windows_1252(raw: str) -> str | None:
    """A raw header's RFC 2047 words decoded with windows-1252 where they say iso-8859-1, or
    None when the header has no such word (the parser's own decoding is right then)."""
    if not _LATIN1_LABELS.search(raw):
        return None
    try:
        return str(make_header(decode_header(_LATIN1_LABELS.sub("=?windows-1252?", raw))))
    except (LookupError, UnicodeDecodeError, ValueError):
        return None
