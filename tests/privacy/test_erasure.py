"""Erasure (GDPR Art. 17) over real SMTP, files and SQLite: a person with pages, comments, an
attachment and its thumbnails, answers, queued mail, a digest waiting, sessions and a backup
asks from their preferences page, confirms by mail, and is erased — files before rows — with a
proof that every store of the data map holds nothing of them. A backup made before comes back
without them; an erasure killed midway resumes; the tenant may delete shared content instead
of keeping it anonymized."""

from __future__ import annotations

import re
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from mailhub.db import unit_of_work
from mailhub.domain import directory, forms
from mailhub.domain.search import find
from mailhub.models import (
    Attachment,
    Comment,
    DigestItem,
    Erasure,
    Form,
    FormVersion,
    InboundMessage,
    Page,
    PrivacyEvent,
    PrivacyRequest,
    Revision,
    SearchEntry,
    Tenant,
    User,
)
from mailhub.privacy import backups, datamap, erasure
from mailhub.privacy.proof import Subject, prove
from mailhub.web.app import create_app

from conftest import relayed_runtime, wait_until
from helpers import final_count, png, settled, sign_in, smtp_send
from smtp_sink import Received

BOB = "bob@acme.example"


def _text(r: Received) -> str:
    body = r.message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content()).replace("\r\n", "\n")


def _mail(sender: str, to: str, subject: str, body: str, n: int, image: bool = False) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = f"<erase-{n}@acme.example>"
    msg.set_content(body)
    if image:
        msg.add_attachment(png(), maintype="image", subtype="png", filename="whiteboard.png")
    return msg.as_bytes()


def _build_bob(rt: Any, sink: Any, server: Any) -> dict[str, Any]:
    """Bob Builder with a page (and a photo with thumbnails), a comment on Ann's page that
    names him, an answer to Ann's form, mail sent to him and a digest item waiting."""
    with unit_of_work(rt.sessions) as s:
        directory.get_user(s, directory.get_tenant(s, "acme"), BOB).name = "Bob Builder"
    smtp_send(
        server.port,
        BOB,
        ["sales@acme.example"],
        _mail(f"Bob Builder <{BOB}>", "sales@acme.example", "Whiteboard", "Our plan.", 1, True),
    )
    smtp_send(
        server.port,
        "ann@acme.example",
        ["sales@acme.example"],
        _mail(
            "Ann <ann@acme.example>",
            "sales@acme.example",
            "Team list",
            "Questions go to Bob Builder (bob@acme.example) or me.",
            2,
        ),
    )
    smtp_send(
        server.port,
        "ann@acme.example",
        ["sales+form@acme.example"],
        _mail(
            "Ann <ann@acme.example>",
            "sales+form@acme.example",
            "Lunch",
            "1. Which day? [Mon / Tue]\n",
            3,
        ),
    )
    wait_until(lambda: final_count(rt) == 3)
    wait_until(lambda: len(sink.received) >= 2)  # Bob heard of Ann's page and form
    with unit_of_work(rt.sessions) as s:
        t = directory.get_tenant(s, "acme")
        bob = directory.get_user(s, t, BOB)
        ann_page = s.scalars(select(Page).where(Page.title == "Team list")).one()
        form = s.scalars(select(Form)).one()
        version = s.scalars(select(FormVersion)).one()
        answered = forms.answer(s, t, form, version, bob, {0: "Tue"}, via="web")
        # A digest item waiting for Bob, as if his sales mail were daily
        s.add(
            DigestItem(
                tenant_id=t.id,
                user_id=bob.id,
                frequency="daily",
                event_key="test:digest:bob",
                kind="page_created",
                space_id=ann_page.space_id,
                page_id=ann_page.id,
                reason="you follow sales",
            )
        )
        ids = {"ann_page": ann_page.id, "tenant": t.id, "bob": bob.id}
    rt.enqueue_notifications(answered.notification_ids)  # Ann hears of his answer
    web = TestClient(
        create_app(
            rt.sessions, rt.files, notify=rt.enqueue_notifications, base_url=rt.settings.base_url
        )
    )
    csrf = sign_in(web, rt.sessions, "acme", BOB)
    web.post(
        f"/t/acme/pages/{ids['ann_page']}/comments",
        data={"csrf": csrf, "text": "Yes, ask Bob Builder. Photo: see my page."},
    )
    with rt.sessions() as s:
        photo = s.scalars(select(Attachment).where(Attachment.uploader_id == ids["bob"])).one()
        ids["files"] = [photo.path, *photo.thumbnails.values()]
        ids["raw"] = [
            m.raw_path
            for m in s.scalars(select(InboundMessage).where(InboundMessage.mail_from == BOB))
        ]
    assert len(ids["files"]) >= 2 and all((rt.files.root / f).exists() for f in ids["files"])
    ids["web"], ids["csrf"] = web, csrf
    return ids


