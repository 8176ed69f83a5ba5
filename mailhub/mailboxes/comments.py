"""reply+KEY@domain: a reply to a notification becomes a comment on its page (or, for a form's
mail, an answer or a corrected list of questions: mailboxes/forms.py).

The key is bound to the person it was sent to: the same key from any other sender is refused,
so a forwarded notification does not let someone else post in the recipient's name.
"""

from __future__ import annotations

from mailhub.content.attachments import link_inline_images, refusal_note, store_files
from mailhub.content.reply import reply_content
from mailhub.mailboxes import forms
from mailhub.mailboxes.mail import Mail
from mailhub.mailboxes.rejections import Rejected, may_write
from mailhub.models import Comment, Form, Page, Space, User
from mailhub.outbound import events
from mailhub.outbound.keys import reply_key_for


def add_from_reply(mail: Mail, key: str) -> tuple[Comment | Form, list[int]]:
    """A reply: a comment on its page, or an answer to (or a correction of) its form."""
    session, tenant, parsed, inbound_id = mail.session, mail.tenant, mail.parsed, mail.inbound.id
    reply_key = reply_key_for(session, tenant.id, key)
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
    comment = Comment(
        tenant_id=tenant.id,
        page_id=page.id,
        author_id=user.id,
        body_html=reply.body_html,
        body_text=reply.body_text,
        quoted_text=reply.trimmed,
        source_inbound_id=inbound_id,
    )
    session.add(comment)
    session.flush()
    stored = store_files(
        session,
        mail.files,
        tenant,
        page,
        user,
        parsed.files,
        inbound_id,
        mail.max_attachment_size,
        comment_id=comment.id,
    )
    mail.refused += stored.refused
    note_html, note_text = refusal_note(stored.refused)
    comment.body_html = (
        link_inline_images(comment.body_html, tenant, stored.attachments) + note_html
    )
    comment.body_text = "\n\n".join(t for t in (comment.body_text, note_text) if t)
    return comment, events.comment_added(session, tenant, page, space, comment, user).ids
