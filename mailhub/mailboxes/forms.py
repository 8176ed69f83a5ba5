"""SPACE+form@domain: a mail with a list of questions becomes a form in that space.

The subject is the title, free text before the first question the description. The creator
is told at once where the form is and how each line was understood, so a misreading shows
before anyone answers. A mail with no recognizable question makes nothing and is answered
with an example.
"""

from __future__ import annotations

from mailhub.content.parse import ParsedMail
from mailhub.content.questions import NoQuestions, parse
from mailhub.content.sanitize import html_to_text
from mailhub.mailboxes.mail import Mail
from mailhub.mailboxes.rejections import Rejected, space_named
from mailhub.models import Form, FormVersion, User
from mailhub.outbound import events


def text_of(parsed: ParsedMail) -> str:
    """The mail's own text: its plain part, or its HTML made plain (lists keep their bullets)."""
    if parsed.text.strip():
        return parsed.text
    return html_to_text(parsed.html) if parsed.html.strip() else ""


def create_from_mail(mail: Mail, author: User, space_slug: str) -> tuple[Form, list[int]]:
    session, tenant, parsed = mail.session, mail.tenant, mail.parsed
    space = space_named(mail, space_slug)
    text = text_of(parsed)
    title = parsed.subject.strip()[:300] or "Form"
    try:
        definition = parse(title, text)
    except NoQuestions:
        raise Rejected(
            "no_questions",
            "the message has no line that reads as a question",
            address=f"{space.slug}+form@{tenant.domain}",
        ) from None
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
    return form, [events.form_created(session, tenant, form, author, lines)]
