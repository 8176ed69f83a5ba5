"""Tenants are isolated: nobody of one tenant can post into or read from another."""

from __future__ import annotations

import smtplib

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from mailhub import directory, preferences
from mailhub.db import unit_of_work
from mailhub.errors import NotFound
from mailhub.ingress.smtp import SmtpServer
from mailhub.models import Page
from mailhub.queries import list_pages, page_view
from mailhub.tasks import Runtime
from mailhub.web.app import create_app

from conftest import wait_until
from helpers import final_count, fixture, outbox, smtp_send


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
    assert client.get(f"/t/acme/pages/{page_id}").status_code == 200
    other = client.get(f"/t/globex/pages/{page_id}")
    assert other.status_code == 404 and "Q3 pipeline" not in other.text
    assert "Q3 pipeline" not in client.get("/t/globex/pages").text
