"""Who is who: tenants (customers), their users and their spaces."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy import true as sa_true
from sqlalchemy.orm import Mapped, mapped_column

from mailhub.models.base import Base, utcnow


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    domain: Mapped[str] = mapped_column(String(253), unique=True)
    # Hold mail from members for moderation unless it is authenticated (DKIM, trusted
    # Authentication-Results); off: only mail that fails authentication is held.
    require_authenticated: Mapped[bool] = mapped_column(Boolean, default=False)
    # Hold members' unauthenticated mail when the From domain publishes DMARC p=quarantine or
    # p=reject (it says all its mail is authenticated, so this may be forged).
    apply_dmarc: Mapped[bool] = mapped_column(Boolean, default=True, server_default=sa_true())
    # Mail to a space from someone who is not a member: "reject" answers it, "moderate" holds
    # it for an administrator, whose approval publishes it under a guest author.
    unknown_senders: Mapped[str] = mapped_column(String(16), default="reject")
    # The language of mail to people mailhub knows no language for (rejections to strangers).
    locale: Mapped[str] = mapped_column(String(16), default="en")
    # Immediate notifications per person per hour; the rest waits for the next digest.
    hourly_cap: Mapped[int] = mapped_column(Integer, default=20)
    # Tell whoever publishes by mail that it worked, and who hears of it now and in digests.
    publish_receipts: Mapped[bool] = mapped_column(Boolean, default=True)
    # The space mail to form@domain makes its forms in (a slug); None: the only space, if one.
    default_space: Mapped[str | None] = mapped_column(String(64), default=None)
    # When a person's account is erased, keep the pages, comments and forms they shared,
    # anonymized (their name gone from them), rather than deleting them.
    keep_shared_content: Mapped[bool] = mapped_column(Boolean, default=True)
    # Accounts unused this many days are deleted after warnings; None: never.
    inactive_days: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("tenant_id", "email", name="uq_users_tenant_email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    email: Mapped[str] = mapped_column(String(320))  # stored lower-cased
    name: Mapped[str] = mapped_column(String(200))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Someone outside the tenant whose mail a moderator published: named as its author, never
    # a member (their next mail is moderated again), never notified.
    guest: Mapped[bool] = mapped_column(Boolean, default=False)
    locale: Mapped[str | None] = mapped_column(String(16), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # Signing in or mailing in; what retention of inactive accounts measures from.
    last_active_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    # When their previous visit to the web pages ended: what the home calls new is newer.
    previous_visit_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    # Retention of inactive accounts: the date the first warning named for deletion (kept, so
    # every warning names the same day), and the days-before of the last warning sent
    # (30, 7, 1). Both None while the account is in use.
    deletion_due_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    inactivity_warned: Mapped[int | None] = mapped_column(Integer, default=None)


class Space(Base):
    __tablename__ = "spaces"
    __table_args__ = (UniqueConstraint("tenant_id", "slug", name="uq_spaces_tenant_slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    slug: Mapped[str] = mapped_column(String(64))  # the local part people mail: sales@…
    name: Mapped[str] = mapped_column(String(200))
    # Restricted: only its members (and the tenant's administrators) read, write and hear of
    # it; otherwise every member of the tenant does.
    restricted: Mapped[bool] = mapped_column(Boolean, default=False)
    # What the space is for, in a sentence or two, shown on its home and the tenant's.
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class SpaceMember(Base):
    """A member of a restricted space."""

    __tablename__ = "space_members"
    __table_args__ = (UniqueConstraint("space_id", "user_id", name="uq_space_members_user"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    space_id: Mapped[int] = mapped_column(ForeignKey("spaces.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class WebSession(Base):
    """A signed-in browser: the cookie holds a random secret, this row only its SHA-256.

    Made by a magic link (mailhub/domain/signin.py); ends on sign-out, after SESSION_DAYS of not
    being used, or when the user is deactivated. `csrf` is the token every form of this
    session must send back.
    """

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime, index=True)
