"""What an action link does once it is confirmed: unsubscribe from exactly one subject, get it
less often, mute everything that is not mandatory, follow or unfollow a page.

One use case for every edge that carries a token: the web page behind a button (GET shows,
POST acts), the RFC 8058 one-click POST, Gmail's ConfirmAction, and mail to unsubscribe+TOKEN@.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailhub.domain import forms, preferences
from mailhub.domain.inbound_log import approve, reject_held
from mailhub.errors import InvalidInput
from mailhub.i18n import N_
from mailhub.models import (
    ActionToken,
    Form,
    FormVersion,
    Frequency,
    InboundMessage,
    Level,
    Page,
    Space,
    SubjectKind,
    Subscription,
    Tenant,
    User,
)
from mailhub.outbound.keys import TokenRefused, token_for, use_token

# What a person can ask for on the unsubscribe page; "this" is the one-click default.
CHOICES = ("this", "daily", "weekly", "all")


@dataclass(frozen=True)
class Offer:
    """What a token's confirm page shows: whose, about what, and what it may do."""

    tenant: Tenant
    user: User
    action: str
    subject_kind: str
    subject_name: str
    mandatory: bool
    detail: str = ""  # a one-button answer: "Which day? Tue"


def offer(session: Session, tenant: Tenant, token: str) -> Offer:
    row = token_for(session, tenant.id, token)
    user = _user(session, tenant, row)
    name, mandatory = _subject(session, tenant, row)
    detail = ""
    if row.action == "answer" and row.argument:
        version_id, index, option = row.argument.split(":", 2)
        answered = session.get(FormVersion, int(version_id))
        if answered is not None:
            detail = f"{answered.definition['questions'][int(index)]['text']} {option}"
    return Offer(tenant, user, row.action, row.subject_kind, name, mandatory, detail)


@dataclass(frozen=True)
class Done:
    """What an action did: a sentence for the person (`template`, an English text of the
    catalogs, filled with `params`), and the notifications it made (an answer's owner hears
    of it), for the edge to send once its transaction commits."""

    template: str
    notification_ids: list[int] = field(default_factory=list)
    params: dict[str, str] = field(default_factory=dict)

    @property
    def message(self) -> str:
        """The sentence in English."""
        return self.template.format(**self.params)


def perform(
    session: Session, tenant: Tenant, token: str, choice: str = "this", sealed: bool = False
) -> Done:
    """Do what the token is for (or, for unsubscribe, the chosen variant): what changed.
    Raises TokenRefused or PreferenceRefused with a message for a person. `sealed`: the token
    as a stored envelope has it (outbound.keys.sealed_hash), for the unsubscribe mailbox."""
    row = token_for(session, tenant.id, token, sealed)
    user = _user(session, tenant, row)
    name, _ = _subject(session, tenant, row)
    use_token(session, row)
    kind = SubjectKind(row.subject_kind)
    if row.action in ("approve", "reject"):
        return Done(_moderate(session, tenant, user, row))
    if row.action in ("answer", "close"):
        return _form_action(session, tenant, user, row)
    if row.action == "follow":
        _set(session, tenant, user, kind, row.subject_id, level=Level.WATCHING)
        return Done(
            N_("You now watch {name} and get mail about every change."), params={"name": name}
        )
    if row.action == "unfollow":
        _set(session, tenant, user, kind, row.subject_id, level=Level.MUTED)
        return Done(N_("You no longer get mail about {name}."), params={"name": name})
    if choice not in CHOICES:
        raise InvalidInput(f"unknown choice {choice!r}")
    if choice == "all" or kind == SubjectKind.TENANT:  # a digest's link: everything it carries
        kept = preferences.mute_all(session, tenant, user)
        if kept:
            return Done(
                N_(
                    "You no longer get notifications from {tenant}. Mail about {kept} is "
                    "mandatory and continues."
                ),
                params={"tenant": tenant.name, "kept": ", ".join(kept)},
            )
        return Done(
            N_("You no longer get notifications from {tenant}."), params={"tenant": tenant.name}
        )
    if choice in ("daily", "weekly"):
        _set(session, tenant, user, kind, row.subject_id, frequency=Frequency(choice))
        return Done(
            N_("You now get mail about {name} in a daily digest.")
            if choice == "daily"
            else N_("You now get mail about {name} in a weekly digest."),
            params={"name": name},
        )
    _set(session, tenant, user, kind, row.subject_id, level=Level.MUTED)
    return Done(N_("You are unsubscribed from {name}."), params={"name": name})


