"""Finding a person in bytes as a reader of the raw file would, through the encodings mail,
the web and the database write text in.

A plain scan misses an address written as `=?utf-8?b?Ym9iQGFjbWUuZXhhbXBsZQ==?=`, a name in a
base64 or quoted-printable MIME part, `Bob&#32;Builder` in HTML, `Zo\\u00eb` in JSON,
`bob%40acme.example` in a URL, text in UTF-16 (Office metadata, EXIF), a header folded across
two lines, or anything inside a ZIP archive (DOCX, XLSX, ODT, an export). `found` looks at the
bytes plainly and through each of those decodings, and says in which one a needle was found;
`found_in_file` also opens ZIP members and reads a file of any size in windows.

Base64 is looked for where it is written: blocks of whole base64 lines (a MIME part's body)
and runs of 40 letters or more inside a line (a data: URI, a JSON value), the latter read at
each of the four alignments; what decodes to text is read through the text decodings too.

Every decoding is one linear pass (no pattern here can backtrack), and a file is read in
windows of WINDOW bytes that overlap by OVERLAP, so memory stays bounded for a file of any
size and a needle across a window's edge is still seen. `bench/scan.py` measures the rate
(an erasure reads all of a tenant's raw mail and files this way).
"""

from __future__ import annotations

import base64
import binascii
import html
import quopri
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

WINDOW = 8 * 1024 * 1024
OVERLAP = 64 * 1024
MAX_MEMBER = 64 * 1024 * 1024  # a ZIP member is read this far (a ZIP bomb stops here)
MAX_MEMBERS = 5000

_ENCODED_WORD = re.compile(rb"=\?([^?\s]{1,75})\?([bBqQ])\?([^?\s]{0,2000})\?=")
_QP_ESCAPE = re.compile(rb"=(?:[0-9A-Fa-f]{2}|\r?\n)")
_BETWEEN_WORDS = re.compile(rb"(?<=\?=)[ \t\r\n]+(?==\?)")
# Lines of nothing but base64 letters, one after another (no line can match two ways), and
# runs inside a line long enough not to be a word.
_BASE64_LINES = re.compile(rb"(?:^[ \t]*[A-Za-z0-9+/]{8,}={0,2}[ \t]*\r?\n)+", re.MULTILINE)
_BASE64_RUN = re.compile(rb"[A-Za-z0-9+/]{40,}={0,2}")
_SURROGATES = re.compile(r"\\u(d[89ab][0-9a-f]{2})\\u(d[c-f][0-9a-f]{2})", re.IGNORECASE)
_ESCAPE = re.compile(r"\\u([0-9a-f]{4})", re.IGNORECASE)
_URL_ESCAPES = re.compile(r"(?:%[0-9a-f]{2})+", re.IGNORECASE)


def found(data: bytes, needles: list[str]) -> str | None:
    """The first encoding in which a needle (lower case) appears in `data`, or None:
    "plain", "folded", "utf-16", "rfc2047", "quoted-printable", "base64", "html entities",
    "json escapes" or "url encoding" (a base64 or quoted-printable part read as HTML, JSON
    or a URL is named by its transfer encoding)."""
    wanted = [n.lower() for n in needles if n]
    if not wanted:
        return None
    lowered = data.lower()
    if any(n.encode() in lowered for n in wanted):
        return "plain"
    if _text_hit(b" ".join(lowered.split()).decode("utf-8", "replace"), wanted, "folded", False):
        return "folded"
    for n in wanted:
        if n.encode("utf-16-le") in lowered or n.encode("utf-16-be") in lowered:
            return "utf-16"
    if b"=?" in data and _text_hit(_rfc2047(data), wanted, "rfc2047"):
        return "rfc2047"
    hit = _text_hit(_bytes_text(data), wanted, "")  # HTML entities, JSON escapes, URLs
    if hit:
        return hit
    if _QP_ESCAPE.search(data):
        hit = _text_hit(_bytes_text(quopri.decodestring(data)), wanted, "quoted-printable")
        if hit:
            return hit
    texts = []
    encoded = [form for n in wanted for form in (n.encode(), n.encode("utf-16-le"))]
    for payload in _base64_payloads(data):
        lowered_payload = payload.lower()
        if any(form in lowered_payload for form in encoded):
            return "base64"
        try:  # a text part: read through the text decodings below, all parts in one pass
            texts.append(payload.decode("utf-8"))
        except UnicodeDecodeError:
            continue  # a binary part (an image), or the run read at the wrong alignment
    if texts and _text_hit("\n".join(texts), wanted, "base64"):
        return "base64"
    return None


