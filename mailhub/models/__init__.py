"""The typed SQLAlchemy models, one module per area of the domain.

Every table carries tenant_id (except tenants itself) so every query can be scoped by tenant.
"""

from __future__ import annotations

from mailhub.models.base import Base, utcnow
from mailhub.models.content import Attachment, Comment, Page, Revision
from mailhub.models.mail import (
    ImapAccount,
    InboundMessage,
    InboundStatus,
    Notification,
    NotificationKind,
    NotificationStatus,
    ReplyKey,
)
from mailhub.models.privacy import Objection
from mailhub.models.tenancy import Follow, Space, Tenant, User

__all__ = [
    "Attachment",
    "Base",
    "Comment",
    "Follow",
    "ImapAccount",
    "InboundMessage",
    "InboundStatus",
    "Notification",
    "NotificationKind",
    "NotificationStatus",
    "Objection",
    "Page",
    "ReplyKey",
    "Revision",
    "Space",
    "Tenant",
    "User",
    "utcnow",
]
