"""Objections (GDPR Art. 21) and restrictions (Art. 18): a person told the tenant to stop
processing their data, or to keep it but not use it while something is settled.

A row per request, its kind saying which; withdrawing or lifting it sets withdrawn_at, so
when it held is on record. For mail, both mean the same: nothing sent, nothing processed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mailhub.models.base import Base, utcnow


class Objection(Base):
    __tablename__ = "objections"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(12), default="objection")  # or "restriction"
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)


class PrivacyRequest(Base):
    """A person's request under the GDPR (access, objection, restriction; export and erasure
    come with their runners), as a record: received, verified by an emailed link, running,
    done, failed or cancelled, due a month after it was received.

    `subject_hash` is a SHA-256 of the address with this row's own salt: the audit trail can be
    matched to a person who gives their address again, but names nobody by itself.
    """

    __tablename__ = "privacy_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True, default=None)
    subject_hash: Mapped[str] = mapped_column(String(64), index=True)
    salt: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(12))  # access, object, restrict (export, erase)
    state: Mapped[str] = mapped_column(String(12), default="received", index=True)
    via: Mapped[str] = mapped_column(String(10), default="cli")  # cli or web
    received_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    due_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    verified_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    warned_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    error: Mapped[str] = mapped_column(Text, default="")
    # An export's ZIP, relative to the exports store, until it expires and deletes itself.
    archive: Mapped[str | None] = mapped_column(String(200), default=None)
    archive_expires_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)


class PrivacyEvent(Base):
    """The audit log of privacy requests: what happened when, which stores were touched and how
    many items. Never an address, a name or content."""

    __tablename__ = "privacy_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("privacy_requests.id"), index=True)
    event: Mapped[str] = mapped_column(String(20))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Breach(Base):
    """A personal data breach in the register (GDPR Art. 33): when the tenant became aware of
    it, the 72-hour deadline for telling the authority, what happened, which categories of
    data and which time window it touched, and when the people affected were told (Art. 34).
    The description is written for the people affected and names nobody."""

    __tablename__ = "breaches"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    aware_at: Mapped[datetime] = mapped_column(DateTime)
    deadline_at: Mapped[datetime] = mapped_column(DateTime)
    window_from: Mapped[datetime] = mapped_column(DateTime)
    window_to: Mapped[datetime] = mapped_column(DateTime)
    categories: Mapped[list[str]] = mapped_column(JSON)
    description: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    notified_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    affected: Mapped[int] = mapped_column(Integer, default=0)


class Erasure(Base):
    """The erasure ledger: which accounts were erased, so a restored backup cannot bring
    one back. Only the account's number and a salted hash of its address (to tell a later
    account that got the same number apart) — nothing that names anyone."""

    __tablename__ = "erasures"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    user_id: Mapped[int] = mapped_column(Integer, index=True)
    subject_hash: Mapped[str] = mapped_column(String(64))
    salt: Mapped[str] = mapped_column(String(32))
    request_id: Mapped[int | None] = mapped_column(
        ForeignKey("privacy_requests.id"), index=True, default=None
    )
    erased_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
