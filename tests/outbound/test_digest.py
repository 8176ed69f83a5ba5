"""Digests over real SMTP: events wait for the cut, one mail carries them grouped by space,
collecting twice carries nothing twice, and nobody with nothing waiting gets a mail."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from mailhub.db import unit_of_work
from mailhub.domain import directory, preferences
from mailhub.models import (
    DigestItem,
    SubjectKind,
    Subscription,
    utcnow,
)
from mailhub.outbound.digest import Schedule
from mailhub.tasks import Runtime
from mailhub.web.app import create_app

from conftest import relayed_runtime, wait_until
from helpers import fixture, settled, smtp_send


def _mail(port: int, to: str, subject: str, n: int) -> None:
    raw = fixture("page_plain.eml").replace(b"Q3 pipeline review", subject.encode())
    raw = raw.replace(b"<CAF8k2xQ-q3review-1@", f"<digest-{n}@".encode())
    raw = raw.replace(b"To: sales@acme.example", f"To: {to}".encode())
    smtp_send(port, "ann@acme.example", [to], raw)


def test_a_daily_digest_groups_by_space_and_is_sent_once(tmp_path: Path) -> None:
    with relayed_runtime(tmp_path) as (rt, sink, server):
        # Given Bob wants Sales in a daily digest and watches Support the same way
        with unit_of_work(rt.sessions) as s:
            t = directory.get_tenant(s, "acme")
            bob = directory.get_user(s, t, "bob@acme.example")
            sales = directory.get_space(s, t, "sales")
            support = directory.add_space(s, t, "support", "Support")
            for space in (sales, support):
                preferences.subscribe(
                    s,
                    t,
                    bob,
                    SubjectKind.SPACE,
                    space.id,
                    preferences.parse_level("watching"),
                    preferences.parse_frequency("daily"),
                )
        # When Ann publishes two pages in Sales and one in Support
        for n, (to, subject) in enumerate(
            [
                ("sales@acme.example", "Q3 numbers"),
                ("sales@acme.example", "Pricing"),
                ("support@acme.example", "On-call rota"),
            ]
        ):
            _mail(server.port, to, subject, n)
        wait_until(lambda: settled(rt) and _items(rt) == 3)

        # Then nothing is mailed now: it waits for the daily cut
        assert sink.received == []
        assert rt.collect_digests(utcnow()) == []

        # A member deactivated meanwhile gets no digest
        with unit_of_work(rt.sessions) as s:
            bob = directory.get_user(s, directory.get_tenant(s, "acme"), "bob@acme.example")
            bob.active = False
        later = utcnow() + timedelta(days=1)
        assert rt.collect_digests(later) == []
        with unit_of_work(rt.sessions) as s:
            directory.get_user(s, directory.get_tenant(s, "acme"), "bob@acme.example").active = True

        # When the cut has passed, one digest is made, and collecting again makes none
        made = rt.collect_digests(later)
        assert len(made) == 1 and rt.collect_digests(later) == []
        rt.enqueue_notifications(made)
        wait_until(lambda: settled(rt) and len(sink.received) >= 1)
        assert len(sink.received) == 1

    # And it lists every page once, grouped by space, with the reason and an unsubscribe
    digest = sink.received[0].message
    assert sink.received[0].rcpt_tos == ["bob@acme.example"]
    assert str(digest["Subject"]) == "Your daily digest from Acme: 3 updates"
    assert digest["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = digest.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")
    sales_at, support_at = text.index("\nSales\n"), text.index("\nSupport\n")
    assert sales_at < text.index("Q3 numbers") < text.index("Pricing") < support_at
    assert support_at < text.index("On-call rota")
    assert text.count("* Q3 numbers") == 1
    # Each page with a line of its text
    assert re.search(r"\* Q3 numbers \(new page\)\n  Hi all, The Q3 numbers", text)
    assert "because you chose a daily digest" in text
    with rt.sessions() as s:
        assert {i.digest_id for i in s.scalars(select(DigestItem))} == set(made)

    # The digest's one-click unsubscribe stops everything it carries, nothing mandatory
    https = re.findall(r"<(https://[^>]+)>", str(digest["List-Unsubscribe"]))[0]
    path = "/" + https.split("://", 1)[1].split("/", 1)[1]
    web = TestClient(create_app(rt.sessions, rt.files))
    page = web.get(path).text
    assert 'value="all" checked' in page and 'value="daily"' not in page
    assert web.post(path, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    with rt.sessions() as s:
        levels = {sub.level for sub in s.scalars(select(Subscription))}
    assert levels == {"muted"}


def _items(rt: Runtime) -> int:
    with rt.sessions() as s:
        return len(s.scalars(select(DigestItem)).all())


@pytest.mark.parametrize(
    ("frequency", "now", "cut"),
    [
        ("hourly", "2026-11-26 10:59", "2026-11-26 10:00"),
        ("hourly", "2026-11-26 10:00", "2026-11-26 10:00"),
        ("daily", "2026-11-26 06:59", "2026-11-25 07:00"),
        ("daily", "2026-11-26 07:00", "2026-11-26 07:00"),
        ("weekly", "2026-11-26 12:00", "2026-11-23 07:00"),  # a Thursday: back to Monday
        ("weekly", "2026-11-23 06:00", "2026-11-16 07:00"),  # Monday before the hour
    ],
)
def test_digest_cuts(frequency: str, now: str, cut: str) -> None:
    parse = lambda v: datetime.strptime(v, "%Y-%m-%d %H:%M")  # noqa: E731
    assert Schedule(0, 7).cut(frequency, parse(now)) == parse(cut)
