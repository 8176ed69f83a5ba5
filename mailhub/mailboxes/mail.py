"""The mail being processed, as every mailbox sees it: one transaction, one file batch."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from mailhub.content.parse import ParsedMail
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
