"""What people chose to hear about: subscriptions, the admin defaults behind them, digest items
waiting for their digest, action tokens that travel in mail, and suppressed addresses.

A subscription is one user's choice for one subject (a space, a page with its comment thread,
a form). Level and frequency are separate and each may be left to inherit (NULL), so "watch
this page, but in my daily digest like the rest of Sales" needs no copy of the space setting.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from mailhub.models.base import Base, utcnow


class Level(enum.StrEnum):
    WATCHING = "watching"  # every change
    NORMAL = "normal"  # what I wrote, took part in, or am mentioned in
    MUTED = "muted"  # nothing


class Frequency(enum.StrEnum):
    IMMEDIATELY = "immediately"
    HOURLY = "hourly"
    DAILY = "daily"
    WEEKLY = "weekly"
    NEVER = "never"


class SubjectKind(enum.StrEnum):
    TENANT = "tenant"  # only for admin defaults: everything in the tenant
    SPACE = "space"
    PAGE = "page"  # a page and its comment thread
    FORM = "form"
    INBOUND = "inbound"  # only for action tokens: a held message to approve or reject


class Subscription(Base):
    __tablename__ = "subscriptions"
    __table_args__ = (
        UniqueConstraint("user_id", "subject_kind", "subject_id", name="uq_subscriptions_subject"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    subject_kind: Mapped[str] = mapped_column(String(10))
    subject_id: Mapped[int] = mapped_column(Integer)
    level: Mapped[str | None] = mapped_column(String(10), default=None)  # None: inherit
    frequency: Mapped[str | None] = mapped_column(String(12), default=None)  # None: inherit
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class SubscriptionDefault(Base):
    """An administrator's default for everyone in the tenant or in one space.

    Mandatory: users cannot lower it (no mute, no "never"); they may still watch more.
    """

    __tablename__ = "subscription_defaults"
    __table_args__ = (
        UniqueConstraint(
            "tenant_id", "subject_kind", "subject_id", name="uq_subscription_defaults_subject"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    subject_kind: Mapped[str] = mapped_column(String(10))  # tenant or space
    subject_id: Mapped[int] = mapped_column(Integer)
    level: Mapped[str | None] = mapped_column(String(10), default=None)
    frequency: Mapped[str | None] = mapped_column(String(12), default=None)
    mandatory: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class DigestItem(Base):
    """One event waiting for a person's next digest; the digest that carried it is recorded
    in the same transaction that creates that digest, so a retry never carries it twice."""

    __tablename__ = "digest_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    frequency: Mapped[str] = mapped_column(String(12))
    event_key: Mapped[str] = mapped_column(String(200), unique=True)  # as a notification's
    kind: Mapped[str] = mapped_column(String(30))
    space_id: Mapped[int] = mapped_column(ForeignKey("spaces.id"), index=True)
    # A page event's page, or a form event's form (an invitation, or an answer for its owner).
    page_id: Mapped[int | None] = mapped_column(ForeignKey("pages.id"), index=True, default=None)
    form_id: Mapped[int | None] = mapped_column(ForeignKey("forms.id"), index=True, default=None)
    comment_id: Mapped[int | None] = mapped_column(
        ForeignKey("comments.id"), index=True, default=None
    )
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    digest_id: Mapped[int | None] = mapped_column(
        ForeignKey("notifications.id"), index=True, default=None
    )


class ActionToken(Base):
    """The secret in an action link (unsubscribe, follow, unfollow): bound to a tenant, a user,
    an action and its subject; stored only as a hash; single use unless the action is
    idempotent (unsubscribing twice is unsubscribing); always expiring."""

    __tablename__ = "action_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    action: Mapped[str] = mapped_column(String(20))
    subject_kind: Mapped[str] = mapped_column(String(10))
    subject_id: Mapped[int] = mapped_column(Integer)
    # What exactly, where the subject is not enough: a one-button answer's "VERSION:QUESTION:OPTION".
    argument: Mapped[str | None] = mapped_column(String(300), default=None)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    single_use: Mapped[bool] = mapped_column(Boolean, default=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    used_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Suppression(Base):
    """An address mailhub no longer mails: it bounced hard, or soft bounces added up."""

    __tablename__ = "suppressions"
    __table_args__ = (UniqueConstraint("tenant_id", "address", name="uq_suppressions_address"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    address: Mapped[str] = mapped_column(String(320))
    soft_score: Mapped[int] = mapped_column(Integer, default=0)
    suppressed: Mapped[bool] = mapped_column(Boolean, default=False)
    last_status: Mapped[str] = mapped_column(String(20), default="")  # "5.1.1"
    last_diagnostic: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
