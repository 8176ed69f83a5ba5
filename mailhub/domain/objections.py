"""Objection to processing (GDPR Art. 21) and restriction of processing (Art. 18): from the
moment either is recorded, mailhub sends the person no notifications or digests and does not
process mail they send in — it answers that mail once with a rejection that says why and how
to withdraw or lift it.

Checked here, once, for every caller: where recipients are resolved (`objected`), again right
before a notification is sent (`among`), and when their mail comes in (`in_force`), so an
objection recorded while a notification waited in the queue still stops it.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ColumnElement, exists, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from mailhub.errors import InvalidInput
from mailhub.models import Tenant, User, utcnow
from mailhub.models.privacy import Objection

_IN_FORCE = Objection.withdrawn_at.is_(None)


def in_force(session: Session, user_id: int) -> Objection | None:
    return session.scalar(
        select(Objection)
        .where(Objection.user_id == user_id, _IN_FORCE)
        .order_by(Objection.id)
        .limit(1)
    )


def objected(user_id: ColumnElement[int] | InstrumentedAttribute[int] | int) -> ColumnElement[bool]:
    """SQL: this user has an objection in force (for filtering recipients in one query)."""
    return exists().where(Objection.user_id == user_id, _IN_FORCE)


def among(session: Session, user_ids: Iterable[int | None]) -> set[int]:
    """Which of these users have an objection in force (checked again right before sending)."""
    wanted = {u for u in user_ids if u is not None}
    if not wanted:
        return set()
    return set(
        session.scalars(select(Objection.user_id).where(Objection.user_id.in_(wanted), _IN_FORCE))
    )


def object_to_processing(
    session: Session, tenant: Tenant, user: User, kind: str = "objection"
) -> Objection:
    if user.tenant_id != tenant.id:
        raise InvalidInput("the user does not belong to this tenant")
    current = _current(session, user.id, kind)
    if current is not None:
        return current  # objecting twice changes nothing
    objection = Objection(tenant_id=tenant.id, user_id=user.id, kind=kind)
    session.add(objection)
    session.flush()
    return objection


def withdraw(session: Session, tenant: Tenant, user: User, kind: str = "objection") -> Objection:
    current = _current(session, user.id, kind)
    if current is None or user.tenant_id != tenant.id:
        raise InvalidInput(f"{user.email} has no {kind} in force")
    current.withdrawn_at = utcnow()
    session.flush()
    return current


def _current(session: Session, user_id: int, kind: str) -> Objection | None:
    return session.scalar(
        select(Objection).where(Objection.user_id == user_id, Objection.kind == kind, _IN_FORCE)
    )
