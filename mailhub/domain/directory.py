"""Tenants, users and spaces: creating them and finding them, always within a tenant."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from mailhub import i18n
from mailhub.db import rowcount
from mailhub.errors import AlreadyExists, InvalidInput, MailhubError, NotFound
from mailhub.models import Page, Space, SpaceMember, Tenant, User, WebSession, utcnow
from mailhub.progress import Tick, quiet
from mailhub.routing import split_address

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
UNKNOWN_SENDER_POLICIES = ("reject", "moderate")
# Local parts mailhub itself answers at; a space may not take them.
RESERVED_SPACES = frozenset(
    {
        "reply",
        "bounce",
        "unsubscribe",
        "form",
        "notifications",
        "postmaster",
        "abuse",
        "mailer-daemon",
    }
)


def _slug(kind: str, value: str) -> str:
    slug = value.strip().lower()
    if not _SLUG.match(slug):
        raise InvalidInput(f"{kind} {value!r} must be lower-case letters, digits and dashes")
    return slug


def normalize_email(email: str) -> str:
    parts = split_address(email)
    if parts is None:
        raise InvalidInput(f"{email!r} is not an email address")
    return f"{parts[0].lower()}@{parts[1]}"


def add_tenant(session: Session, slug: str, domain: str, name: str = "") -> Tenant:
    slug = _slug("tenant", slug)
    domain = domain.strip().lower().rstrip(".")
    if not _DOMAIN.match(domain):
        raise InvalidInput(f"{domain!r} is not a domain name")
    if session.scalar(select(Tenant).where(Tenant.slug == slug)):
        raise AlreadyExists(f"tenant {slug!r} exists already")
    if session.scalar(select(Tenant).where(Tenant.domain == domain)):
        raise AlreadyExists(f"domain {domain!r} belongs to another tenant")
    tenant = Tenant(slug=slug, domain=domain, name=name or slug)
    session.add(tenant)
    session.flush()
    return tenant


def tenants_named(session: Session, slug: str | None) -> list[Tenant]:
    """The tenant `slug` names (NotFound if none), or every tenant by slug when it is None."""
    if slug:
        return [get_tenant(session, slug)]
    return list(session.scalars(select(Tenant).order_by(Tenant.slug)))


def get_tenant(session: Session, slug: str) -> Tenant:
    tenant = session.scalar(select(Tenant).where(Tenant.slug == slug.lower()))
    if tenant is None:
        raise NotFound(f"no tenant {slug!r}")
    return tenant


def tenant_by_domain(session: Session, domain: str) -> Tenant | None:
    return session.scalar(select(Tenant).where(Tenant.domain == domain.lower().rstrip(".")))


def add_user(session: Session, tenant: Tenant, email: str, name: str, admin: bool = False) -> User:
    email = normalize_email(email)
    if not name.strip():
        raise InvalidInput("a user needs a name")
    existing = user_by_email(session, tenant.id, email)
    if existing is not None and existing.guest:
        # A guest (an outsider whose mail a moderator published) joins: same row, so the
        # pages they wrote stay theirs.
        existing.guest, existing.name, existing.is_admin = False, name.strip(), admin
        existing.active = True
        session.flush()
        return existing
    if existing is not None:
        raise AlreadyExists(f"{email} is already a user of {tenant.slug}")
    user = User(tenant_id=tenant.id, email=email, name=name.strip(), is_admin=admin)
    session.add(user)
    session.flush()
    return user


def user_by_email(session: Session, tenant_id: int, email: str) -> User | None:
    return session.scalar(
        select(User).where(User.tenant_id == tenant_id, User.email == email.strip().lower())
    )


def guest_author(session: Session, tenant: Tenant, email: str, name: str) -> User:
    """The author row for an outsider whose mail a moderator approved (made once per address)."""
    user = user_by_email(session, tenant.id, email)
    if user is not None:
        return user
    user = User(
        tenant_id=tenant.id,
        email=normalize_email(email),
        name=(name.strip() or email)[:200],
        guest=True,
    )
    session.add(user)
    session.flush()
    return user


def set_policy(
    session: Session,
    tenant: Tenant,
    *,
    unknown_senders: str | None = None,
    require_authenticated: bool | None = None,
    apply_dmarc: bool | None = None,
    locale: str | None = None,
    publish_receipts: bool | None = None,
    default_space: str | None = None,
    hourly_cap: int | str | None = None,
    keep_shared_content: bool | None = None,
    inactive_days: int | str | None = None,
) -> Tenant:
    """Change how a tenant treats mail from strangers and unauthenticated mail, its language,
    the space form@ makes forms in, how much mail one person gets in an hour, whether an
    erased person's shared content is kept, and after how many days (0: never) an unused
    account is deleted. The one place these are checked, for the CLI and the admin page.
    Numbers may come as text from a form; either way they must be whole and not negative."""
    if unknown_senders is not None:
        if unknown_senders not in UNKNOWN_SENDER_POLICIES:
            raise InvalidInput(
                f"unknown-senders must be one of {', '.join(UNKNOWN_SENDER_POLICIES)}, "
                f"not {unknown_senders!r}"
            )
        tenant.unknown_senders = unknown_senders
    if require_authenticated is not None:
        tenant.require_authenticated = require_authenticated
    if apply_dmarc is not None:
        tenant.apply_dmarc = apply_dmarc
    if locale is not None:
        tenant.locale = locale_tag(locale)
    if publish_receipts is not None:
        tenant.publish_receipts = publish_receipts
    if default_space is not None:
        tenant.default_space = get_space(session, tenant, default_space).slug
    if hourly_cap is not None:
        tenant.hourly_cap = _count(hourly_cap, "the hourly cap")
    if keep_shared_content is not None:
        tenant.keep_shared_content = keep_shared_content
    if inactive_days is not None:
        tenant.inactive_days = _count(inactive_days, "the days of inactivity") or None
    session.flush()
    return tenant


def _count(value: int | str, what: str) -> int:
    if isinstance(value, str) and not value.strip().isdigit():
        raise InvalidInput(f"{what} must be a number, not {value!r}")
    number = int(value)
    if number < 0:
        raise InvalidInput(f"{what} must be 0 or more, not {number}")
    return number


def set_user(
    session: Session,
    tenant: Tenant,
    email: str,
    *,
    active: bool | None = None,
    admin: bool | None = None,
) -> User:
    """Deactivate or reactivate a member, or make them an administrator or not. Deactivation
    signs them out everywhere at once; they get no mail from then on."""
    user = get_user(session, tenant, email)
    if user.guest:
        raise InvalidInput(f"{user.email} is a guest author, not a member; add them as a user")
    if active is not None:
        user.active = active
        if not active:
            end_sessions_of(session, user.id)
    if admin is not None:
        user.is_admin = admin
    session.flush()
    return user


def locale_tag(value: str) -> str:
    if not i18n.is_locale_tag(value):
        raise InvalidInput(f"{value!r} is not a language tag (such as en, de or fr-CH)")
    return value.strip()


def get_user(session: Session, tenant: Tenant, email: str) -> User:
    user = user_by_email(session, tenant.id, email)
    if user is None:
        raise NotFound(f"no user {email} in {tenant.slug}")
    return user


def add_space(session: Session, tenant: Tenant, slug: str, name: str = "") -> Space:
    slug = _slug("space", slug)
    if slug in RESERVED_SPACES:
        raise InvalidInput(f"{slug!r} is reserved for mailhub's own addresses")
    if space_by_slug(session, tenant.id, slug):
        raise AlreadyExists(f"space {slug!r} exists already in {tenant.slug}")
    space = Space(tenant_id=tenant.id, slug=slug, name=name or slug.replace("-", " ").title())
    session.add(space)
    session.flush()
    return space


def space_by_slug(session: Session, tenant_id: int, slug: str) -> Space | None:
    return session.scalar(
        select(Space).where(Space.tenant_id == tenant_id, Space.slug == slug.lower())
    )


def get_space(session: Session, tenant: Tenant, slug: str) -> Space:
    space = space_by_slug(session, tenant.id, slug)
    if space is None:
        raise NotFound(f"no space {slug!r} in {tenant.slug}")
    return space


# Who may see a space -------------------------------------------------------------------------


def can_see(session: Session, user: User, space: Space) -> bool:
    """Everyone of the tenant sees an open space; a restricted one, its members and the
    tenant's administrators only."""
    if space.tenant_id != user.tenant_id or not user.active:
        return False
    if not space.restricted or user.is_admin:
        return True
    return (
        session.scalar(
            select(SpaceMember.id).where(
                SpaceMember.space_id == space.id, SpaceMember.user_id == user.id
            )
        )
        is not None
    )