def _ask_and_confirm(rt: Any, sink: Any, ids: dict[str, Any]) -> None:
    web, csrf = ids["web"], ids["csrf"]
    before = len(sink.received)
    said = web.post("/t/acme/preferences", data={"csrf": csrf, "do": "erase", "arg": ""})
    assert "Nothing is erased until you confirm it" in said.text

    def confirmations() -> list[Received]:  # other mail (Bob's edit, to Ann) may be in flight
        return [r for r in sink.received[before:] if "erasure of your account" in _text(r)]

    wait_until(lambda: settled(rt) and bool(confirmations()))
    [confirm] = confirmations()
    assert confirm.rcpt_tos == [BOB]
    link = re.search(r"https://intranet\.acme\.example(/t/acme/privacy/\S+)", _text(confirm))
    assert link
    assert "cannot be undone" in web.get(link.group(1)).text
    assert "being erased now" in web.post(link.group(1)).text


def test_an_erased_person_leaves_nothing_and_a_proof_says_so(tmp_path: Path) -> None:
    with relayed_runtime(tmp_path) as (rt, sink, server):
        ids = _build_bob(rt, sink, server)
        made = backups.create(
            rt.sessions, rt.places.keys, rt.places.backups, rt.files, ids["tenant"], keep=3
        )
        with rt.sessions() as s:
            t = s.get_one(Tenant, ids["tenant"])
            subject = Subject(t.id, ids["bob"], BOB, "Bob Builder")
            before = prove(s, rt.places, subject)
        # Before: Bob is in every kind of store the scenario touches
        for store in (
            "table users",
            "table pages",
            "table revisions",
            "table comments",
            "table attachments",
            "table form_responses",
            "table digest_items",
            "table notifications",
            "table web_sessions",
            "table inbound_messages",
            "table search_entries",
            "table search_fts",
            "file store raw_dir",
            "file store keys_dir",
            "backup tenant",
        ):
            assert before[store] > 0, store
        _ask_and_confirm(rt, sink, ids)
        sent = len(sink.received)
        [outcome] = rt.run_erasures()

        # The proof: every store the data map lists, each with zero hits, kept with the request
        assert outcome.state == "done", outcome.left
        # Nor is he in the database's own files, read as bytes: the WAL, which held the pages
        # as they were, was written into the main file (where secure_delete zeroed what was
        # deleted) and emptied
        database = rt.settings.data_dir / "mailhub.sqlite3"
        raw = b"".join(p.read_bytes() for p in database.parent.glob(database.name + "*"))
        assert raw.count(BOB.encode()) == 0 and raw.count(b"Bob Builder") == 0
        stores = datamap.load()
        expected = len(stores["file_stores"]) + len(stores["queues"]) + len(stores["logs"])
        expected += (
            1
            + len(stores["backups"])
            + sum(  # 1: the database's own files
                1 for e in stores["tables"].values() if e.get("only_on", "sqlite") == "sqlite"
            )
        )
        assert len(outcome.proof) == expected and set(outcome.proof.values()) == {0}
        with rt.sessions() as s:
            req = s.scalars(select(PrivacyRequest).where(PrivacyRequest.kind == "erase")).one()
            proof = s.scalars(
                select(PrivacyEvent).where(
                    PrivacyEvent.request_id == req.id, PrivacyEvent.event == "proof"
                )
            ).one()
            assert (req.state, req.user_id) == ("done", None)
            # (recorded in the erasure's transaction; the database's files are read after it)
            assert proof.detail == {"stores": expected - 1, "hits": 0, "left": {}}
            ledger = s.scalars(select(Erasure)).one()
            assert ledger.user_id == ids["bob"] and ledger.subject_hash == req.subject_hash
            # His raw mail is gone (the photo stays with his page, which the tenant keeps)
            assert not any((rt.raw_store.root / r).exists() for r in ids["raw"])
            assert all((rt.files.root / f).exists() for f in ids["files"])
            assert s.get(User, ids["bob"]) is None
            # Shared content stays, credited to the former member, without his name or address
            former = s.scalars(select(User).where(User.email == erasure.FORMER_MEMBER)).one()
            page = s.scalars(select(Page).where(Page.title == "Whiteboard")).one()
            assert page.author_id == former.id and not former.active
            photo = s.scalars(select(Attachment)).one()
            assert photo.uploader_id == former.id
            ann_text = s.scalars(
                select(Revision.body_text).where(Revision.page_id == ids["ann_page"])
            ).one()
            assert "Bob Builder" not in ann_text and "[erased]" in ann_text
            comment = s.scalars(select(Comment)).one()
            assert comment.author_id == former.id and "[erased]" in comment.body_text
            assert not find(s, s.get_one(Tenant, ids["tenant"]), "builder")
            assert s.scalar(select(func.count()).select_from(SearchEntry)) >= 3
            audit = " ".join(str(e.detail) for e in s.scalars(select(PrivacyEvent)))
            assert "bob" not in audit.lower()
        # Administrators see the proof with the request, in the privacy log
        with unit_of_work(rt.sessions) as s:
            directory.get_user(
                s, directory.get_tenant(s, "acme"), "ann@acme.example"
            ).is_admin = True
        admin = TestClient(create_app(rt.sessions, rt.files))
        sign_in(admin, rt.sessions, "acme", "ann@acme.example")
        log_page = admin.get("/t/acme/admin").text
        assert f"{expected - 1} stores checked, 0 hits left" in log_page
        # One last mail, not kept anywhere: it is done
        wait_until(lambda: len(sink.received) == sent + 1)
        last = sink.received[-1]
        assert last.rcpt_tos == [BOB] and "erased" in str(last.message["Subject"])
        assert "none still holds your name or address" in _text(last)

        # A backup from before the erasure: it comes back without Bob (his key is destroyed,
        # and the ledger is replayed), and search works over what came back
        restored = backups.restore(
            rt.sessions, rt.places.keys, rt.files, ids["tenant"], rt.places.backups, made.name
        )
        assert restored.skipped["users"] == 1 and restored.skipped["pages"] == 1
        with rt.sessions() as s:
            assert s.scalar(select(func.count()).select_from(User).where(User.email == BOB)) == 0
            titles = set(s.scalars(select(Page.title)))
            assert "Team list" in titles and "Whiteboard" not in titles
            t = s.get_one(Tenant, ids["tenant"])
            assert [h.title for h in find(s, t, "team")] == ["Team list"]
            assert (
                prove(s, rt.places, Subject(t.id, ids["bob"], BOB, "Bob Builder"))["table users"]
                == 0
            )


