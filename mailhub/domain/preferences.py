"""Preferences: what each person hears about and how often, and the admin defaults behind them.

Resolution, for a user and a page in a space, one value at a time (level, then frequency):
the user's choice for the page → the user's choice for the space → the space's default → the
tenant's default → the system default (normal, immediately). A mandatory default is a floor:
a user may watch more or change how often, but not mute it or choose "never"; trying to is
refused with a message that says why (Knock's and Novu's "required" channels work the same).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from enum import Enum
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailhub.domain.directory import get_space, get_user
from mailhub.errors import InvalidInput, MailhubError, NotFound
from mailhub.models import (
    Form,
    Frequency,
    Level,
    Page,
    Space,
    SubjectKind,
    Subscription,
    SubscriptionDefault,
    Tenant,
    User,
    utcnow,
)
from mailhub.progress import Tick, quiet

SYSTEM_LEVEL = Level.NORMAL
SYSTEM_FREQUENCY = Frequency.IMMEDIATELY
_RANK = {Level.MUTED: 0, Level.NORMAL: 1, Level.WATCHING: 2}


class Unchanged(Enum):
    """A setting not given: it keeps what it was (None would make it inherit)."""

    KEEP = "keep"


KEEP = Unchanged.KEEP
E = TypeVar("E", Level, Frequency)


class PreferenceRefused(MailhubError):
    """A change the tenant's administrators do not allow (lowering a mandatory subject)."""


@dataclass(frozen=True)
class Choice:
    """A level and a frequency, either of which may be left to inherit (None)."""

    level: str | None = None
    frequency: str | None = None
    mandatory: bool = False


@dataclass(frozen=True)
class Effective:
    level: Level
    frequency: Frequency
    # Where the level came from: "page", "space", "space-default", "tenant-default", "system".
    source: str
    mandatory: bool


def resolve(
    page: Choice | None,
    space: Choice | None,
    space_default: Choice | None,
    tenant_default: Choice | None,
) -> Effective:
    """The effective setting from the chain user page → user space → space → tenant → system."""
    chain = (
        ("page", page),
        ("space", space),
        ("space-default", space_default),
        ("tenant-default", tenant_default),
    )
    level, source = SYSTEM_LEVEL, "system"
    for name, choice in chain:
        if choice is not None and choice.level is not None:
            level, source = Level(choice.level), name
            break
    frequency = next(
        (Frequency(c.frequency) for _, c in chain if c is not None and c.frequency is not None),
        SYSTEM_FREQUENCY,
    )
    floor = next(
        (c for c in (space_default, tenant_default) if c is not None and c.mandatory), None
    )
    if floor is None:
        return Effective(level, frequency, source, False)
    floor_level = Level(floor.level or SYSTEM_LEVEL)
    if _RANK[level] < _RANK[floor_level]:
        level, source = (
            floor_level,
            ("space-default" if floor is space_default else "tenant-default"),
        )
    if frequency == Frequency.NEVER:
        frequency = Frequency(floor.frequency or SYSTEM_FREQUENCY)
        if frequency == Frequency.NEVER:
            frequency = SYSTEM_FREQUENCY
    return Effective(level, frequency, source, True)


# Reading --------------------------------------------------------------------------------------


def defaults_for(
    session: Session, tenant_id: int, space_id: int
) -> tuple[Choice | None, Choice | None]:
    """(the space's default, the tenant's default)."""
    rows = session.scalars(
        select(SubscriptionDefault).where(
            SubscriptionDefault.tenant_id == tenant_id,
            (
                (SubscriptionDefault.subject_kind == SubjectKind.SPACE)
                & (SubscriptionDefault.subject_id == space_id)
            )
            | (SubscriptionDefault.subject_kind == SubjectKind.TENANT),
        )
    )
    found: dict[str, Choice] = {
        d.subject_kind: Choice(d.level, d.frequency, d.mandatory) for d in rows
    }
    return found.get(SubjectKind.SPACE), found.get(SubjectKind.TENANT)