def hidden_space_ids(session: Session, tenant: Tenant, user: User) -> set[int]:
    """The tenant's spaces this user may not see: restricted ones they are no member of
    (all of them for someone who is not an active member of the tenant)."""
    spaces = session.scalars(select(Space).where(Space.tenant_id == tenant.id)).all()
    if user.tenant_id != tenant.id or not user.active:
        return {s.id for s in spaces}
    if user.is_admin:
        return set()
    mine = set(session.scalars(select(SpaceMember.space_id).where(SpaceMember.user_id == user.id)))
    return {s.id for s in spaces if s.restricted and s.id not in mine}


def visible_space_ids(session: Session, tenant: Tenant, user: User) -> set[int]:
    every = set(session.scalars(select(Space.id).where(Space.tenant_id == tenant.id)))
    return every - hidden_space_ids(session, tenant, user)


DESCRIPTION_MAX = 1000  # characters of a space's description


def set_space(
    session: Session,
    tenant: Tenant,
    slug: str,
    *,
    restricted: bool | None = None,
    description: str | None = None,
) -> Space:
    space = get_space(session, tenant, slug)
    if restricted is not None:
        space.restricted = restricted
    if description is not None:
        text = " ".join(description.split())
        if len(text) > DESCRIPTION_MAX:
            raise InvalidInput(f"a space's description is at most {DESCRIPTION_MAX} characters")
        space.description = text
    session.flush()
    return space


