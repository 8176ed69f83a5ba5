"""Files that came with a mail, stored: each acceptable one written through the use case's
FileBatch (files before rows) with its thumbnails, then its row, in the caller's transaction.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from mailhub.content.attachments import refusal
from mailhub.content.files_in_mail import IncomingFile
from mailhub.content.thumbnails import THUMBNAIL_WIDTHS, make_thumbnail
from mailhub.models import Attachment, Page, Tenant, User
from mailhub.stores.files import FileBatch


@dataclass(frozen=True)
class Upload:
    """Files arriving with a mail, and where and how large they may be stored."""

    batch: FileBatch
    files: list[IncomingFile]
    inbound_id: int | None
    max_size: int


@dataclass
class StoredFiles:
    attachments: list[Attachment] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (file name, why)


def store_files(
    session: Session,
    upload: Upload,
    tenant: Tenant,
    page: Page,
    uploader: User,
    comment_id: int | None = None,
) -> StoredFiles:
    """Write each acceptable file (and thumbnails) through the batch, then add its row."""
    result = StoredFiles()
    batch, max_size, inbound_id = upload.batch, upload.max_size, upload.inbound_id
    for f in upload.files:
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


def urls_by_cid(tenant: Tenant, attachments: list[Attachment]) -> dict[str, str]:
    """Where each inline image (by its Content-ID) is served."""
    return {a.content_id: attachment_url(tenant, a) for a in attachments if a.content_id}