def _own(session: Session, user_id: int, kind: SubjectKind, subject_id: int) -> Subscription | None:
    return session.scalar(
        select(Subscription).where(
            Subscription.user_id == user_id,
            Subscription.subject_kind == kind,
            Subscription.subject_id == subject_id,
        )
    )


def _choice(sub: Subscription | None) -> Choice | None:
    return Choice(sub.level, sub.frequency) if sub is not None else None


def effective_for(
    session: Session, user: User, space: Space, subject: tuple[SubjectKind, int] | None = None
) -> Effective:
    """A user's setting for a space, or for one page or form in it (`subject`)."""
    space_default, tenant_default = defaults_for(session, user.tenant_id, space.id)
    own = _choice(_own(session, user.id, *subject)) if subject else None
    return resolve(
        own,
        _choice(_own(session, user.id, SubjectKind.SPACE, space.id)),
        space_default,
        tenant_default,
    )


# Changing ------------------------------------------------------------------------------------


def parse_level(value: str | None) -> Level | None:
    if value in (None, "", "inherit"):
        return None
    try:
        return Level(value.strip().lower())
    except ValueError:
        raise InvalidInput(f"level must be watching, normal or muted, not {value!r}") from None


def parse_frequency(value: str | None) -> Frequency | None:
    if value in (None, "", "inherit"):
        return None
    try:
        return Frequency(value.strip().lower())
    except ValueError:
        raise InvalidInput(
            f"frequency must be immediately, hourly, daily, weekly or never, not {value!r}"
        ) from None


def subscribe(
    session: Session,
    tenant: Tenant,
    user: User,
    kind: SubjectKind,
    subject_id: int,
    level: Level | None | Unchanged,
    frequency: Frequency | None | Unchanged,
) -> Subscription:
    """Set one user's choice for one subject (None inherits, KEEP leaves it as it was);
    refused below a mandatory floor."""
    if user.tenant_id != tenant.id:
        raise NotFound("the user does not belong to this tenant")
    space_id = _space_of(session, tenant, kind, subject_id)
    sub = _own(session, user.id, kind, subject_id)
    level = _kept(level, Level, sub.level if sub is not None else None)
    frequency = _kept(frequency, Frequency, sub.frequency if sub is not None else None)
    space_default, tenant_default = defaults_for(session, tenant.id, space_id)
    floor = next((c for c in (space_default, tenant_default) if c and c.mandatory), None)
    if floor is not None:
        floor_level = Level(floor.level or SYSTEM_LEVEL)
        if (
            level is not None and _RANK[level] < _RANK[floor_level]
        ) or frequency == Frequency.NEVER:
            space = session.get_one(Space, space_id)
            raise PreferenceRefused(
                f"mail about {space.name} is mandatory in {tenant.name}: an administrator "
                f"decided everyone gets it, so it cannot be muted or turned off"
            )
    if sub is None:
        sub = Subscription(
            tenant_id=tenant.id, user_id=user.id, subject_kind=kind, subject_id=subject_id
        )
        session.add(sub)
    sub.level, sub.frequency, sub.updated_at = level, frequency, utcnow()
    session.flush()
    return sub


def _kept(value: E | None | Unchanged, kind: type[E], stored: str | None) -> E | None:
    """`value`, or for KEEP what is stored (None: it inherits)."""
    if value is KEEP:
        return kind(stored) if stored else None
    return value


def follow(session: Session, tenant: Tenant, user: User, space: Space) -> Subscription:
    """Watch a space: hear about every new page and change in it (as often as chosen)."""
    return subscribe(session, tenant, user, SubjectKind.SPACE, space.id, Level.WATCHING, KEEP)


def mute_all(session: Session, tenant: Tenant, user: User) -> list[str]:
    """Mute every space that is not mandatory; return the names of the mandatory ones kept."""
    kept = []
    for space in session.scalars(select(Space).where(Space.tenant_id == tenant.id)):
        try:
            subscribe(session, tenant, user, SubjectKind.SPACE, space.id, Level.MUTED, None)
        except PreferenceRefused:
            kept.append(space.name)
    return kept


