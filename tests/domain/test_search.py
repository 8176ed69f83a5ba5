"""Search with the database's own engine (FTS5 on SQLite, GIN-indexed tsvector on PostgreSQL):
pages, comments, forms and file names of the signed-in member's tenant only, prefixes as one
types, always the current text, and an erased item gone in the transaction that erases it."""

from __future__ import annotations

from email.message import EmailMessage

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select

from mailhub.content.questions import parse
from mailhub.db import unit_of_work
from mailhub.domain import attachment_text, directory, editing, search
from mailhub.domain.search import session_factory
from mailhub.ingress.smtp import SmtpServer
from mailhub.models import (
    Attachment,
    Comment,
    DigestItem,
    Form,
    FormVersion,
    Notification,
    Page,
    ReplyKey,
    Revision,
    SearchEntry,
    Tenant,
)
from mailhub.tasks import Runtime
from mailhub.web.app import create_app

from conftest import wait_until
from helpers import docx_with, final_count, odt_with, pdf_with, sign_in, smtp_send, xlsx_with


def _titles(rt: Runtime, tenant: str, q: str) -> list[tuple[str, str]]:
    with rt.sessions() as s:
        return [(h.kind, h.title) for h in search.find(s, directory.get_tenant(s, tenant), q)]


def test_search_finds_current_content_of_one_tenant_only(
    runtime: Runtime, smtp: SmtpServer, acme: dict[str, int]
) -> None:
    with unit_of_work(runtime.sessions) as s:
        g = directory.add_tenant(s, "globex", "globex.example", "Globex")
        gus = directory.add_user(s, g, "gus@globex.example", "Gus")
        space = directory.add_space(s, g, "ops", "Ops")
        editing.create(s, g, space, gus, "Pipeline secrets of Globex", "Nobody else may read this")
    msg = EmailMessage()
    msg["From"] = "Ann <ann@acme.example>"
    msg["To"] = "sales@acme.example"
    msg["Subject"] = "Q3 pipeline review"
    msg["Message-ID"] = "<search-1@acme.example>"
    msg.set_content("The Überblick for Thursday: bring your numbers.")
    msg.add_attachment(
        b"%PDF-1.4 x", maintype="application", subtype="pdf", filename="Forecast 2027.pdf"
    )
    smtp_send(smtp.port, "ann@acme.example", ["sales@acme.example"], msg.as_bytes())
    wait_until(lambda: final_count(runtime) == 1)
    with unit_of_work(runtime.sessions) as s:
        t = directory.get_tenant(s, "acme")
        page = s.scalars(select(Page).where(Page.tenant_id == t.id)).one()
        bob = directory.get_user(s, t, "bob@acme.example")
        editing.comment(s, t, page.id, bob, "Counting the lighthouse deals too")
        form = Form(
            tenant_id=t.id, space_id=page.space_id, creator_id=bob.id, title="Offsite lunch poll"
        )
        s.add(form)
        s.flush()
        s.add(
            FormVersion(
                tenant_id=t.id,
                form_id=form.id,
                number=1,
                definition=parse("Offsite lunch poll", "1. Favourite dish\n").as_json(),
            )
        )

    # Prefixes as one types, diacritics or not, titles and text, comments, forms, file names
    assert _titles(runtime, "acme", "pipel") == [("page", "Q3 pipeline review")]
    assert ("page", "Q3 pipeline review") in _titles(runtime, "acme", "Thurs bring")
    assert _titles(runtime, "acme", "lighthouse") == [("comment", "Q3 pipeline review")]
    assert _titles(runtime, "acme", "dish") == [("form", "Offsite lunch poll")]
    assert _titles(runtime, "acme", "forecast") == [("attachment", "Forecast 2027.pdf")]
    assert _titles(runtime, "acme", "") == [] and _titles(runtime, "acme", '"*) OR (') == []
    # Another tenant's pages never show, whatever the words
    assert _titles(runtime, "acme", "secrets") == []
    assert _titles(runtime, "globex", "pipeline") == [("page", "Pipeline secrets of Globex")]

    # An edit replaces what is found: the current text, not an old revision's
    with unit_of_work(runtime.sessions) as s:
        t = directory.get_tenant(s, "acme")
        editing.revise(
            s,
            t,
            page.id,
            directory.get_user(s, t, "ann@acme.example"),
            "<p>Moved to Friday.</p>",
            "Q3 pipeline review (moved)",
        )
    assert _titles(runtime, "acme", "friday") == [("page", "Q3 pipeline review (moved)")]
    assert _titles(runtime, "acme", "thursday") == []

    # The web page and its JSON, for signed-in members only
    web = TestClient(create_app(runtime.sessions, runtime.files))
    assert web.get("/t/acme/search.json?q=friday", follow_redirects=False).status_code == 303
    sign_in(web, runtime.sessions, "acme", "bob@acme.example")
    data = web.get("/t/acme/search.json?q=frid").json()
    assert [h["url"] for h in data["hits"]] == [f"/t/acme/pages/{page.id}"]
    assert "[Friday]" in data["hits"][0]["snippet"]
    shown = web.get("/t/acme/search?q=lighthouse").text
    assert (
        "Counting the [lighthouse] deals" in shown and '<script src="/static/search.js">' in shown
    )
    assert web.get("/static/search.js").headers["content-type"].startswith("text/javascript")

    # Erasing the page takes its search entries with it, inside the same transaction
    with unit_of_work(runtime.sessions) as s:
        s.execute(delete(Notification).where(Notification.page_id == page.id))
        s.execute(delete(ReplyKey).where(ReplyKey.page_id == page.id))
        s.execute(delete(DigestItem).where(DigestItem.page_id == page.id))
        s.execute(delete(Comment).where(Comment.page_id == page.id))
        s.execute(delete(Attachment).where(Attachment.page_id == page.id))
        s.execute(delete(Revision).where(Revision.page_id == page.id))
        s.execute(delete(Page).where(Page.id == page.id))
        t = directory.get_tenant(s, "acme")
        assert search.find(s, t, "friday") == [] and search.find(s, t, "forecast") == []
        assert s.scalars(select(SearchEntry.kind).where(SearchEntry.tenant_id == t.id)).all() == [
            "form"
        ]


