"""The client corpus: real-shaped mail from each common client in each language the issue names
(tests/mail/clients/*.eml, expected results in expected.json), checked twice — the content
pipeline on its own, and every file sent over SMTP through the whole product."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

from mailhub.content.parse import parse_message
from mailhub.content.reply import reply_content
from mailhub.db import unit_of_work
from mailhub.ingress.smtp import SmtpServer
from mailhub.mailboxes.pages import body_of, title_of
from mailhub.models import Attachment, Comment, InboundMessage, Page, ReplyKey, Revision, User
from mailhub.outbound.keys import hash_key, new_key
from mailhub.tasks import Runtime

from conftest import wait_until
from helpers import MAIL, fixture, smtp_send

CLIENTS = MAIL / "clients"
EXPECTED: dict[str, dict[str, Any]] = json.loads((CLIENTS / "expected.json").read_text())
QUOTED = "pipeline review is on Thursday"  # the notification every reply quotes
REPLIES = sorted(name for name, e in EXPECTED.items() if e["kind"] == "reply")
PAGES = sorted(name for name, e in EXPECTED.items() if e["kind"] == "page")


def test_every_file_has_an_expectation_and_the_corpus_covers_the_languages() -> None:
    assert sorted(p.name for p in CLIENTS.glob("*.eml")) == sorted(EXPECTED)
    languages = {e["language"] for e in EXPECTED.values()}
    assert languages >= {"en", "de", "fr", "nl", "es", "it", "pt", "pl", "da", "sv", "no", "ja"}
    assert "zh" in languages


@pytest.mark.parametrize("name", REPLIES)
def test_reply_keeps_the_new_text_and_sets_the_history_apart(name: str) -> None:
    expected = EXPECTED[name]
    parsed = parse_message((CLIENTS / name).read_bytes())
    assert parsed.from_addr == "bob@acme.example"
    assert "Q3 pipeline review" in parsed.subject  # encoded words decoded, no mojibake
    reply = reply_content(parsed)
    assert reply.body_text == expected["body"]
    assert QUOTED not in reply.body_text and QUOTED not in reply.body_html
    assert QUOTED in reply.trimmed  # kept, to show collapsed
    assert expected.get("trimmed", QUOTED) in reply.trimmed


@pytest.mark.parametrize("name", PAGES)
def test_new_page_keeps_title_text_and_files(name: str) -> None:
    expected = EXPECTED[name]
    parsed = parse_message((CLIENTS / name).read_bytes())
    body_html, text = body_of(parsed)
    assert title_of(parsed, text) == expected["title"]
    for snippet in expected["body_contains"]:
        assert snippet in text
    assert "[cid:" not in text and "\r" not in text
    assert sorted(f.filename for f in parsed.files) == sorted(expected["attachments"])


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.usefixtures("acme")
def test_the_whole_corpus_over_smtp(runtime: Runtime, smtp: SmtpServer) -> None:
    # Given a page Bob was notified about, and the reply address that notification carried
    smtp_send(smtp.port, "ann@acme.example", ["sales@acme.example"], fixture("page_plain.eml"))
    wait_until(lambda: _statuses(runtime) == ["processed"])
    key = new_key()
    with unit_of_work(runtime.sessions) as s:
        page = s.scalars(select(Page)).one()
        bob = s.scalars(select(User).where(User.email == "bob@acme.example")).one()
        s.add(
            ReplyKey(
                tenant_id=page.tenant_id,
                user_id=bob.id,
                page_id=page.id,
                key_hash=hash_key(key),
            )
        )
        first_page = page.id

    # When every client's reply and every new page is sent in
    for name in REPLIES:
        raw = (CLIENTS / name).read_bytes().replace(b"REPLYKEY", key.encode())
        smtp_send(smtp.port, "bob@acme.example", [f"reply+{key}@acme.example"], raw)
    for name in PAGES:
        smtp_send(
            smtp.port, "ann@acme.example", ["sales@acme.example"], (CLIENTS / name).read_bytes()
        )
    total = 1 + len(REPLIES) + len(PAGES)
    wait_until(
        lambda: len(_statuses(runtime)) == total and set(_statuses(runtime)) == {"processed"}
    )

    # Then each reply is one comment holding just the new text, and each page is as expected
    with runtime.sessions() as s:
        comments = s.scalars(select(Comment).order_by(Comment.id)).all()
        assert sorted(c.body_text for c in comments) == sorted(EXPECTED[n]["body"] for n in REPLIES)
        assert all(QUOTED in c.quoted_text for c in comments)
        for name in PAGES:
            expected = EXPECTED[name]
            page = s.scalars(select(Page).where(Page.title == expected["title"])).one()
            assert page.id != first_page
            rev = s.scalars(select(Revision).where(Revision.page_id == page.id)).one()
            files = s.scalars(select(Attachment).where(Attachment.page_id == page.id)).all()
            assert sorted(a.filename for a in files) == sorted(expected["attachments"])
            assert "cid:" not in rev.body_html
            linked = [a for a in files if f"/attachments/{a.id}" in rev.body_html]
            assert len(linked) == expected["inline_images"]


def _statuses(runtime: Runtime) -> list[str]:
    with runtime.sessions() as s:
        return [m.status for m in s.scalars(select(InboundMessage).order_by(InboundMessage.id))]