def set_default(
    session: Session,
    tenant: Tenant,
    space: Space | None,
    level: Level | None | Unchanged,
    frequency: Frequency | None | Unchanged,
    mandatory: bool | Unchanged = False,
) -> SubscriptionDefault:
    """Set the default for a space, or (no space) for every space of the tenant; what is
    KEEP stays as it was."""
    if space is not None and space.tenant_id != tenant.id:
        raise NotFound("the space does not belong to this tenant")
    kind, subject_id = (
        (SubjectKind.SPACE, space.id) if space is not None else (SubjectKind.TENANT, tenant.id)
    )
    row = session.scalar(
        select(SubscriptionDefault).where(
            SubscriptionDefault.tenant_id == tenant.id,
            SubscriptionDefault.subject_kind == kind,
            SubscriptionDefault.subject_id == subject_id,
        )
    )
    level = _kept(level, Level, row.level if row is not None else None)
    frequency = _kept(frequency, Frequency, row.frequency if row is not None else None)
    if mandatory is KEEP:
        mandatory = row is not None and row.mandatory
    if mandatory and (level == Level.MUTED or frequency == Frequency.NEVER):
        raise InvalidInput("a mandatory default cannot be muted or never")
    if row is None:
        row = SubscriptionDefault(tenant_id=tenant.id, subject_kind=kind, subject_id=subject_id)
        session.add(row)
    row.level, row.frequency, row.mandatory, row.updated_at = level, frequency, mandatory, utcnow()
    session.flush()
    return row


def _space_of(session: Session, tenant: Tenant, kind: SubjectKind, subject_id: int) -> int:
    if kind == SubjectKind.SPACE:
        space = session.get(Space, subject_id)
        if space is None or space.tenant_id != tenant.id:
            raise NotFound(f"no space {subject_id} in {tenant.slug}")
        return space.id
    if kind == SubjectKind.PAGE:
        page = session.get(Page, subject_id)
        if page is None or page.tenant_id != tenant.id:
            raise NotFound(f"no page {subject_id} in {tenant.slug}")
        return page.space_id
    if kind == SubjectKind.FORM:  # its owner's answers
        form = session.get(Form, subject_id)
        if form is None or form.tenant_id != tenant.id:
            raise NotFound(f"no form {subject_id} in {tenant.slug}")
        return form.space_id
    raise InvalidInput(f"cannot subscribe to a {kind}")


# Showing and importing ----------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    space: str
    level: str
    frequency: str
    source: str
    mandatory: bool


def overview(session: Session, tenant: Tenant, user: User) -> list[Row]:
    """The effective setting for every space of the tenant, with where it comes from."""
    return [
        Row(space.slug, e.level, e.frequency, e.source, e.mandatory)
        for space in session.scalars(
            select(Space).where(Space.tenant_id == tenant.id).order_by(Space.slug)
        )
        for e in (effective_for(session, user, space),)
    ]


def import_csv(session: Session, tenant: Tenant, text: str, tick: Tick = quiet) -> int:
    """Rows of email,space,level,frequency (a header row is allowed); all or nothing."""
    count = 0
    for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        tick(1)
        if not row or not any(cell.strip() for cell in row):
            continue
        if number == 1 and row[0].strip().lower() == "email":
            continue
        if len(row) != 4:
            raise InvalidInput(f"line {number}: expected email,space,level,frequency")
        email, slug, level, frequency = (cell.strip() for cell in row)
        try:
            user = get_user(session, tenant, email)
            space = get_space(session, tenant, slug)
            subscribe(
                session,
                tenant,
                user,
                SubjectKind.SPACE,
                space.id,
                parse_level(level),
                parse_frequency(frequency),
            )
        except MailhubError as exc:
            raise InvalidInput(f"line {number}: {exc}") from None
        count += 1
    return count
