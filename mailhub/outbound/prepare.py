"""Everything one notification's mail needs, read and minted inside the claiming transaction:
template, context, headers, and the secrets the mail carries (reply key, unsubscribe token,
action token, bounce key) — each stored only as a hash except the bounce key, which names a
notification and grants nothing.

Every mail says why it came (footer and X-Mailhub-Reason), links to exactly the setting that
sent it, and carries List-Unsubscribe with RFC 8058 one-click POST, which Gmail and Yahoo
require of bulk senders since 2024.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailhub import i18n
from mailhub.domain.directory import user_by_email
from mailhub.domain.forms import shown
from mailhub.models import (
    Breach,
    Comment,
    DigestItem,
    Form,
    FormResponse,
    FormVersion,
    InboundMessage,
    InboundStatus,
    Notification,
    NotificationKind,
    Page,
    PrivacyRequest,
    ReplyKey,
    Revision,
    Space,
    SubjectKind,
    Tenant,
    User,
    utcnow,
)
from mailhub.outbound import actions, rejection_texts
from mailhub.outbound.compose import Draft
from mailhub.outbound.events import form_thread as thread_of_form
from mailhub.outbound.events import thread_id
from mailhub.outbound.keys import hash_key, mint_token, new_key
from mailhub.outbound.recipients import REASONS


@dataclass(frozen=True)
class Prepared:
    template: str
    context: dict[str, Any]
    draft: Draft
    locale: str = i18n.DEFAULT


@dataclass(frozen=True)
class Links:
    base: str
    tenant: Tenant

    @property
    def secure(self) -> bool:
        return self.base.startswith("https://")

    def page(self, page_id: int) -> str:
        return f"{self.base}/t/{self.tenant.slug}/pages/{page_id}"

    def unsubscribe(self, token: str) -> str:
        return f"{self.base}/t/{self.tenant.slug}/unsubscribe/{token}"

    def form(self, form_id: int) -> str:
        return f"{self.base}/t/{self.tenant.slug}/forms/{form_id}"

    def answer(self, form_id: int, token: str) -> str:
        return f"{self.form(form_id)}/answer/{token}"

    def results(self, form_id: int, token: str) -> str:
        return f"{self.form(form_id)}/results/{token}"

    def action(self, token: str) -> str:
        return f"{self.base}/t/{self.tenant.slug}/actions/{token}"


@dataclass
class Extras:
    headers: dict[str, str] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)


def prepare(session: Session, n: Notification, base_url: str) -> Prepared:
    tenant = session.get_one(Tenant, n.tenant_id)
    if n.bounce_key is None:
        n.bounce_key = new_key()
    if n.kind == NotificationKind.REJECTION:
        return _rejection(session, n, tenant)
    links = Links(base_url.rstrip("/"), tenant)
    assert n.user_id is not None
    user = session.get_one(User, n.user_id)
    if user.tenant_id != tenant.id:
        raise ValueError(f"notification {n.id} crosses tenants")  # never mix tenants' data
    locale = i18n.negotiate(user.locale, tenant.locale)
    # Page events (created, edited, comment) are the rest.
    make = _BY_KIND.get(NotificationKind(n.kind), _page_event)
    return make(session, n, tenant, user, links, locale)


def _sender(tenant: Tenant) -> str:
    return f"notifications@{tenant.domain}"


def _return_path(n: Notification, tenant: Tenant) -> str:
    """The notification's own VERP address: a bounce to it names this notification."""
    return f"bounce+{n.bounce_key}@{tenant.domain}"


def _from_intranet(
    _: i18n.Translator,
    n: Notification,
    tenant: Tenant,
    to_name: str,
    to_addr: str,
    subject: str,
    **headers: Any,
) -> Draft:
    """A mail the intranet itself sends (a receipt, digest, notice or answer), not a person."""
    return Draft(
        from_name=_("{tenant} intranet", tenant=tenant.name),
        from_addr=_sender(tenant),
        to_name=to_name,
        to_addr=to_addr,
        subject=subject,
        message_id=n.message_id,
        reason=n.reason,
        return_path=_return_path(n, tenant),
        **headers,
    )


