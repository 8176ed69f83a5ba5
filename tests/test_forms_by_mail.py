"""A list of questions mailed to SPACE+form@ becomes a form over real SMTP: the creator is told
where it is and how each line was read, the web shows it, and a mail without questions makes
nothing and is answered with an example."""

from __future__ import annotations

import json
from email.message import EmailMessage
from pathlib import Path

import jsonschema
from fastapi.testclient import TestClient
from sqlalchemy import select

from mailhub import SCHEMA_DIR
from mailhub.models import Form, FormVersion, InboundMessage
from mailhub.web.app import create_app

from conftest import relayed_runtime, wait_until
from helpers import smtp_send

SCHEMA = json.loads((SCHEMA_DIR / "form.schema.json").read_text())


def _mail(subject: str, body: str, n: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Ann Author <ann@acme.example>"
    msg["To"] = "sales+form@acme.example"
    msg["Subject"] = subject
    msg["Message-ID"] = f"<form-{n}@mail.acme.example>"
    msg.set_content(body)
    return msg.as_bytes()


def test_a_mailed_question_list_becomes_a_form(tmp_path: Path) -> None:
    with relayed_runtime(tmp_path) as (rt, sink, server):
        body = (
            "Hi team, a few questions for the offsite.\n\n"
            "1. Your name\n"
            "2. Which day? [Mon / Tue / Wed]\n"
            "3. Vegetarian? (yes/no)\n"
            "4. Anything else? (long, optional)\n\n"
            "Thanks!\n-- \nAnn Author\n- Head of Sales\n"
        )
        smtp_send(
            server.port, "ann@acme.example", ["sales+form@acme.example"], _mail("Offsite", body, 1)
        )
        wait_until(lambda: len(sink.received) == 1)

        # Then the form exists, its definition valid, and Ann is told how each line was read
        with rt.sessions() as s:
            form = s.scalars(select(Form)).one()
            version = s.scalars(select(FormVersion)).one()
            inbound = s.scalars(select(InboundMessage)).one()
        assert (form.title, inbound.status) == ("Offsite", "processed")
        jsonschema.validate(version.definition, SCHEMA)
        assert [q["kind"] for q in version.definition["questions"]] == [
            "short",
            "single",
            "yes_no",
            "long",
        ]
        confirmation = sink.received[0]
        assert confirmation.rcpt_tos == ["ann@acme.example"]
        assert str(confirmation.message["Subject"]) == "Your form is ready: Offsite"
        text = confirmation.message.get_body(preferencelist=("plain",)).get_content()
        assert "2. Which day? — single choice: Mon, Tue, Wed; required" in text
        assert "4. Anything else? — long text; optional" in text
        assert "(3. Vegetarian? (yes/no))" in text  # the line as she typed it
        url = f"https://intranet.acme.example/t/acme/forms/{form.id}"
        assert url in text

        # And the web shows the form; another tenant's address for it shows nothing
        web = TestClient(create_app(rt.sessions, rt.files))
        page = web.get(f"/t/acme/forms/{form.id}")
        assert page.status_code == 200 and "Which day?" in page.text and "choose one" in page.text
        assert web.get("/t/globex/forms/1").status_code == 404

        # When a mail holds no question, nothing is made and Ann gets an example
        smtp_send(
            server.port,
            "ann@acme.example",
            ["sales+form@acme.example"],
            _mail("Lunch?", "Shall we have lunch tomorrow?\n", 2),
        )
        wait_until(lambda: len(sink.received) == 2)
        answer = sink.received[1].message.get_body(preferencelist=("plain",)).get_content()
        assert "No line of your message reads as a question" in answer
        assert "sales+form@acme.example" in answer and "1. Your name" in answer
        with rt.sessions() as s:
            assert len(s.scalars(select(Form)).all()) == 1
