"""Authorization per space: a restricted space is read, written and heard of by its members
(and the tenant's administrators) only: on the web, in search, in notifications, and by mail."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from mailhub.db import unit_of_work
from mailhub.domain import directory, preferences
from mailhub.models import InboundMessage, Page
from mailhub.web.app import create_app

from conftest import relayed_runtime, wait_until
from helpers import sign_in, smtp_send


def _mail(sender: str, subject: str, n: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "board@acme.example"
    msg["Subject"] = subject
    msg["Message-ID"] = f"<board-{n}@acme.example>"
    msg.set_content("Confidential: the acquisition of Initech.")
    return msg.as_bytes()


def test_a_restricted_space_is_for_its_members_only(tmp_path: Path) -> None:
    with relayed_runtime(tmp_path) as (rt, sink, server):
        with unit_of_work(rt.sessions) as s:
            t = directory.get_tenant(s, "acme")
            board = directory.add_space(s, t, "board", "Board")
            dan = directory.add_user(s, t, "dan@acme.example", "Dan")
            cat = directory.add_user(s, t, "cat@acme.example", "Cat")
            directory.add_user(s, t, "root@acme.example", "Root", admin=True)
            directory.set_space(s, t, "board", restricted=True)
            directory.add_member(s, t, "board", "ann@acme.example")
            directory.add_member(s, t, "board", "dan@acme.example")
            for watcher in (dan, cat):  # Cat watches, but is not a member
                preferences.follow(s, t, watcher, board)

        # Ann (a member) posts: Dan hears of it, Cat does not
        smtp_send(
            server.port,
            "ann@acme.example",
            ["board@acme.example"],
            _mail("Ann <ann@acme.example>", "Acquisition", 1),
        )
        wait_until(lambda: len(sink.received) == 1)
        assert sink.received[0].rcpt_tos == ["dan@acme.example"]
        # Cat (not a member) cannot post to it, and is told why
        smtp_send(
            server.port,
            "cat@acme.example",
            ["board@acme.example"],
            _mail("Cat <cat@acme.example>", "Me too", 2),
        )
        wait_until(lambda: len(sink.received) == 2)
        refusal = sink.received[1].message.get_body(preferencelist=("plain",)).get_content()
        assert "Only members of the Board space can write to it" in refusal
        with rt.sessions() as s:
            page = s.scalars(select(Page)).one()
            assert [
                m.status for m in s.scalars(select(InboundMessage).order_by(InboundMessage.id))
            ] == ["processed", "rejected"]

        cat_web = TestClient(create_app(rt.sessions, rt.files))
        csrf = sign_in(cat_web, rt.sessions, "acme", "cat@acme.example")
        dan_web = TestClient(create_app(rt.sessions, rt.files))
        sign_in(dan_web, rt.sessions, "acme", "dan@acme.example")
        # On the web, to Cat the page does not exist: not listed, not shown, not found
        assert "Acquisition" not in cat_web.get("/t/acme/pages").text
        assert cat_web.get(f"/t/acme/pages/{page.id}").status_code == 404
        assert cat_web.get(f"/t/acme/pages/{page.id}/history").status_code == 404
        assert cat_web.get("/t/acme/search.json?q=initech").json()["hits"] == []
        assert (
            cat_web.post(
                f"/t/acme/pages/{page.id}/comments", data={"csrf": csrf, "text": "hi"}
            ).status_code
            == 404
        )
        assert "Board" not in cat_web.get("/t/acme/pages/new").text
        assert (
            cat_web.post(
                "/t/acme/pages/new", data={"csrf": csrf, "space": "board", "title": "x"}
            ).status_code
            == 404
        )
        assert "Board" not in cat_web.get("/t/acme/preferences").text
        # Dan, a member, sees it everywhere
        assert dan_web.get(f"/t/acme/pages/{page.id}").status_code == 200
        assert [
            h["title"] for h in dan_web.get("/t/acme/search.json?q=initech").json()["hits"]
        ] == ["Acquisition"]

        # An administrator makes Cat a member from the admin page: now she sees it
        root = TestClient(create_app(rt.sessions, rt.files))
        root_csrf = sign_in(root, rt.sessions, "acme", "root@acme.example")
        assert root.get(f"/t/acme/pages/{page.id}").status_code == 200  # administrators see all
        done = root.post(
            "/t/acme/admin",
            data={
                "csrf": root_csrf,
                "do": "add_member",
                "space": "board",
                "email": "cat@acme.example",
            },
        )
        assert "cat@acme.example is a member of board." in done.text
        assert cat_web.get(f"/t/acme/pages/{page.id}").status_code == 200
        # Opening the space to everyone works the same way
        root.post(
            "/t/acme/admin",
            data={"csrf": root_csrf, "do": "space", "space": "board", "restricted": ""},
        )
        with rt.sessions() as s:
            assert (
                directory.get_space(s, directory.get_tenant(s, "acme"), "board").restricted is False
            )
