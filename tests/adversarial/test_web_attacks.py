"""The web side tried as an attacker would: a page on another site cannot sign a member's
browser in (login CSRF) or post any other form, and signing in to one tenant never replaces
or reuses another tenant's session."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from mailhub.db import unit_of_work
from mailhub.domain import directory, signin
from mailhub.models import SubjectKind, WebSession
from mailhub.outbound.keys import mint_token
from mailhub.tasks import Runtime
from mailhub.web.app import create_app
from mailhub.web.auth import COOKIE

from conftest import relayed_runtime
from helpers import press_sign_in

BASE = "https://intranet.example"
EVIL = {"Origin": "https://evil.example"}


def _link(rt: Runtime, slug: str, email: str) -> str:
    with unit_of_work(rt.sessions) as s:
        tenant = directory.get_tenant(s, slug)
        return signin.link_for(s, tenant, email, BASE).removeprefix(BASE)


def _sessions(rt: Runtime) -> int:
    with rt.sessions() as s:
        return len(s.scalars(select(WebSession)).all())


def test_a_page_on_another_site_cannot_sign_a_browser_in(tmp_path: Path) -> None:
    with relayed_runtime(tmp_path) as (rt, _sink, _server):
        web = TestClient(create_app(rt.sessions, rt.files, base_url=BASE), base_url=BASE)
        link = _link(rt, "acme", "bob@acme.example")
        # An attacker's page posts the link it holds (its own account's, say) from its site
        forged = web.post(link, headers=EVIL, follow_redirects=False)
        assert forged.status_code == 403 and _sessions(rt) == 0
        # Without the page's own form token, even a same-site POST signs nobody in
        bare = web.post(link, follow_redirects=False)
        assert bare.status_code == 403 and _sessions(rt) == 0
        # The link was not used up by either: the member's own click still works
        assert press_sign_in(web, link).status_code == 303 and _sessions(rt) == 1


def test_no_other_form_can_be_posted_from_another_site(tmp_path: Path) -> None:
    with relayed_runtime(tmp_path) as (rt, _sink, _server):
        web = TestClient(create_app(rt.sessions, rt.files, base_url=BASE), base_url=BASE)
        with unit_of_work(rt.sessions) as s:
            t = directory.get_tenant(s, "acme")
            bob = directory.get_user(s, t, "bob@acme.example")
            space = directory.get_space(s, t, "sales")
            unfollow = mint_token(s, t.id, bob.id, "unfollow", SubjectKind.SPACE, space.id)
            unsubscribe = mint_token(s, t.id, bob.id, "unsubscribe", SubjectKind.SPACE, space.id)
        for path in (f"/t/acme/actions/{unfollow}", "/t/acme/signin"):
            refused = web.post(path, data={"csrf": "x"}, headers=EVIL)
            assert refused.status_code == 403 and "another site" in refused.text
        # Referer names the site when a browser leaves Origin out
        refused = web.post(
            f"/t/acme/actions/{unfollow}", headers={"Referer": "https://evil.example/page"}
        )
        assert refused.status_code == 403
        # The same action from mailhub's own page goes through
        done = web.post(f"/t/acme/actions/{unfollow}", headers={"Origin": BASE})
        assert done.status_code == 200 and "no longer get mail" in done.text
        # RFC 8058: the one-click unsubscribe is POSTed by mail providers, whatever they send
        one_click = web.post(
            f"/t/acme/unsubscribe/{unsubscribe}",
            data={"List-Unsubscribe": "One-Click"},
            headers=EVIL,
        )
        assert one_click.status_code == 200


def test_each_tenant_has_its_own_session(tmp_path: Path) -> None:
    with relayed_runtime(tmp_path) as (rt, _sink, _server):
        with unit_of_work(rt.sessions) as s:
            globex = directory.add_tenant(s, "globex", "globex.example", "Globex")
            directory.add_user(s, globex, "bob@globex.example", "Bob Globex")
        web = TestClient(create_app(rt.sessions, rt.files, base_url=BASE), base_url=BASE)
        # Bob signs in to acme, then to globex in the same browser
        acme = press_sign_in(web, _link(rt, "acme", "bob@acme.example"))
        assert "Path=/t/acme/" in acme.headers["set-cookie"]
        other = press_sign_in(web, _link(rt, "globex", "bob@globex.example"))
        assert "Path=/t/globex/" in other.headers["set-cookie"]
        # Both sessions hold: globex's did not replace acme's, and neither opens the other
        assert web.get("/t/acme/pages").status_code == 200
        assert web.get("/t/globex/pages").status_code == 200
        cookies = {c.path: c.value for c in web.cookies.jar if c.name == COOKIE}
        assert set(cookies) == {"/t/acme/", "/t/globex/"}
        assert cookies["/t/acme/"] != cookies["/t/globex/"] and _sessions(rt) == 2
