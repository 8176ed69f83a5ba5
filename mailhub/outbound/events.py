"""Turning something that happened into what mailhub owes each person: a notification row to
send now, or a digest item to send later.

Rows are written in the same transaction as the content, so an event is never lost between
the two, and their unique event keys make handling an event twice harmless. They are inserted
in batches as the resolver streams recipients, so a space with 10,000 watchers never holds
10,000 objects at once.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from mailhub.domain.objections import objected
from mailhub.domain.preferences import effective_for
from mailhub.models import (
    Comment,
    DigestItem,
    Form,
    FormResponse,
    Frequency,
    Level,
    Notification,
    NotificationKind,
    Page,
    Revision,
    Space,
    SubjectKind,
    Tenant,
    User,
    utcnow,
)
from mailhub.outbound import recipients
from mailhub.outbound.contexts import (
    Audience,
    Context,
    FormCreated,
    Moderation,
    Rejection,
    Subscribed,
)
from mailhub.outbound.recipients import Event

BATCH = 1000


@dataclass
class Fanout:
    """What an event became: notifications to send now, and how many wait for which digest."""

    ids: list[int] = field(default_factory=list)
    later: Counter[str] = field(default_factory=Counter)


def owe(
    session: Session,
    user: User,
    kind: NotificationKind,
    event_key: str,
    reason: str,
    context: Context,
    message_id: str,
    **about: int,
) -> int:
    """One mail owed to one person, as a row (sent once the caller's transaction commits);
    `about` names its page, form or inbound message. Returns the row's id."""
    row = Notification(
        tenant_id=user.tenant_id,
        kind=kind,
        event_key=event_key,
        to_addr=user.email,
        user_id=user.id,
        reason=reason,
        context=dict(context),
        message_id=message_id,
        **about,
    )
    session.add(row)
    session.flush()
    return row.id


def thread_id(tenant: Tenant, page_id: int) -> str:
    """The Message-ID every mail about a page refers to, so clients thread them (as GitHub does)."""
    return f"<{tenant.slug}/pages/{page_id}@{tenant.domain}>"


def page_created(
    session: Session, tenant: Tenant, page: Page, space: Space, author: User, text: str
) -> Fanout:
    event = Event(NotificationKind.PAGE_CREATED, tenant, space, page, author.id, author.name, text)
    return _record(session, event, f"page:{page.id}:created", thread_id(tenant, page.id))


def receipt(
    session: Session, tenant: Tenant, page: Page, author: User, fanout: Fanout
) -> int | None:
    """Tell the author of a page made by mail that it is published and who hears of it."""
    if not tenant.publish_receipts or author.guest or not author.active:
        return None
    return owe(
        session,
        author,
        kind=NotificationKind.RECEIPT,
        event_key=f"page:{page.id}:receipt",
        reason="you published this page by email",
        context={"now": len(fanout.ids), "later": dict(fanout.later)},
        message_id=f"<{tenant.slug}/pages/{page.id}/receipt@{tenant.domain}>",
        page_id=page.id,
    )


def page_edited(
    session: Session, tenant: Tenant, page: Page, space: Space, revision: Revision, editor: User
) -> Fanout:
    event = Event(
        NotificationKind.PAGE_EDITED,
        tenant,
        space,
        page,
        editor.id,
        editor.name,
        revision.body_text,
    )
    message_id = f"<{tenant.slug}/pages/{page.id}/revisions/{revision.number}@{tenant.domain}>"
    return _record(session, event, f"revision:{revision.id}", message_id, revision_id=revision.id)


def comment_added(
    session: Session, tenant: Tenant, page: Page, space: Space, comment: Comment, author: User
) -> Fanout:
    event = Event(
        NotificationKind.COMMENT_ADDED,
        tenant,
        space,
        page,
        author.id,
        author.name,
        comment.body_text,
    )
    message_id = f"<{tenant.slug}/pages/{page.id}/comments/{comment.id}@{tenant.domain}>"
    return _record(session, event, f"comment:{comment.id}:added", message_id, comment_id=comment.id)


def _record(
    session: Session,
    event: Event,
    key: str,
    message_id: str,
    comment_id: int | None = None,
    revision_id: int | None = None,
    form_id: int | None = None,
) -> Fanout:
    """Write what each recipient is owed: notifications to send now, digest items for later.
    A form's event is about the form, not a page: its page settings become the form's."""
    tenant = event.tenant
    capped = recipients.over_hourly_cap(
        session, tenant.id, tenant.hourly_cap, utcnow() - timedelta(hours=1)
    )
    now: list[dict[str, Any]] = []
    later: list[dict[str, Any]] = []
    out = Fanout()
    for r in recipients.resolve(session, event):
        frequency = r.frequency
        if frequency == Frequency.IMMEDIATELY and r.user_id in capped:
            frequency = Frequency.HOURLY  # over the cap: folded into the next hourly digest
        common = {
            "tenant_id": tenant.id,
            "event_key": f"{key}:user:{r.user_id}",
            "kind": event.kind.value,
            "user_id": r.user_id,
            "page_id": None if form_id else event.page.id,
            "form_id": form_id,
            "comment_id": comment_id,
            "reason": r.reason,
        }
        if frequency == Frequency.IMMEDIATELY:
            now.append(
                common
                | {
                    "to_addr": r.email,
                    "revision_id": revision_id,
                    "message_id": message_id,
                    "context": Subscribed(
                        reason_code=r.reason_code,
                        params=r.params,
                        setting=[SubjectKind.FORM.value, form_id]
                        if form_id and r.setting[0] == SubjectKind.PAGE
                        else list(r.setting),
                        mandatory=r.mandatory,
                    ),
                }
            )
        else:
            later.append(common | {"frequency": frequency.value, "space_id": event.space.id})
            out.later[frequency.value] += 1
        if len(now) >= BATCH:
            out.ids += _insert_notifications(session, now)
            now = []
        if len(later) >= BATCH:
            session.execute(insert(DigestItem), later)
            later = []
    if now:
        out.ids += _insert_notifications(session, now)
    if later:
        session.execute(insert(DigestItem), later)
    return out


def _insert_notifications(session: Session, rows: list[dict[str, Any]]) -> list[int]:
    if not rows:
        return []
    if session.get_bind().dialect.name != "postgresql":
        return list(session.scalars(insert(Notification).returning(Notification.id), rows))
    # A thousand-row INSERT … RETURNING is one statement psycopg rewrites with a regular
    # expression each time (two thirds of a 10,000-watcher fan-out's first stage); with the ids
    # taken from the sequence first, the rows go as one prepared statement, pipelined.
    ids = list(session.scalars(_NEXT_IDS, {"n": len(rows)}))
    session.execute(insert(Notification), [{**r, "id": i} for r, i in zip(rows, ids, strict=True)])
    return ids


_NEXT_IDS = text(
    "SELECT nextval(pg_get_serial_sequence('notifications', 'id')) FROM generate_series(1, :n)"
)


def form_thread(tenant: Tenant, form_id: int) -> str:
    """The Message-ID every mail about a form refers to."""
    return f"<{tenant.slug}/forms/{form_id}@{tenant.domain}>"


def form_created(
    session: Session,
    tenant: Tenant,
    form: Form,
    author: User,
    lines: list[str],
    number: int = 1,
    invited: Fanout | None = None,
) -> int:
    """Tell the creator of a form made by mail (or of its corrected version) where it is and
    how each line was read."""
    created = FormCreated(lines=lines, version=number)
    if invited:
        created["invited"] = Audience(now=len(invited.ids), later=dict(invited.later))
    return owe(
        session,
        author,
        kind=NotificationKind.FORM_CREATED,
        event_key=f"form:{form.id}:created:confirmation"
        if number == 1
        else f"form:{form.id}:version:{number}:confirmation",
        reason="you created this form by email",
        context=created,
        message_id=form_thread(tenant, form.id)
        if number == 1
        else f"<{tenant.slug}/forms/{form.id}/versions/{number}@{tenant.domain}>",
        form_id=form.id,
    )


def form_invitation(
    session: Session, tenant: Tenant, form: Form, space: Space, creator: User, text: str
) -> Fanout:
    """Invite whoever hears of new things in the form's space to answer it, as a new page would
    reach them: now, or in their digest."""
    draft = Page(id=0, tenant_id=tenant.id, space_id=space.id, author_id=creator.id, title="")
    event = Event(
        NotificationKind.FORM_INVITATION, tenant, space, draft, creator.id, creator.name, text
    )
    message_id = f"<{tenant.slug}/forms/{form.id}/invitation@{tenant.domain}>"
    return _record(session, event, f"form:{form.id}:invited", message_id, form_id=form.id)


def form_answered(
    session: Session, tenant: Tenant, form: Form, response: FormResponse, respondent: User
) -> list[int]:
    """Tell the form's owner of an answer, as their preference for the form (or its space)
    says: now, in a digest, or not at all."""
    owner = session.get(User, form.creator_id)
    if owner is None or owner.id == respondent.id or not owner.active or owner.guest:
        return []
    if session.scalar(select(User.id).where(User.id == owner.id, ~objected(User.id))) is None:
        return []
    space = session.get_one(Space, form.space_id)
    eff = effective_for(session, owner, space, (SubjectKind.FORM, form.id))
    if eff.level == Level.MUTED or eff.frequency == Frequency.NEVER:
        return []
    frequency = eff.frequency
    capped = recipients.over_hourly_cap(
        session, tenant.id, tenant.hourly_cap, utcnow() - timedelta(hours=1)
    )
    if frequency == Frequency.IMMEDIATELY and owner.id in capped:
        frequency = Frequency.HOURLY
    stamp = f"{response.id}:{response.updated_at:%Y%m%d%H%M%S%f}"
    key = f"form:{form.id}:response:{stamp}"
    reason = "you created this form"
    if frequency != Frequency.IMMEDIATELY:
        session.add(
            DigestItem(
                tenant_id=tenant.id,
                user_id=owner.id,
                frequency=frequency.value,
                event_key=key,
                kind=NotificationKind.FORM_ANSWERED,
                space_id=form.space_id,
                form_id=form.id,
                reason=reason,
            )
        )
        session.flush()
        return []
    return [
        owe(
            session,
            owner,
            kind=NotificationKind.FORM_ANSWERED,
            event_key=key,
            reason=reason,
            context={
                "response_id": response.id,
                "setting": [SubjectKind.FORM.value, form.id],
                "mandatory": eff.mandatory,
            },
            message_id=f"<{tenant.slug}/forms/{form.id}/responses/{stamp.replace(':', '.')}"
            f"@{tenant.domain}>",
            form_id=form.id,
        )
    ]


def form_receipt(
    session: Session,
    tenant: Tenant,
    form: Form,
    version_id: int,
    user: User,
    inbound_id: int,
    recorded: list[list[str]],
    problems: list[list[Any]],  # [label, catalog key, values]: translated when the mail is made
    replaced: bool = False,
) -> int:
    """Answer whoever answered by mail: what was recorded, or what could not be understood."""
    return owe(
        session,
        user,
        kind=NotificationKind.FORM_RECEIPT,
        event_key=f"inbound:{inbound_id}:form:{form.id}:receipt",
        reason="you answered this form by email",
        context={
            "version_id": version_id,
            "recorded": recorded,
            "problems": problems,
            "replaced": replaced,
        },
        message_id=f"<{tenant.slug}/forms/{form.id}/receipts/{inbound_id}@{tenant.domain}>",
        form_id=form.id,
    )


def held(session: Session, tenant: Tenant, inbound_id: int, why: str, subject: str) -> list[int]:
    """Tell the tenant's administrators that mail waits for them (each once per message, and
    at most the tenant's hourly cap an hour: a flood stays held, listed by `moderation list`)."""
    since = utcnow() - timedelta(hours=1)
    busy = (
        set(
            session.scalars(
                select(Notification.user_id)
                .where(
                    Notification.tenant_id == tenant.id,
                    Notification.kind == NotificationKind.MODERATION,
                    Notification.created_at >= since,
                )
                .group_by(Notification.user_id)
                .having(func.count() >= tenant.hourly_cap)
            )
        )
        if tenant.hourly_cap > 0
        else set()
    )
    admins = session.scalars(
        select(User)
        .where(
            User.tenant_id == tenant.id,
            User.is_admin,
            User.active,
            ~User.guest,
            ~objected(User.id),
        )
        .order_by(User.id)
    )
    rows = [
        Notification(
            tenant_id=tenant.id,
            kind=NotificationKind.MODERATION,
            event_key=f"inbound:{inbound_id}:held:user:{admin.id}",
            to_addr=admin.email,
            user_id=admin.id,
            inbound_id=inbound_id,
            reason=f"you moderate mail for {tenant.name}",
            context=dict(Moderation(why=why, subject=subject)),
            message_id=f"<{tenant.slug}/moderation/{inbound_id}/{admin.id}@{tenant.domain}>",
        )
        for admin in admins
        if admin.id not in busy
    ]
    session.add_all(rows)
    session.flush()
    return [r.id for r in rows]


def rejection_reason(code: str) -> str:
    return f"you sent a message that could not be used ({code})"


def rejection(
    session: Session,
    tenant: Tenant,
    inbound_id: int,
    to_addr: str,
    code: str,
    detail: str,
    subject: str,
    params: dict[str, str],
) -> Notification:
    row = Notification(
        tenant_id=tenant.id,
        kind=NotificationKind.REJECTION,
        event_key=f"inbound:{inbound_id}:rejected",
        to_addr=to_addr,
        inbound_id=inbound_id,
        reason=rejection_reason(code),
        context=dict(Rejection(code=code, detail=detail, subject=subject, params=params)),
        message_id=f"<{tenant.slug}/rejections/{inbound_id}@{tenant.domain}>",
    )
    session.add(row)
    session.flush()
    return row
