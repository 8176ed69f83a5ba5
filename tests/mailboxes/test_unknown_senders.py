"""Mail to a space from outside the tenant: rejected by default, or held for a moderator when
the tenant says so; an approved message is published under a guest author, who stays a guest."""

from __future__ import annotations

import json
import re

import extruct
import jsonschema
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from mailhub import SCHEMA_DIR
from mailhub.db import unit_of_work
from mailhub.domain import directory
from mailhub.domain.inbound_log import reject_held
from mailhub.ingress.smtp import SmtpServer
from mailhub.models import InboundMessage, Page, User
from mailhub.tasks import Runtime
from mailhub.web.app import create_app

from conftest import wait_until
from helpers import fixture, outbox, smtp_send, to

pytestmark = [pytest.mark.parametrize("backend", ["sqlite"]), pytest.mark.usefixtures("acme")]

EVE = b"Eve Partner <eve@partner.example>"
MARKUP_SCHEMA = json.loads((SCHEMA_DIR / "markup" / "email-message.schema.json").read_text())


def _from_eve(subject: bytes, message_id: bytes) -> bytes:
    raw = fixture("page_plain.eml").replace(b"Ann Author <ann@acme.example>", EVE)
    assert EVE in raw
    raw = raw.replace(b"Q3 pipeline review", subject, 1)
    return raw.replace(b"CAF8k2xQ-q3review-1@mail.acme.example", message_id)


def _moderate(runtime: Runtime) -> None:
    with unit_of_work(runtime.sessions) as s:
        directory.set_policy(s, directory.get_tenant(s, "acme"), unknown_senders="moderate")


def _statuses(runtime: Runtime) -> list[str]:
    with runtime.sessions() as s:
        return [m.status for m in s.scalars(select(InboundMessage).order_by(InboundMessage.id))]


def test_moderated_tenant_holds_strangers_mail_and_publishes_it_under_a_guest(
    runtime: Runtime, smtp: SmtpServer
) -> None:
    # Given Acme moderates mail from people outside it
    _moderate(runtime)

    # When Eve, a partner, mails the Sales space
    smtp_send(smtp.port, "eve@partner.example", ["sales@acme.example"], _from_eve(b"Offer", b"e1"))

    # Then it waits for a moderator: no page, no answer, no retry behind their back
    wait_until(lambda: _statuses(runtime) == ["held"])
    with runtime.sessions() as s:
        held = s.scalars(select(InboundMessage)).one()
        assert "eve@partner.example is not a member of Acme" in held.reason
        assert s.scalars(select(Page)).all() == []
    # …except Ann, the administrator, who is told, with one-click Approve and a Reject button
    wait_until(lambda: len(outbox(runtime)) == 1)
    runtime.sweep(grace=0)
    assert _statuses(runtime) == ["held"]
    notice = outbox(runtime)[0]
    assert to(notice) == "ann@acme.example" and "Waiting for approval: Offer" in str(
        notice["Subject"]
    )
    html = notice.get_body(preferencelist=("html",)).get_content()
    assert "eve@partner.example is not a member of Acme" in html
    (markup,) = extruct.extract(html, syntaxes=["json-ld"], uniform=False)["json-ld"]
    jsonschema.validate(markup, MARKUP_SCHEMA)
    handler = markup["potentialAction"]["handler"]["url"]
    approve_url, reject_url = re.findall(r'href="https://[^"/]+(/t/acme/actions/[^"]+)"', html)
    assert handler.endswith(approve_url + "/gmail")
    web = TestClient(create_app(runtime.sessions, runtime.files))

    # A link scanner fetching both buttons changes nothing
    assert "Publish the message from eve@partner.example?" in web.get(approve_url).text
    assert "Reject" in web.get(reject_url).text
    assert _statuses(runtime) == ["held"]

    # When the moderator approves, it becomes a page by Eve, a guest, and watchers hear of it
    assert "Approved" in web.post(approve_url).text
    assert "already used" in web.post(approve_url).text  # a replay does nothing
    refused = web.post(reject_url)  # and the other button can no longer undo it
    assert refused.status_code == 400 and "not held for moderation" in refused.text
    runtime.sweep()
    wait_until(lambda: _statuses(runtime) == ["processed"] and len(outbox(runtime)) == 4)
    with runtime.sessions() as s:
        page = s.scalars(select(Page)).one()
        eve = s.get_one(User, page.author_id)
        assert (eve.email, eve.name, eve.guest) == ("eve@partner.example", "Eve Partner", True)
    # A guest follows nothing, so only the members who follow Sales are notified
    news = [m for m in outbox(runtime) if "pages/" in str(m["Message-ID"])]
    assert {to(m) for m in news} == {"ann@acme.example", "bob@acme.example", "cat@acme.example"}
    assert "Eve Partner" in str(news[0]["From"])

    # When Eve mails again, she is still a guest: held again, and a moderator's "no" answers no one
    smtp_send(smtp.port, "eve@partner.example", ["sales@acme.example"], _from_eve(b"Again", b"e2"))
    wait_until(lambda: _statuses(runtime) == ["processed", "held"])
    with unit_of_work(runtime.sessions) as s:
        second = s.scalars(select(InboundMessage).where(InboundMessage.status == "held")).one()
        reject_held(s, "acme", second.id)
    assert _statuses(runtime) == ["processed", "rejected"]
    # the second notice to Ann (sent by the worker, so waited for), and nothing to Eve
    wait_until(lambda: len(outbox(runtime)) == 5)
    assert all("eve@" not in to(m) for m in outbox(runtime))

    # When an administrator makes Eve a member, her page stays hers and her mail goes straight in
    with unit_of_work(runtime.sessions) as s:
        member = directory.add_user(
            s, directory.get_tenant(s, "acme"), "eve@partner.example", "Eve P."
        )
        assert member.id == eve.id and not member.guest
    smtp_send(smtp.port, "eve@partner.example", ["sales@acme.example"], _from_eve(b"Third", b"e3"))
    wait_until(lambda: _statuses(runtime) == ["processed", "rejected", "processed"])


def test_rejecting_tenant_answers_a_guest_like_any_stranger(
    runtime: Runtime, smtp: SmtpServer
) -> None:
    # Given Eve was published once as a guest, and Acme has since gone back to rejecting strangers
    with unit_of_work(runtime.sessions) as s:
        directory.guest_author(s, directory.get_tenant(s, "acme"), "eve@partner.example", "Eve")
    smtp_send(smtp.port, "eve@partner.example", ["sales@acme.example"], _from_eve(b"Hi", b"e4"))
    wait_until(lambda: _statuses(runtime) == ["rejected"] and len(outbox(runtime)) == 1)
    answer = outbox(runtime)[0]
    assert to(answer) == "eve@partner.example"
    body = answer.get_body(preferencelist=("plain",)).get_content()
    assert "eve@partner.example is not a member of Acme" in body


def test_a_deactivated_member_is_told_so(runtime: Runtime, smtp: SmtpServer) -> None:
    with unit_of_work(runtime.sessions) as s:
        directory.get_user(s, directory.get_tenant(s, "acme"), "ann@acme.example").active = False
    smtp_send(smtp.port, "ann@acme.example", ["sales@acme.example"], fixture("page_plain.eml"))
    wait_until(lambda: _statuses(runtime) == ["rejected"] and len(outbox(runtime)) == 1)
    body = outbox(runtime)[0].get_body(preferencelist=("plain",)).get_content()
    assert "The account of ann@acme.example in Acme is deactivated" in body
