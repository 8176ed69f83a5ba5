"""The thin path, end to end: mail in → page → notification with a ViewAction → reply → comment.

Runs on SQLite with the in-process broker and on PostgreSQL with Redis (and RabbitMQ once).
"""

from __future__ import annotations

import json
from email.message import EmailMessage

import extruct
import jsonschema
import pytest
from sqlalchemy import select

from mailhub import SCHEMA_DIR
from mailhub.domain.queries import page_view
from mailhub.ingress.smtp import SmtpServer
from mailhub.models import Comment, InboundMessage, Notification, Page, Revision
from mailhub.tasks import Runtime

from conftest import wait_until
from helpers import final_count, fixture, outbox, reply_like_gmail, smtp_send, to

MARKUP_SCHEMA = json.loads((SCHEMA_DIR / "markup" / "email-message.schema.json").read_text())


def _html(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())


def _run_thin_path(runtime: Runtime, smtp: SmtpServer) -> None:
    # Given Ann mails the Sales space
    smtp_send(smtp.port, "ann@acme.example", ["sales@acme.example"], fixture("page_plain.eml"))

    # Then a page exists, and Bob and Cat (followers, not the author) are notified
    wait_until(lambda: len(outbox(runtime)) == 2)
    with runtime.sessions() as s:
        page = s.scalars(select(Page)).one()
        rev = s.scalars(select(Revision)).one()
        assert page.title == "Q3 pipeline review"
        assert "room Ölberg" in rev.body_text
        assert '<a href="https://crm.acme.example/reports/q3"' in rev.body_html
    mails = {to(m): m for m in outbox(runtime)}
    assert set(mails) == {"bob@acme.example", "cat@acme.example"}
    bob_mail = mails["bob@acme.example"]

    # The notification is multipart/alternative with a real text part and inlined CSS
    assert bob_mail.get_content_type() == "multipart/alternative"
    text = bob_mail.get_body(preferencelist=("plain",)).get_content()
    assert "room Ölberg" in text and "because you watch the Sales space" in text
    html = _html(bob_mail)
    assert 'style="' in html and "room Ölberg" in html
    page_url = f"https://intranet.acme.example/t/acme/pages/{page.id}"

    # Its JSON-LD, extracted as a consumer would: a ViewAction to the page and a one-click
    # ConfirmAction to unfollow it, both valid EmailMessages
    data = extruct.extract(html, syntaxes=["json-ld"], uniform=False)["json-ld"]
    for item in data:
        jsonschema.validate(item, MARKUP_SCHEMA)
    view, confirm = (item["potentialAction"] for item in data)
    assert view["@type"] == "ViewAction" and view["url"] == page_url
    assert confirm["@type"] == "ConfirmAction"
    assert confirm["handler"]["url"].startswith("https://intranet.acme.example/t/acme/actions/")

    # Headers: threading, reply address bound to a random key, loop safety, reason
    assert bob_mail["Message-ID"] == f"<acme/pages/{page.id}@acme.example>"
    assert bob_mail["Auto-Submitted"] == "auto-generated"
    assert bob_mail["X-Mailhub-Reason"] == "you watch the Sales space"
    reply_to = str(bob_mail["Reply-To"])
    key = reply_to.split("+", 1)[1].split("@")[0]
    assert len(key) >= 22 and reply_to.endswith("@acme.example")  # ≥128 bits base64url
    assert str(mails["cat@acme.example"]["Reply-To"]) != reply_to  # one key per recipient

    # When Bob replies the way Gmail does
    smtp_send(
        smtp.port,
        "bob@acme.example",
        [reply_to],
        reply_like_gmail(
            bob_mail, "Bob Reader <bob@acme.example>", "Count me in, I will bring the EMEA numbers."
        ),
    )

    # Then the page has his comment without the quoted history
    wait_until(lambda: final_count(runtime) == 2)
    with runtime.sessions() as s:
        view = page_view(s, "acme", page.id)
    assert [c.body_text for c in view.comments] == ["Count me in, I will bring the EMEA numbers."]
    assert "wrote:" in view.comments[0].quoted_text
    assert "Q3 pipeline review" in view.comments[0].quoted_text

    # And Ann (author) and Cat (follower) hear about the comment, threaded under the page
    wait_until(lambda: len(outbox(runtime)) == 4)
    comment_mails = [m for m in outbox(runtime) if "comments" in str(m["Message-ID"])]
    assert sorted(to(m) for m in comment_mails) == ["ann@acme.example", "cat@acme.example"]
    for m in comment_mails:
        assert m["In-Reply-To"] == f"<acme/pages/{page.id}@acme.example>"
        assert str(m["Subject"]).startswith("Re: [Sales] Q3 pipeline review")
    ann_mail = next(m for m in comment_mails if to(m) == "ann@acme.example")
    assert ann_mail["X-Mailhub-Reason"] == "you wrote this page"

    # When someone else (Cat) uses Bob's reply address
    smtp_send(
        smtp.port,
        "cat@acme.example",
        [reply_to],
        reply_like_gmail(bob_mail, "cat@acme.example", "I am not Bob"),
    )

    # Then it is rejected, no comment is added, and Cat is told why
    wait_until(lambda: final_count(runtime) == 3)
    with runtime.sessions() as s:
        last = s.scalars(select(InboundMessage).order_by(InboundMessage.id.desc())).first()
        assert last is not None and last.status == "rejected"
        assert last.reason.startswith("not_your_key")
        assert len(s.scalars(select(Comment)).all()) == 1
    wait_until(lambda: len(outbox(runtime)) == 5)
    rejection = next(m for m in outbox(runtime) if "rejections" in str(m["Message-ID"]))
    assert to(rejection) == "cat@acme.example"
    assert rejection["Auto-Submitted"] == "auto-replied"
    assert "sent to someone else" in rejection.get_body(preferencelist=("plain",)).get_content()


@pytest.mark.usefixtures("acme")
def test_thin_path(runtime: Runtime, smtp: SmtpServer) -> None:
    _run_thin_path(runtime, smtp)


@pytest.mark.parametrize("backend", ["postgres-rabbitmq"])
@pytest.mark.usefixtures("acme")
def test_thin_path_on_rabbitmq(runtime: Runtime, smtp: SmtpServer) -> None:
    _run_thin_path(runtime, smtp)


@pytest.mark.usefixtures("acme")
def test_every_notification_row_is_sent_exactly_once(runtime: Runtime, smtp: SmtpServer) -> None:
    smtp_send(smtp.port, "ann@acme.example", ["sales@acme.example"], fixture("page_plain.eml"))

    def statuses() -> set[str]:
        with runtime.sessions() as s:
            return {n.status for n in s.scalars(select(Notification))}

    wait_until(lambda: statuses() == {"sent"} and len(outbox(runtime)) == 2)
    # When the jobs run again (a broker redelivery) and the sweeper looks for lost work
    with runtime.sessions() as s:
        ids = [n.id for n in s.scalars(select(Notification))]
    runtime.enqueue_notifications(ids)
    assert runtime.sweep(grace=0) == (0, 0)
    runtime.broker.join(runtime.outbound_queue, timeout=10_000)
    # Then nothing is sent again
    with runtime.sessions() as s:
        rows = s.scalars(select(Notification)).all()
        assert {n.status for n in rows} == {"sent"}
        assert {n.attempts for n in rows} == {1}
    assert len(outbox(runtime)) == 2
