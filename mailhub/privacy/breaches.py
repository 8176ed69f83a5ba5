"""Personal data breaches (GDPR Art. 33 and 34): a register entry with the 72-hour deadline
for telling the supervisory authority, and a notice to every person affected.

Who is affected is decided by the data map: the categories the breach touched (as the map
names them: "content", "account", "form answers", …) and its time window select every user
with data of those categories written during the window (what was processed while the leak
was open); for the "account" category, every account that existed by its end. The notice is sent whatever their preferences or
objection say (the law requires it), never to an address that bounces hard, and once per
person however often `notify` runs.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailhub.errors import InvalidInput, NotFound
from mailhub.models import Base, Breach, Notification, NotificationKind, Tenant, User, utcnow
from mailhub.outbound.events import owe
from mailhub.privacy import datamap
from mailhub.privacy.report import subject_column

DEADLINE = timedelta(hours=72)
TIME_COLUMNS = ("created_at", "received_at", "updated_at")


def categories() -> set[str]:
    """Every category of personal data the data map names."""
    return {
        meta["category"]
        for entry in datamap.load()["tables"].values()
        for meta in entry["columns"].values()
        if meta.get("personal") and meta.get("category")
    }


def record(
    session: Session,
    tenant: Tenant,
    aware_at: datetime,
    window_from: datetime,
    window_to: datetime,
    kinds: list[str],
    description: str,
) -> Breach:
    unknown = sorted(set(kinds) - categories())
    if not kinds or unknown:
        raise InvalidInput(
            f"categories must be among {', '.join(sorted(categories()))}; not {', '.join(unknown) or 'none'}"
        )
    if window_from > window_to:
        raise InvalidInput("the window ends before it starts")
    if not description.strip():
        raise InvalidInput("say what happened: the notice tells the people affected")
    breach = Breach(
        tenant_id=tenant.id,
        aware_at=aware_at,
        deadline_at=aware_at + DEADLINE,
        window_from=window_from,
        window_to=window_to,
        categories=sorted(set(kinds)),
        description=description.strip(),
    )
    session.add(breach)
    session.flush()
    return breach


def affected(session: Session, tenant: Tenant, breach: Breach) -> set[int]:
    """Users who had data of the breach's categories stored during its window."""
    chosen = set(breach.categories)
    users: set[int] = set()
    for name, entry in datamap.load()["tables"].items():
        table = Base.metadata.tables.get(name)
        if table is None:
            continue
        touched = any(
            meta.get("personal") and meta.get("category") in chosen
            for meta in entry["columns"].values()
        )
        how = subject_column(table, entry.get("subject"))
        time = next((c for c in TIME_COLUMNS if c in table.c), None)
        if not touched or how is None or how[1] != "id" or time is None:
            continue
        column = table.c[how[0]]
        query = select(column).distinct().where(table.c[time] <= breach.window_to)
        if name != "users":  # an account exists from its creation on; other rows at a moment
            query = query.where(table.c[time] >= breach.window_from)
        if "tenant_id" in table.c:
            query = query.where(table.c.tenant_id == tenant.id)
        users |= {u for u in session.scalars(query) if u is not None}
    return users


def notify(session: Session, tenant: Tenant, breach_id: int) -> list[int]:
    """Queue a notice to each person affected who has not had one; return the new ones."""
    breach = session.get(Breach, breach_id)
    if breach is None or breach.tenant_id != tenant.id:
        raise NotFound(f"no breach {breach_id} in {tenant.slug}")
    ids = []
    people = sorted(affected(session, tenant, breach))
    for user in session.scalars(
        select(User).where(User.id.in_(people), User.tenant_id == tenant.id, ~User.guest)
    ):
        key = f"breach:{breach.id}:user:{user.id}"
        if session.scalar(select(Notification.id).where(Notification.event_key == key)):
            continue
        ids.append(
            owe(
                session,
                user,
                kind=NotificationKind.BREACH_NOTICE,
                event_key=key,
                reason="the law requires telling you about a breach that affected your data",
                context={"breach_id": breach.id},
                message_id=f"<{tenant.slug}/breaches/{breach.id}/{user.id}@{tenant.domain}>",
            )
        )
    breach.notified_at, breach.affected = utcnow(), len(people)
    return ids


def listing(session: Session, tenant: Tenant) -> list[Breach]:
    return list(
        session.scalars(select(Breach).where(Breach.tenant_id == tenant.id).order_by(Breach.id))
    )
