"""Step 2 of an erasure, in one transaction: each table by the strategy the data map gives
it. Shared content is kept credited to the tenant's "Former member", or deleted; everything
that is only the person's goes; every other mention is scrubbed.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from mailhub.domain.inbound_log import strip_inbound
from mailhub.models import (
    ActionToken,
    Attachment,
    Comment,
    DigestItem,
    Form,
    FormResponse,
    FormVersion,
    InboundMessage,
    InboundStatus,
    Notification,
    Objection,
    Page,
    PrivacyRequest,
    ReplyKey,
    Revision,
    SpaceMember,
    SubjectKind,
    Subscription,
    Suppression,
    User,
    WebSession,
    utcnow,
)
from mailhub.privacy.erasure.files import doomed_attachments
from mailhub.privacy.erasure.scrub import scrub_mentions
from mailhub.privacy.proof import (
    Subject,
)

FORMER_MEMBER = "former-member@erased.invalid"


def erase_rows(
    session: Session, subject: Subject, keep: bool, incinerated: list[int]
) -> dict[str, int]:
    """Step 2, in the caller's transaction."""
    uid, tid = subject.user_id, subject.tenant_id
    counts: dict[str, int] = {}

    def gone(name: str, statement: Any) -> None:
        counts[name] = counts.get(name, 0) + (session.execute(statement).rowcount or 0)  # type: ignore[attr-defined]

    pages = select(Page.id).where(Page.author_id == uid)
    comments = select(Comment.id).where(Comment.author_id == uid)
    forms = select(Form.id).where(Form.creator_id == uid)
    if keep:
        former = former_member(session, tid)
        for model, column in (
            (Page, Page.author_id),
            (Revision, Revision.author_id),
            (Comment, Comment.author_id),
            (Form, Form.creator_id),
            (Attachment, Attachment.uploader_id),
        ):
            gone(
                f"{model.__tablename__} anonymized",
                update(model).where(column == uid).values({column: former}),
            )
        pages = comments = forms = select(Page.id).where(Page.id.is_(None))  # nothing
    # Raw mail they sent: its file is gone; the row stays as the record, stripped (retention).
    for msg in session.scalars(
        select(InboundMessage).where(
            InboundMessage.tenant_id == tid,
            or_(InboundMessage.mail_from == subject.email, InboundMessage.id.in_(incinerated)),
        )
    ):
        strip_inbound(msg)
        msg.incinerated_at = msg.incinerated_at or utcnow()
        if msg.status not in InboundStatus.final():  # not to be processed any more
            msg.status, msg.processed_at = InboundStatus.IGNORED, utcnow()
        counts["inbound_messages stripped"] = counts.get("inbound_messages stripped", 0) + 1
    versions = select(FormVersion.id).where(FormVersion.form_id.in_(forms))
    mine_or_about = or_(
        DigestItem.user_id == uid,
        DigestItem.page_id.in_(pages),
        DigestItem.form_id.in_(forms),
        DigestItem.comment_id.in_(comments),
    )
    gone("digest_items", delete(DigestItem).where(mine_or_about))
    theirs = (Notification.tenant_id == tid) & or_(
        Notification.user_id == uid, Notification.to_addr == subject.email
    )
    about = or_(
        Notification.page_id.in_(pages),
        Notification.comment_id.in_(comments),
        Notification.form_id.in_(forms),
        Notification.revision_id.in_(select(Revision.id).where(Revision.page_id.in_(pages))),
    )
    keys = select(ReplyKey.id).where(
        or_(
            ReplyKey.user_id == uid,
            ReplyKey.page_id.in_(pages),
            ReplyKey.form_version_id.in_(versions),
        )
    )
    # Others' mail about what goes: the log of what was sent stays, pointing at nothing.
    session.execute(
        update(Notification)
        .where(~theirs, or_(about, Notification.reply_key_id.in_(keys)))
        .values(page_id=None, comment_id=None, form_id=None, revision_id=None, reply_key_id=None)
    )
    session.execute(
        update(DigestItem)
        .where(DigestItem.digest_id.in_(select(Notification.id).where(theirs)))
        .values(digest_id=None)
    )
    gone("notifications", delete(Notification).where(theirs))
    gone("reply_keys", delete(ReplyKey).where(ReplyKey.id.in_(keys)))
    gone("action_tokens", delete(ActionToken).where(ActionToken.user_id == uid))
    gone(
        "subscriptions",
        delete(Subscription).where(
            or_(
                Subscription.user_id == uid,
                (Subscription.subject_kind == SubjectKind.PAGE)
                & Subscription.subject_id.in_(pages),
                (Subscription.subject_kind == SubjectKind.FORM)
                & Subscription.subject_id.in_(forms),
            )
        ),
    )
    gone("web_sessions", delete(WebSession).where(WebSession.user_id == uid))
    gone("space_members", delete(SpaceMember).where(SpaceMember.user_id == uid))
    gone("objections", delete(Objection).where(Objection.user_id == uid))
    gone(
        "suppressions",
        delete(Suppression).where(
            Suppression.tenant_id == tid, Suppression.address == subject.email
        ),
    )
    gone(
        "form_responses",
        delete(FormResponse).where(
            or_(FormResponse.respondent_id == uid, FormResponse.form_id.in_(forms))
        ),
    )
    gone("attachments", delete(Attachment).where(doomed_attachments(subject, keep)))
    # Comments on their pages go with the pages; their own comments elsewhere with them.
    gone(
        "comments", delete(Comment).where(or_(Comment.id.in_(comments), Comment.page_id.in_(pages)))
    )
    gone("form_versions", delete(FormVersion).where(FormVersion.form_id.in_(forms)))
    gone("forms", delete(Form).where(Form.id.in_(forms)))
    gone("revisions", delete(Revision).where(Revision.page_id.in_(pages)))
    gone("pages", delete(Page).where(Page.id.in_(pages)))
    theirs_elsewhere = select(Revision.id).where(Revision.author_id == uid).limit(1)
    if not keep and session.scalar(theirs_elsewhere) is not None:
        # Their revisions of other people's pages stay, anonymized: deleting one would
        # break someone else's page.
        former = former_member(session, tid)
        gone(
            "revisions anonymized",
            update(Revision).where(Revision.author_id == uid).values(author_id=former),
        )
    session.execute(
        update(PrivacyRequest).where(PrivacyRequest.user_id == uid).values(user_id=None)
    )
    counts["mentions scrubbed"] = scrub_mentions(session, subject)
    # Files the worker has not read for search yet are not read after this: their text could
    # name the person after the scrub above. They stay findable by name.
    session.execute(
        update(Attachment)
        .where(Attachment.tenant_id == tid, Attachment.extracted_text.is_(None))
        .values(extracted_text="")
    )
    gone("users", delete(User).where(User.id == uid))
    return {k: v for k, v in counts.items() if v}


def former_member(session: Session, tenant_id: int) -> int:
    """The tenant's stand-in author for content kept after its author was erased."""
    existing = session.scalar(
        select(User.id).where(User.tenant_id == tenant_id, User.email == FORMER_MEMBER)
    )
    if existing is not None:
        return existing
    user = User(
        tenant_id=tenant_id, email=FORMER_MEMBER, name="Former member", guest=True, active=False
    )
    session.add(user)
    session.flush()
    return user.id
