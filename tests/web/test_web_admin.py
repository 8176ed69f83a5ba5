"""Administering a tenant on the web: only its administrators see it; settings, users, spaces
and default subscriptions change through the same rules as the CLI; held mail is approved or
rejected; a rejected message is retried; bad values change nothing and say why."""

from __future__ import annotations

import re
from email.message import EmailMessage
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from mailhub.db import unit_of_work
from mailhub.domain import directory
from mailhub.models import InboundMessage, SubscriptionDefault, User, WebSession
from mailhub.web.app import create_app

from conftest import relayed_runtime, wait_until
from helpers import sign_in, smtp_send


def _stranger_mail(n: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Eve <eve@partner.example>"
    msg["To"] = "sales@acme.example"
    msg["Subject"] = f"Offer {n}"
    msg["Message-ID"] = f"<offer-{n}@partner.example>"
    msg.set_content("A proposal.")
    return msg.as_bytes()


def test_an_administrator_runs_the_tenant_from_the_browser(tmp_path: Path) -> None:
    with relayed_runtime(tmp_path) as (rt, sink, server):
        with unit_of_work(rt.sessions) as s:
            directory.get_user(
                s, directory.get_tenant(s, "acme"), "ann@acme.example"
            ).is_admin = True
        # Ann's browser asks for English: the tenant's language (German, below) is for those
        # whose browsers ask for nothing mailhub speaks
        web = TestClient(create_app(rt.sessions, rt.files), headers={"Accept-Language": "en"})
        bob = TestClient(create_app(rt.sessions, rt.files))
        bob_csrf = sign_in(bob, rt.sessions, "acme", "bob@acme.example")
        # Not an administrator: as if there were no such page, and no POST goes through
        assert bob.get("/t/acme/admin").status_code == 404
        assert (
            bob.post(
                "/t/acme/admin", data={"csrf": bob_csrf, "do": "add_space", "slug": "x"}
            ).status_code
            == 404
        )
        csrf = sign_in(web, rt.sessions, "acme", "ann@acme.example")
        page = web.get("/t/acme/admin")
        assert (
            page.status_code == 200
            and "Administer Acme" in page.text
            and 'href="/t/acme/admin"' in page.text
        )

        def post(**data: str) -> str:
            r = web.post("/t/acme/admin", data={"csrf": csrf, **data})
            assert r.status_code in (200, 422), r.status_code
            m = re.search(r'role="status"><strong>([^<]*)<', r.text)
            return m.group(1) if m else r.text

        # Settings: strangers' mail is held for a moderator; a bad cap changes nothing
        assert (
            post(
                do="tenant",
                unknown_senders="moderate",
                receipts="yes",
                hourly_cap="10",
                locale="de",
                inactive_days="730",
            )
            == "Settings saved."
        )
        assert "Not changed: the hourly cap must be a number" in post(
            do="tenant", hourly_cap="lots"
        )
        # A browser that asks for no language mailhub speaks gets the tenant's: German now
        german = web.get("/t/acme/admin", headers={"Accept-Language": "pt"}).text
        assert "Acme verwalten" in german and "Eingangsprotokoll" in german
        assert "Not changed: the days of inactivity must be a number" in post(
            do="tenant", inactive_days="-3"
        )
        with rt.sessions() as s:
            t = directory.get_tenant(s, "acme")
            assert (
                t.unknown_senders,
                t.hourly_cap,
                t.locale,
                t.publish_receipts,
                t.keep_shared_content,  # unticked: an erased person's content is deleted
                t.inactive_days,
            ) == ("moderate", 10, "de", True, False, 730)
        # Users: add, make admin, deactivate (which signs them out at once); not oneself
        assert (
            post(do="add_user", email="Cat@Acme.example", name="Cat")
            == "cat@acme.example added and sent a welcome mail."
        )
        assert "Not changed: cat@acme.example is already a user" in post(
            do="add_user", email="cat@acme.example", name="Cat"
        )
        assert (
            post(do="user", email="cat@acme.example", admin="yes")
            == "cat@acme.example: active, administrator."
        )
        assert (
            post(do="user", email="bob@acme.example", active="no")
            == "bob@acme.example: deactivated."
        )
        assert bob.get("/t/acme/pages", follow_redirects=False).status_code == 303
        with rt.sessions() as s:
            bob_id = s.scalars(select(User.id).where(User.email == "bob@acme.example")).one()
            assert s.scalars(select(WebSession).where(WebSession.user_id == bob_id)).all() == []
        assert "Not changed: You cannot deactivate yourself." in post(
            do="user", email="ann@acme.example", active="no"
        )
        # Spaces and their defaults; a mandatory default cannot be muted
        assert (
            post(do="add_space", slug="news", name="News")
            == "Space News added: mail news@acme.example."
        )
        assert (
            post(do="default", space="news", level="watching", frequency="daily", mandatory="yes")
            == "Default for News saved."
        )
        assert "Not changed: a mandatory default cannot be muted" in post(
            do="default", space="news", level="muted", mandatory="yes"
        )
        with rt.sessions() as s:
            d = s.scalars(select(SubscriptionDefault)).one()
            assert (d.level, d.frequency, d.mandatory) == ("watching", "daily", True)
        # Without the CSRF token nothing happens
        assert web.post("/t/acme/admin", data={"do": "add_space", "slug": "y"}).status_code == 403

        # Held mail: listed, approved from the page, then published by the next sweep
        smtp_send(server.port, "eve@partner.example", ["sales@acme.example"], _stranger_mail(1))
        smtp_send(server.port, "eve@partner.example", ["sales@acme.example"], _stranger_mail(2))
        wait_until(lambda: _statuses(rt) == ["held", "held"])
        # Each notice to the administrators says how many more are waiting
        wait_until(
            lambda: (
                sum("Wartet auf Freigabe" in str(r.message["Subject"]) for r in sink.received) >= 4
            )
        )
        # (in German: the tenant's language, set above, for people who chose none)
        notices = [r for r in sink.received if "Wartet auf Freigabe" in str(r.message["Subject"])]
        assert any(
            "Ebenfalls wartend: 1 weitere Nachricht"
            in r.message.get_body(preferencelist=("plain",)).get_content()
            for r in notices
        )
        shown = web.get("/t/acme/admin").text
        assert "Moderation (2)" in shown and "eve@partner.example" in shown
        with rt.sessions() as s:
            first, second = s.scalars(select(InboundMessage.id).order_by(InboundMessage.id)).all()
        assert (
            post(do="approve", inbound=str(first))
            == f"Message {first} approved: it is published in a moment."
        )
        assert post(do="reject", inbound=str(second)) == f"Message {second} rejected."
        rt.sweep(grace=0)
        wait_until(lambda: _statuses(rt) == ["processed", "rejected"])
        # The inbound log filters by status; a rejected message can be retried
        log = web.get("/t/acme/admin?status=rejected").text
        assert f"<td>{second}</td>" in log and f"<td>{first}</td>" not in log
        assert post(do="retry", inbound=str(second)) == f"Message {second} is queued again."
        assert "Not changed: inbound message" in post(do="retry", inbound=str(first))
        assert web.get("/t/acme/admin?status=nonsense").status_code == 404


def _statuses(rt: object) -> list[str]:
    with rt.sessions() as s:  # type: ignore[attr-defined]
        return [m.status for m in s.scalars(select(InboundMessage).order_by(InboundMessage.id))]


def test_a_new_member_is_welcomed_with_a_way_in(tmp_path: Path) -> None:
    with relayed_runtime(tmp_path) as (rt, sink, _):
        with unit_of_work(rt.sessions) as s:
            t = directory.get_tenant(s, "acme")
            directory.get_user(s, t, "ann@acme.example").is_admin = True
            directory.add_space(s, t, "board", "Board")
            directory.set_space(s, t, "board", restricted=True)
        web = TestClient(create_app(rt.sessions, rt.files, notify=rt.enqueue_notifications))
        csrf = sign_in(web, rt.sessions, "acme", "ann@acme.example")
        web.post(
            "/t/acme/admin",
            data={"csrf": csrf, "do": "add_user", "email": "dan@acme.example", "name": "Dan"},
        )
        wait_until(lambda: any(r.rcpt_tos == ["dan@acme.example"] for r in sink.received))
        mail = next(r for r in sink.received if r.rcpt_tos == ["dan@acme.example"]).message
        assert str(mail["Subject"]) == "Welcome to the Acme intranet"
        text = mail.get_body(preferencelist=("plain",)).get_content()
        # What it is, where to mail (not the members-only space), how replying works, a way in
        assert "a mail to a space's address becomes a page" in text
        assert "- Sales: sales@acme.example" in text and "board@" not in text
        assert "Reply to any notification to comment" in text
        assert "/t/acme/preferences" in text
        link = re.search(r"https://intranet\.acme\.example(/t/acme/signin/\S+)", text)
        assert link is not None
        dan = TestClient(create_app(rt.sessions, rt.files))
        confirm = dan.get(link.group(1)).text
        assert "signs in <strong>dan@acme.example</strong>" in confirm
        csrf_token = re.search(r'name="csrf" value="([^"]+)"', confirm)
        assert csrf_token is not None
        signed = dan.post(link.group(1), data={"csrf": csrf_token.group(1)}, follow_redirects=False)
        assert signed.status_code == 303 and dan.get("/t/acme/pages").status_code == 200
        with rt.sessions() as s:
            assert s.scalars(select(User).where(User.email == "dan@acme.example")).one().active
