"""Mail as records: inbound messages with their lifecycle, reply keys, outbound notifications.

The lifecycle follows Rails Action Mailbox: pending → processing → processed | rejected | failed.
A notification is a row before it is queued, so a lost job is found again by the sweeper.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mailhub.models.base import Base, utcnow


class InboundStatus(enum.StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    PROCESSED = "processed"
    REJECTED = "rejected"  # unusable; the sender was told why (at most once a day per reason)
    FAILED = "failed"  # processing kept failing; visible, and `mailhub inbound retry` tries again
    HELD = "held"  # sender not authenticated: waits for a moderator (not final, not retried)
    BOUNCED = "bounced"  # a delivery status notification
    IGNORED = "ignored"  # auto-replies and list traffic: stored, never answered

    @classmethod
    def final(cls) -> frozenset[InboundStatus]:
        return frozenset({cls.PROCESSED, cls.REJECTED, cls.FAILED, cls.BOUNCED, cls.IGNORED})


# enqueued_at of a row (inbound or notification) that the worker's next sweep takes at once
DUE_NOW = datetime(1970, 1, 1)


class InboundMessage(Base):
    __tablename__ = "inbound_messages"
    __table_args__ = (
        # The same bytes for the same recipients are one delivery however often they arrive;
        # a sender that retries for one recipient later (after a 4xx) is a new one.
        UniqueConstraint(
            "tenant_id", "message_id", "sha256", "rcpt_key", name="uq_inbound_delivery"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    mail_from: Mapped[str] = mapped_column(String(320))  # envelope sender, "" for bounces
    rcpt_to: Mapped[list[str]] = mapped_column(JSON)  # envelope recipients in this tenant
    message_id: Mapped[str] = mapped_column(String(998))
    sha256: Mapped[str] = mapped_column(String(64))
    rcpt_key: Mapped[str] = mapped_column(String(64), default="")  # SHA-256 of the recipients
    raw_path: Mapped[str] = mapped_column(String(500))  # relative to the raw mail store
    size: Mapped[int] = mapped_column(Integer)
    peer: Mapped[str] = mapped_column(String(100), default="")  # client IP, kept for abuse checks
    # A message the IMAP reader left in its mailbox for being over the size limit: only its
    # header is stored, and these say how large it was and what the limit was.
    oversize: Mapped[int | None] = mapped_column(Integer, default=None)
    oversize_limit: Mapped[int | None] = mapped_column(Integer, default=None)
    status: Mapped[str] = mapped_column(String(20), default=InboundStatus.PENDING, index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    moderation: Mapped[str] = mapped_column(
        String(20), default=""
    )  # "", or "approved" by a moderator
    received_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    enqueued_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    # When the raw file was destroyed and this row stripped of personal data (retention).
    incinerated_at: Mapped[datetime | None] = mapped_column(DateTime, default=None, index=True)


class ReplyKey(Base):
    """The secret in reply+KEY@domain: binds a reply to one recipient and one page.

    Only a SHA-256 of the key is stored, so a database leak gives nobody the power to post.
    """

    __tablename__ = "reply_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    # What a reply does: "comment" on a page, "answer" a form version, "revise" a form (its
    # creator mails a corrected list of questions).
    purpose: Mapped[str] = mapped_column(String(10), default="comment")
    page_id: Mapped[int | None] = mapped_column(ForeignKey("pages.id"), index=True, default=None)
    form_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("form_versions.id"), index=True, default=None
    )
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class NotificationStatus(enum.StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    SUPPRESSED = "suppressed"  # not sent: the recipient objected, or the address bounces


class NotificationKind(enum.StrEnum):
    PAGE_CREATED = "page_created"
    PAGE_EDITED = "page_edited"
    COMMENT_ADDED = "comment_added"
    MENTION = "mention"
    DIGEST = "digest"
    RECEIPT = "receipt"  # to the author of a page made by mail: published, and who hears of it
    MODERATION = "moderation"  # to a tenant's administrators: mail is waiting for approval
    FORM_CREATED = "form_created"  # to the creator: the form's link, and how each line was read
    FORM_INVITATION = "form_invitation"  # to the space's watchers: the questions, reply-able
    FORM_ANSWERED = "form_answered"  # to the form's owner: someone answered
    FORM_RECEIPT = "form_receipt"  # to whoever answered by mail: what was recorded, or why not
    SIGN_IN = "sign_in"  # a magic link the person asked for on the sign-in page
    WELCOME = "welcome"  # to a member an administrator added: how it works, and a way in
    PRIVACY_VERIFY = "privacy_verify"  # "was it you?": the link that confirms a privacy request
    PRIVACY_REPORT = "privacy_report"  # the access report (Art. 15), or a request's outcome
    PRIVACY_DUE = "privacy_due"  # to administrators: a request is due within a week
    BREACH_NOTICE = "breach_notice"  # Art. 34: sent despite preferences, never to bounces
    ACCOUNT_EXPIRY = "account_expiry"  # an unused account is deleted on a date: 30, 7, 1 days
    REJECTION = "rejection"


class Notification(Base):
    """One mail mailhub owes one person: a row before it is queued, sent at most once."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    # Unique per event and recipient ("page:12:created:user:5"), so an event handled twice
    # cannot owe the same person two mails.
    event_key: Mapped[str] = mapped_column(String(200), unique=True)
    to_addr: Mapped[str] = mapped_column(String(320))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True, default=None)
    page_id: Mapped[int | None] = mapped_column(ForeignKey("pages.id"), index=True, default=None)
    comment_id: Mapped[int | None] = mapped_column(
        ForeignKey("comments.id"), index=True, default=None
    )
    inbound_id: Mapped[int | None] = mapped_column(
        ForeignKey("inbound_messages.id"), index=True, default=None
    )
    reason: Mapped[str] = mapped_column(Text)  # why this person gets this mail, shown in it
    context: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # e.g. a rejection's code
    # Minted when the mail is composed: only its hash is stored, the key itself is in the mail.
    reply_key_id: Mapped[int | None] = mapped_column(
        ForeignKey("reply_keys.id"), index=True, default=None
    )
    reply_key: Mapped[ReplyKey | None] = relationship()
    message_id: Mapped[str] = mapped_column(String(300))  # fixed before the first attempt
    # The KEY of the VERP Return-Path bounce+KEY@domain: a bounce names the notification.
    bounce_key: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    revision_id: Mapped[int | None] = mapped_column(
        ForeignKey("revisions.id"), index=True, default=None
    )
    form_id: Mapped[int | None] = mapped_column(ForeignKey("forms.id"), index=True, default=None)
    status: Mapped[str] = mapped_column(String(20), default=NotificationStatus.QUEUED, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    enqueued_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)


class ImapAccount(Base):
    """A mailbox mailhub reads for a tenant whose mail lands in one (IMAP ingress).

    uidvalidity and last_uid record how far it has read, so a restart neither skips nor
    repeats a message (RFC 3501 §2.3.1.1: UIDs are only comparable under one UIDVALIDITY).
    """

    __tablename__ = "imap_accounts"
    __table_args__ = (
        UniqueConstraint("host", "port", "username", "folder", name="uq_imap_accounts_mailbox"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    host: Mapped[str] = mapped_column(String(253))
    port: Mapped[int] = mapped_column(Integer)
    use_ssl: Mapped[bool] = mapped_column(Boolean, default=True)
    username: Mapped[str] = mapped_column(String(320))
    password_enc: Mapped[str] = mapped_column(Text)  # Fernet, keyed from MAILHUB_SECRET_KEY
    folder: Mapped[str] = mapped_column(String(200), default="INBOX")
    processed_folder: Mapped[str] = mapped_column(String(200), default="mailhub-processed")
    uidvalidity: Mapped[int | None] = mapped_column(BigInteger, default=None)
    last_uid: Mapped[int] = mapped_column(BigInteger, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    last_checked_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
