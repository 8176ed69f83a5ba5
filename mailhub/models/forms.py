"""Forms made by mail: a form, and its versions (a corrected list of questions makes a new one,
and answers keep pointing at the version they answered)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from mailhub.models.base import Base, utcnow


class Form(Base):
    __tablename__ = "forms"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    space_id: Mapped[int] = mapped_column(ForeignKey("spaces.id"), index=True)
    creator_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(10), default="open")  # open or closed
    # Who may answer: "members" of the tenant (the default), or "anyone" the invitation reached.
    answers_from: Mapped[str] = mapped_column(String(10), default="members")
    current_version: Mapped[int] = mapped_column(Integer, default=1)
    source_inbound_id: Mapped[int | None] = mapped_column(
        ForeignKey("inbound_messages.id"), index=True, default=None
    )
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)


class FormVersion(Base):
    __tablename__ = "form_versions"
    __table_args__ = (UniqueConstraint("form_id", "number", name="uq_form_versions_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    # The definition as schema/form.schema.json describes it, and the mail text it came from.
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    source_text: Mapped[str] = mapped_column(Text, default="")
    source_inbound_id: Mapped[int | None] = mapped_column(
        ForeignKey("inbound_messages.id"), index=True, default=None
    )
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class FormResponse(Base):
    """One person's answers to a form: personal data of the person who answered.

    One per person and form: answering again replaces the answers (as a corrected reply
    should), and records which version of the questions they answered.
    """

    __tablename__ = "form_responses"
    __table_args__ = (
        UniqueConstraint("form_id", "respondent_id", name="uq_form_responses_respondent"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id"), index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("form_versions.id"), index=True)
    respondent_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    # Values by question index ("0", "1", …): text, a number, "Yes"/"No", or chosen options.
    answers: Mapped[dict[str, Any]] = mapped_column(JSON)
    via: Mapped[str] = mapped_column(String(10))  # mail, web or button
    source_inbound_id: Mapped[int | None] = mapped_column(
        ForeignKey("inbound_messages.id"), index=True, default=None
    )
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
