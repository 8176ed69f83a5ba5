"""Tenants are isolated: nobody of one tenant can post into or read from another."""

from __future__ import annotations

import re
import smtplib
import time

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import select

from mailhub.content.questions import parse
from mailhub.db import unit_of_work
from mailhub.domain import directory, preferences
from mailhub.domain.queries import list_pages, page_view
from mailhub.errors import NotFound
from mailhub.ingress.smtp import SmtpServer
from mailhub.models import Attachment, Form, FormVersion, Page
from mailhub.outbound.files import file_url, link_key
from mailhub.tasks import Runtime
from mailhub.web.app import create_app

from conftest import wait_until
from helpers import final_count, fixture, outbox, sign_in, smtp_send

KEY = link_key("test-secret-0123456789abcdef")


@pytest.fixture
def globex(runtime: Runtime, acme: dict[str, int]) -> dict[str, int]:
    with unit_of_work(runtime.sessions) as s:
        t = directory.add_tenant(s, "globex", "globex.example", "Globex")
        gus = directory.add_user(s, t, "gus@globex.example", "Gus Globex")
        ops = directory.add_space(s, t, "sales", "Globex Sales")
        preferences.follow(s, t, gus, ops)
        return {"tenant": t.id, "gus": gus.id, "sales": ops.id}


def test_a_user_of_one_tenant_cannot_post_into_another(
    runtime: Runtime, smtp: SmtpServer, globex: dict[str, int]
) -> None:
    # Ann (acme) mails Globex's sales space with her own address
    raw = fixture("page_plain.eml").replace(b"sales@acme.example", b"sales@globex.example")
    smtp_send(smtp.port, "ann@acme.example", ["sales@globex.example"], raw)
    wait_until(lambda: final_count(runtime) == 1)
    with runtime.sessions() as s:
        assert s.scalars(select(Page)).all() == []
    # and Gus, Globex's follower, hears nothing
    wait_until(lambda: len(outbox(runtime)) == 1)  # only Ann's rejection
    assert all("globex" not in str(m["To"]) for m in outbox(runtime))


def test_a_reply_key_of_one_tenant_is_unknown_at_another(
    runtime: Runtime, smtp: SmtpServer, globex: dict[str, int]
) -> None:
    smtp_send(smtp.port, "ann@acme.example", ["sales@acme.example"], fixture("page_plain.eml"))
    wait_until(lambda: len(outbox(runtime)) == 2)
    reply_to = str(outbox(runtime)[0]["Reply-To"])
    key = reply_to.split("+", 1)[1].split("@")[0]
    with smtplib.SMTP("127.0.0.1", smtp.port) as s:
        s.ehlo()
        s.mail("gus@globex.example")
        code, text = s.rcpt(f"reply+{key}@globex.example")
    assert code == 550 and b"unknown" in text


def test_a_tenant_cannot_read_another_tenants_pages(
    runtime: Runtime, smtp: SmtpServer, globex: dict[str, int]
) -> None:
    smtp_send(smtp.port, "ann@acme.example", ["sales@acme.example"], fixture("page_plain.eml"))
    wait_until(lambda: final_count(runtime) == 1)
    with runtime.sessions() as s:
        page_id = s.scalars(select(Page.id)).one()
        assert page_view(s, "acme", page_id).title == "Q3 pipeline review"
        with pytest.raises(NotFound):
            page_view(s, "globex", page_id)
        assert list_pages(s, "globex") == []
    client = TestClient(create_app(runtime.sessions, runtime.files))
    sign_in(client, runtime.sessions, "acme", "bob@acme.example")
    assert client.get(f"/t/acme/pages/{page_id}").status_code == 200
    gus = TestClient(create_app(runtime.sessions, runtime.files))
    sign_in(gus, runtime.sessions, "globex", "gus@globex.example")
    other = gus.get(f"/t/globex/pages/{page_id}")
    assert other.status_code == 404 and "Q3 pipeline" not in other.text
    assert "Q3 pipeline" not in gus.get("/t/globex/pages").text
    # Bob's acme session is no key to Globex, nor Gus's to Acme: both are sent to sign in
    away = client.get("/t/globex/pages", follow_redirects=False)
    assert away.status_code == 303 and away.headers["location"].startswith("/t/globex/signin")
    assert gus.get(f"/t/acme/pages/{page_id}", follow_redirects=False).status_code == 303


