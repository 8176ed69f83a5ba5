"""The one recipient resolver: who hears about an event, how soon, and why.

Every event (a page created or edited, a comment added) comes through `resolve`. For each
member of the tenant it applies that person's effective preference (domain/preferences.py) and
the rules of the levels: watching hears of every change; normal hears of pages they wrote,
threads they took part in, and mentions; muted hears nothing. Left out always: the person who
acted, guests, deactivated users, objectors (GDPR Art. 21) and addresses that bounce.

Members are read in pages of BATCH by id, so resolving for 10,000 watchers holds one page of
rows at a time. When no default makes everyone a watcher, only people with a subscription to
the space or page, or who are involved, are read at all.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session, aliased

from mailhub.content.mentions import mentions_in
from mailhub.domain.objections import objected
from mailhub.domain.preferences import Choice, defaults_for
from mailhub.domain.preferences import resolve as resolve_preference
from mailhub.i18n import N_
from mailhub.models import (
    Comment,
    Frequency,
    Level,
    Notification,
    NotificationKind,
    Page,
    Space,
    SpaceMember,
    SubjectKind,
    Subscription,
    Suppression,
    Tenant,
    User,
)

BATCH = 2000
# Events about something new: nobody took part in it yet.
_NEW = frozenset({NotificationKind.PAGE_CREATED, NotificationKind.FORM_INVITATION})

# Why a person gets a mail, by code: the English text is the catalog key (templates/locales).
REASONS = {
    "mention": N_("{actor} mentioned you"),
    "author": N_("you wrote this page"),
    "participant": N_("you commented on this page"),
    "watching_page": N_("you watch this page"),
    "watching_space": N_("you watch the {space} space"),
    "space_default": N_("an administrator set everyone to watch the {space} space"),
    "tenant_default": N_("an administrator set everyone in {tenant} to watch every space"),
}
_BY_SOURCE = {
    "page": "watching_page",
    "space": "watching_space",
    "space-default": "space_default",
    "tenant-default": "tenant_default",
}


@dataclass(frozen=True)
class Event:
    kind: NotificationKind  # page_created, page_edited, comment_added or form_invitation
    tenant: Tenant
    space: Space
    page: Page
    actor_id: int
    actor_name: str
    text: str  # the new content, read for mentions


@dataclass(frozen=True)
class Recipient:
    user_id: int
    email: str
    reason_code: str
    reason: str  # English, for the X-Mailhub-Reason header and the log
    params: dict[str, str] = field(hash=False)
    # The subject whose setting sent this: what "unsubscribe" in this mail turns off.
    setting: tuple[str, int] = (SubjectKind.PAGE, 0)
    frequency: Frequency = Frequency.IMMEDIATELY
    mandatory: bool = False


def mentioned_ids(session: Session, tenant_id: int, text: str) -> set[int]:
    handles, addresses = mentions_in(text)
    if not handles and not addresses:
        return set()
    conditions = [User.email.startswith(f"{h}@", autoescape=True) for h in handles]
    if addresses:
        conditions.append(User.email.in_(addresses))
    return set(
        session.scalars(select(User.id).where(User.tenant_id == tenant_id, or_(*conditions)))
    )


def involved_ids(session: Session, page: Page) -> set[int]:
    """Who took part in a page's thread: its author and everyone who commented."""
    commenters = session.scalars(select(Comment.author_id).where(Comment.page_id == page.id))
    return {page.author_id, *commenters}


