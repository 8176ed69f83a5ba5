"""The typed SQLAlchemy models, one module per area of the domain.

Every table carries tenant_id (except tenants itself) so every query can be scoped by tenant.
"""

from __future__ import annotations

from mailhub.models.base import Base, utcnow
from mailhub.models.cluster import BackupKey, Blob, BlobChunk, Lease
from mailhub.models.content import Attachment, Comment, Page, Revision
from mailhub.models.forms import Form, FormResponse, FormVersion
from mailhub.models.mail import (
    DUE_NOW,
    ImapAccount,
    InboundMessage,
    InboundStatus,
    Notification,
    NotificationKind,
    NotificationStatus,
    ReplyKey,
)
from mailhub.models.preferences import (
    ActionToken,
    DigestItem,
    Frequency,
    Level,
    SubjectKind,
    Subscription,
    SubscriptionDefault,
    Suppression,
)
from mailhub.models.privacy import Breach, Erasure, Objection, PrivacyEvent, PrivacyRequest
from mailhub.models.search import SearchEntry
from mailhub.models.tenancy import Space, SpaceMember, Tenant, User, WebSession

__all__ = [
    "DUE_NOW",
    "ActionToken",
    "Attachment",
    "BackupKey",
    "Breach",
    "Base",
    "Blob",
    "BlobChunk",
    "Comment",
    "DigestItem",
    "Erasure",
    "Form",
    "FormResponse",
    "FormVersion",
    "Frequency",
    "ImapAccount",
    "InboundMessage",
    "InboundStatus",
    "Lease",
    "Level",
    "Notification",
    "NotificationKind",
    "NotificationStatus",
    "Objection",
    "PrivacyEvent",
    "PrivacyRequest",
    "Page",
    "ReplyKey",
    "Revision",
    "SearchEntry",
    "Space",
    "SpaceMember",
    "SubjectKind",
    "Subscription",
    "SubscriptionDefault",
    "Suppression",
    "Tenant",
    "User",
    "WebSession",
    "utcnow",
]