def _moderate(session: Session, tenant: Tenant, user: User, row: ActionToken) -> str:
    """Approve or reject held mail: only while the user is still an administrator."""
    if not user.is_admin or not user.active:
        raise TokenRefused("Only an administrator of this intranet can decide on held mail.")
    if row.action == "approve":
        approve(session, tenant.slug, row.subject_id)
        return N_("Approved: the message will be published in a moment.")
    reject_held(session, tenant.slug, row.subject_id)
    return N_("Rejected: the message will not be published, and nobody is answered.")


def _form_action(session: Session, tenant: Tenant, user: User, row: ActionToken) -> Done:
    """A one-button answer ("VERSION:QUESTION:OPTION"), or its owner closing a form."""
    form = forms.get_form(session, tenant, row.subject_id)
    if row.action == "close":
        if form.creator_id != user.id:
            raise TokenRefused("Only the person who made this form can close it.")
        if not forms.close(session, tenant, form):
            return Done(N_("The form “{form}” was already closed."), params={"form": form.title})
        return Done(
            N_("The form “{form}” is closed; later answers are declined politely."),
            params={"form": form.title},
        )
    version_id, index, option = (row.argument or "::").split(":", 2)
    answered = session.get(FormVersion, int(version_id or 0))
    if answered is None or answered.form_id != form.id:
        raise TokenRefused("This link is not valid. It may have been mistyped or cut off.")
    try:
        done = forms.answer(session, tenant, form, answered, user, {int(index): option}, "button")
    except forms.AnswerRefused as exc:
        raise TokenRefused(f"Your answer was not recorded: {exc}.") from None
    question = answered.definition["questions"][int(index)]["text"]
    return Done(
        N_("Recorded your answer to “{question}”: {option}. Thank you."),
        done.notification_ids,
        {"question": question, "option": option},
    )


def _set(
    session: Session,
    tenant: Tenant,
    user: User,
    kind: SubjectKind,
    subject_id: int,
    level: Level | None = None,
    frequency: Frequency | None = None,
) -> None:
    """Change one of level or frequency and keep the other as the user had it."""
    current = session.scalar(
        select(Subscription).where(
            Subscription.user_id == user.id,
            Subscription.subject_kind == kind,
            Subscription.subject_id == subject_id,
        )
    )
    if current is not None:
        level = level or (Level(current.level) if current.level else None)
        frequency = frequency or (Frequency(current.frequency) if current.frequency else None)
    preferences.subscribe(session, tenant, user, kind, subject_id, level, frequency)


def _user(session: Session, tenant: Tenant, row: ActionToken) -> User:
    user = session.get(User, row.user_id)
    if user is None or user.tenant_id != tenant.id:
        raise TokenRefused("This link is not valid. It may have been mistyped or cut off.")
    return user


def _subject(session: Session, tenant: Tenant, row: ActionToken) -> tuple[str, bool]:
    """A readable name for the token's subject, and whether mail about it is mandatory."""
    if row.subject_kind == SubjectKind.SPACE:
        space = session.get(Space, row.subject_id)
    elif row.subject_kind == SubjectKind.PAGE:
        page = session.get(Page, row.subject_id)
        if page is None or page.tenant_id != tenant.id:
            raise TokenRefused("The page this link was about no longer exists.")
        space = session.get(Space, page.space_id)
        space_default, tenant_default = preferences.defaults_for(session, tenant.id, page.space_id)
        mandatory = any(d is not None and d.mandatory for d in (space_default, tenant_default))
        return f"the page “{page.title}”", mandatory
    elif row.subject_kind == SubjectKind.FORM:
        form = session.get(Form, row.subject_id)
        if form is None or form.tenant_id != tenant.id:
            raise TokenRefused("The form this link was about no longer exists.")
        space_default, tenant_default = preferences.defaults_for(session, tenant.id, form.space_id)
        mandatory = any(d is not None and d.mandatory for d in (space_default, tenant_default))
        return f"the form “{form.title}”", mandatory
    elif row.subject_kind == SubjectKind.INBOUND:
        inbound = session.get(InboundMessage, row.subject_id)
        if inbound is None or inbound.tenant_id != tenant.id:
            raise TokenRefused(N_("The message this link was about no longer exists."))
        return f"the message from {inbound.mail_from or 'an unknown sender'}", False
    else:
        return f"all notifications from {tenant.name}", False
    if space is None or space.tenant_id != tenant.id:
        raise TokenRefused("The space this link was about no longer exists.")
    space_default, tenant_default = preferences.defaults_for(session, tenant.id, space.id)
    mandatory = any(d is not None and d.mandatory for d in (space_default, tenant_default))
    return f"the {space.name} space", mandatory