def resolve(session: Session, event: Event) -> Iterator[Recipient]:
    tenant, space, page = event.tenant, event.space, event.page
    space_default, tenant_default = defaults_for(session, tenant.id, space.id)
    mentioned = mentioned_ids(session, tenant.id, event.text)
    involved = involved_ids(session, page) if event.kind not in _NEW else set()
    own_page, own_space = aliased(Subscription), aliased(Subscription)
    query = (
        select(
            User.id,
            User.email,
            own_page.level,
            own_page.frequency,
            own_space.level,
            own_space.frequency,
        )
        .outerjoin(
            own_page,
            and_(
                own_page.user_id == User.id,
                own_page.subject_kind == SubjectKind.PAGE,
                own_page.subject_id == page.id,
            ),
        )
        .outerjoin(
            own_space,
            and_(
                own_space.user_id == User.id,
                own_space.subject_kind == SubjectKind.SPACE,
                own_space.subject_id == space.id,
            ),
        )
        .where(
            User.tenant_id == tenant.id,
            User.active,
            ~User.guest,
            User.id != event.actor_id,
            ~objected(User.id),
            ~exists().where(
                Suppression.tenant_id == tenant.id,
                Suppression.address == User.email,
                Suppression.suppressed,
            ),
        )
    )
    if space.restricted:  # only its members and the administrators hear of it
        query = query.where(
            or_(
                User.is_admin,
                exists().where(SpaceMember.space_id == space.id, SpaceMember.user_id == User.id),
            )
        )
    broad = any(
        d is not None and d.level == Level.WATCHING for d in (space_default, tenant_default)
    )
    if not broad:  # only people with a say in it, or involved, can hear of it
        query = query.where(
            or_(
                own_page.id.is_not(None),
                own_space.id.is_not(None),
                User.id.in_(mentioned | involved),
            )
        )
    params = {"actor": event.actor_name, "space": space.name, "tenant": tenant.name}
    last = 0
    while True:
        rows = session.execute(query.where(User.id > last).order_by(User.id).limit(BATCH)).all()
        if not rows:
            return
        last = rows[-1][0]
        for user_id, email, p_level, p_freq, s_level, s_freq in rows:
            eff = resolve_preference(
                Choice(p_level, p_freq), Choice(s_level, s_freq), space_default, tenant_default
            )
            if eff.level == Level.MUTED or eff.frequency == Frequency.NEVER:
                continue
            if user_id in mentioned:
                code = "mention"
            elif event.kind not in _NEW and user_id == page.author_id:
                code = "author"
            elif user_id in involved:
                code = "participant"
            elif eff.level == Level.WATCHING:
                code = _BY_SOURCE[eff.source]
            else:
                continue
            setting = (
                (SubjectKind.SPACE, space.id)
                if code in ("watching_space", "space_default", "tenant_default")
                else (SubjectKind.PAGE, page.id)
            )
            yield Recipient(
                user_id,
                email,
                code,
                REASONS[code].format(**params),
                params,
                setting,
                eff.frequency,
                eff.mandatory,
            )


def preview(
    session: Session, tenant: Tenant, space: Space, author: User, text: str = ""
) -> Counter[str]:
    """Who a new page by `author` in `space` would reach, by frequency ("immediately",
    "daily", …), before it exists: what an author sees before publishing. Nothing is written."""
    draft = Page(id=0, tenant_id=tenant.id, space_id=space.id, author_id=author.id, title="")
    event = Event(NotificationKind.PAGE_CREATED, tenant, space, draft, author.id, author.name, text)
    return Counter(str(r.frequency) for r in resolve(session, event))


def preview_edit(
    session: Session, tenant: Tenant, space: Space, page: Page, editor: User, text: str = ""
) -> Counter[str]:
    """Who an edit of `page` by `editor` would reach, by frequency, before it is saved."""
    event = Event(NotificationKind.PAGE_EDITED, tenant, space, page, editor.id, editor.name, text)
    return Counter(str(r.frequency) for r in resolve(session, event))


def over_hourly_cap(session: Session, tenant_id: int, cap: int, since: object) -> set[int]:
    """Users who got `cap` or more immediate mails since `since`: the rest waits for a digest."""
    if cap <= 0:
        return set()
    return set(
        session.scalars(
            select(Notification.user_id)
            .where(
                Notification.tenant_id == tenant_id,
                Notification.created_at >= since,
                Notification.kind.in_(
                    [
                        NotificationKind.PAGE_CREATED,
                        NotificationKind.PAGE_EDITED,
                        NotificationKind.COMMENT_ADDED,
                        NotificationKind.FORM_INVITATION,
                        NotificationKind.FORM_ANSWERED,
                    ]
                ),
            )
            .group_by(Notification.user_id)
            .having(func.count() >= cap)
        )
    )
