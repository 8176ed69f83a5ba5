"""Automatic mail is recognised, stored with its reason, and never answered."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from mailhub.content.noise import NoiseKind, classify
from mailhub.content.parse import parse_message
from mailhub.ingress.smtp import SmtpServer
from mailhub.models import InboundMessage, Notification
from mailhub.tasks import Runtime

from conftest import wait_until
from helpers import final_count, fixture, smtp_send


@pytest.mark.parametrize(
    ("name", "mail_from", "kind", "reason"),
    [
        ("bounce_dsn.eml", "", NoiseKind.BOUNCE, "null reverse-path"),
        ("bounce_dsn.eml", "MAILER-DAEMON@mx.elsewhere.example", NoiseKind.BOUNCE, "mailer-daemon"),
        (
            "ooo_exchange_de.eml",
            "bernd@acme.example",
            NoiseKind.AUTO_REPLY,
            "Exchange automatic reply",
        ),
        (
            "vacation_gmail.eml",
            "ann@acme.example",
            NoiseKind.AUTO_REPLY,
            "Auto-Submitted: auto-replied",
        ),
        ("ooo_japanese.eml", "yamada@acme.example", NoiseKind.AUTO_REPLY, "out-of-office subject"),
        ("out_of_office.eml", "mallory@elsewhere.example", NoiseKind.AUTO_REPLY, "Auto-Submitted"),
        ("list_mail.eml", "news@vendor.example", NoiseKind.LIST, "Precedence: list"),
    ],
)
def test_automatic_mail_is_recognised(
    name: str, mail_from: str, kind: NoiseKind, reason: str
) -> None:
    noise = classify(parse_message(fixture(name)), mail_from)
    assert noise is not None and noise.kind is kind and reason in noise.reason


@pytest.mark.parametrize(
    "name", ["page_plain.eml", "page_html_script.eml", "page_no_subject_cp1252.eml"]
)
def test_mail_people_write_is_not_noise(name: str) -> None:
    assert classify(parse_message(fixture(name)), "ann@acme.example") is None


def test_a_subject_that_merely_mentions_absence_is_not_noise() -> None:
    raw = fixture("page_plain.eml").replace(
        b"Subject: Q3 pipeline review", b"Subject: Absence policy 2027"
    )
    # "Absence" at the start is how French clients word out-of-office, so this one counts…
    assert classify(parse_message(raw), "ann@acme.example") is not None
    raw = fixture("page_plain.eml").replace(
        b"Subject: Q3 pipeline review", b"Subject: New absence policy"
    )
    # …but not in the middle of a subject.
    assert classify(parse_message(raw), "ann@acme.example") is None


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.usefixtures("acme")
def test_noise_is_stored_with_a_status_and_never_answered(
    runtime: Runtime, smtp: SmtpServer
) -> None:
    smtp_send(smtp.port, "", ["sales@acme.example"], fixture("bounce_dsn.eml"))
    smtp_send(
        smtp.port, "bernd@acme.example", ["sales@acme.example"], fixture("ooo_exchange_de.eml")
    )
    smtp_send(smtp.port, "news@vendor.example", ["sales@acme.example"], fixture("list_mail.eml"))
    wait_until(lambda: final_count(runtime) == 3)
    with runtime.sessions() as s:
        rows = {m.message_id: (m.status, m.reason) for m in s.scalars(select(InboundMessage))}
        assert s.scalars(select(Notification)).all() == []
    assert rows["<20261124110000.ABC123@mx.elsewhere.example>"][0] == "bounced"
    assert rows["<AM0PR01MB1234@eurprd01.prod.outlook.example>"][0] == "ignored"
    assert rows["<newsletter-2026-11@vendor.example>"] == (
        "ignored",
        rows["<newsletter-2026-11@vendor.example>"][1],
    )
    assert all(reason.endswith("not answered") for _, reason in rows.values())