def test_every_route_refuses_a_member_of_another_tenant(
    runtime: Runtime, smtp: SmtpServer, globex: dict[str, int]
) -> None:
    """Every route of the web app, asked by Gus of Globex for Acme's things (with Acme's ids,
    under Acme's address and under Globex's), by GET and by POST: never Acme's content."""
    smtp_send(smtp.port, "ann@acme.example", ["sales@acme.example"], fixture("page_plain.eml"))
    wait_until(lambda: final_count(runtime) == 1)
    with unit_of_work(runtime.sessions) as s:
        acme = directory.get_tenant(s, "acme")
        page = s.scalars(select(Page)).one()
        ann = directory.get_user(s, acme, "ann@acme.example")
        definition = parse("Secret survey", "1. Salary (number)\n")
        form = Form(
            tenant_id=acme.id, space_id=page.space_id, creator_id=ann.id, title="Secret survey"
        )
        s.add(form)
        s.flush()
        s.add(
            FormVersion(
                tenant_id=acme.id, form_id=form.id, number=1, definition=definition.as_json()
            )
        )
        ids = {"page_id": str(page.id), "form_id": str(form.id), "attachment_id": "1"}
        # A genuine file link, signed for Gus, to Acme's file 1: still not his to open.
        gus_user = directory.get_user(s, directory.get_tenant(s, "globex"), "gus@globex.example")
        link = file_url("", KEY, acme, gus_user, Attachment(id=1, filename="x"), time.time())
        ids["credential"] = link.split("/")[-2]
    app = create_app(runtime.sessions, runtime.files, file_key=KEY)
    gus = TestClient(app)
    csrf = sign_in(gus, runtime.sessions, "globex", "gus@globex.example")
    values = ids | {
        "token": "A" * 32,
        "revision": "1",
        "width": "320",
        "fmt": "csv",
        "filename": "x",
        "space": "sales",
    }
    secrets = ("Q3 pipeline", "Secret survey", "Salary", "ann@acme.example")
    checked = 0
    for route in app.routes:
        if not isinstance(route, APIRoute) or "{tenant}" not in route.path:
            continue
        if route.path.endswith("/signout"):
            continue  # would end Gus's own session; tested with the sign-in
        names = set(re.findall(r"{(\w+)}", route.path)) - {"tenant"}
        assert names <= set(values), (
            f"{route.path}: give the test a value for {names - set(values)}"
        )
        for tenant in ("acme", "globex"):
            path = route.path.replace("{tenant}", tenant)
            for name in names:
                path = path.replace("{" + name + "}", values[name])
            for method in route.methods:
                r = gus.request(
                    method,
                    path,
                    data={"csrf": csrf, "text": "x", "q0": "1"},
                    follow_redirects=False,
                )
                # 200: a public page (sign-in) or Gus's own tenant; never Acme's content
                assert r.status_code in (200, 303, 400, 401, 403, 404, 405, 422), (
                    method,
                    path,
                    r.status_code,
                )
                if r.status_code == 303:
                    assert r.headers["location"].startswith(f"/t/{tenant}/signin"), (method, path)
                    assert tenant == "acme", (method, path)  # his own tenant never sends him away
                assert not any(s in r.text for s in secrets), (method, path)
                checked += 1
    assert checked > 40
    with runtime.sessions() as s:  # and nothing of Acme's changed
        assert s.scalars(select(Page)).one().title == "Q3 pipeline review"
        assert s.get_one(Form, form.id).status == "open"
