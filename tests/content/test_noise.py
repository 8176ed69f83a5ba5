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
            "Exchange automatic message",
        ),
        (
            "vacation_gmail.eml",
            "ann@acme.example",
            NoiseKind.AUTO_REPLY,
            "Auto-Submitted: auto-replied",
        ),
        ("ooo_japanese.eml", "yamada@acme.example", NoiseKind.AUTO_REPLY, "automatic subject"),
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


def _with(headers: str = "", subject: str = "Q3 pipeline review") -> bytes:
    """A mail a person wrote, with the subject and extra headers given."""
    raw = fixture("page_plain.eml").replace(
        b"Subject: Q3 pipeline review", f"Subject: {subject}".encode()
    )
    return raw.replace(b"From: Ann", headers.encode() + b"From: Ann", 1)


@pytest.mark.parametrize(
    "subject",
    [
        "[AUTO GENERATED] Your ticket #4411 was received",
        "Auto: Q3 pipeline review",
        "Automatic reply: Q3 pipeline review",
        "Out of Office: back on Monday",
        "Réponse automatique : Q3 pipeline review",
        "Absence du bureau",
        "Risposta automatica: Q3",
        "Automatische Antwort: Q3",
        "Abwesenheitsnotiz: Q3",
        "Respuesta automática: Q3",
        "Autosvar: Q3",
        "Automatyczna odpowiedź: Q3",
        "Автоматический ответ: Q3",
        "自動返信: Q3",
        "自动回复：Q3",
        "Undeliverable: Q3 pipeline review",
    ],
)
def test_automatic_subjects_in_every_language(subject: str) -> None:
    assert classify(parse_message(_with(subject=subject)), "ann@acme.example") is not None


@pytest.mark.parametrize(
    ("headers", "kind"),
    [
        ("X-Autoreply: yes\n", NoiseKind.AUTO_REPLY),
        ("X-Autorespond: Q3\n", NoiseKind.AUTO_REPLY),
        ("X-Auto-Response-Suppress: All\n", NoiseKind.AUTO_REPLY),
        ("Precedence: bulk\n", NoiseKind.LIST),
        ("Precedence: junk\n", NoiseKind.LIST),
        ("Precedence: list\n", NoiseKind.LIST),
        ("Precedence: auto_reply\n", NoiseKind.AUTO_REPLY),
        ("List-Id: <sales.lists.acme.example>\n", NoiseKind.LIST),
        ("List-Unsubscribe: <https://news.example/u/1>\n", NoiseKind.LIST),
        ("Feedback-Type: abuse\n", NoiseKind.BOUNCE),
    ],
)
def test_automatic_headers(headers: str, kind: NoiseKind) -> None:
    noise = classify(parse_message(_with(headers)), "ann@acme.example")
    assert noise is not None and noise.kind is kind


@pytest.mark.parametrize(
    "subject",
    ["Absence policy 2027", "New absence policy", "Automation ideas", "Outlook for Q4"],
)
def test_a_subject_that_merely_mentions_absence_is_not_noise(subject: str) -> None:
    assert classify(parse_message(_with(subject=subject)), "ann@acme.example") is None


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
    # A ticket system's receipt from a stranger, marked only in its subject: no rejection.
    generated = _with(subject="[AUTO GENERATED] Ticket received").replace(
        b"ann@acme.example", b"helpdesk@vendor.example"
    )
    smtp_send(smtp.port, "helpdesk@vendor.example", ["sales@acme.example"], generated)
    wait_until(lambda: final_count(runtime) == 4)
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
