"""Files that come with a mail: found in the MIME tree, checked, stored with thumbnails.

A part is a file when it is marked as an attachment, has a file name, or is not the text or
HTML body (inline images referenced by cid:, RFC 2392). Names come through RFC 2231 and
RFC 2047 decoding (the stdlib's policy.default). Executable types are refused, never stored.
"""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from mailhub.content.files_in_mail import IncomingFile
from mailhub.content.thumbnails import THUMBNAIL_WIDTHS, make_thumbnail
from mailhub.models import Attachment, Page, Tenant, User
from mailhub.stores.files import FileBatch

# Windows executables and scripts: what mail filters at Microsoft and Google refuse outright.
BLOCKED_EXTENSIONS = frozenset(
    [
        "ade",
        "adp",
        "app",
        "bat",
        "chm",
        "cmd",
        "com",
        "cpl",
        "dll",
        "exe",
        "hta",
        "inf",
        "ins",
        "isp",
        "jar",
        "jse",
        "js",
        "lib",
        "lnk",
        "mde",
        "msc",
        "msi",
        "msp",
        "mst",
        "pif",
        "ps1",
        "reg",
        "scr",
        "sct",
        "shb",
        "sys",
        "vb",
        "vbe",
        "vbs",
        "vxd",
        "wsc",
        "wsf",
        "wsh",
    ]
)
BLOCKED_TYPES = frozenset(
    {"application/x-msdownload", "application/x-msdos-program", "application/x-dosexec"}
)
_CID = re.compile(r"""(src\s*=\s*["'])cid:([^"']+)(["'])""", re.IGNORECASE)


@dataclass
class StoredFiles:
    attachments: list[Attachment] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (file name, why)


def refusal_note(refused: list[tuple[str, str]]) -> tuple[str, str]:
    """(HTML, text) telling readers of a page which files the mail carried but were left out."""
    if not refused:
        return "", ""
    items = "; ".join(f"{name} ({why})" for name, why in refused)
    text = f"Files left out: {items}."
    return f'<p class="refused-files">{html.escape(text)}</p>', text


def refusal(f: IncomingFile, max_size: int) -> str | None:
    ext = f.filename.rsplit(".", 1)[-1].lower() if "." in f.filename else ""
    if ext in BLOCKED_EXTENSIONS or f.content_type in BLOCKED_TYPES:
        return "executable files and scripts are not accepted"
    if len(f.data) > max_size:
        return f"it is larger than {max_size // (1024 * 1024)} MB"
    return None


def store_files(
    session: Session,
    batch: FileBatch,
    tenant: Tenant,
    page: Page,
    uploader: User,
    files: list[IncomingFile],
    inbound_id: int | None,
    max_size: int,
    comment_id: int | None = None,
) -> StoredFiles:
    """Write each acceptable file (and thumbnails) through the batch, then add its row."""
    result = StoredFiles()
    for f in files:
        why = refusal(f, max_size)
        if why is not None:
            result.refused.append((f.filename, why))
            continue
        if f.large is not None:  # decoded from the raw file straight into the store
            written = batch.write_stream(tenant.id, f.filename, f.large.decoded_chunks(), max_size)
            if written is None:
                result.refused.append(
                    (f.filename, f"it is larger than {max_size // (1024 * 1024)} MB")
                )
                continue
            path, size, sha = written
        else:
            path = batch.write(tenant.id, f.filename, f.data)  # files before rows
            size, sha = len(f.data), hashlib.sha256(f.data).hexdigest()
        thumbnails: dict[str, str] = {}
        if f.content_type.startswith("image/"):
            source = batch.store.path(path)
            for width in THUMBNAIL_WIDTHS:
                thumb = make_thumbnail(source, width)
                if thumb is not None:
                    thumbnails[str(width)] = batch.write(
                        tenant.id, f"thumb-{width}.{thumb.ext}", thumb.data
                    )
        attachment = Attachment(
            tenant_id=tenant.id,
            page_id=page.id,
            comment_id=comment_id,
            uploader_id=uploader.id,
            filename=f.filename[:255],
            content_type=f.content_type[:100],
            size=size,
            sha256=sha,
            path=path,
            thumbnails=thumbnails,
            content_id=f.content_id[:250],
            inline=f.inline,
            source_inbound_id=inbound_id,
        )
        session.add(attachment)
        result.attachments.append(attachment)
    session.flush()
    return result


def attachment_url(tenant: Tenant, attachment: Attachment) -> str:
    return f"/t/{tenant.slug}/attachments/{attachment.id}"


def link_inline_images(html: str, tenant: Tenant, attachments: list[Attachment]) -> str:
    """Point cid: image sources at the stored files (multipart/related, RFC 2387)."""
    by_cid = {a.content_id: a for a in attachments if a.content_id}

    def replace(m: re.Match[str]) -> str:
        a = by_cid.get(m.group(2))
        if a is None:
            return m.group(0)
        return f"{m.group(1)}{attachment_url(tenant, a)}{m.group(3)}"

    return _CID.sub(replace, html)