def _text_hit(text: str, wanted: list[str], named: str, decode: bool = True) -> str | None:
    """`named` (or the text decoding's own name) if a needle is in the text, plainly or
    once HTML entities, JSON escapes or URL encoding are undone."""
    if _has(text, wanted):
        return named or "plain"
    if not decode:
        return None
    if "&" in text and _has(html.unescape(text), wanted):
        return named or "html entities"
    if "\\u" in text or "\\U" in text:
        unescaped = _ESCAPE.sub(_char, _SURROGATES.sub(_pair, text))
        if _has(unescaped, wanted):
            return named or "json escapes"
    if "%" in text and _has(_URL_ESCAPES.sub(_unquoted, text.replace("+", " ")), wanted):
        return named or "url encoding"
    return None


def _has(text: str, wanted: list[str]) -> bool:
    lowered = " ".join(text.lower().split())  # any run of white space (NBSP too) is one space
    return any(n in lowered for n in wanted)


def _bytes_text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def _unquoted(match: re.Match[str]) -> str:
    return unquote(match.group(0))


def _char(match: re.Match[str]) -> str:
    return chr(int(match.group(1), 16))


def _pair(match: re.Match[str]) -> str:
    high, low = int(match.group(1), 16), int(match.group(2), 16)
    return chr(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))


def _rfc2047(data: bytes) -> str:
    """The text with every encoded word decoded (adjacent words joined, as RFC 2047 says)."""
    return _ENCODED_WORD.sub(_word, _BETWEEN_WORDS.sub(b"", data)).decode("utf-8", "replace")


def _word(match: re.Match[bytes]) -> bytes:
    charset = match.group(1).decode("ascii", "replace").split("*", 1)[0]
    encoded = match.group(3)
    try:
        if match.group(2) in b"bB":
            raw = base64.b64decode(encoded + b"=" * (-len(encoded) % 4))
        else:
            raw = quopri.decodestring(encoded.replace(b"_", b" "), header=True)
        return raw.decode(charset, "replace").encode("utf-8")
    except (LookupError, binascii.Error, ValueError):
        return match.group(0)


def _base64_payloads(data: bytes) -> Iterator[bytes]:
    """What the base64 in `data` decodes to: each block of whole base64 lines (a MIME part's
    body, which starts aligned), and each long run inside a line (a data: URI, a JSON value),
    read at each of the four alignments, since a run may begin with a word not part of it."""
    gaps, end = [], 0
    for match in _BASE64_LINES.finditer(data):
        gaps.append(data[end : match.start()])
        end = match.end()
        block = b"".join(match.group(0).split()).rstrip(b"=")
        usable = len(block) // 4 * 4
        try:
            yield base64.b64decode(block[:usable])
        except (binascii.Error, ValueError):
            continue
    gaps.append(data[end:])
    for match in _BASE64_RUN.finditer(b"\n".join(gaps)):  # besides the blocks
        run = match.group(0).rstrip(b"=")
        for start in range(4):
            usable = (len(run) - start) // 4 * 4
            try:
                yield base64.b64decode(run[start : start + usable])
            except (binascii.Error, ValueError):
                continue


def found_in_file(path: Path, needles: list[str]) -> str | None:
    """Where a needle is in the file: its encoding, "zip member <name>: <encoding>" inside an
    archive, or None. FileNotFoundError when the file is gone."""
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                for info in archive.infolist()[:MAX_MEMBERS]:
                    if _has(info.filename, needles):
                        return f"zip member name {info.filename!r}"
                    with archive.open(info) as member:
                        how = found(member.read(MAX_MEMBER), needles)
                    if how:
                        return f"zip member {info.filename!r}: {how}"
        except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError, EOFError):
            pass  # damaged or encrypted: its bytes are read as they are below
    with open(path, "rb") as fh:
        return found_in_stream(iter(lambda: fh.read(WINDOW), b""), needles)


def found_in_stream(chunks: Iterator[bytes], needles: list[str]) -> str | None:
    """`found` over a stream of any length, in overlapping windows."""
    tail = b""
    for chunk in chunks:
        window = tail + chunk
        how = found(window, needles)
        if how:
            return how
        tail = window[-OVERLAP:]
    return None
