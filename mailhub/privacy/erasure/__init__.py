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
   Once that has committed and the engine was made to forget (db.forget_deleted), its own
   files are read as bytes too (privacy/engine_files.py): a hit there fails the request.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from mailhub.db import SessionFactory, forget_deleted, unit_of_work
from mailhub.models import (
    Erasure,
    Notification,
    NotificationStatus,
    PrivacyRequest,
    Tenant,
    User,
    utcnow,
)
from mailhub.outbound.prepare import Prepared
from mailhub.privacy.engine_files import engine_hits
from mailhub.privacy.erasure import rows
from mailhub.privacy.erasure.files import remove_files, remove_outbox
from mailhub.privacy.erasure.rows import FORMER_MEMBER
from mailhub.privacy.mails import erased_notice
from mailhub.privacy.proof import Places, Subject, prove
from mailhub.privacy.requests import log, open_request

__all__ = ["FORMER_MEMBER", "Outcome", "erase_user", "pending", "run"]

logger = logging.getLogger(__name__)

SETTLE_SECONDS = 30.0  # how long to wait for mail to the person that is being sent


@dataclass(frozen=True)
class Outcome:
    request_id: int
    state: str  # done, or failed when something is left
    proof: dict[str, int]
    counts: dict[str, int]
    # The last mail to the person, saying it is done: held in memory only, sent once by the
    # caller, never stored (a stored copy would be the person's data, left behind).
    notice: Prepared | None = None

    @property
    def left(self) -> dict[str, int]:
        return {store: n for store, n in self.proof.items() if n > 0}  # -1: not readable here


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
        counts |= rows.erase_rows(session, subject, keep, incinerated)
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
            erased_notice(tenant_name, domain, subject.email, locale, len(proof))
            if not left
            else None
        )
        outcome = Outcome(request_id, req.state, proof, counts, notice)
    forget_deleted(factory)
    # Last, the engine's own files, read as bytes now that the deletions are written there.
    on_disk = engine_hits(factory.kw["bind"], subject.needles())
    outcome = replace(outcome, proof={**outcome.proof, **on_disk})
    if any(n > 0 for n in on_disk.values()):
        with unit_of_work(factory) as session:
            req = session.get_one(PrivacyRequest, request_id)
            left = {store: n for store, n in on_disk.items() if n > 0}
            log(session, req, "proof", stores=len(on_disk), hits=sum(left.values()), left=left)
            req.state = "failed"
            req.error = "left after erasure: " + ", ".join(sorted(left))
            log(session, req, "failed")
        outcome = replace(outcome, state="failed", notice=None)
    logger.info("erasure %s %s: %d stores checked", request_id, outcome.state, len(proof))
    return outcome


def erase_user(
    factory: SessionFactory, places: Places, tenant: Tenant, email: str, via: str = "cli"
) -> Outcome:
    """Erase at once, without the emailed confirmation: for an administrator acting on a
    request received elsewhere, and for retention of inactive accounts. Still a request on
    record, with its audit log, ledger entry and proof."""
    with unit_of_work(factory) as session:
        req = open_request(session, session.get_one(Tenant, tenant.id), email, "erase", via)
        req.state, req.verified_at = "verified", utcnow()
        log(session, req, "verified", by=via)
        request_id = req.id
    outcome = run(factory, places, request_id)
    assert outcome is not None
    return outcome


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