def add_member(session: Session, tenant: Tenant, slug: str, email: str) -> SpaceMember:
    space, user = get_space(session, tenant, slug), get_user(session, tenant, email)
    row = session.scalar(
        select(SpaceMember).where(SpaceMember.space_id == space.id, SpaceMember.user_id == user.id)
    )
    if row is None:
        row = SpaceMember(tenant_id=tenant.id, space_id=space.id, user_id=user.id)
        session.add(row)
        session.flush()
    return row


def remove_member(session: Session, tenant: Tenant, slug: str, email: str) -> None:
    space, user = get_space(session, tenant, slug), get_user(session, tenant, email)
    session.execute(
        delete(SpaceMember).where(SpaceMember.space_id == space.id, SpaceMember.user_id == user.id)
    )


ACTIVE_PRECISION = timedelta(hours=1)


def mark_active(user: User) -> None:
    """The person signed in or mailed in: their account is in use, any deletion is off.

    Written at most once an hour (inactivity is counted in days): every write locks the user's
    row until the transaction ends, and the worker processes handling one busy author's mail at
    once would otherwise wait for each other's whole transactions.
    """
    now = utcnow()
    if user.last_active_at is None or now - user.last_active_at >= ACTIVE_PRECISION:
        user.last_active_at = now
    if user.deletion_due_at is not None:
        user.deletion_due_at = None
    if user.inactivity_warned is not None:
        user.inactivity_warned = None