def test_words_inside_files_and_diacritics_either_way(
    runtime: Runtime, smtp: SmtpServer, acme: dict[str, int]
) -> None:
    """A PDF, a DOCX, an ODT and a spreadsheet mailed in are read in the background and
    found by the words inside them, with where the hit is; "Zoë" finds "Zoe" and the
    reverse, on both databases."""
    msg = EmailMessage()
    msg["From"] = "Ann <ann@acme.example>"
    msg["To"] = "sales@acme.example"
    msg["Subject"] = "Offsite planning"
    msg["Message-ID"] = "<search-files@acme.example>"
    msg.set_content("Zoe will book the rooms.")
    for data, name, kind in (
        (pdf_with("Itinerary for Zoë", "Kilimanjaro base camp"), "itinerary.pdf", "pdf"),
        (docx_with("Packing list", "Hippopotamus costume"), "packing.docx", "octet-stream"),
        (odt_with("Quokka sightings"), "wildlife.odt", "octet-stream"),
        (xlsx_with("Budget", "Zanzibar ferry"), "costs.xlsx", "octet-stream"),
    ):
        msg.add_attachment(data, maintype="application", subtype=kind, filename=name)
    smtp_send(smtp.port, "ann@acme.example", ["sales@acme.example"], msg.as_bytes())
    wait_until(lambda: final_count(runtime) == 1)
    # Read in the background (the worker's sweeper does this each pass; here, at once)
    attachment_text.read_pending(runtime.sessions, runtime.files)
    assert attachment_text.unread(runtime.sessions) == 0

    def found(q: str) -> list[tuple[str, str, str]]:
        with runtime.sessions() as s:
            t = directory.get_tenant(s, "acme")
            return [(h.kind, h.title, h.where) for h in search.find(s, t, q)]

    inside = "file on Offsite planning in Sales, inside the file"
    assert found("kilimanj") == [("attachment", "itinerary.pdf", inside)]
    assert found("hippo costume") == [("attachment", "packing.docx", inside)]
    assert found("quokka") == [("attachment", "wildlife.odt", inside)]
    assert found("zanzibar") == [("attachment", "costs.xlsx", inside)]
    assert found("itinerary") == [
        ("attachment", "itinerary.pdf", "file on Offsite planning in Sales")
    ]
    # Diacritics either way, in page text and file text alike
    for q in ("zoe", "Zoë", "ZOË"):
        assert {kind for kind, _, _ in found(q)} == {"page", "attachment"}, q
    with runtime.sessions() as s:
        [hit] = search.find(s, directory.get_tenant(s, "acme"), "zoë book")
    assert hit.where == "page in Sales" and "[Zoe] will [book]" in hit.snippet


