"""The author of a page made by mail learns it is published and who hears of it, now and in
which digests; a tenant can turn receipts off."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from mailhub.db import unit_of_work
from mailhub.domain import directory, preferences
from mailhub.models import InboundMessage, Notification, SubjectKind
from mailhub.web.app import create_app

from conftest import relayed_runtime, wait_until
from helpers import fixture, settled, sign_in, smtp_send


def test_the_receipt_counts_who_hears_now_and_in_which_digest(tmp_path: Path) -> None:
    with relayed_runtime(tmp_path) as (rt, sink, server):
        # Given Bob watches Sales now, Cat in a daily and Dan in a weekly digest
        with unit_of_work(rt.sessions) as s:
            t = directory.get_tenant(s, "acme")
            directory.set_policy(s, t, publish_receipts=True)
            sales = directory.get_space(s, t, "sales")
            for name, frequency in (("cat", "daily"), ("dan", "weekly")):
                u = directory.add_user(s, t, f"{name}@acme.example", name.title())
                preferences.subscribe(
                    s,
                    t,
                    u,
                    SubjectKind.SPACE,
                    sales.id,
                    preferences.parse_level("watching"),
                    preferences.parse_frequency(frequency),
                )
        # When Ann mails a page in
        smtp_send(
            server.port, "ann@acme.example", ["sales@acme.example"], fixture("page_plain.eml")
        )
        wait_until(lambda: len(sink.received) == 2)

        # Then she gets a receipt that says so, threaded with the page and reply-able
        receipt = next(r.message for r in sink.received if r.rcpt_tos == ["ann@acme.example"])
        assert str(receipt["Subject"]) == "Published: Q3 pipeline review"
        text = receipt.get_body(preferencelist=("plain",)).get_content()
        assert "is published in Sales" in text
        assert "1 person was notified now." in text
        assert "1 person will see it in their daily digest." in text
        assert "1 person will see it in their weekly digest." in text
        assert str(receipt["Reply-To"]).startswith("reply+")
        assert receipt["Auto-Submitted"] == "auto-replied"
        assert "because you published this page by email" in text

        # And the page on the web says the same, in counts only
        page_path = "/" + text.split("https://", 1)[1].split("/", 1)[1].split()[0]
        web = TestClient(create_app(rt.sessions, rt.files))
        sign_in(web, rt.sessions, "acme", "bob@acme.example")
        shown = web.get(page_path).text
        assert (
            "When published: 1 person notified at once, 1 in their daily digest, "
            "1 in their weekly digest." in shown
        )

        # When the tenant turns receipts off, the next page brings none
        with unit_of_work(rt.sessions) as s:
            directory.set_policy(s, directory.get_tenant(s, "acme"), publish_receipts=False)
        raw = fixture("page_plain.eml").replace(b"<CAF8k2xQ-q3review-1@", b"<second@")
        smtp_send(server.port, "ann@acme.example", ["sales@acme.example"], raw)
        wait_until(lambda: settled(rt) and len(sink.received) >= 3)
        assert [r.rcpt_tos for r in sink.received[2:]] == [["bob@acme.example"]]
        with rt.sessions() as s:
            assert {m.status for m in s.scalars(select(InboundMessage))} == {"processed"}
            kinds = [n.kind for n in s.scalars(select(Notification).order_by(Notification.id))]
            assert kinds.count("receipt") == 1