def end_sessions_of(session: Session, user_id: int) -> int:
    """Sign a user out everywhere (deactivation, erasure)."""
    result = session.execute(delete(WebSession).where(WebSession.user_id == user_id))
    return rowcount(result)


def import_users(
    session: Session, tenant: Tenant, text: str, tick: Tick = quiet
) -> tuple[list[User], list[str]]:
    """Rows of email,name[,admin][,locale] (a header row is allowed), all or nothing: the users
    added, and the addresses skipped because they are members already."""
    added: list[User] = []
    skipped: list[str] = []
    for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        tick(1)
        if not row or not any(cell.strip() for cell in row):
            continue
        if number == 1 and row[0].strip().lower() == "email":
            continue
        if not 2 <= len(row) <= 4:
            raise InvalidInput(f"line {number}: expected email,name[,admin][,locale]")
        email, name, admin, locale = ([cell.strip() for cell in row] + ["", ""])[:4]
        if admin.lower() not in ("", "yes", "no", "admin", "true", "false"):
            raise InvalidInput(f"line {number}: admin is yes or no, not {admin!r}")
        try:
            existing = user_by_email(session, tenant.id, normalize_email(email))
            if existing is not None and not existing.guest:
                skipped.append(existing.email)
                continue
            user = add_user(
                session, tenant, email, name, admin=admin.lower() in ("yes", "admin", "true")
            )
            if locale:
                user.locale = locale_tag(locale)
        except MailhubError as exc:
            raise InvalidInput(f"line {number}: {exc}") from None
        added.append(user)
    return added, skipped


# Listings (the CLI's `tenant list`, `user list`, `space list`) --------------------------------


def tenants(session: Session) -> list[dict[str, object]]:
    """Every tenant with its numbers of members and spaces, by slug."""
    members = (
        select(User.tenant_id, func.count().label("n"))
        .where(~User.guest)
        .group_by(User.tenant_id)
        .subquery()
    )
    spaces = select(Space.tenant_id, func.count().label("n")).group_by(Space.tenant_id).subquery()
    rows = session.execute(
        select(Tenant, members.c.n, spaces.c.n)
        .outerjoin(members, members.c.tenant_id == Tenant.id)
        .outerjoin(spaces, spaces.c.tenant_id == Tenant.id)
        .order_by(Tenant.slug)
    ).all()
    return [
        {
            "slug": t.slug,
            "name": t.name,
            "domain": t.domain,
            "locale": t.locale,
            "members": n_members or 0,
            "spaces": n_spaces or 0,
        }
        for t, n_members, n_spaces in rows
    ]


def users(session: Session, tenant: Tenant, limit: int, offset: int = 0) -> list[dict[str, object]]:
    """A tenant's people by address, `limit` from `offset`: members, then guest authors."""
    found = session.scalars(
        select(User)
        .where(User.tenant_id == tenant.id)
        .order_by(User.guest, User.email)
        .offset(offset)
        .limit(limit)
    )
    return [
        {
            "email": u.email,
            "name": u.name,
            "admin": u.is_admin,
            "active": u.active,
            "guest": u.guest,
            "locale": u.locale,
            "last_active_at": u.last_active_at,
        }
        for u in found
    ]


def spaces(session: Session, tenant: Tenant) -> list[dict[str, object]]:
    """A tenant's spaces by slug, with the address to mail and their page counts."""
    pages = select(Page.space_id, func.count().label("n")).group_by(Page.space_id).subquery()
    rows = session.execute(
        select(Space, pages.c.n)
        .outerjoin(pages, pages.c.space_id == Space.id)
        .where(Space.tenant_id == tenant.id)
        .order_by(Space.slug)
    ).all()
    return [
        {
            "slug": s.slug,
            "name": s.name,
            "address": f"{s.slug}@{tenant.domain}",
            "restricted": s.restricted,
            "pages": n or 0,
            "description": s.description,
        }
        for s, n in rows
    ]
