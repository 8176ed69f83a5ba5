"""Parse raw bytes into the plain values the mailboxes need.

Uses the stdlib parser with policy.default. Mail in the wild lies about its charset, so every
text part is decoded by hand: declared charset, then UTF-8, then windows-1252 (what Outlook
sends undeclared), never raising.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.parser import BytesHeaderParser, BytesParser
from email.utils import getaddresses, parseaddr
from pathlib import Path

from mailhub.content.bigparts import Skeleton, skeleton_of
from mailhub.content.calendar import parse_events, summary_text
from mailhub.content.files_in_mail import IncomingFile, files_of, leaf_parts
from mailhub.content.headers import (
    LATIN1_LABELS,
    decode_latin1_as_windows_1252,
    unescape_surrogates,
)
from mailhub.errors import InvalidInput

# MIME nesting deeper than this is refused: no client nests more than a handful of levels (a
# forward of a forward of a signed mail), and the stdlib parser recurses once per level.
MAX_DEPTH = 100
_HEADER_PARSER = BytesHeaderParser(policy=policy.default)
_PARSER = BytesParser(policy=policy.default)


@dataclass(frozen=True)
class ParsedMail:
    subject: str
    from_addr: str  # lower-cased address, "" when there is none usable
    from_name: str
    message_id: str
    in_reply_to: str
    references: list[str]
    text: str  # the text/plain body, or "" when the mail has none
    html: str  # the text/html body, or "" when the mail has none
    headers: dict[str, str] = field(default_factory=dict)
    defects: list[str] = field(default_factory=list)
    files: list[IncomingFile] = field(default_factory=list)
    calendar: str = ""  # a readable summary of any calendar invitation in the mail


class TooDeep(InvalidInput):
    """MIME nested deeper than MAX_DEPTH: the message is refused, its sender told."""


def parse_file(path: Path) -> ParsedMail:
    """Parse a stored message; large file parts are left on disk (see bigparts)."""
    skeleton = skeleton_of(path)
    if skeleton is None:
        return parse_message(path.read_bytes())
    return parse_message(skeleton.data, skeleton)


def parse_head(path: Path) -> ParsedMail:
    """Only the headers of a stored message (who sent it, its subject): enough to answer a
    message whose body cannot be read."""
    with path.open("rb") as f:
        head = f.read(65536)
    msg = _HEADER_PARSER.parsebytes(head)
    assert isinstance(msg, EmailMessage)
    name, addr = _from_of(msg)
    return ParsedMail(
        subject=" ".join(_subject(msg).split()),
        from_addr=addr,
        from_name=name,
        message_id=message_id_of(head),
        in_reply_to="",
        references=[],
        text="",
        html="",
        headers={k.lower(): _safe_header(msg, k) for k in msg},
    )


def _depth(msg: Message) -> int:
    """How deeply the parts nest (without recursing: the tree may be deep)."""
    deepest, stack = 0, [(msg, 1)]
    while stack:
        part, level = stack.pop()
        deepest = max(deepest, level)
        payload = part.get_payload() if part.is_multipart() else None
        if isinstance(payload, list):
            stack.extend((p, level + 1) for p in payload if isinstance(p, Message))
    return deepest


def message_id_of(raw: bytes, sha256: str | None = None) -> str:
    """The Message-ID from the headers alone, or a deterministic one from the whole message.

    `raw` may be just the head of the message when `sha256` (of all of it) is given.
    Deterministic, so a retried delivery of an id-less mail still deduplicates. The header
    block is scanned for the field (SMTP ingress does this for every message, and the email
    parser costs ten times more); a value that is not plain ASCII, or a header block the scan
    does not understand, goes to the parser, whose reading of such headers is the reference.
    """
    head = raw[:65536]
    value = _scan_message_id(head)
    if value is None:
        value = _safe_header(_HEADER_PARSER.parsebytes(head), "Message-ID").strip()
    if value:
        return value[:998]
    return f"<{sha256 or hashlib.sha256(raw).hexdigest()}@mailhub.invalid>"


_FIELD_NAME = re.compile(rb"[!-9;-~]+:")  # RFC 5322 §3.6.8: printable ASCII but ":", then ":"
_NOT_PLAIN = re.compile(rb"[^\t\x20-\x7e]|=\?")  # a control or 8-bit byte, an encoded word
_PLAIN_ID = re.compile(r"<[!-;=?-~]+>")  # printable, no space, no "<" or ">" inside


def _scan_message_id(head: bytes) -> str | None:
    """The unfolded Message-ID field, "" when there is none; None when the parser must decide.

    One pass over the lines of the header block, which ends at the first empty line.
    """
    folded: list[bytes] | None = None
    pos, end_of_head = 0, len(head)
    while pos < end_of_head:
        end = head.find(b"\n", pos)
        if end < 0:
            end = end_of_head
        line = head[pos:end].removesuffix(b"\r")
        first, pos = pos == 0, end + 1
        if not line:
            break
        if line[0] in b" \t":  # a continuation of the field above
            if folded is not None:
                folded.append(line)
            continue
        if folded is not None:
            break  # the field is complete
        if line[:11].lower() == b"message-id:":
            folded = [line[11:]]
        elif not _FIELD_NAME.match(line) and not (first and line.startswith(b"From ")):
            return None  # not a header field: the parser's recovery decides where headers end
    if folded is None:
        return ""
    value = b"".join(folded)
    if _NOT_PLAIN.search(value):
        return None
    text = value.decode("ascii").strip()
    # Only a plain <id> is read here; anything else ("<0 0", comments, two ids) is the
    # parser's to read, as it reads it.
    return text if _PLAIN_ID.fullmatch(text) else None


def parse_message(raw: bytes, skeleton: Skeleton | None = None) -> ParsedMail:
    try:
        msg = _PARSER.parsebytes(raw)
    except RecursionError:
        raise TooDeep("its MIME parts are nested too deeply to be read") from None
    assert isinstance(msg, EmailMessage)
    if _depth(msg) > MAX_DEPTH:
        raise TooDeep(f"its MIME parts are nested more than {MAX_DEPTH} levels deep")
    name, addr = _from_of(msg)
    text_part, html_part = _body_parts(msg)
    return ParsedMail(
        subject=" ".join(_subject(msg).split()),
        from_addr=addr,
        from_name=name,
        message_id=message_id_of(raw),
        in_reply_to=_safe_header(msg, "In-Reply-To").strip(),
        references=_safe_header(msg, "References").split(),
        text=decode_text(text_part) if text_part is not None else "",
        html=decode_text(html_part) if html_part is not None else "",
        headers={k.lower(): _safe_header(msg, k) for k in set(msg.keys())},
        defects=[type(d).__name__ for d in msg.defects],
        files=files_of(msg, (text_part, html_part), skeleton),
        calendar=_calendar_of(msg),
    )


def _calendar_of(msg: Message) -> str:
    for part in msg.walk():
        if part.get_content_type() == "text/calendar":
            try:
                return summary_text(parse_events(decode_text(part)))
            except (ValueError, IndexError):
                return ""
    return ""


def _subject(msg: Message) -> str:
    raw = next((v for k, v in msg.raw_items() if k.lower() == "subject"), "")
    fixed = decode_latin1_as_windows_1252(str(raw))
    return unescape_surrogates(fixed) if fixed is not None else _safe_header(msg, "Subject")


def _safe_header(msg: Message, name: str) -> str:
    try:
        value = msg.get(name)
    except Exception:  # noqa: BLE001 - policy.default's header parser raises all kinds
        # Malformed beyond parsing (found by tests/adversarial/test_fuzz.py): use the raw text.
        value = next((v for k, v in msg.raw_items() if k.lower() == name.lower()), None)
    return "" if value is None else unescape_surrogates(str(value))


def _from_of(msg: EmailMessage) -> tuple[str, str]:
    try:
        header = msg["From"]
        addresses: tuple[Address, ...] = header.addresses if header is not None else ()
        if addresses:
            first = addresses[0]
            return unescape_surrogates(first.display_name), unescape_surrogates(
                first.addr_spec.lower()
            )
    except Exception:  # noqa: BLE001, S110 - as in _safe_header; the plain parser follows
        pass
    try:
        pairs = getaddresses([_safe_header(msg, "From")])
    except Exception:  # noqa: BLE001
        pairs = []
    name, addr = pairs[0] if pairs else parseaddr("")
    return unescape_surrogates(name), (unescape_surrogates(addr.lower()) if "@" in addr else "")


def _body_parts(msg: EmailMessage) -> tuple[Message | None, Message | None]:
    text: Message | None = None
    html: Message | None = None
    for part in leaf_parts(msg):
        if part.get_content_type() == "message/rfc822":
            continue
        if part.get_content_disposition() == "attachment":
            continue
        ctype = part.get_content_type()
        if ctype == "text/plain" and text is None:
            text = part
        elif ctype == "text/html" and html is None:
            html = part
    return text, html


def decode_text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    try:
        charset = part.get_content_charset() or ""
    except (ValueError, LookupError):
        charset = ""
    if charset.lower() in LATIN1_LABELS:
        charset = "windows-1252"  # what the label means in practice (WHATWG Encoding Standard)
    text = payload.decode("latin-1")
    for candidate in (charset, "utf-8", "windows-1252"):
        if not candidate:
            continue
        try:
            text = payload.decode(candidate)
            break
        except (LookupError, ValueError):  # unknown, undecodable, or a label with a NUL in it
            continue
    if (
        part.get_content_type() == "text/plain"
        and str(part.get_param("format", "")).lower() == "flowed"
    ):
        delsp = str(part.get_param("delsp", "")).lower() == "yes"
        return unflow(text, delsp)
    return text


def unflow(text: str, delsp: bool = False) -> str:
    """Undo format=flowed (RFC 3676): soft line breaks end in a space and are joined again.

    Apple Mail and Thunderbird send it; without this a paragraph shows as ragged short lines.
    Quote depth is kept apart (§4.5), space-stuffing removed (§4.4), and "-- " stays a
    signature separator (§4.3).
    """
    out: list[str] = []
    current: str | None = None
    current_depth = -1
    for line in text.replace("\r\n", "\n").split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        content = line[depth:]
        if content.startswith(" "):
            content = content[1:]  # space-stuffing
        flowed = content.endswith(" ") and content != "-- "
        if current is not None and depth == current_depth:
            current += content
        else:
            if current is not None:
                out.append(">" * current_depth + (" " if current_depth else "") + current)
            current, current_depth = content, depth
        if flowed:
            if delsp:
                current = current[:-1]
        else:
            out.append(">" * current_depth + (" " if current_depth else "") + current)
            current, current_depth = None, -1
    if current is not None:
        out.append(">" * current_depth + (" " if current_depth else "") + current)
    return "\n".join(out)
