"""Composing one notification's message, straight to the bytes that go on the wire.

multipart/alternative with a real text/plain part first (RFC 2046 §5.1.4: last is best), both
UTF-8: the text in quoted-printable, readable in any raw view; the HTML in base64, which is
encoded and DKIM-canonicalized several times faster. Auto-Submitted (RFC 3834) on everything, so well-behaved
auto-responders stay quiet, and X-Auto-Response-Suppress for Exchange, which ignores it.

A notification's structure never changes, so it is written directly rather than through the
stdlib's EmailMessage, whose policy machinery took about 1 ms a message (bench/rendering.py).
Headers are RFC 2047-encoded where they are not ASCII and folded at 78 columns; lines end in
CRLF; the boundary "==_…" can occur neither in quoted-printable (a literal "=" is always
written "=3D") nor in base64 (where "=" is only padding at the very end, never followed by
"_"). A mail with images inside puts the HTML and the images in a multipart/related (RFC 2387)
as the second alternative, as Apple Mail and Thunderbird write it. Tests parse what this writes
with the stdlib parser.
"""

from __future__ import annotations

import binascii
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.header import Header
from email.utils import format_datetime, formataddr
from urllib.parse import quote

from mailhub.outbound.files import Related
from mailhub.outbound.render import Rendered

MAX_LINE = 78


@dataclass(frozen=True)
class Envelope:
    mail_from: str
    rcpt_to: list[str]


@dataclass(frozen=True)
class Draft:
    from_name: str
    from_addr: str
    to_name: str
    to_addr: str
    subject: str
    message_id: str
    reason: str
    auto_submitted: str = "auto-generated"
    reply_to: str = ""
    thread_root: str = ""  # Message-ID this mail follows up on
    list_id: str = ""
    return_path: str = ""  # the envelope sender (VERP: bounce+KEY@domain); else from_addr
    extra_headers: dict[str, str] = field(default_factory=dict)
    related: tuple[Related, ...] = ()  # images that travel inside the mail, by cid:


def fold(name: str, value: str) -> str:
    """`Name: value` folded at spaces to MAX_LINE columns (RFC 5322 §2.2.3), CRLF-terminated."""
    line = f"{name}: {value}"
    if len(line) <= MAX_LINE:
        return line + "\r\n"
    out, current = [], f"{name}:"
    for word in value.split(" "):
        if len(current) + 1 + len(word) > MAX_LINE and current.strip() not in ("", f"{name}:"):
            out.append(current)
            current = ""
        current += " " + word
    out.append(current)
    return "\r\n".join(out) + "\r\n"


def unstructured(name: str, value: str) -> str:
    value = " ".join(value.split())  # no raw line breaks or tabs in a header
    if value.isascii() and "=?" not in value:  # "=?" would be read as an encoded word
        return fold(name, value)
    encoded = Header(value, "utf-8", header_name=name, maxlinelen=MAX_LINE).encode(linesep="\r\n")
    return f"{name}: {encoded}\r\n"


def address(name: str, display: str, addr: str) -> str:
    return fold(name, formataddr((" ".join(display.split()), addr), charset="utf-8"))


def _qp(text: str) -> bytes:
    data = text.replace("\r\n", "\n").replace("\r", "\n").encode("utf-8")
    encoded = binascii.b2a_qp(data, quotetabs=False, istext=True, header=False)
    if not encoded.endswith(b"\n"):
        encoded += b"\n"
    return encoded.replace(b"\n", b"\r\n")


def _base64(text: str) -> bytes:
    """Base64 in lines of 76 (RFC 2045 §6.8): for the HTML part, ten times faster to encode
    than quoted-printable and with nothing for DKIM's canonicalization to fold."""
    data = binascii.b2a_base64(text.replace("\r\n", "\n").encode("utf-8"), newline=False)
    return b"\r\n".join([data[i : i + 76] for i in range(0, len(data), 76)]) + b"\r\n"


_HTML_HEAD = (
    b'Content-Type: text/html; charset="utf-8"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
)


def _binary(data: bytes) -> bytes:
    encoded = binascii.b2a_base64(data, newline=False)
    return b"\r\n".join([encoded[i : i + 76] for i in range(0, len(encoded), 76)]) + b"\r\n"


def _file_param(name: str) -> str:
    """filename="…" for a plain name, RFC 2231's filename*=utf-8''… for any other."""
    if name.isascii() and name.isprintable() and not any(c in name for c in '"\\;'):
        return f'filename="{name}"'
    return f"filename*=utf-8''{quote(name, safe='')}"


def _related(boundary: str, html: str, inline: Sequence[tuple[Related, bytes]]) -> bytes:
    """multipart/related (RFC 2387): the HTML, then each image it shows by cid:."""
    inner = f"{boundary}_r"
    parts = [
        f'Content-Type: multipart/related; type="text/html";\r\n boundary="{inner}"\r\n\r\n'
        f"--{inner}\r\n".encode()
        + _HTML_HEAD,
        _base64(html),
    ]
    for part, data in inline:
        parts += [
            (
                f"--{inner}\r\nContent-Type: {part.content_type}\r\n"
                "Content-Transfer-Encoding: base64\r\n"
                f"Content-ID: <{part.cid}>\r\n"
                f"Content-Disposition: inline; {_file_param(part.filename)}\r\n\r\n"
            ).encode(),
            _binary(data),
        ]
    parts.append(f"--{inner}--\r\n".encode())
    return b"".join(parts)


def compose(
    draft: Draft,
    body: Rendered,
    now: datetime | None = None,
    inline: Sequence[tuple[Related, bytes]] = (),
) -> tuple[bytes, Envelope]:
    """The mail's bytes and envelope; `inline` holds the bytes of draft.related's images."""
    boundary = f"==_mh_{secrets.token_hex(12)}"
    head = [
        address("From", draft.from_name, draft.from_addr),
        address("To", draft.to_name, draft.to_addr),
        unstructured("Subject", draft.subject),
        f"Date: {format_datetime(now or datetime.now(UTC))}\r\n",
        fold("Message-ID", draft.message_id),
    ]
    if draft.thread_root and draft.thread_root != draft.message_id:
        head += [fold("In-Reply-To", draft.thread_root), fold("References", draft.thread_root)]
    if draft.reply_to:
        head.append(fold("Reply-To", draft.reply_to))
    if draft.list_id:
        head.append(unstructured("List-Id", draft.list_id))
    head += [
        fold("Auto-Submitted", draft.auto_submitted),
        "X-Auto-Response-Suppress: All\r\n",
        unstructured("X-Mailhub-Reason", draft.reason),
    ]
    head += [unstructured(name, value) for name, value in draft.extra_headers.items()]
    head += [
        "MIME-Version: 1.0\r\n",
        f'Content-Type: multipart/alternative;\r\n boundary="{boundary}"\r\n',
        "\r\n",
    ]
    part = (
        '--{b}\r\nContent-Type: text/{kind}; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: {cte}\r\n\r\n"
    )
    html = _related(boundary, body.html, inline) if inline else _HTML_HEAD + _base64(body.html)
    data = b"".join(
        (
            "".join(head).encode("utf-8"),
            part.format(b=boundary, kind="plain", cte="quoted-printable").encode(),
            _qp(body.text),
            f"--{boundary}\r\n".encode(),
            html,
            f"--{boundary}--\r\n".encode(),
        )
    )
    return data, Envelope(mail_from=draft.return_path or draft.from_addr, rcpt_to=[draft.to_addr])
