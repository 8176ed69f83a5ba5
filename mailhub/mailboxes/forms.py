"""Forms by mail: SPACE+form@domain (or form@domain, for the tenant's default space) makes a
form from a list of questions; a reply to an invitation answers it; the creator's reply to the
confirmation corrects it.

The subject is the title, free text before the first question the description. The creator
is told at once where the form is and how each line was understood, so a misreading shows
before anyone answers, and the space's watchers are invited. A mail with no recognizable
question makes nothing and is answered with an example.
"""

from __future__ import annotations

from sqlalchemy import select

from mailhub.content.answers import from_reply
from mailhub.content.parse import ParsedMail
from mailhub.content.questions import Definition, NoQuestions, parse
from mailhub.content.reply import reply_content
from mailhub.content.sanitize import html_to_text
from mailhub.domain import forms
from mailhub.domain.directory import guest_author, user_by_email
from mailhub.mailboxes.mail import Mail
from mailhub.mailboxes.rejections import Rejected, may_write, space_named
from mailhub.models import Form, FormVersion, ReplyKey, Space, User
from mailhub.outbound import events


def text_of(parsed: ParsedMail) -> str:
    """The mail's own text: its plain part, or its HTML made plain (lists keep their bullets)."""
    if parsed.text.strip():
        return parsed.text
    return html_to_text(parsed.html) if parsed.html.strip() else ""


def create_from_mail(mail: Mail, author: User, space_slug: str) -> tuple[Form, list[int]]:
    session, tenant, parsed = mail.session, mail.tenant, mail.parsed
    space = space_named(mail, space_slug) if space_slug else _default_space(mail)
    may_write(mail, author, space)
    text = text_of(parsed)
    title = parsed.subject.strip()[:300] or "Form"
    definition = _questions(mail, title, text, f"{space.slug}+form@{tenant.domain}")
    form = Form(
        tenant_id=tenant.id,
        space_id=space.id,
        creator_id=author.id,
        title=definition.title,
        source_inbound_id=mail.inbound.id,
    )
    session.add(form)
    session.flush()
    session.add(
        FormVersion(
            tenant_id=tenant.id,
            form_id=form.id,
            number=1,
            definition=definition.as_json(),
            source_text=text,
            source_inbound_id=mail.inbound.id,
        )
    )
    lines = [q.line for q in definition.questions]
    invited = events.form_invitation(session, tenant, form, space, author, text)
    return form, [
        events.form_created(session, tenant, form, author, lines, 1, invited),
        *invited.ids,
    ]


def _default_space(mail: Mail) -> Space:
    """form@domain: the tenant's default space, or its only one."""
    tenant = mail.tenant
    if tenant.default_space:
        return space_named(mail, tenant.default_space)
    spaces = mail.session.scalars(select(Space).where(Space.tenant_id == tenant.id).limit(2)).all()
    if len(spaces) == 1:
        return spaces[0]
    raise Rejected(
        "no_default_space",
        f"{tenant.name} has no default space for form@{tenant.domain}",
        address=f"form@{tenant.domain}",
    )


def _questions(mail: Mail, title: str, text: str, address: str) -> Definition:
    try:
        return parse(title, text)
    except NoQuestions:
        raise Rejected(
            "no_questions", "the message has no line that reads as a question", address=address
        ) from None


def revise_from_reply(mail: Mail, key: ReplyKey, user: User) -> tuple[Form, list[int]]:
    """The creator's reply to a confirmation, with a corrected list: the form's next version."""
    session, tenant = mail.session, mail.tenant
    form = _form_of(mail, key)
    if form.creator_id != user.id or mail.parsed.from_addr != user.email:
        raise Rejected(
            "not_your_key",
            f"only the form's creator can correct its questions, not {mail.parsed.from_addr}",
            sender=mail.parsed.from_addr,
        )
    text = reply_content(mail.parsed, mail.image_hosts).body_text
    space = session.get_one(Space, form.space_id)
    definition = _questions(mail, form.title, text, f"{space.slug}+form@{tenant.domain}")
    row = forms.revise(session, tenant, form, definition, text, mail.inbound.id)
    lines = [q.line for q in definition.questions]
    return form, [events.form_created(session, tenant, form, user, lines, row.number)]


def answer_from_reply(mail: Mail, key: ReplyKey, user: User) -> tuple[Form, list[int]]:
    """A reply to an invitation (or to a receipt): the answers it holds, checked against the
    version the person was shown. All or nothing: with any problem, nothing is recorded and
    the sender is told exactly which answers to fix."""
    session, tenant, parsed = mail.session, mail.tenant, mail.parsed
    form = _form_of(mail, key)
    answered = session.get_one(FormVersion, key.form_version_id)
    respondent = user
    if parsed.from_addr != user.email:
        # A forwarded invitation: a colleague answers as themselves; someone from outside only
        # where the form takes answers from anyone.
        member = user_by_email(session, tenant.id, parsed.from_addr)
        if member is not None and not member.guest:
            respondent = member
        elif form.answers_from == "anyone":
            respondent = guest_author(session, tenant, parsed.from_addr, parsed.from_name)
        else:
            raise Rejected(
                "form_internal",
                f"{parsed.from_addr} is not a member; the form takes answers from members only",
                form=form.title,
            )
    may_write(mail, respondent, session.get_one(Space, form.space_id))
    try:
        forms.may_answer(form, respondent)
    except forms.AnswerRefused as exc:
        raise Rejected(exc.code, str(exc), form=form.title) from None
    questions = answered.definition["questions"]
    reading = from_reply(questions, text_of(parsed))
    if not reading.ok:
        ids = [
            events.form_receipt(
                session,
                tenant,
                form,
                answered.id,
                respondent,
                mail.inbound.id,
                [],
                [[p.label, p.template, p.params] for p in reading.problems],
            )
        ]
        return form, ids
    done = forms.answer(
        session, tenant, form, answered, respondent, reading.values, "mail", mail.inbound.id
    )
    recorded = [
        [q["text"], forms.shown(reading.values[i])]
        for i, q in enumerate(questions)
        if i in reading.values
    ]
    receipt = events.form_receipt(
        session, tenant, form, answered.id, respondent, mail.inbound.id, recorded, [], done.replaced
    )
    return form, [receipt, *done.notification_ids]


def _form_of(mail: Mail, key: ReplyKey) -> Form:
    version = mail.session.get(FormVersion, key.form_version_id)
    form = mail.session.get(Form, version.form_id) if version else None
    if form is None or form.tenant_id != mail.tenant.id:
        raise Rejected("form_gone", "the form this reply belongs to no longer exists")
    return form
