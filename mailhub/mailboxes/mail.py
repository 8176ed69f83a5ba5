"""The mail being processed, as every mailbox sees it: one transaction, one file batch."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from mailhub.content.parse import ParsedMail
from mailhub.domain.attachments import Upload
from mailhub.models import InboundMessage, Tenant
from mailhub.stores.files import FileBatch


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
