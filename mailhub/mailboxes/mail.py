"""The mail being processed, as every mailbox sees it: one transaction, one file batch; and
the stores processing reads from and writes to."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from mailhub.content.parse import ParsedMail
from mailhub.dns import DnsTxt
from mailhub.domain.attachments import Upload
from mailhub.models import InboundMessage, Tenant
from mailhub.stores.files import FileBatch, FileStore
from mailhub.stores.rawstore import RawStore


@dataclass
class Mail:
    session: Session
    files: FileBatch
    max_attachment_size: int
    tenant: Tenant
    inbound: InboundMessage
    parsed: ParsedMail
    recipients: list[str]  # the ones this message still has to be handled for
    image_hosts: frozenset[str] = frozenset()  # remote images allowed from these hosts
    refused: list[tuple[str, str]] = field(default_factory=list)  # files left out, and why

    def upload(self) -> Upload:
        """The files this mail carries, to be stored with what it becomes."""
        return Upload(self.files, self.parsed.files, self.inbound.id, self.max_attachment_size)


@dataclass(frozen=True)
class Stores:
    """Where processing reads raw mail and writes files, and how large a file may be."""

    raw: RawStore
    files: FileStore
    max_attachment_size: int = 20 * 1024 * 1024
    trusted_authserv_ids: tuple[str, ...] = ()
    dnsfunc: DnsTxt | None = None  # DKIM key lookups; None: the system resolver
    image_hosts: frozenset[str] = frozenset()
    # Pages and comments one member may publish by mail in an hour before the rest waits for a
    # moderator (MAILHUB_SENDER_RATE_LIMIT; 0: no limit).
    author_hourly_limit: int = 0
