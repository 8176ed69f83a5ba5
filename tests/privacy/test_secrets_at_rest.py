"""No reply key or unsubscribe token rests in clear: the stored envelope keeps the key's hash
(all that processing needs), and every screen and report shows reply+…@domain."""

from __future__ import annotations

import hashlib
import smtplib

import pytest
from sqlalchemy import select

from mailhub.db import unit_of_work
from mailhub.domain import inbound_log
from mailhub.ingress.smtp import SmtpServer
from mailhub.models import Comment, InboundMessage, Page, ReplyKey, Revision
from mailhub.outbound.keys import hash_key, new_key, sealed_hash
from mailhub.routing import Mailbox, route, seal, shown
from mailhub.tasks import Runtime

from conftest import wait_until
from helpers import final_count

KEY_TEST = "Kq3vX9-abcdefghijklmnopqrstuv"


def test_a_reply_address_is_stored_sealed_and_shown_cut() -> None:
    sealed = seal(f"reply+{KEY_TEST}@Acme.example")
    assert KEY_TEST not in sealed
    assert sealed == f"reply+={hashlib.sha256(KEY_TEST.encode()).hexdigest()}@acme.example"
    r = route(sealed)
    assert r.mailbox is Mailbox.COMMENTS and sealed_hash(r.arg) == hash_key(KEY_TEST)
    assert shown(sealed) == shown(f"reply+{KEY_TEST}@acme.example") == "reply+\u2026@acme.example"
    assert seal("sales@acme.example") == "sales@acme.example"
    # What arrives already looking sealed did not come from mailhub: it is cut, it never acts
    forged = seal(f"reply+={'a' * 64}@acme.example")
    assert forged == "reply+\u2026@acme.example" and route(forged).mailbox is Mailbox.BACKSTOP


def _page_with_key(runtime: Runtime, acme: dict[str, int]) -> tuple[str, int]:
    key = new_key()
    with unit_of_work(runtime.sessions) as s:
        page = Page(
            tenant_id=acme["tenant"], space_id=acme["sales"], title="Q3", author_id=acme["ann"]
        )
        s.add(page)
        s.flush()
        s.add(
            Revision(
                tenant_id=acme["tenant"],
                page_id=page.id,
                author_id=acme["ann"],
                number=1,
                body_html="<p>x</p>",
                body_text="x",
            )
        )
        s.add(
            ReplyKey(
                tenant_id=acme["tenant"],
                user_id=acme["bob"],
                page_id=page.id,
                key_hash=hash_key(key),
            )
        )
        return key, page.id


def test_a_reply_comments_and_leaves_no_key_in_the_stores_or_on_screen(
    runtime: Runtime, acme: dict[str, int], smtp: SmtpServer
) -> None:
    key, page_id = _page_with_key(runtime, acme)
    reply = (
        f"From: Bob Reader <bob@acme.example>\r\nTo: reply+{key}@acme.example\r\n"
        "Subject: Re: Q3\r\nMessage-ID: <r1@acme.example>\r\n\r\nLooks good to me.\r\n"
    )
    with smtplib.SMTP("127.0.0.1", smtp.port) as client:
        client.sendmail("bob@acme.example", [f"reply+{key}@acme.example"], reply.encode())
    wait_until(lambda: final_count(runtime) == 1)
    with runtime.sessions() as s:
        msg = s.scalars(select(InboundMessage)).one()
        assert msg.status == "processed", msg.reason
        assert s.scalar(select(Comment.page_id)) == page_id  # the sealed key still works
        assert key not in repr(msg.rcpt_to) and key not in msg.reason
        entries = inbound_log.list_inbound(s, "acme", None, 10)
        shown_entry = inbound_log.show_inbound(s, "acme", msg.id)
    assert [e.rcpt_to for e in entries] == [["reply+\u2026@acme.example"]]
    assert shown_entry.rcpt_to == ["reply+\u2026@acme.example"]


def test_a_key_hash_read_from_a_leaked_database_cannot_post(
    runtime: Runtime, acme: dict[str, int], smtp: SmtpServer
) -> None:
    key, _ = _page_with_key(runtime, acme)
    with smtplib.SMTP("127.0.0.1", smtp.port) as client:
        client.ehlo()
        client.mail("eve@evil.example")
        code, text = client.rcpt(f"reply+={hash_key(key)}@acme.example")
    assert code == 550 and hash_key(key).encode() not in text
    with runtime.sessions() as s:
        assert s.scalar(select(InboundMessage.id)) is None


@pytest.mark.parametrize("kind", ["reply", "unsubscribe"])
def test_stored_envelopes_of_before_are_sealed_by_the_migration(kind: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from alembic import command
    from sqlalchemy import text

    from mailhub.db import alembic_config, make_engine, migrate

    url = f"sqlite:///{tmp_path / 's.sqlite3'}"
    command.upgrade(alembic_config(url), "0028")
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO tenants (id, slug, name, domain, require_authenticated, "
                "unknown_senders, locale, created_at) "
                "VALUES (1, 'acme', 'Acme', 'acme.example', 0, 'reject', 'en', '2026-01-01')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO inbound_messages (tenant_id, mail_from, rcpt_to, message_id, sha256, "
                "rcpt_key, raw_path, size, peer, status, reason, attempts, moderation, "
                "received_at, enqueued_at) VALUES (1, 'bob@acme.example', :rcpt, '<m@x>', 's', "
                "'k', 'p', 1, '', 'processed', '', 0, '', '2026-01-01', '2026-01-01')"
            ),
            {"rcpt": f'["{kind}+{KEY_TEST}@acme.example", "sales@acme.example"]'},
        )
    migrate(url)
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT rcpt_to FROM inbound_messages")).scalar_one()
    assert KEY_TEST not in stored
    assert (
        hashlib.sha256(KEY_TEST.encode()).hexdigest() in stored and "sales@acme.example" in stored
    )


def test_a_hash_from_a_leaked_database_opens_no_link_and_no_session(
    runtime: Runtime, acme: dict[str, int]
) -> None:
    """The sealed form is read only from stored envelopes: a URL or a cookie that carries
    "=" and a stored hash is as good as a wrong secret."""
    from fastapi.testclient import TestClient

    from mailhub.models import SubjectKind, WebSession
    from mailhub.outbound.keys import mint_token
    from mailhub.web.app import create_app
    from mailhub.web.auth import COOKIE

    from helpers import sign_in

    with unit_of_work(runtime.sessions) as s:
        token = mint_token(
            s, acme["tenant"], acme["bob"], "unfollow", SubjectKind.SPACE, acme["sales"]
        )
    web = TestClient(create_app(runtime.sessions, runtime.files))
    forged = f"={hash_key(token)}"
    assert web.post(f"/t/acme/actions/{forged}").status_code in (400, 404)
    assert web.post(f"/t/acme/actions/{token}").status_code == 200  # the secret itself works
    sign_in(web, runtime.sessions, "acme", "bob@acme.example")
    with runtime.sessions() as s:
        stored = s.scalars(select(WebSession.token_hash)).one()
    stranger = TestClient(create_app(runtime.sessions, runtime.files))
    stranger.cookies.set(COOKIE, f"={stored}")
    assert "bob@acme.example" not in stranger.get("/t/acme", follow_redirects=True).text
