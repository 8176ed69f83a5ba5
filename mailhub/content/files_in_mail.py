"""Finding the files in a MIME tree: attachments, inline images, attached messages.

A part is a file when it is marked as an attachment, has a file name, or is neither the chosen
text nor HTML body (inline images referenced by cid:, RFC 2392). Names come through RFC 2231
and RFC 2047 decoding (the stdlib's policy.default). Pure: no storage here.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message

from tnefparse import TNEF

from mailhub.content.bigparts import MARKER, LargePart, Skeleton
from mailhub.content.headers import unescape_surrogates


@dataclass(frozen=True)
class IncomingFile:
    filename: str
    content_type: str
    data: bytes
    content_id: str = ""  # without the angle brackets
    inline: bool = False
    large: LargePart | None = None  # when set, the bytes are on disk, not in `data`


def leaf_parts(msg: Message) -> Iterator[Message]:
    """Every part that is not a container, an attached message counting as one part (its own
    body is the forwarded mail's, not this mail's)."""
    if msg.get_content_type() == "message/rfc822":
        yield msg
        return
    if msg.is_multipart():
        payload = msg.get_payload()
        for sub in payload if isinstance(payload, list) else []:
            if isinstance(sub, Message):
                yield from leaf_parts(sub)
        return
    yield msg


def files_of(
    msg: Message, body_parts: tuple[Message | None, ...], skeleton: Skeleton | None = None
) -> list[IncomingFile]:
    found: list[IncomingFile] = []
    for part in leaf_parts(msg):
        if any(part is b for b in body_parts if b is not None):
            continue
        ctype = part.get_content_type()
        disposition = part.get_content_disposition()
        try:
            filename = unescape_surrogates(part.get_filename() or "")
        except (ValueError, LookupError):
            filename = ""
        large = (
            skeleton.part_for(str(part.get(MARKER, ""))) if skeleton and part.get(MARKER) else None
        )
        if large is not None:
            data = b""
        elif ctype == "message/rfc822":
            inner = (
                part.get_payload(0)
                if part.is_multipart() or isinstance(part.get_payload(), list)
                else None
            )
            data = inner.as_bytes() if isinstance(inner, Message) else b""
            filename = filename or "forwarded message.eml"
        else:
            if (
                ctype in ("text/plain", "text/html")
                and disposition != "attachment"
                and not filename
            ):
                continue  # an alternative body we did not choose, not a file
            payload = part.get_payload(decode=True)
            data = payload if isinstance(payload, bytes) else b""
        if not filename and ctype == "text/calendar":
            filename = "invitation.ics"
        if not filename:
            ext = mimetypes.guess_extension(ctype) or ".bin"
            filename = f"attachment-{len(found) + 1}{ext}"
        content_id = str(part.get("Content-ID", "")).strip().strip("<>")
        if large is None and (ctype == "application/ms-tnef" or filename.lower() == "winmail.dat"):
            unpacked = unpack_tnef(data)
            if unpacked:  # Outlook's rich-text wrapper: the files inside are what was sent
                found.extend(unpacked)
                continue
        found.append(
            IncomingFile(
                filename=filename,
                content_type=ctype,
                data=data,
                content_id=content_id,
                inline=disposition == "inline"
                or (bool(content_id) and disposition != "attachment"),
                large=large,
            )
        )
    return found


def unpack_tnef(data: bytes) -> list[IncomingFile]:
    """The attachments inside a winmail.dat (TNEF, what Outlook sends in "rich text" mode).

    Empty when the data is not TNEF or holds no attachment; then winmail.dat is kept as it is.
    """
    try:
        tnef = TNEF(data)
    except Exception:  # noqa: BLE001 - tnefparse raises ValueError, struct.error, IndexError …
        return []
    files: list[IncomingFile] = []
    for attachment in tnef.attachments:
        name = attachment.long_filename() or attachment.name
        if isinstance(name, bytes):
            name = name.decode("latin-1")
        name = (
            unescape_surrogates(str(name).rstrip("\x00").strip())
            or f"attachment-{len(files) + 1}.bin"
        )
        ctype = mimetypes.guess_type(name)[0] or "application/octet-stream"
        payload = attachment.data if isinstance(attachment.data, bytes) else b""
        files.append(IncomingFile(filename=name, content_type=ctype, data=payload))
    return files
