"""Signing in without a password, over real SMTP: the magic link, the session, CSRF, sign-out,
and what a stranger, a replayed link, a link scanner or a flood of requests gets."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from mailhub.db import unit_of_work
from mailhub.domain import directory
from mailhub.ingress.ratelimit import SenderRateLimiter
from mailhub.models import ActionToken, User, WebSession, utcnow
from mailhub.web.app import create_app
from mailhub.web.auth import COOKIE, CSRF_COOKIE

from conftest import relayed_runtime, wait_until
from helpers import press_sign_in
from smtp_sink import Received


def _link(r: Received) -> str:
    body = r.message.get_body(preferencelist=("plain",))
    assert body is not None
    m = re.search(r"https://intranet\.acme\.example(/t/acme/signin/\S+)", body.get_content())
    assert m, body.get_content()
    return m.group(1)


def _ask(web: TestClient, email: str, next_path: str = "") -> str:
    form = web.get("/t/acme/signin")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf and web.cookies.get(CSRF_COOKIE) == csrf.group(1)
    return web.post(
        "/t/acme/signin", data={"csrf": csrf.group(1), "email": email, "next": next_path}
    ).text


def test_a_member_signs_in_with_a_mailed_link_and_out_again(tmp_path: Path) -> None:
    with relayed_runtime(tmp_path) as (rt, sink, _):
        web = TestClient(create_app(rt.sessions, rt.files, notify=rt.enqueue_notifications))
        # A page asks for sign-in and comes back to where it was
        first = web.get("/t/acme/pages", follow_redirects=False)
        assert first.status_code == 303 and first.headers["location"].startswith(
            "/t/acme/signin?next=%2Ft%2Facme%2Fpages"
        )
        answer = _ask(web, "Bob@Acme.example", "/t/acme/pages?space=sales")
        assert "If Bob@Acme.example belongs to a member of Acme, a sign-in link is on its way" in (
            answer
        )
        wait_until(lambda: len(sink.received) == 1)
        mail = sink.received[0]
        assert mail.rcpt_tos == ["bob@acme.example"]
        assert str(mail.message["Subject"]) == "Sign in to Acme"
        link = _link(mail)

        # A link scanner's GET signs nobody in; the page's button (a POST) does
        scanned = web.get(link)
        assert scanned.status_code == 200 and "<button" in scanned.text
        # …which says whom it signs in, and where
        assert "signs in <strong>bob@acme.example</strong> to the Acme intranet" in scanned.text
        assert web.cookies.get(COOKIE) is None
        signed = press_sign_in(web, link)
        assert signed.status_code == 303
        assert signed.headers["location"] == "/t/acme/pages?space=sales"
        cookie = signed.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
        assert web.get("/t/acme/pages").status_code == 200
        with rt.sessions() as s:
            row = s.scalars(select(WebSession)).one()
            assert row.token_hash != web.cookies.get(COOKIE)  # only a hash is stored

        # Using the session keeps it alive: its expiry moves with its last use, even on a GET
        with unit_of_work(rt.sessions) as s:
            s.execute(
                update(WebSession).values(
                    last_seen_at=utcnow() - timedelta(minutes=10),
                    expires_at=utcnow() + timedelta(hours=1),
                )
            )
        assert web.get("/t/acme/pages").status_code == 200
        with rt.sessions() as s:
            assert s.scalars(select(WebSession)).one().expires_at > utcnow() + timedelta(days=29)

        # The link works once; a used one says so and offers to mail a new one
        again = press_sign_in(TestClient(create_app(rt.sessions, rt.files)), link)
        assert again.status_code == 400 and "already used" in again.text
        assert "Mail me a sign-in link" in again.text and 'action="/t/acme/signin"' in again.text
        opened_again = web.get(link)
        assert opened_again.status_code == 400 and "already used" in opened_again.text

        # "/" now opens the intranet this browser signed in to
        home = web.get("/", follow_redirects=False)
        assert home.status_code == 303 and home.headers["location"] == "/t/acme/pages"

        # Signing out needs the session's CSRF token, then ends the session
        assert web.post("/t/acme/signout", data={}).status_code == 403
        page = web.get("/t/acme/pages").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', page)
        assert csrf
        out = web.post("/t/acme/signout", data={"csrf": csrf.group(1)}, follow_redirects=False)
        assert out.status_code == 303
        with rt.sessions() as s:
            assert s.scalars(select(WebSession)).all() == []
        assert web.get("/t/acme/pages", follow_redirects=False).status_code == 303


def test_strangers_floods_old_links_and_foreign_redirects_get_nothing(tmp_path: Path) -> None:
    with relayed_runtime(tmp_path) as (rt, sink, _):
        app = create_app(
            rt.sessions,
            rt.files,
            notify=rt.enqueue_notifications,
            base_url="https://intranet.acme.example",
            limiter=SenderRateLimiter(limit=3, window=900),
        )
        web = TestClient(app, base_url="https://testserver")  # Secure cookies need https
        # A stranger is told exactly what a member is told, and nothing is mailed
        stranger = _ask(web, "eve@elsewhere.example")
        assert "If eve@elsewhere.example belongs to a member of Acme" in stranger
        # A form without its CSRF token is refused
        assert web.post("/t/acme/signin", data={"email": "bob@acme.example"}).status_code == 403
        # A member asks; the link would lead elsewhere, but next stays inside the tenant
        _ask(web, "bob@acme.example", "https://evil.example/")
        wait_until(lambda: len(sink.received) == 1)
        link = _link(sink.received[0])
        signed = press_sign_in(web, link)
        assert signed.headers["location"] == "/t/acme/pages"
        assert "Secure" in signed.headers["set-cookie"]  # served over https
        # Over the limit, a client address is told to wait (3 per 15 minutes here)
        _ask(web, "bob@acme.example")
        assert "Too many" in _ask(web, "bob@acme.example")
        # An expired link does nothing
        fresh = TestClient(app, base_url="https://testserver")
        with unit_of_work(rt.sessions) as s:
            s.execute(update(ActionToken).values(expires_at=utcnow() - timedelta(minutes=1)))
        wait_until(lambda: len(sink.received) == 2)
        late = press_sign_in(fresh, _link(sink.received[1]))
        assert late.status_code == 400 and "expired" in late.text
        # A deactivated member's session stops at once
        assert web.get("/t/acme/pages").status_code == 200
        with unit_of_work(rt.sessions) as s:
            s.execute(update(User).where(User.email == "bob@acme.example").values(active=False))
        assert web.get("/t/acme/pages", follow_redirects=False).status_code == 303
        with rt.sessions() as s:
            acme = directory.get_tenant(s, "acme")
            assert acme.slug == "acme"


def test_the_front_door_leads_to_sign_in(tmp_path: Path) -> None:
    with relayed_runtime(tmp_path) as (rt, sink, _):
        web = TestClient(create_app(rt.sessions, rt.files, notify=rt.enqueue_notifications))
        # One intranet here: "/" is its sign-in, never a placeholder
        only = web.get("/", follow_redirects=False)
        assert only.status_code == 303 and only.headers["location"] == "/t/acme/signin"
        with unit_of_work(rt.sessions) as s:
            globex = directory.add_tenant(s, "globex", "globex.example", "Globex")
            directory.add_user(s, globex, "bob@acme.example", "Bob at Globex")
        # Several: a form mails a link for each intranet the address belongs to
        door = web.get("/")
        assert door.status_code == 200 and "Sign in to your intranet" in door.text
        answer = web.post("/signin", data={"email": "bob@acme.example"}).text
        assert "If bob@acme.example belongs to a member of an intranet here" in answer
        wait_until(lambda: len(sink.received) == 2)
        subjects = sorted(str(r.message["Subject"]) for r in sink.received)
        assert subjects == ["Sign in to Acme", "Sign in to Globex"]
        # A stranger gets the same words and no mail
        stranger = web.post("/signin", data={"email": "eve@elsewhere.example"}).text
        assert "If eve@elsewhere.example belongs to a member of an intranet here" in stranger
        with rt.sessions() as s:
            assert len(list(s.scalars(select(User)))) >= 3
        assert len(sink.received) == 2
