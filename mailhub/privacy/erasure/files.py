"""Step 1 of an erasure, before any row goes, each part safe to repeat after a crash: the
person's attachments (when shared content goes) with every thumbnail, and the attachments that
stay examined for them (attachments.py); their raw mail and other final mail that names them,
outbox mail that names them, their export archives, and their backup data key.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select

from mailhub.db import SessionFactory
from mailhub.models import (
    Attachment,
    Comment,
    InboundMessage,
    InboundStatus,
    Page,
    PrivacyRequest,
)
from mailhub.privacy.erasure.attachments import examine_attachments
from mailhub.privacy.proof import Places, Subject, mentioned_in
from mailhub.stores.outbox import Outbox


def remove_files(
    factory: SessionFactory, places: Places, subject: Subject, keep: bool
) -> tuple[dict[str, int], list[int]]:
    """Step 1, before any row goes; each part is safe to repeat after a crash. Returns what
    was removed, and the inbound messages whose raw file is gone (to be stripped in step 2:
    those removed now, and those a crashed run removed before)."""
    counts: dict[str, int] = {}
    incinerated: list[int] = []
    needles = subject.needles()
    with factory() as session:
        doomed = list(session.scalars(select(Attachment).where(doomed_attachments(subject, keep))))
        files = 0
        for a in doomed:
            for rel in [a.path, *a.thumbnails.values()]:
                places.files.delete(rel)
                files += 1
        counts["attachment files"] = files
        raw = 0
        final = frozenset(InboundStatus.final())
        for msg in session.scalars(
            select(InboundMessage).where(
                InboundMessage.tenant_id == subject.tenant_id, InboundMessage.raw_path != ""
            )
        ):
            exists = places.raw.exists(msg.raw_path)
            theirs = msg.mail_from.lower() == subject.email.lower()
            # Someone else's mail that names them, once it is final (not while in processing).
            named = (
                msg.status in final
                and exists
                and mentioned_in(places.raw.path(msg.raw_path), needles) is not None
            )
            if theirs or named:
                places.raw.delete(msg.raw_path)
                raw += 1
            if theirs or named or (msg.status in final and not exists):
                incinerated.append(msg.id)
        counts["raw mail files"] = raw
        archives = 0
        for req in session.scalars(
            select(PrivacyRequest).where(
                PrivacyRequest.user_id == subject.user_id, PrivacyRequest.archive.is_not(None)
            )
        ):
            assert req.archive is not None
            (places.exports / req.archive).unlink(missing_ok=True)
            if places.export_blobs is not None:
                places.export_blobs.delete(req.archive)
            archives += 1
        counts["export archives"] = archives
    # What stays of others' files (and, where shared content is kept, of theirs) is read for
    # the person: redacted, renamed or removed.
    counts |= examine_attachments(factory, places, subject, {a.id for a in doomed}).counts()
    counts["outbox files"] = remove_outbox(places.outbox, subject.needles())
    counts["backup keys"] = int(places.keys.destroy_user(subject.tenant_id, subject.user_id))
    return counts, incinerated


def remove_outbox(outbox: Outbox, needles: list[str]) -> int:
    """Mail in the outbox (the stand-in for a relay) that mentions a needle."""
    doomed = []
    for name, path in outbox.files():
        try:
            if mentioned_in(path, needles) is not None:
                doomed.append(name)
        except FileNotFoundError:  # expired meanwhile
            continue
    for name in doomed:
        outbox.delete(name)
    return len(doomed)


def doomed_attachments(subject: Subject, keep: bool) -> Any:
    """The attachments that go with the person: none when shared content is kept, otherwise
    those they uploaded and every file of their pages and comments."""
    if keep:
        return Attachment.id.is_(None)  # nothing
    return (Attachment.tenant_id == subject.tenant_id) & or_(
        Attachment.uploader_id == subject.user_id,
        Attachment.page_id.in_(select(Page.id).where(Page.author_id == subject.user_id)),
        Attachment.comment_id.in_(select(Comment.id).where(Comment.author_id == subject.user_id)),
    )
