"""Erasure of a person (GDPR Art. 17), files before rows, ending with a proof.

A verified "erase" request is run by the worker's sweeper (`run`), which resumes one a crash
left running: every step is safe to repeat, and the rows go in one transaction that also
records the proof, so a killed erasure is either not done yet or done with its proof.

1. Files first: the person's attachments and every thumbnail; their raw inbound mail (and any
   other final message whose bytes name them); mail in the outbox that names them; their
   export archives; their backup data key (crypto-shredding: no old backup opens for them).
2. Rows, each table by the strategy the data map gives it. Content others may rely on — pages,
   their revisions, comments, forms — is either deleted, or, where the tenant keeps shared
   content (Tenant.keep_shared_content, the default), kept and anonymized: it is credited to
   the tenant's "Former member" and the person's address and name are taken out of its text.
   Revisions they made to other people's pages are always anonymized (deleting one would
   break someone else's page). Everything that is only theirs goes: answers, subscriptions,
   digest items, queued and sent mail to them, reply and action tokens, sessions, objections,
   memberships, suppressions, the account. Their privacy requests stay, unlinked. Every other
   row of the tenant that mentions their address or name has it replaced by "[erased]".
   Search entries go with their items (ON DELETE CASCADE) or are rewritten with them.
3. The proof (mailhub/privacy/proof.py) counts what is left in every store the data map
   lists; it is recorded with the request and the ledger (mailhub/models/privacy.Erasure).
   The request is done when every count is zero, failed with the stores named otherwise.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, delete, func, or_, select, update
from sqlalchemy.orm import Session

from mailhub import i18n
from mailhub.db import SessionFactory, unit_of_work
from mailhub.domain.inbound_log import strip_inbound
from mailhub.models import (
    ActionToken,
    Attachment,
    Base,
    Comment,
    DigestItem,
    Erasure,
    Form,
    FormResponse,
    FormVersion,
    InboundMessage,
    InboundStatus,
    Notification,
    NotificationStatus,
    Objection,
    Page,
    PrivacyRequest,
    ReplyKey,
    Revision,
    SpaceMember,
    SubjectKind,
    Subscription,
    Suppression,
    Tenant,
    User,
    WebSession,
    utcnow,
)
from mailhub.privacy import datamap
from mailhub.privacy.proof import (
    Places,
    Subject,
    count_in_file,
    mentions,
    prove,
    scrub,
    text_columns,
)
from mailhub.privacy.requests import log

logger = logging.getLogger(__name__)

FORMER_MEMBER = "former-member@erased.invalid"
SETTLE_SECONDS = 30.0  # how long to wait for mail to the person that is being sent
NOT_SCRUBBED = frozenset({"users", "privacy_events", "erasures", "alembic_version"})


@dataclass(frozen=True)
class Outcome:
    request_id: int
    state: str  # done, or failed when something is left
    proof: dict[str, int]
    counts: dict[str, int]
    # The last mail to the person, saying it is done: held in memory only, sent once by the
    # caller, never stored (a stored copy would be the person's data, left behind).
    notice: EmailMessage | None = None

    @property
    def left(self) -> dict[str, int]:
        return {store: n for store, n in self.proof.items() if n}


def pending(session: Session) -> list[int]:
    """Verified erasures, and any a killed worker left running."""
    return list(
        session.scalars(
            select(PrivacyRequest.id).where(
                PrivacyRequest.kind == "erase", PrivacyRequest.state.in_(("verified", "running"))
            )
        )
    )


def run(factory: SessionFactory, places: Places, request_id: int) -> Outcome | None:
    """Carry out one erasure request; None if it is not (or no longer) due."""
    with unit_of_work(factory) as session:
        req = session.get(PrivacyRequest, request_id)
        if req is None or req.kind != "erase" or req.state not in ("verified", "running"):
            return None
        if req.user_id is None:
            req.state, req.finished_at, req.error = "failed", utcnow(), "no account to erase"
            log(session, req, "failed")
            return Outcome(request_id, "failed", {}, {})
        if req.state == "verified":
            req.state = "running"
            log(session, req, "running")
        user = session.get_one(User, req.user_id)
        subject = Subject(user.tenant_id, user.id, user.email, user.name)
        tenant = session.get_one(Tenant, user.tenant_id)
        keep = tenant.keep_shared_content
        locale = user.locale or tenant.locale
        tenant_name, domain = tenant.name, tenant.domain
        # Nothing new starts for them: no sign-in, no new mail, no queued mail sent.
        user.active = False
        session.execute(
            update(Notification)
            .where(
                Notification.user_id == user.id,
                Notification.status == NotificationStatus.QUEUED,
            )
            .values(status=NotificationStatus.SUPPRESSED, last_error="account being erased")
        )
    _settle(factory, subject.user_id)
    counts, incinerated = remove_files(factory, places, subject, keep)
    with unit_of_work(factory) as session:
        counts |= erase_rows(session, subject, keep, incinerated)
        # A last look at the outbox, in case mail to them was written since the first one.
        counts["outbox files"] += remove_outbox(places.outbox, subject.needles())
        proof = prove(session, places, subject)
        req = session.get_one(PrivacyRequest, request_id)
        left = {store: n for store, n in proof.items() if n}
        session.add(
            Erasure(
                tenant_id=subject.tenant_id,
                user_id=subject.user_id,
                subject_hash=req.subject_hash,
                salt=req.salt,
                request_id=req.id,
            )
        )
        log(session, req, "proof", stores=len(proof), hits=sum(proof.values()), left=left)
        req.finished_at = utcnow()
        req.state = "failed" if left else "done"
        req.error = "left after erasure: " + ", ".join(sorted(left)) if left else ""
        log(session, req, req.state, items=sum(counts.values()), stores=sorted(counts))
        notice = (
            final_notice(tenant_name, domain, subject, locale, len(proof)) if not left else None
        )
        outcome = Outcome(request_id, req.state, proof, counts, notice)
    logger.info("erasure %s %s: %d stores checked", request_id, outcome.state, len(proof))
    return outcome


def erase_user(
    factory: SessionFactory, places: Places, tenant: Tenant, email: str, via: str = "cli"
) -> Outcome:
    """Erase at once, without the emailed confirmation: for an administrator acting on a
    request received elsewhere, and for retention of inactive accounts. Still a request on
    record, with its audit log, ledger entry and proof."""
    from mailhub.privacy.requests import open_request

    with unit_of_work(factory) as session:
        req = open_request(session, session.get_one(Tenant, tenant.id), email, "erase", via)
        req.state, req.verified_at = "verified", utcnow()
        log(session, req, "verified", by=via)
        request_id = req.id
    outcome = run(factory, places, request_id)
    assert outcome is not None
    return outcome


# Files ---------------------------------------------------------------------------------------


def remove_files(
    factory: SessionFactory, places: Places, subject: Subject, keep: bool
) -> tuple[dict[str, int], list[int]]:
    """Step 1, before any row goes; each part is safe to repeat after a crash. Returns what
    was removed, and the inbound messages whose raw file is gone (to be stripped in step 2:
    those removed now, and those a crashed run removed before)."""
    counts: dict[str, int] = {}
    incinerated: list[int] = []
    needles = subject.needles()
    wanted = [n.encode() for n in needles]
    with factory() as session:
        doomed = list(session.scalars(select(Attachment).where(_doomed_attachments(subject, keep))))
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
            path = places.raw.root / msg.raw_path
            theirs = msg.mail_from.lower() == subject.email.lower()
            # Someone else's mail that names them, once it is final (not while in processing).
            named = msg.status in final and path.exists() and count_in_file(path, wanted)
            if theirs or named:
                places.raw.delete(msg.raw_path)
                raw += 1
            if theirs or named or (msg.status in final and not path.exists()):
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
            archives += 1
        counts["export archives"] = archives
    counts["outbox files"] = remove_outbox(places.outbox, subject.needles())
    counts["backup keys"] = int(places.keys.destroy_user(subject.tenant_id, subject.user_id))
    return counts, incinerated


def remove_outbox(outbox: Path, needles: list[str]) -> int:
    """Mail in the outbox (the embedded stand-in for a relay) that mentions a needle."""
    wanted = [n.encode() for n in needles]
    removed = 0
    if outbox.is_dir():
        for path in sorted(outbox.glob("*.eml")):
            if count_in_file(path, wanted):
                path.unlink(missing_ok=True)
                removed += 1
    return removed


def _settle(factory: SessionFactory, user_id: int, patience: float = SETTLE_SECONDS) -> None:
    """Wait (a little) for mail to them that a worker is sending right now to be sent, so it
    does not land in the outbox after the files were cleared."""
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        with factory() as session:
            sending = session.scalar(
                select(func.count())
                .select_from(Notification)
                .where(
                    Notification.user_id == user_id,
                    Notification.status == NotificationStatus.SENDING,
                )
            )
        if not sending:
            return
        time.sleep(0.2)


def _doomed_attachments(subject: Subject, keep: bool) -> Any:
    """The attachments that go with the person: none when shared content is kept, otherwise
    those they uploaded and every file of their pages and comments."""
    if keep:
        return Attachment.id.is_(None)  # nothing
    return (Attachment.tenant_id == subject.tenant_id) & or_(
        Attachment.uploader_id == subject.user_id,
        Attachment.page_id.in_(select(Page.id).where(Page.author_id == subject.user_id)),
        Attachment.comment_id.in_(select(Comment.id).where(Comment.author_id == subject.user_id)),
    )


# Rows ----------------------------------------------------------------------------------------


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
    gone("attachments", delete(Attachment).where(_doomed_attachments(subject, keep)))
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


def scrub_mentions(session: Session, subject: Subject) -> int:
    """Replace the person's address and name in every row of the tenant that mentions them."""
    needles = subject.needles()
    changed = 0
    for name in sorted(datamap.load()["tables"]):
        table = Base.metadata.tables.get(name)
        if table is None or name in NOT_SCRUBBED or "tenant_id" not in table.c:
            continue
        said = mentions(table, needles)
        if said is None:
            continue
        columns = text_columns(table)
        rows = session.execute(
            select(table.c.id, *columns).where(table.c.tenant_id == subject.tenant_id, said)
        ).mappings()
        # One statement per set of changed columns, executed for many rows at once.
        batches: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for row in list(rows):
            values = {}
            for column in columns:
                cleaned = scrub(row[column.name], needles)
                if cleaned != row[column.name]:
                    values[f"new_{column.name}"] = cleaned
            if values:
                batches.setdefault(tuple(sorted(values)), []).append(
                    {"row_id": row["id"], **values}
                )
        for keys, params in batches.items():
            statement = (
                update(table)
                .where(table.c.id == bindparam("row_id"))
                .values({k.removeprefix("new_"): bindparam(k) for k in keys})
            )
            session.connection().execute(statement, params)
            changed += len(params)
    return changed


def final_notice(
    tenant_name: str, domain: str, subject: Subject, locale: str, stores: int
) -> EmailMessage:
    """The confirmation that the account is gone: plain text, from the intranet."""
    _ = i18n.translator(locale)
    msg = EmailMessage()
    msg["From"] = formataddr(
        (_("{tenant} intranet", tenant=tenant_name), f"notifications@{domain}")
    )
    msg["To"] = subject.email
    msg["Subject"] = _("Your account at {tenant} is erased", tenant=tenant_name)
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = make_msgid(domain=domain)
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(
        "\n\n".join(
            [
                _(
                    "Your account at {tenant} was erased on {date}, as you asked or as its rules for unused accounts say.",
                    tenant=tenant_name,
                    date=f"{utcnow():%Y-%m-%d}",
                ),
                _(
                    "Every place where mailhub keeps data ({count} in all) was checked afterwards, and none still holds your name or address. Backups made before today can no longer be read for you: their key is destroyed.",
                    count=str(stores),
                ),
                _("This is the last mail you get from {tenant}.", tenant=tenant_name),
            ]
        )
    )
    return msg
