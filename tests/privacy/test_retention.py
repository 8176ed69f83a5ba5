"""Raw mail is incinerated when its time is up, and only then; the record keeps nothing personal."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from mailhub.ingress.smtp import SmtpServer
from mailhub.models import InboundMessage, Page, utcnow
from mailhub.privacy.retention import incinerate_due
from mailhub.tasks import Runtime

from conftest import wait_until
from helpers import final_count, fixture, smtp_send

pytestmark = [
    pytest.mark.parametrize("backend", ["sqlite", "postgres-redis"]),
    pytest.mark.usefixtures("acme"),
]


def _age(runtime: Runtime, message_id: str, days: int) -> None:
    with runtime.sessions.begin() as s:
        s.execute(
            update(InboundMessage)
            .where(InboundMessage.message_id == message_id)
            .values(processed_at=utcnow() - timedelta(days=days))
        )


def test_raw_mail_is_incinerated_after_its_retention(runtime: Runtime, smtp: SmtpServer) -> None:
    used = fixture("page_plain.eml")
    unused = used.replace(b"ann@acme.example", b"eve@elsewhere.example").replace(
        b"<CAF8k2xQ", b"<eve"
    )
    fresh = used.replace(b"<CAF8k2xQ", b"<fresh")
    smtp_send(smtp.port, "ann@acme.example", ["sales@acme.example"], used)
    smtp_send(smtp.port, "eve@elsewhere.example", ["sales@acme.example"], unused)
    smtp_send(smtp.port, "ann@acme.example", ["sales@acme.example"], fresh)
    wait_until(lambda: final_count(runtime) == 3)
    _age(runtime, "<CAF8k2xQ-q3review-1@mail.acme.example>", 31)  # processed, past 30 days
    _age(runtime, "<eve-q3review-1@mail.acme.example>", 8)  # rejected, past 7 days
    _age(runtime, "<fresh-q3review-1@mail.acme.example>", 29)  # processed, not yet due

    done = incinerate_due(runtime.sessions, runtime.raw_store, keep_days=30, keep_unused_days=7)
    assert done.count == 2 and done.bytes > 0

    with runtime.sessions() as s:
        rows = {m.id: m for m in s.scalars(select(InboundMessage))}
        pages = s.scalars(select(Page)).all()
    gone = [m for m in rows.values() if m.incinerated_at is not None]
    kept = [m for m in rows.values() if m.incinerated_at is None]
    assert (
        len(gone) == 2
        and len(kept) == 1
        and kept[0].message_id == "<fresh-q3review-1@mail.acme.example>"
    )
    assert runtime.raw_store.exists(kept[0].raw_path)
    for m in gone:
        text = f"{m.mail_from} {m.rcpt_to} {m.peer} {m.message_id} {m.reason} {m.raw_path}"
        assert (
            "@acme.example" not in text
            and "@elsewhere.example" not in text
            and "127.0.0.1" not in text
        )
        assert m.status in ("processed", "rejected") and m.size > 0
    # Page ids come from a sequence, which a retried transaction on PostgreSQL may advance.
    reasons = sorted(re.sub(r"page \d+", "page N", m.reason) for m in gone)
    assert reasons == ["page N in sales", "unknown_sender"]
    assert len(pages) == 2  # the content made from mail stays; only the raw mail goes
    raw_files = [p for p in runtime.settings.raw_dir.rglob("*.eml")]
    assert len(raw_files) == 1
    # Running again finds nothing more
    assert (
        incinerate_due(runtime.sessions, runtime.raw_store, keep_days=30, keep_unused_days=7).count
        == 0
    )


def test_expired_link_tokens_and_sessions_are_forgotten(runtime: Runtime) -> None:
    from mailhub.db import unit_of_work
    from mailhub.domain import directory, signin
    from mailhub.models import ActionToken, SubjectKind, WebSession
    from mailhub.outbound.keys import mint_token, token_for
    from mailhub.privacy.retention import forget_expired_secrets

    with unit_of_work(runtime.sessions) as s:
        t = directory.get_tenant(s, "acme")
        bob = directory.get_user(s, t, "bob@acme.example")
        fresh = mint_token(s, t.id, bob.id, "unsubscribe", SubjectKind.TENANT, t.id)
        recent = mint_token(s, t.id, bob.id, "follow", SubjectKind.TENANT, t.id)
        old = mint_token(s, t.id, bob.id, "follow", SubjectKind.TENANT, t.id)
        s.flush()
        signin_token = mint_token(s, t.id, bob.id, "signin", SubjectKind.TENANT, t.id)
        s.flush()
        signin.sign_in(s, t, signin_token)
        s.flush()
        hashes = {
            name: token_for(s, t.id, tok).id for name, tok in (("recent", recent), ("old", old))
        }
        s.execute(
            update(ActionToken)
            .where(ActionToken.id == hashes["recent"])
            .values(expires_at=utcnow() - timedelta(days=2))
        )
        s.execute(
            update(ActionToken)
            .where(ActionToken.id == hashes["old"])
            .values(expires_at=utcnow() - timedelta(days=31))
        )
        s.execute(update(WebSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert forget_expired_secrets(runtime.sessions) == 2  # the old token and the session
    with runtime.sessions() as s:
        left = {tok.id for tok in s.scalars(select(ActionToken))}
        assert hashes["recent"] in left and hashes["old"] not in left
        assert s.scalars(select(WebSession)).all() == []
        t = directory.get_tenant(s, "acme")
        assert token_for(s, t.id, fresh).action == "unsubscribe"
