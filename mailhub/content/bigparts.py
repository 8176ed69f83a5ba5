"""Large parts stay on disk: the parser sees a skeleton, their bodies are decoded in streams.

The stdlib parser keeps a message as lines, then as one string, and decoding an attachment
makes another copy — a 50 MB mail costs several hundred MB. So a large raw file is scanned for
its MIME boundaries first (RFC 2046 §5.1.1); every large leaf part that is a file (not a text
body) has its body cut out of the bytes handed to the parser and replaced by a marker header
that names where it lies in the raw file. Attachment storage then decodes it straight from the
raw file into the file store, a chunk at a time.

The marker carries a random token made for this one parse, so a header in the mail itself can
never point the decoder anywhere.
"""

from __future__ import annotations

import base64
import binascii
import mmap
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from email import policy
from email.parser import BytesHeaderParser
from pathlib import Path

MARKER = "X-Mailhub-Large-Part"
THRESHOLD = 1024 * 1024  # parts larger than this stay on disk
CHUNK = 1024 * 1024
_HEADERS = BytesHeaderParser(policy=policy.compat32)
_BLANK = re.compile(rb"\r?\n\r?\n")
_WHITESPACE = bytes(range(256)).translate(
    None, b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
)


@dataclass(frozen=True)
class LargePart:
    path: Path
    start: int  # offset of the body in the raw file
    end: int
    encoding: str  # base64, quoted-printable, or anything else copied as it is

    def decoded_chunks(self) -> Iterator[bytes]:
        with open(self.path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            if self.encoding == "base64":
                carry = b""
                for pos in range(self.start, self.end, CHUNK):
                    data = carry + mm[pos : min(pos + CHUNK, self.end)].translate(None, _WHITESPACE)
                    usable = len(data) - len(data) % 4
                    carry = data[usable:]
                    if usable:
                        yield _b64(data[:usable])
                if carry:
                    yield _b64(carry + b"=" * (-len(carry) % 4))
            elif self.encoding == "quoted-printable":
                pos = self.start
                while pos < self.end:
                    cut = mm.rfind(b"\n", pos, min(pos + CHUNK, self.end))
                    stop = self.end if cut < 0 or pos + CHUNK >= self.end else cut + 1
                    yield binascii.a2b_qp(mm[pos:stop])
                    pos = stop
            else:
                for pos in range(self.start, self.end, CHUNK):
                    yield mm[pos : min(pos + CHUNK, self.end)]


def _b64(data: bytes) -> bytes:
    try:
        return base64.b64decode(data)
    except binascii.Error:
        return b""  # a broken base64 tail: keep what decoded, as mail clients do


@dataclass
class Skeleton:
    data: bytes  # the message with large bodies cut out
    token: str
    parts: list[LargePart]

    def part_for(self, marker: str) -> LargePart | None:
        token, _, index = marker.strip().partition(":")
        if token != self.token or not index.isdigit() or int(index) >= len(self.parts):
            return None
        return self.parts[int(index)]


def skeleton_of(path: Path, threshold: int = THRESHOLD) -> Skeleton | None:
    """The message with its large file parts cut out, or None when it has none."""
    size = path.stat().st_size
    if size <= threshold:
        return None
    token = secrets.token_hex(8)
    parts: list[LargePart] = []
    pieces: list[bytes] = []
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        _walk(mm, path, 0, size, threshold, token, parts, pieces, top=True)
        if not parts:
            return None
    return Skeleton(b"".join(pieces), token, parts)


def _walk(
    mm: mmap.mmap,
    path: Path,
    start: int,
    end: int,
    threshold: int,
    token: str,
    parts: list[LargePart],
    pieces: list[bytes],
    top: bool = False,
) -> None:
    """Append the entity at mm[start:end] to pieces, cutting large file bodies out."""
    blank = _BLANK.search(mm, start, end)
    if blank is None:  # headers only
        pieces.append(mm[start:end])
        return
    header_bytes = mm[start : blank.end()]
    headers = _HEADERS.parsebytes(header_bytes)
    ctype = headers.get_content_type()
    body_start, body_end = blank.end(), end
    boundary = headers.get_boundary()
    if headers.get_content_maintype() == "multipart" and boundary:
        pieces.append(header_bytes)
        _walk_multipart(
            mm,
            path,
            body_start,
            body_end,
            boundary.encode("latin-1", "replace"),
            threshold,
            token,
            parts,
            pieces,
        )
        return
    disposition = str(headers.get("Content-Disposition", "")).lower()
    is_file = not top and (
        ctype not in ("text/plain", "text/html")
        or "attachment" in disposition
        or headers.get_filename()
    )
    if is_file and body_end - body_start > threshold:
        encoding = str(headers.get("Content-Transfer-Encoding", "7bit")).strip().lower()
        parts.append(LargePart(path, body_start, body_end, encoding))
        marker = f"{MARKER}: {token}:{len(parts) - 1}\r\n".encode()
        # The marker goes in the part's headers; the body becomes empty.
        pieces.append(mm[start : blank.start()] + b"\r\n" + marker + b"\r\n")
        return
    pieces.append(mm[start:end])


def _walk_multipart(
    mm: mmap.mmap,
    path: Path,
    start: int,
    end: int,
    boundary: bytes,
    threshold: int,
    token: str,
    parts: list[LargePart],
    pieces: list[bytes],
) -> None:
    delimiter = re.compile(
        rb"(^|\r?\n)--" + re.escape(boundary) + rb"(--)?[ \t]*(\r?\n|$)", re.MULTILINE
    )
    matches = list(delimiter.finditer(mm, start, end))
    if not matches:
        pieces.append(mm[start:end])
        return
    pieces.append(mm[start : matches[0].end()])  # the preamble and first delimiter
    last_end = matches[0].end()
    for here, after in zip(matches, matches[1:], strict=False):
        if here.group(2):  # the close delimiter: what follows is the epilogue
            break
        _walk(mm, path, here.end(), after.start(), threshold, token, parts, pieces)
        pieces.append(mm[after.start() : after.end()])
        last_end = after.end()
    pieces.append(mm[last_end:end])  # the epilogue