def test_content_from_before_search_is_indexed_by_the_migration(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from alembic import command
    from sqlalchemy import text

    from mailhub.db import alembic_config, make_engine

    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    command.upgrade(alembic_config(url), "0014")
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO tenants (id, slug, name, domain, require_authenticated, unknown_senders, locale, hourly_cap, publish_receipts, created_at) VALUES (1, 'acme', 'Acme', 'acme.example', 0, 'reject', 'en', 20, 1, CURRENT_TIMESTAMP)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO users (id, tenant_id, email, name, is_admin, active, guest, created_at) VALUES (1, 1, 'ann@acme.example', 'Ann', 0, 1, 0, CURRENT_TIMESTAMP)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO spaces (id, tenant_id, slug, name, created_at) VALUES (1, 1, 'sales', 'Sales', CURRENT_TIMESTAMP)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO pages (id, tenant_id, space_id, author_id, title, created_at, updated_at) VALUES (1, 1, 1, 1, 'Budget', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO revisions (tenant_id, page_id, author_id, number, body_html, body_text, created_at) VALUES (1, 1, 1, 1, '', 'old words', CURRENT_TIMESTAMP), (1, 1, 1, 2, '', 'newest words', CURRENT_TIMESTAMP)"
            )
        )
    command.upgrade(alembic_config(url), "head")
    with session_factory(engine)() as s:
        t = directory.get_tenant(s, "acme")
        assert [h.title for h in search.find(s, t, "newest")] == ["Budget"]
        assert search.find(s, t, "old") == []
    command.downgrade(alembic_config(url), "0014")
    command.upgrade(alembic_config(url), "head")


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_file_that_takes_too_long_costs_its_child_not_the_worker(
    runtime: Runtime, smtp: SmtpServer, acme: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each file is read in a child process with a deadline: past it the child is killed,
    the file is found by its name only, and the next pass goes on with other files."""
    msg = EmailMessage()
    msg["From"] = "Ann <ann@acme.example>"
    msg["To"] = "sales@acme.example"
    msg["Subject"] = "Slow file"
    msg["Message-ID"] = "<search-slow@acme.example>"
    msg.set_content("See attached.")
    msg.add_attachment(
        docx_with("Wombat census"),
        maintype="application",
        subtype="octet-stream",
        filename="census.docx",
    )
    smtp_send(smtp.port, "ann@acme.example", ["sales@acme.example"], msg.as_bytes())
    wait_until(lambda: final_count(runtime) == 1)
    monkeypatch.setattr(attachment_text, "FILE_SECONDS", 0.001)  # no child finishes in time
    attachment_text.read_pending(runtime.sessions, runtime.files)
    assert attachment_text.unread(runtime.sessions) == 0  # given up on, not retried forever
    with runtime.sessions() as s:
        t = directory.get_tenant(s, "acme")
        assert search.find(s, t, "wombat") == []
        assert [h.title for h in search.find(s, t, "census")] == ["census.docx"]


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_file_read_after_an_erasure_does_not_bring_the_person_back(
    runtime: Runtime, smtp: SmtpServer, acme: dict[str, int]
) -> None:
    """A kept file whose text names the person, read or not read yet for search, is removed
    by the erasure, so its text cannot name them again afterwards."""
    from mailhub.privacy import erasure

    msg = EmailMessage()
    msg["From"] = "Ann <ann@acme.example>"
    msg["To"] = "sales@acme.example"
    msg["Subject"] = "Minutes"
    msg["Message-ID"] = "<search-erasure@acme.example>"
    msg.set_content("Minutes attached.")
    msg.add_attachment(
        docx_with("Bob Reader agreed to the plan."),
        maintype="application",
        subtype="octet-stream",
        filename="minutes.docx",
    )
    smtp_send(smtp.port, "ann@acme.example", ["sales@acme.example"], msg.as_bytes())
    wait_until(lambda: final_count(runtime) == 1)
    with runtime.sessions() as s:
        t = s.get_one(Tenant, acme["tenant"])
    # The file itself names him: it is removed (not kept to be read later), and the page
    # says so; the erasure ends done.
    outcome = erasure.erase_user(runtime.sessions, runtime.places, t, "bob@acme.example")
    assert outcome.state == "done", outcome.left
    attachment_text.read_pending(runtime.sessions, runtime.files)  # the next sweep
    with runtime.sessions() as s:
        texts = s.scalars(select(Attachment.extracted_text)).all()
        bodies = s.scalars(select(SearchEntry.body)).all()
    assert texts == [] and outcome.counts["attachments removed"] == 1
    assert all("Bob" not in body for body in bodies), bodies