def test_an_erasure_killed_midway_resumes_and_a_tenant_may_delete_shared_content(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with relayed_runtime(tmp_path) as (rt, sink, server):
        ids = _build_bob(rt, sink, server)
        with unit_of_work(rt.sessions) as s:
            s.get_one(Tenant, ids["tenant"]).keep_shared_content = False
        edited = ids["web"].post(  # Bob improves Ann's page: a revision of someone else's page
            f"/t/acme/pages/{ids['ann_page']}/edit",
            data={"csrf": ids["csrf"], "title": "Team list", "text": "Questions go to me."},
        )
        assert edited.status_code == 200
        _ask_and_confirm(rt, sink, ids)

        def killed(*args: Any) -> None:
            raise RuntimeError("killed")

        with monkeypatch.context() as m:  # the process dies after the files, before the rows
            m.setattr(erasure.rows, "erase_rows", killed)
            assert rt.run_erasures() == []
        with rt.sessions() as s:
            req = s.scalars(select(PrivacyRequest).where(PrivacyRequest.kind == "erase")).one()
            assert req.state == "running" and s.get(User, ids["bob"]) is not None
        assert not any((rt.files.root / f).exists() for f in ids["files"])
        [outcome] = rt.run_erasures()  # the next sweep
        assert outcome.state == "done" and set(outcome.proof.values()) == {0}
        with rt.sessions() as s:
            # Deleted, not anonymized: his page with its comments; his comment elsewhere
            assert s.scalars(select(Page.title)).all() == ["Team list"]
            assert s.scalar(select(func.count()).select_from(Comment)) == 0
            assert s.scalar(select(func.count()).select_from(Attachment)) == 0
            # Ann's page keeps its history: his revision stays, credited to the former member
            history = s.execute(
                select(Revision.body_text, User.email)
                .join(User, User.id == Revision.author_id)
                .where(Revision.page_id == ids["ann_page"])
                .order_by(Revision.number)
            ).all()
            assert [email for _, email in history] == ["ann@acme.example", erasure.FORMER_MEMBER]
            assert "[erased]" in history[0][0]  # without his name
        assert rt.run_erasures() == []  # nothing left to do


def test_erase_now_from_the_cli_records_the_request_and_its_proof(tmp_path: Path) -> None:
    with relayed_runtime(tmp_path) as (rt, _sink, _server):
        with rt.sessions() as s:
            t = directory.get_tenant(s, "acme")
        outcome = erasure.erase_user(rt.sessions, rt.places, t, "Bob@acme.example", via="cli")
        assert outcome.state == "done" and set(outcome.proof.values()) == {0}
        with rt.sessions() as s:
            assert directory.user_by_email(s, t.id, BOB) is None
            req = s.scalars(select(PrivacyRequest)).one()
            assert (req.kind, req.state, req.via) == ("erase", "done", "cli")