def _unsubscribe(
    session: Session,
    n: Notification,
    tenant: Tenant,
    user: User,
    links: Links,
    setting: tuple[str, int],
) -> Extras:
    """The footer's setting link and the List-Unsubscribe headers, for one subject."""
    token = mint_token(session, tenant.id, user.id, "unsubscribe", setting[0], setting[1])
    url = links.unsubscribe(token)
    return Extras(
        headers={
            "List-Unsubscribe": f"<{url}>, <mailto:unsubscribe+{token}@{tenant.domain}"
            "?subject=unsubscribe>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
        context={"manage_url": url},
    )


def _page_event(
    session: Session, n: Notification, tenant: Tenant, user: User, links: Links, locale: str
) -> Prepared:
    assert n.page_id is not None
    _ = i18n.translator(locale)
    page = session.get_one(Page, n.page_id)
    space = session.get_one(Space, page.space_id)
    if page.tenant_id != tenant.id or space.tenant_id != tenant.id:
        raise ValueError(f"notification {n.id} crosses tenants")
    reply_to = _reply_key(session, n, tenant, user, page)
    url = links.page(page.id)
    if n.kind == NotificationKind.COMMENT_ADDED:
        assert n.comment_id is not None
        comment = session.get_one(Comment, n.comment_id)
        actor = session.get_one(User, comment.author_id)
        body_html, body_text = comment.body_html, comment.body_text
        url += f"#comment-{comment.id}"
        subject, template = f"Re: [{space.name}] {page.title}", "comment_added"
        view = _("View comment")
    else:
        rev = session.get(Revision, n.revision_id) if n.revision_id else _latest(session, page.id)
        actor = session.get_one(User, rev.author_id if rev else page.author_id)
        body_html, body_text = (rev.body_html, rev.body_text) if rev else ("", "")
        if n.kind == NotificationKind.PAGE_EDITED:
            subject, template = f"Re: [{space.name}] {page.title}", "page_edited"
            url += f"?revision={rev.number}" if rev else ""
        else:
            subject, template = f"[{space.name}] {page.title}", "page_created"
        view = _("View page")
    ctx = n.context or {}
    setting_kind, setting_id = ctx.get("setting") or (SubjectKind.PAGE, page.id)
    reason = _reason(_, n)
    unsubscribe = _unsubscribe(session, n, tenant, user, links, (setting_kind, setting_id))
    unfollow = links.action(
        mint_token(session, tenant.id, user.id, "unfollow", SubjectKind.PAGE, page.id)
    )
    unfollow_name = _("Unfollow this page")
    description = f"{actor.name} in {space.name}: {page.title}"
    markup = [actions.view_action(url, view, description, tenant.name, links.base)]
    if links.secure:  # Gmail calls action handlers over https only
        markup.append(actions.confirm_action(f"{unfollow}/gmail", unfollow_name, description))
    context = {
        "subject": subject,
        "json_ld": actions.to_script(markup),
        "author_name": actor.name,
        "space_name": space.name,
        "page_title": page.title,
        "body_html": body_html,
        "body_text": body_text,
        "page_url": url,
        "buttons": [(view, url, True), (unfollow_name, unfollow, False)],
        "reason": reason,
        "mandatory": bool(ctx.get("mandatory")),
        "tenant_name": tenant.name,
    } | unsubscribe.context
    draft = _from_member(
        n,
        tenant,
        actor.name,
        user,
        space,
        subject,
        reply_to,
        thread_id(tenant, page.id),
        unsubscribe,
    )
    return Prepared(template, context, draft, locale)


def _from_member(
    n: Notification,
    tenant: Tenant,
    actor_name: str,
    user: User,
    space: Space,
    subject: str,
    reply_to: str,
    thread_root: str,
    unsubscribe: Extras,
) -> Draft:
    """A mail about what a member did in a space (a page, a comment, a form to answer): in
    their name, reply-able, threaded, listed under the space, unsubscribable."""
    return Draft(
        from_name=f"{actor_name} ({tenant.name})",
        from_addr=_sender(tenant),
        to_name=user.name,
        to_addr=user.email,
        subject=subject,
        message_id=n.message_id,
        reason=n.reason,
        reply_to=reply_to,
        thread_root=thread_root,
        list_id=f'"{space.name}" <{space.slug}.{tenant.domain}>',
        return_path=_return_path(n, tenant),
        extra_headers=unsubscribe.headers,
    )


def _reason(_: i18n.Translator, n: Notification) -> str:
    """Why the person got it, in their language (the resolver's rule and its values)."""
    ctx = n.context or {}
    code = ctx.get("reason_code")
    return _(REASONS[code], **ctx.get("params", {})) if code in REASONS else n.reason


def _reply_key(session: Session, n: Notification, tenant: Tenant, user: User, page: Page) -> str:
    """A fresh reply+KEY address for this mail; only the key's hash is stored."""
    key = new_key()
    row = ReplyKey(tenant_id=tenant.id, user_id=user.id, page_id=page.id, key_hash=hash_key(key))
    session.add(row)
    n.reply_key = row  # the id is filled in when the batch is flushed
    return f"reply+{key}@{tenant.domain}"


def _audience(_: i18n.Translator, context: dict[str, Any]) -> list[str]:
    """Who heard of something now, and who will in which digest (events.Fanout's counts)."""
    now = int(context.get("now", 0))
    later = {str(k): int(v) for k, v in context.get("later", {}).items()}
    lines = [
        _("Nobody was notified now.")
        if now == 0
        else _("1 person was notified now.")
        if now == 1
        else _("{count} people were notified now.", count=now)
    ]
    digests = (
        ("hourly", _("{count} will see it in their hourly digest.", count=later.get("hourly", 0))),
        ("daily", _("{count} will see it in their daily digest.", count=later.get("daily", 0))),
        ("weekly", _("{count} will see it in their weekly digest.", count=later.get("weekly", 0))),
    )
    return lines + [line for frequency, line in digests if later.get(frequency)]


def _receipt(
    session: Session, n: Notification, tenant: Tenant, user: User, links: Links, locale: str
) -> Prepared:
    """To the author of a page made by mail: it is published, and who hears of it when."""
    assert n.page_id is not None
    _ = i18n.translator(locale)
    page = session.get_one(Page, n.page_id)
    space = session.get_one(Space, page.space_id)
    if page.tenant_id != tenant.id:
        raise ValueError(f"notification {n.id} crosses tenants")
    lines = _audience(_, n.context)
    url = links.page(page.id)
    view = _("View page")
    subject = _("Published: {title}", title=page.title)
    context = {
        "subject": subject,
        "json_ld": actions.to_script(
            actions.view_action(url, view, subject, tenant.name, links.base)
        ),
        "headline": _(
            "Your page “{title}” is published in {space}.", title=page.title, space=space.name
        ),
        "audience": lines,
        "buttons": [(view, url, True)],
        "reason": _("you published this page by email"),
        "tenant_name": tenant.name,
    }
    draft = _from_intranet(
        _,
        n,
        tenant,
        user.name,
        user.email,
        subject,
        auto_submitted="auto-replied",
        reply_to=_reply_key(session, n, tenant, user, page),
        thread_root=thread_id(tenant, page.id),
    )
    return Prepared("receipt", context, draft, locale)


def _moderation(
    session: Session, n: Notification, tenant: Tenant, user: User, links: Links, locale: str
) -> Prepared:
    """To an administrator: mail waits for approval. Approve is one click (a ConfirmAction in
    Gmail, a button elsewhere); both links confirm on a page before anything happens."""
    assert n.inbound_id is not None
    _ = i18n.translator(locale)
    inbound = session.get_one(InboundMessage, n.inbound_id)
    if inbound.tenant_id != tenant.id:
        raise ValueError(f"notification {n.id} crosses tenants")
    approve = links.action(
        mint_token(session, tenant.id, user.id, "approve", SubjectKind.INBOUND, inbound.id)
    )
    reject = links.action(
        mint_token(session, tenant.id, user.id, "reject", SubjectKind.INBOUND, inbound.id)
    )
    original = n.context.get("subject") or _("(no subject)")
    subject = _("Waiting for approval: {subject}", subject=original)
    approve_name, reject_name = _("Approve and publish"), _("Reject")
    description = _("Mail to {to} waits for a moderator", to=", ".join(inbound.rcpt_to))
    markup = (
        actions.confirm_action(f"{approve}/gmail", approve_name, description)
        if links.secure  # Gmail calls action handlers over https only
        else actions.view_action(approve, approve_name, description, tenant.name, links.base)
    )
    # Notices are capped per hour, so a flood is summed up in the ones that do go out.
    others = session.scalar(
        select(func.count())
        .select_from(InboundMessage)
        .where(
            InboundMessage.tenant_id == tenant.id,
            InboundMessage.status == InboundStatus.HELD,
            InboundMessage.id != inbound.id,
        )
    )
    waiting = (
        [
            (
                _("Also waiting"),
                _("{count} other messages", count=others) if others != 1 else _("1 other message"),
            )
        ]
        if others
        else []
    )
    context = {
        "subject": subject,
        "json_ld": actions.to_script(markup),
        "headline": description,
        "facts": [
            (_("From"), inbound.mail_from or "<>"),
            (_("Subject"), original),
            (_("Why it waits"), str(n.context.get("why", ""))),
            *waiting,
        ],
        "buttons": [(approve_name, approve, True), (reject_name, reject, False)],
        "reason": _("you moderate mail for {tenant}", tenant=tenant.name),
        "tenant_name": tenant.name,
    }
    draft = _from_intranet(_, n, tenant, user.name, user.email, subject)
    return Prepared("moderation", context, draft, locale)


def understood(_: i18n.Translator, question: dict[str, Any]) -> str:
    """How one question was read, in words: "single choice: Mon, Tue, Wed; optional"."""
    kinds = {
        "short": _("short text"),
        "long": _("long text"),
        "number": _("number"),
        "date": _("date"),
        "yes_no": _("yes or no"),
        "single": _("single choice"),
        "multiple": _("multiple choice"),
    }
    words = kinds.get(str(question["kind"]), str(question["kind"]))
    if question.get("options") and question["kind"] != "yes_no":
        words += ": " + ", ".join(question["options"])
    return words + "; " + (_("required") if question["required"] else _("optional"))


def _form_created(
    session: Session, n: Notification, tenant: Tenant, user: User, links: Links, locale: str
) -> Prepared:
    """To the creator: the form's link, each line beside how it was understood, and how to
    correct it (a reply with the corrected list makes the next version)."""
    form, _ = _form(session, n, tenant), i18n.translator(locale)
    number = int(n.context.get("version", 1))
    version = _version(session, form.id, number)
    questions = version.definition["questions"]
    lines = n.context.get("lines") or [q["text"] for q in questions]
    url = links.form(form.id)
    view = _("Open the form")
    subject = (
        _("Your form is ready: {title}", title=form.title)
        if number == 1
        else _("Your form is corrected: {title}", title=form.title)
    )
    context = {
        "subject": subject,
        "json_ld": actions.to_script(
            actions.view_action(url, view, subject, tenant.name, links.base)
        ),
        "headline": subject,
        # Who was invited to answer (the first version's mail only: corrections invite nobody).
        "audience": _audience(_, n.context["invited"]) if "invited" in n.context else [],
        "form_url": url,
        "preview": [
            (line, q["text"], understood(_, q)) for line, q in zip(lines, questions, strict=False)
        ],
        "buttons": [(view, url, True), *_owner_buttons(session, _, tenant, user, form, links)],
        "reason": _("you created this form by email"),
        "tenant_name": tenant.name,
    }
    key = _form_reply_key(session, n, tenant, user, version.id, "revise")
    draft = _from_intranet(
        _,
        n,
        tenant,
        user.name,
        user.email,
        subject,
        auto_submitted="auto-replied",
        reply_to=key,
        thread_root=thread_of_form(tenant, form.id),
    )
    return Prepared("form_created", context, draft, locale)


def _form(session: Session, n: Notification, tenant: Tenant) -> Form:
    assert n.form_id is not None
    form = session.get_one(Form, n.form_id)
    if form.tenant_id != tenant.id:
        raise ValueError(f"notification {n.id} crosses tenants")
    return form


def _version(session: Session, form_id: int, number: int) -> FormVersion:
    return session.scalars(
        select(FormVersion).where(FormVersion.form_id == form_id, FormVersion.number == number)
    ).one()


def _owner_buttons(
    session: Session, _: i18n.Translator, tenant: Tenant, user: User, form: Form, links: Links
) -> list[tuple[str, str, bool]]:
    """What a form's owner can do from a mail about it: see the answers, close it."""
    results = mint_token(session, tenant.id, user.id, "results", SubjectKind.FORM, form.id)
    buttons = [(_("See the answers"), links.results(form.id, results), False)]
    if form.status == "open":
        close = mint_token(session, tenant.id, user.id, "close", SubjectKind.FORM, form.id)
        buttons.append((_("Close the form"), links.action(close), False))
    return buttons


def _form_reply_key(
    session: Session, n: Notification, tenant: Tenant, user: User, version_id: int, purpose: str
) -> str:
    """A reply+KEY address that answers (or, for its creator, corrects) one form version."""
    key = new_key()
    row = ReplyKey(
        tenant_id=tenant.id,
        user_id=user.id,
        purpose=purpose,
        form_version_id=version_id,
        key_hash=hash_key(key),
    )
    session.add(row)
    n.reply_key = row
    return f"reply+{key}@{tenant.domain}"


def quick_question(questions: list[dict[str, Any]]) -> int | None:
    """The question a single button can answer: a yes/no or a choice of up to 4, when it is
    the form's only question or its only required one (so one click completes an answer)."""
    required = [i for i, q in enumerate(questions) if q["required"]]
    index = 0 if len(questions) == 1 else required[0] if len(required) == 1 else None
    if index is None:
        return None
    q = questions[index]
    fits = q["kind"] == "yes_no" or (
        q["kind"] == "single"
        and len(q["options"]) <= 4
        and all(len(o) <= 200 for o in q["options"])  # each button's token names its option
    )
    return index if fits else None


def _form_invitation(
    session: Session, n: Notification, tenant: Tenant, user: User, links: Links, locale: str
) -> Prepared:
    """To a watcher of the space: the questions, answerable by reply, on the web, or (for a
    yes/no or a short choice) with one button."""
    form, _ = _form(session, n, tenant), i18n.translator(locale)
    version = _version(session, form.id, form.current_version)
    space = session.get_one(Space, form.space_id)
    creator = session.get_one(User, form.creator_id)
    questions = version.definition["questions"]
    web = links.answer(
        form.id, mint_token(session, tenant.id, user.id, "answer_web", SubjectKind.FORM, form.id)
    )
    answer = _("Answer on the web")
    subject = f"[{space.name}] {form.title}"
    description = _("{name} asks you to answer “{title}”.", name=creator.name, title=form.title)
    quick: list[tuple[str, str]] = []
    index = quick_question(questions) if form.status == "open" else None
    if index is not None:
        for option in questions[index]["options"]:
            token = mint_token(
                session,
                tenant.id,
                user.id,
                "answer",
                SubjectKind.FORM,
                form.id,
                argument=f"{version.id}:{index}:{option}",
            )
            quick.append((option, links.action(token)))
    markup = [actions.view_action(web, answer, description, tenant.name, links.base)]
    single_yes_no = len(questions) == 1 and questions[0]["kind"] == "yes_no"
    if quick and single_yes_no and links.secure:
        markup.append(actions.confirm_action(f"{quick[0][1]}/gmail", _("Yes"), description))
    ctx = n.context or {}
    reason = _reason(_, n)
    setting_kind, setting_id = ctx.get("setting") or (SubjectKind.SPACE, space.id)
    unsubscribe = _unsubscribe(session, n, tenant, user, links, (setting_kind, setting_id))
    context = {
        "subject": subject,
        "json_ld": actions.to_script(markup),
        "headline": description,
        "description": version.definition.get("description", ""),
        "questions": [
            (i + 1, q["text"], _hint(_, q), q["kind"] in ("single", "multiple") and q["options"])
            for i, q in enumerate(questions)
        ],
        "quick": quick,
        "quick_question": questions[index]["text"] if index is not None else "",
        "buttons": [(answer, web, True)],
        "reason": reason,
        "mandatory": bool(ctx.get("mandatory")),
        "tenant_name": tenant.name,
    } | unsubscribe.context
    reply_to = _form_reply_key(session, n, tenant, user, version.id, "answer")
    draft = _from_member(
        n,
        tenant,
        creator.name,
        user,
        space,
        subject,
        reply_to,
        thread_of_form(tenant, form.id),
        unsubscribe,
    )
    return Prepared("form_invitation", context, draft, locale)


def _hint(_: i18n.Translator, question: dict[str, Any]) -> str:
    """What kind of answer a question wants, said where a person types it."""
    kind = question["kind"]
    hints = {
        "short": "",
        "long": _("as long as you like"),
        "number": _("a number"),
        "date": _("a date, like 2027-03-12"),
        "yes_no": _("yes or no"),
        "single": _("choose one"),
        "multiple": _("choose any, separated by commas"),
    }
    words = [hints.get(kind, "")] + ([] if question["required"] else [_("optional")])
    return "; ".join(w for w in words if w)


def _form_answered(
    session: Session, n: Notification, tenant: Tenant, user: User, links: Links, locale: str
) -> Prepared:
    """To a form's owner: who answered what, with the way to all answers and to closing it."""
    form, _ = _form(session, n, tenant), i18n.translator(locale)
    response = session.get(FormResponse, n.context.get("response_id"))
    facts: list[tuple[str, str]] = []
    name = _("Someone")
    if response is not None and response.form_id == form.id:
        respondent = session.get_one(User, response.respondent_id)
        name = respondent.name
        asked = session.get_one(FormVersion, response.version_id).definition["questions"]
        facts = [
            (asked[int(i)]["text"], shown(value))
            for i, value in response.answers.items()
            if int(i) < len(asked)
        ]
    subject = _("{name} answered “{title}”", name=name, title=form.title)
    buttons = _owner_buttons(session, _, tenant, user, form, links)
    buttons[0] = (buttons[0][0], buttons[0][1], True)
    unsubscribe = _unsubscribe(session, n, tenant, user, links, (SubjectKind.FORM, form.id))
    context = {
        "subject": subject,
        "json_ld": actions.to_script(
            actions.view_action(buttons[0][1], buttons[0][0], subject, tenant.name, links.base)
        ),
        "headline": subject,
        "facts": facts,
        "buttons": buttons,
        "reason": _("you created this form"),
        "mandatory": bool(n.context.get("mandatory")),
        "tenant_name": tenant.name,
    } | unsubscribe.context
    draft = _from_intranet(
        _,
        n,
        tenant,
        user.name,
        user.email,
        subject,
        thread_root=thread_of_form(tenant, form.id),
        extra_headers=unsubscribe.headers,
    )
    return Prepared("form_answered", context, draft, locale)


def _form_receipt(
    session: Session, n: Notification, tenant: Tenant, user: User, links: Links, locale: str
) -> Prepared:
    """To whoever answered by mail: what was recorded, or each answer that needs fixing.
    Replying again (with corrected answers) answers again."""
    form, _ = _form(session, n, tenant), i18n.translator(locale)
    problems = [
        f"{label}: {_(template, **params)}" if label else _(template, **params)
        for label, template, params in n.context.get("problems", [])
    ]
    recorded: list[list[str]] = n.context.get("recorded", [])
    if problems:
        subject = _("Not recorded yet: your answers to “{title}”", title=form.title)
        headline = _("Some answers could not be understood, so nothing was recorded yet.")
    else:
        subject = _("Recorded: your answers to “{title}”", title=form.title)
        headline = (
            _("Your answers replace the ones you gave before.")
            if n.context.get("replaced")
            else _("Thank you. These answers were recorded.")
        )
    web = links.answer(
        form.id, mint_token(session, tenant.id, user.id, "answer_web", SubjectKind.FORM, form.id)
    )
    answer = _("Answer on the web")
    context = {
        "subject": subject,
        "json_ld": actions.to_script(
            actions.view_action(web, answer, subject, tenant.name, links.base)
        ),
        "headline": headline,
        "problems": problems,
        "facts": [(q, a) for q, a in recorded],
        "buttons": [(answer, web, bool(problems))],
        "reason": _("you answered this form by email"),
        "tenant_name": tenant.name,
    }
    version_id = int(n.context["version_id"])
    draft = _from_intranet(
        _,
        n,
        tenant,
        user.name,
        user.email,
        subject,
        auto_submitted="auto-replied",
        reply_to=_form_reply_key(session, n, tenant, user, version_id, "answer"),
        thread_root=thread_of_form(tenant, form.id),
    )
    return Prepared("form_receipt", context, draft, locale)


def _sign_in(
    session: Session, n: Notification, tenant: Tenant, user: User, links: Links, locale: str
) -> Prepared:
    """The magic link someone asked for: minted here, so the secret exists only in the mail.
    The link opens a page whose button signs in (a scanner's GET does nothing)."""
    _ = i18n.translator(locale)
    token = mint_token(session, tenant.id, user.id, "signin", SubjectKind.TENANT, tenant.id)
    url = f"{links.base}/t/{tenant.slug}/signin/{token}"
    next_path = str(n.context.get("next") or "")
    if next_path:
        url += "?" + urlencode({"next": next_path})
    subject = _("Sign in to {tenant}", tenant=tenant.name)
    label = _("Sign in")
    context = {
        "subject": subject,
        "json_ld": "",
        "headline": subject,
        "facts": [],
        "lines": [
            _(
                "Someone, probably you, asked to sign in to {tenant} as {email}.",
                tenant=tenant.name,
                email=user.email,
            ),
            _(
                "The link works once, for 15 minutes. If you did not ask for it, ignore this mail: nobody can sign in without it."
            ),
        ],
        "buttons": [(label, url, True)],
        "reason": _("you asked to sign in"),
        "tenant_name": tenant.name,
    }
    draft = _from_intranet(_, n, tenant, user.name, user.email, subject)
    return Prepared("sign_in", context, draft, locale)


def _expiry(
    session: Session, n: Notification, tenant: Tenant, user: User, links: Links, locale: str
) -> Prepared:
    """Retention of unused accounts: the exact day this one is deleted, and how to keep it."""
    _ = i18n.translator(locale)
    due = str(n.context["due"])
    subject = _("Your account at {tenant} will be deleted on {date}", tenant=tenant.name, date=due)
    return _privacy_notice(
        _,
        n,
        tenant,
        user,
        locale,
        subject,
        [
            _(
                "Nobody has signed in or sent mail with your account at {tenant} since {date}. Its rules delete accounts that are not used for {days} days.",
                tenant=tenant.name,
                date=f"{user.last_active_at:%Y-%m-%d}",
                days=str(tenant.inactive_days or 0),
            ),
            _(
                "On {date} your account will be erased, with your settings and the data only you had; you get one last mail when it is done.",
                date=due,
            ),
            _("To keep it, sign in or send any mail to the intranet before then."),
        ],
        _("your account is about to be deleted for not being used"),
        buttons=[(_("Keep my account"), f"{links.base}/t/{tenant.slug}/signin", True)],
    )


def _breach(
    session: Session, n: Notification, tenant: Tenant, user: User, _links: Links, locale: str
) -> Prepared:
    """Art. 34: what happened, to which data, when, and what the person can do."""
    _ = i18n.translator(locale)
    breach = session.get_one(Breach, n.context["breach_id"])
    if breach.tenant_id != tenant.id:
        raise ValueError(f"notification {n.id} crosses tenants")
    subject = _("Important: a security incident affected your data at {tenant}", tenant=tenant.name)
    return _privacy_notice(
        _,
        n,
        tenant,
        user,
        locale,
        subject,
        [
            breach.description,
            _("The data concerned: {categories}.", categories=", ".join(breach.categories)),
            _(
                "When: from {start} to {end} (UTC). {tenant} learned of it on {aware}.",
                start=f"{breach.window_from:%Y-%m-%d %H:%M}",
                end=f"{breach.window_to:%Y-%m-%d %H:%M}",
                tenant=tenant.name,
                aware=f"{breach.aware_at:%Y-%m-%d}",
            ),
            _(
                "You get this notice whatever your mail settings say, because the law requires it. Questions go to the administrators of {tenant}.",
                tenant=tenant.name,
            ),
        ],
        _("the law requires telling you about a breach that affected your data"),
    )


def _privacy(
    session: Session, n: Notification, tenant: Tenant, user: User, links: Links, locale: str
) -> Prepared:
    """A privacy request's mails: the link that confirms it, its outcome (the access report
    itself, or what was recorded), and the administrators' notice that one is due soon."""
    from mailhub.privacy.report import access_report

    _ = i18n.translator(locale)
    req = session.get_one(PrivacyRequest, n.context["request_id"])
    if req.tenant_id != tenant.id:
        raise ValueError(f"notification {n.id} crosses tenants")
    what = {
        "access": _("a report of the data {tenant} holds about you", tenant=tenant.name),
        "export": _("a copy of your data to take elsewhere"),
        "erase": _("the erasure of your account and everything it holds"),
        "object": _("an objection to processing of your data"),
        "restrict": _("a restriction of processing of your data"),
    }.get(req.kind, req.kind)
    buttons: list[tuple[str, str, bool]] = []
    report = None
    lines: list[str] = []
    if n.kind == NotificationKind.PRIVACY_VERIFY:
        token = mint_token(session, tenant.id, user.id, "verify", "privacy", req.id)
        subject = _("Please confirm your request to {tenant}", tenant=tenant.name)
        lines = [
            _(
                "A request for {what} was made in your name on {date}.",
                what=what,
                date=f"{req.received_at:%Y-%m-%d}",
            ),
            _("Nothing happens until you confirm it. If it was not you, ignore this mail."),
        ]
        buttons = [
            (_("Confirm the request"), f"{links.base}/t/{tenant.slug}/privacy/{token}", True)
        ]
    elif n.kind == NotificationKind.PRIVACY_DUE:
        subject = _("A privacy request is due on {date}", date=f"{req.due_at:%Y-%m-%d}")
        lines = [
            _(
                "Request {id} ({kind}) was received on {received} and must be answered by {due}.",
                id=str(req.id),
                kind=req.kind,
                received=f"{req.received_at:%Y-%m-%d}",
                due=f"{req.due_at:%Y-%m-%d}",
            ),
            _("Its state is {state}.", state=req.state),
        ]
    elif req.kind == "access":
        subject = _("The data {tenant} holds about you", tenant=tenant.name)
        report = access_report(session, tenant, user)
        lines = [
            _(
                "This is everything {tenant} holds about you, as of {date}: each kind of data with why it is kept, for how long, how many items there are, and the most recent of them.",
                tenant=tenant.name,
                date=f"{utcnow():%Y-%m-%d}",
            ),
            _(
                "Members of {tenant} see the pages, comments and forms you write; administrators also see the log of mail you sent in. Nobody outside {tenant} receives your data.",
                tenant=tenant.name,
            ),
        ]
    elif req.kind == "export":
        subject = _("Your data from {tenant} is ready", tenant=tenant.name)
        token = mint_token(session, tenant.id, user.id, "download", "privacy", req.id)
        expires = req.archive_expires_at or utcnow()
        lines = [
            _(
                "A ZIP of your profile, settings, pages, comments, forms, answers, the log of your mail and your files is ready."
            ),
            _(
                "The link works until {date}; then the archive is deleted.",
                date=f"{expires:%Y-%m-%d %H:%M} UTC",
            ),
        ]
        buttons = [(_("Download my data"), f"{links.base}/t/{tenant.slug}/exports/{token}", True)]
    else:
        subject = _("Your request to {tenant} is done", tenant=tenant.name)
        lines = [
            _(
                "Recorded: {what}. From now on {tenant} sends you no notifications and does not process mail you send in.",
                what=what,
                tenant=tenant.name,
            ),
            _("You can withdraw it at any time from your mail settings."),
        ]
    reason = (
        _("a request about your data was made in your name")
        if n.kind == NotificationKind.PRIVACY_VERIFY
        else _("you administer privacy requests")
        if n.kind == NotificationKind.PRIVACY_DUE
        else _("you made a request about your data")
    )
    return _privacy_notice(
        _, n, tenant, user, locale, subject, lines, reason, buttons=buttons, report=report
    )


def _privacy_notice(
    _: i18n.Translator,
    n: Notification,
    tenant: Tenant,
    user: User,
    locale: str,
    subject: str,
    lines: list[str],
    reason: str,
    buttons: list[tuple[str, str, bool]] | None = None,
    report: Any = None,
) -> Prepared:
    """A mail about a person's rights and data (the "privacy" template): a request's steps,
    a breach notice, an unused account's warning. Lines of text, buttons, and why it came."""
    context = {
        "subject": subject,
        "json_ld": "",
        "headline": subject,
        "lines": lines,
        "report": report,
        "buttons": buttons or [],
        "reason": reason,
        "tenant_name": tenant.name,
    }
    draft = _from_intranet(_, n, tenant, user.name, user.email, subject)
    return Prepared("privacy", context, draft, locale)


def _latest(session: Session, page_id: int) -> Revision | None:
    """The page's newest revision, looked up once per transaction (a batch of a fan-out is
    mostly one page)."""
    memo: dict[int, Revision | None] = session.info.setdefault("latest_revision", {})
    if page_id not in memo:
        memo[page_id] = session.scalar(
            select(Revision)
            .where(Revision.page_id == page_id)
            .order_by(Revision.number.desc())
            .limit(1)
        )
    return memo[page_id]


def _digest(
    session: Session, n: Notification, tenant: Tenant, user: User, links: Links, locale: str
) -> Prepared:
    """One mail for everything a person's digest collected, grouped by space, then by page."""
    _ = i18n.translator(locale)
    rows = session.execute(
        select(DigestItem, Space)
        .join(Space, Space.id == DigestItem.space_id)
        .where(DigestItem.digest_id == n.id, DigestItem.tenant_id == tenant.id)
        .order_by(Space.name, DigestItem.page_id, DigestItem.form_id, DigestItem.id)
    ).all()
    spaces: dict[str, dict[tuple[str, int], dict[str, Any]]] = defaultdict(dict)
    for item, space in rows:
        if item.form_id is not None:  # an invitation to a form, or answers to the reader's own
            form = session.get(Form, item.form_id)
            if form is None or form.tenant_id != tenant.id:
                continue
            entry = spaces[space.name].setdefault(
                ("form", form.id),
                {"title": form.title, "url": links.form(form.id), "new": False, "edits": 0}
                | {"comments": [], "form": True, "answers": 0},
            )
            if item.kind == NotificationKind.FORM_ANSWERED:
                entry["answers"] += 1
            else:
                entry["new"] = True
            continue
        page = session.get(Page, item.page_id)
        if page is None or page.tenant_id != tenant.id:
            continue
        entry = spaces[space.name].setdefault(
            ("page", page.id),
            {
                "title": page.title,
                "url": links.page(page.id),
                "new": False,
                "edits": 0,
                "comments": [],
                "form": False,
                "answers": 0,
            },
        )
        if item.kind == NotificationKind.PAGE_CREATED:
            entry["new"] = True
        elif item.kind == NotificationKind.PAGE_EDITED:
            entry["edits"] += 1
        elif item.comment_id is not None:
            comment = session.get(Comment, item.comment_id)
            if comment is not None:
                author = session.get_one(User, comment.author_id)
                excerpt = " ".join(comment.body_text.split())
                entry["comments"].append(
                    {
                        "author": author.name,
                        "excerpt": excerpt[:200] + ("…" if len(excerpt) > 200 else ""),
                    }
                )
    frequency = (n.context or {}).get("frequency", "daily")
    subject = _(
        "Your {frequency} digest from {tenant}: {count} updates",
        frequency=_(frequency),
        tenant=tenant.name,
        count=len(rows),
    )
    unsubscribe = _unsubscribe(session, n, tenant, user, links, (SubjectKind.TENANT, tenant.id))
    view = _("Open the intranet")
    home = f"{links.base}/t/{tenant.slug}/pages"
    markup = [actions.view_action(home, view, subject, tenant.name, links.base)]
    context = {
        "subject": subject,
        "json_ld": actions.to_script(markup),
        "spaces": [(name, list(pages.values())) for name, pages in spaces.items()],
        "buttons": [(view, home, True)],
        "reason": _("you chose a {frequency} digest", frequency=_(frequency)),
        "mandatory": False,
        "tenant_name": tenant.name,
    } | unsubscribe.context
    draft = _from_intranet(
        _, n, tenant, user.name, user.email, subject, extra_headers=unsubscribe.headers
    )
    return Prepared("digest", context, draft, locale)


def _rejection(session: Session, n: Notification, tenant: Tenant) -> Prepared:
    assert n.inbound_id is not None
    inbound = session.get_one(InboundMessage, n.inbound_id)
    # A member's own language if they chose one, else the tenant's: strangers get the latter.
    known = user_by_email(session, tenant.id, n.to_addr)
    locale = i18n.negotiate(known.locale if known else None, tenant.locale)
    _ = i18n.translator(locale)
    code = n.context["code"]
    what, todo = rejection_texts.explain(_, code, n.context.get("params", {}), tenant.name)
    published = code in rejection_texts.PUBLISHED_ANYWAY
    subject = _(
        "Your message was published without some files"
        if published
        else "Your message could not be used"
    )
    context = {
        "subject": subject,
        "json_ld": "",
        "original_subject": n.context.get("subject", ""),
        "published": published,
        "original_to": ", ".join(inbound.rcpt_to),
        "what": what,
        "todo": todo,
        "tenant_name": tenant.name,
    }
    draft = _from_intranet(
        _,
        n,
        tenant,
        "",
        n.to_addr,
        subject,
        auto_submitted="auto-replied",
        thread_root=inbound.message_id,
    )
    return Prepared("rejection", context, draft, locale)


Maker = Callable[[Session, Notification, Tenant, User, Links, str], Prepared]
_BY_KIND: dict[NotificationKind, Maker] = {
    NotificationKind.DIGEST: _digest,
    NotificationKind.RECEIPT: _receipt,
    NotificationKind.MODERATION: _moderation,
    NotificationKind.FORM_CREATED: _form_created,
    NotificationKind.FORM_INVITATION: _form_invitation,
    NotificationKind.FORM_ANSWERED: _form_answered,
    NotificationKind.FORM_RECEIPT: _form_receipt,
    NotificationKind.SIGN_IN: _sign_in,
    NotificationKind.BREACH_NOTICE: _breach,
    NotificationKind.ACCOUNT_EXPIRY: _expiry,
    NotificationKind.PRIVACY_VERIFY: _privacy,
    NotificationKind.PRIVACY_REPORT: _privacy,
    NotificationKind.PRIVACY_DUE: _privacy,
}
