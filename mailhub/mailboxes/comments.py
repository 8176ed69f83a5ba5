"""reply+KEY@domain: a reply to a notification becomes a comment on its page (or, for a form's
mail, an answer or a corrected list of questions: mailboxes/forms.py).

The key is bound to the person it was sent to: the same key from any other sender is refused,
so a forwarded notification does not let someone else post in the recipient's name.
"""

from __future__ import annotations

from mailhub.content.reply import reply_content
from mailhub.domain.editing import write_comment
from mailhub.mailboxes import forms
from mailhub.mailboxes.mail import Mail
from mailhub.mailboxes.rejections import Rejected, may_write
from mailhub.models import Comment, Form, Page, Space, User
from mailhub.outbound.keys import reply_key_for


def add_from_reply(mail: Mail, key: str) -> tuple[Comment | Form, list[int]]:
    """A reply: a comment on its page, or an answer to (or a correction of) its form."""
    session, tenant, parsed = mail.session, mail.tenant, mail.parsed
    reply_key = reply_key_for(session, tenant.id, key, sealed=True)  # from the stored envelope
    if reply_key is None:
        raise Rejected("unknown_key", "this reply address is unknown or has expired")
    user = session.get(User, reply_key.user_id)
    if user is None or user.tenant_id != tenant.id or not user.active:
        raise Rejected("unknown_key", "this reply address is unknown or has expired")
    if reply_key.purpose == "answer":
        return forms.answer_from_reply(mail, reply_key, user)
    if reply_key.purpose == "revise":
        return forms.revise_from_reply(mail, reply_key, user)
    if parsed.from_addr != user.email:
        raise Rejected(
            "not_your_key",
            f"this reply address was sent to someone else, not to {parsed.from_addr}",
            sender=parsed.from_addr,
        )
    page = session.get(Page, reply_key.page_id)
    if page is None or page.tenant_id != tenant.id:
        raise Rejected("page_gone", "the page this reply belongs to no longer exists")
    space = session.get_one(Space, page.space_id)
    may_write(mail, user, space)
    reply = reply_content(parsed, mail.image_hosts)
    if not reply.body_text.strip() and not parsed.files:
        raise Rejected("empty_reply", "the reply has no text")
    comment, fanout, refused = write_comment(
        session,
        tenant,
        page,
        user,
        reply.body_html,
        reply.body_text,
        reply.trimmed,
        mail.upload(),
    )
    mail.refused += refused
    return comment, fanout.ids
