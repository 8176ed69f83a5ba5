"""Forwarded mail keeps the forwarded message and names its original sender."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from mailhub.content.forward import forwarded_of, strip_prefix
from mailhub.content.parse import parse_message


def _raw(subject: str, body: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Ann Author <ann@acme.example>"
    msg["To"] = "sales@acme.example"
    msg["Subject"] = subject
    msg.set_content(body)
    return msg.as_bytes()


@pytest.mark.parametrize(
    ("subject", "body", "sender"),
    [
        (
            "Fwd: Contract draft",
            "FYI, see below.\n\n---------- Forwarded message ---------\nFrom: Carl Client <carl@client.example>\n"
            "Date: Mon, Nov 23, 2026 at 4:12 PM\nSubject: Contract draft\nTo: Ann Author <ann@acme.example>\n\nHere is the draft.\n",
            "Carl Client <carl@client.example>",
        ),
        (
            "Fwd: Contract draft",
            "Begin forwarded message:\n\nFrom: Carl Client <carl@client.example>\nSubject: Contract draft\n"
            "Date: 23. November 2026 at 16:12:00 CET\nTo: Ann Author <ann@acme.example>\n\nHere is the draft.\n",
            "Carl Client <carl@client.example>",
        ),
        (
            "FW: Contract draft",
            "Please review.\n\n________________________________\nFrom: Carl Client <carl@client.example>\n"
            "Sent: Monday, November 23, 2026 4:12 PM\nTo: Ann Author\nSubject: Contract draft\n\nHere is the draft.\n",
            "Carl Client <carl@client.example>",
        ),
        (
            "WG: Vertragsentwurf",
            "Zur Info.\n\n-----Ursprüngliche Nachricht-----\nVon: Carl Client <carl@client.example>\n"
            "Gesendet: Montag, 23. November 2026 16:12\nAn: Ann\nBetreff: Vertragsentwurf\n\nAnbei der Entwurf.\n",
            "Carl Client <carl@client.example>",
        ),
    ],
)
def test_forwards_from_each_client(subject: str, body: str, sender: str) -> None:
    fwd = forwarded_of(parse_message(_raw(subject, body)))
    assert fwd is not None and fwd.original_from == sender


def test_forward_as_attachment() -> None:
    inner = EmailMessage()
    inner["From"] = "Carl Client <carl@client.example>"
    inner["Subject"] = "Contract draft"
    inner["Date"] = "Mon, 23 Nov 2026 16:12:00 +0100"
    inner.set_content("Here is the draft.")
    outer = EmailMessage()
    outer["From"] = "ann@acme.example"
    outer["Subject"] = "Fwd: Contract draft"
    outer.set_content("See attached.")
    outer.add_attachment(inner)
    fwd = forwarded_of(parse_message(outer.as_bytes()))
    assert fwd is not None and fwd.original_from == "Carl Client <carl@client.example>"
    assert fwd.original_subject == "Contract draft"


def test_a_plain_mail_is_not_a_forward() -> None:
    assert forwarded_of(parse_message(_raw("Contract draft", "Here is the draft.\n"))) is None


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Fwd: Fw: Plan", "Plan"),
        ("TR: Plan", "Plan"),
        ("WG: Plan", "Plan"),
        ("Plan: phase 2", "Plan: phase 2"),
        ("Fwd:", "Fwd:"),
    ],
)
def test_prefixes_are_stripped(subject: str, expected: str) -> None:
    assert strip_prefix(subject) == expected


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.usefixtures("acme")
def test_a_forward_becomes_a_page_naming_the_original_sender(runtime, smtp) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from mailhub.models import Page, Revision

    from conftest import wait_until
    from helpers import final_count, smtp_send

    body = (
        "FYI.\n\n---------- Forwarded message ---------\nFrom: Carl Client <carl@client.example>\n"
        "Date: Mon, Nov 23, 2026 at 4:12 PM\nSubject: Contract draft\n\nHere is the draft.\n"
    )
    smtp_send(
        smtp.port, "ann@acme.example", ["sales@acme.example"], _raw("Fwd: Contract draft", body)
    )
    wait_until(lambda: final_count(runtime) == 1)
    with runtime.sessions() as s:
        page = s.scalars(select(Page)).one()
        rev = s.scalars(select(Revision)).one()
    assert page.title == "Contract draft"
    assert rev.body_text.startswith(
        "Forwarded by Ann Author; originally from Carl Client <carl@client.example>"
    )
    assert "Here is the draft." in rev.body_text
