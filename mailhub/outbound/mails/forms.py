"""Mail about forms: to the creator (how each line was read), to the invited (the questions,
reply-able, with one-button answers), to the owner (someone answered), and to whoever answered
by mail (what was recorded, or why not).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailhub import i18n
from mailhub.domain.forms import shown
from mailhub.models import (
    Form,
    FormResponse,
    FormVersion,
    Notification,
    ReplyKey,
    Space,
    SubjectKind,
    Tenant,
    User,
)
from mailhub.outbound import actions
from mailhub.outbound.contexts import FormAnswered, FormCreated, FormReceipt, Subscribed, context_of
from mailhub.outbound.events import form_thread as thread_of_form
from mailhub.outbound.keys import hash_key, mint_token, new_key
from mailhub.outbound.mails.parts import (
    Links,
    Prepared,
    audience_lines,
    from_intranet,
    from_member,
    reason_for,
    unsubscribe_links,
)


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


def form_created(
    session: Session, n: Notification, tenant: Tenant, user: User, links: Links, locale: str
) -> Prepared:
    """To the creator: the form's link, each line beside how it was understood, and how to
    correct it (a reply with the corrected list makes the next version)."""
    form, _ = _form(session, n, tenant), i18n.translator(locale)
    created = context_of(n, FormCreated)
    number = int(created.get("version", 1))
    version = _version(session, form.id, number)
    questions = version.definition["questions"]
    lines = created.get("lines") or [q["text"] for q in questions]
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
        "audience": audience_lines(_, created["invited"]) if "invited" in created else [],
        "form_url": url,
        "preview": [
            (line, q["text"], understood(_, q)) for line, q in zip(lines, questions, strict=False)
        ],
        "buttons": [(view, url, True), *_owner_buttons(session, _, tenant, user, form, links)],
        "reason": _("you created this form by email"),
        "tenant_name": tenant.name,
    }
    key = _form_reply_key(session, n, tenant, user, version.id, "revise")
    draft = from_intranet(
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


def form_invitation(
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
    ctx = context_of(n, Subscribed)
    reason = reason_for(_, n)
    setting_kind, setting_id = ctx.get("setting") or (SubjectKind.SPACE, space.id)
    unsubscribe = unsubscribe_links(session, n, tenant, user, links, (setting_kind, setting_id))
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
    draft = from_member(
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


def form_answered(
    session: Session, n: Notification, tenant: Tenant, user: User, links: Links, locale: str
) -> Prepared:
    """To a form's owner: who answered what, with the way to all answers and to closing it."""
    form, _ = _form(session, n, tenant), i18n.translator(locale)
    answered = context_of(n, FormAnswered)
    response = session.get(FormResponse, answered.get("response_id"))
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
    unsubscribe = unsubscribe_links(session, n, tenant, user, links, (SubjectKind.FORM, form.id))
    context = {
        "subject": subject,
        "json_ld": actions.to_script(
            actions.view_action(buttons[0][1], buttons[0][0], subject, tenant.name, links.base)
        ),
        "headline": subject,
        "facts": facts,
        "buttons": buttons,
        "reason": _("you created this form"),
        "mandatory": bool(answered.get("mandatory")),
        "tenant_name": tenant.name,
    } | unsubscribe.context
    draft = from_intranet(
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


def form_receipt(
    session: Session, n: Notification, tenant: Tenant, user: User, links: Links, locale: str
) -> Prepared:
    """To whoever answered by mail: what was recorded, or each answer that needs fixing.
    Replying again (with corrected answers) answers again."""
    form, _ = _form(session, n, tenant), i18n.translator(locale)
    receipt = context_of(n, FormReceipt)
    problems = [
        f"{label}: {_(template, **params)}" if label else _(template, **params)
        for label, template, params in receipt.get("problems", [])
    ]
    recorded = receipt.get("recorded", [])
    if problems:
        subject = _("Not recorded yet: your answers to “{title}”", title=form.title)
        headline = _("Some answers could not be understood, so nothing was recorded yet.")
    else:
        subject = _("Recorded: your answers to “{title}”", title=form.title)
        headline = (
            _("Your answers replace the ones you gave before.")
            if receipt.get("replaced")
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
    version_id = int(receipt["version_id"])
    draft = from_intranet(
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
