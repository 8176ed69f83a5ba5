"""Forms by mail over real SMTP, end to end: a mailed list of questions becomes a form; the
creator is told how each line was read and can correct it by reply; the space's watchers are
invited and answer by reply, on the web or with one button; the owner hears of each answer,
closes the form, and exports the answers."""

from __future__ import annotations

import csv
import io
import json
import re
from email.message import EmailMessage
from pathlib import Path

import extruct
import jsonschema
from fastapi.testclient import TestClient
from sqlalchemy import select

from mailhub import SCHEMA_DIR
from mailhub.db import unit_of_work
from mailhub.domain import directory, preferences
from mailhub.models import (
    DigestItem,
    Form,
    FormResponse,
    FormVersion,
    InboundMessage,
    Space,
    SubjectKind,
    User,
)
from mailhub.web.app import create_app

from conftest import relayed_runtime, wait_until
from helpers import reply_like_gmail, sign_in, smtp_send
from smtp_sink import Received

SCHEMA = json.loads((SCHEMA_DIR / "form.schema.json").read_text())
BASE = "https://intranet.acme.example"
OFFSITE = (
    "Hi team, a few questions for the offsite.\n\n"
    "1. Your name\n"
    "2. Which day? [Mon / Tue / Wed]\n"
    "3. Vegetarian? (yes/no)\n"
    "4. Anything else? (long, optional)\n\n"
    "Thanks!\n-- \nAnn Author\n- Head of Sales\n"
)


def _mail(subject: str, body: str, n: int, to: str = "sales+form@acme.example") -> bytes:
    msg = EmailMessage()
    msg["From"] = "Ann Author <ann@acme.example>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = f"<form-{n}@mail.acme.example>"
    msg.set_content(body)
    return msg.as_bytes()


def _text(r: Received) -> str:
    body = r.message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content()).replace("\r\n", "\n")


def _html(r: Received) -> str:
    body = r.message.get_body(preferencelist=("html",))
    assert body is not None
    return str(body.get_content())


def _to(sink_msgs: list[Received], addr: str, subject_part: str) -> Received:
    found = [
        r for r in sink_msgs if addr in r.rcpt_tos and subject_part in str(r.message["Subject"])
    ]
    assert len(found) == 1, [(r.rcpt_tos, str(r.message["Subject"])) for r in sink_msgs]
    return found[0]


def _link(text: str, label: str) -> str:
    """The path of the link a text part shows as "label: URL"."""
    m = re.search(rf"^{re.escape(label)}: {re.escape(BASE)}(\S+)$", text, re.M)
    assert m, f"no {label!r} link in:\n{text}"
    return m.group(1)


def _send(port: int, sender: str, rcpt: str, raw: bytes) -> None:
    smtp_send(port, sender, [rcpt], raw)


def _reply_to(r: Received) -> str:
    return str(r.message["Reply-To"])


def _add_cat(rt: object) -> None:
    with unit_of_work(rt.sessions) as s:  # type: ignore[attr-defined]
        t = directory.get_tenant(s, "acme")
        cat = directory.add_user(s, t, "cat@acme.example", "Cat")
        preferences.follow(s, t, cat, directory.get_space(s, t, "sales"))


def test_a_form_is_made_confirmed_answered_by_reply_and_corrected(tmp_path: Path) -> None:
    with relayed_runtime(tmp_path) as (rt, sink, server):
        _send(
            server.port, "ann@acme.example", "sales+form@acme.example", _mail("Offsite", OFFSITE, 1)
        )
        wait_until(lambda: len(sink.received) == 2)

        # Then the form exists, its definition valid, and Ann is told how each line was read
        with rt.sessions() as s:
            form = s.scalars(select(Form)).one()
            version = s.scalars(select(FormVersion)).one()
            inbound = s.scalars(select(InboundMessage)).one()
        assert (form.title, inbound.status) == ("Offsite", "processed")
        jsonschema.validate(version.definition, SCHEMA)
        kinds = [q["kind"] for q in version.definition["questions"]]
        assert kinds == ["short", "single", "yes_no", "long"]
        confirmation = _to(sink.received, "ann@acme.example", "Your form is ready: Offsite")
        text = _text(confirmation)
        assert "2. Which day? — single choice: Mon, Tue, Wed; required" in text
        assert "4. Anything else? — long text; optional" in text
        assert "(3. Vegetarian? (yes/no))" in text  # the line as she typed it
        assert f"{BASE}/t/acme/forms/{form.id}" in text
        assert "1 person was notified now." in text  # Bob, invited below
        assert _reply_to(confirmation).startswith("reply+")

        # And Bob, who watches sales, is invited: the questions, reply-able, and a web link
        invitation = _to(sink.received, "bob@acme.example", "[Sales] Offsite")
        itext = _text(invitation)
        assert "Ann asks you to answer “Offsite”." in itext
        assert "1. Your name\n" in itext and "   Mon / Tue / Wed\n" in itext
        assert "Reply to this email with your answers" in itext
        assert "you watch the Sales space" in itext
        assert invitation.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert "one click" not in itext  # two required questions: no one-button answers
        web = TestClient(create_app(rt.sessions, rt.files, notify=rt.enqueue_notifications))
        sign_in(web, rt.sessions, "acme", "bob@acme.example")
        assert "Which day?" in web.get(f"/t/acme/forms/{form.id}").text
        assert web.get("/t/globex/forms/1").status_code == 404

        # When Bob replies under Gmail's quote with numbered answers
        reply = reply_like_gmail(invitation.message, "bob@acme.example", "1. Bob\n2. tue\n3. no")
        _send(server.port, "bob@acme.example", _reply_to(invitation), reply)
        wait_until(lambda: len(sink.received) == 4)

        # Then his answers are stored against version 1; he gets what was recorded; Ann hears
        with rt.sessions() as s:
            response = s.scalars(select(FormResponse)).one()
            bob = s.scalars(select(User).where(User.email == "bob@acme.example")).one()
        assert response.answers == {"0": "Bob", "1": "Tue", "2": "No"}
        assert (response.respondent_id, response.via) == (bob.id, "mail")
        receipt = _to(sink.received, "bob@acme.example", "Recorded: your answers to “Offsite”")
        assert "Which day?: Tue" in _text(receipt)
        answered = _to(sink.received, "ann@acme.example", "Bob answered “Offsite”")
        assert "Vegetarian?: No" in _text(answered)
        assert "See the answers: " in _text(answered)

        # When the same reply is delivered again (byte for byte, then through another relay
        # that added a header), it is stored once and answered once
        _send(server.port, "bob@acme.example", _reply_to(invitation), reply)
        relayed = b"Received: from relay.example by mx.acme.example; Tue, 24 Nov 2026\r\n" + reply
        _send(server.port, "bob@acme.example", _reply_to(invitation), relayed)
        wait_until(lambda: _statuses(rt)[2:] in (["ignored"], ["ignored", "ignored"]))
        with rt.sessions() as s:
            assert len(s.scalars(select(FormResponse)).all()) == 1

        # When Bob replies to the receipt with an answer that does not fit, nothing changes
        # and he is told exactly which answer to fix
        wrong = reply_like_gmail(receipt.message, "bob@acme.example", "1. Bob\n2. Thursday\n3. no")
        _send(server.port, "bob@acme.example", _reply_to(receipt), wrong)
        wait_until(lambda: len(sink.received) == 5)
        problem = _to(sink.received, "bob@acme.example", "Not recorded yet")
        assert "2. Which day?: “Thursday” is not one of: Mon, Tue, Wed." in _text(problem)
        with rt.sessions() as s:
            assert s.scalars(select(FormResponse)).one().answers["1"] == "Tue"

        # When Ann replies to her confirmation with a corrected list, a second version is made;
        # Bob's answers keep pointing at the version he answered
        fixed = reply_like_gmail(
            confirmation.message,
            "ann@acme.example",
            "1. Your name\n2. Which day? [Tue / Wed / Thu]\n3. Vegetarian? (yes/no)\n"
            "4. Guests (number, optional)",
        )
        _send(server.port, "ann@acme.example", _reply_to(confirmation), fixed)
        wait_until(lambda: len(sink.received) == 6)
        corrected = _to(sink.received, "ann@acme.example", "Your form is corrected: Offsite")
        assert "2. Which day? — single choice: Tue, Wed, Thu; required" in _text(corrected)
        with rt.sessions() as s:
            form = s.get_one(Form, form.id)
            versions = s.scalars(select(FormVersion).order_by(FormVersion.number)).all()
            response = s.scalars(select(FormResponse)).one()
        assert form.current_version == 2 and [v.number for v in versions] == [1, 2]
        assert response.version_id == versions[0].id
        for v in versions:
            jsonschema.validate(v.definition, SCHEMA)

        # And a later reply to the first invitation is still read against the questions shown
        again = reply_like_gmail(invitation.message, "bob@acme.example", "1. Bob\n2. Mon\n3. yes")
        _send(server.port, "bob@acme.example", _reply_to(invitation), again)
        wait_until(lambda: len(sink.received) == 8)
        with rt.sessions() as s:
            response = s.scalars(select(FormResponse)).one()
        assert response.answers["1"] == "Mon" and response.version_id == versions[0].id
        assert "replace the ones you gave before" in _text(
            _to(sink.received[6:], "bob@acme.example", "Recorded")
        )

        # A corrected list from anyone but the creator (a forwarded confirmation) changes nothing
        forged = reply_like_gmail(confirmation.message, "bob@acme.example", "1. Anything?")
        _send(server.port, "bob@acme.example", _reply_to(confirmation), forged)
        wait_until(lambda: len(sink.received) == 9)
        assert "could not be used" in str(sink.received[8].message["Subject"])
        with rt.sessions() as s:
            assert s.get_one(Form, form.id).current_version == 2


def _statuses(rt: object) -> list[str]:
    with rt.sessions() as s:  # type: ignore[attr-defined]
        return [m.status for m in s.scalars(select(InboundMessage).order_by(InboundMessage.id))]


def test_answering_on_the_web_results_close_and_export(tmp_path: Path) -> None:
    with relayed_runtime(tmp_path) as (rt, sink, server):
        _add_cat(rt)
        body = "1. Your name\n2. Guests (number)\n3. Arrival (date, optional)\n4. Snacks (choose any)\n   - Fruit\n   - Crisps\n   - Nuts\n"
        _send(server.port, "ann@acme.example", "sales+form@acme.example", _mail("Party", body, 1))
        wait_until(lambda: len(sink.received) == 3)
        web = TestClient(create_app(rt.sessions, rt.files, notify=rt.enqueue_notifications))
        bob_link = _link(
            _text(_to(sink.received, "bob@acme.example", "Party")), "Answer on the web"
        )
        cat_link = _link(
            _text(_to(sink.received, "cat@acme.example", "Party")), "Answer on the web"
        )

        # When Bob sends the web form with a guest count that is not a number
        page = web.get(bob_link)
        assert page.status_code == 200 and 'name="q1"' in page.text and "Bob" in page.text
        bad = web.post(bob_link, data={"q0": "Bob", "q1": "three", "q3": ["Fruit"]})

        # Then nothing is recorded, the problem stands beside its question, values are kept
        assert bad.status_code == 422
        assert "“three” is not a number." in bad.text and 'aria-invalid="true"' in bad.text
        assert 'value="Bob"' in bad.text and 'value="Fruit" checked' in bad.text
        with rt.sessions() as s:
            assert s.scalars(select(FormResponse)).all() == []

        # When he corrects it, and Cat answers too
        ok = web.post(
            bob_link, data={"q0": "Bob", "q1": "3", "q2": "2027-03-12", "q3": ["Fruit", "Nuts"]}
        )
        assert ok.status_code == 200 and "Fruit, Nuts" in ok.text
        assert (
            web.post(
                cat_link, data={"q0": '=HYPERLINK("x")', "q1": "1", "q3": ["Crisps"]}
            ).status_code
            == 200
        )
        # A link is one person's: Bob's link cannot answer another form
        assert web.get(bob_link.replace("/forms/", "/forms/9", 1)).status_code in (400, 404)

        # Then Ann hears of both, and her results link shows them, with counts and exports
        wait_until(lambda: len(sink.received) == 5)
        answered = _to(sink.received, "ann@acme.example", "Bob answered “Party”")
        results_link = _link(_text(answered), "See the answers")
        results = web.get(results_link)
        assert results.status_code == 200 and "2 answers" in results.text
        assert "Fruit: 1" in results.text and "Nuts: 1" in results.text
        assert (
            web.get(results_link.replace(results_link.rsplit("/", 1)[1], "x" * 32)).status_code
            == 400
        )
        exported = web.get(results_link + "/export.csv")
        rows = list(csv.reader(io.StringIO(exported.text)))
        assert rows[0][-4:] == ["Your name", "Guests", "Arrival", "Snacks"]
        assert rows[1][0] == "Bob" and rows[1][-4:] == ["Bob", "3", "2027-03-12", "Fruit, Nuts"]
        assert rows[2][-4] == '\'=HYPERLINK("x")'  # never a formula in a spreadsheet
        data = web.get(results_link + "/export.json").json()
        assert data["responses"][0]["answers"]["Guests"] == 3
        assert data["form"]["versions"][0]["definition"]["questions"][3]["kind"] == "multiple"

        # When Ann closes the form from her mail: the link shows a page, only POST closes
        close = _link(_text(answered), "Close the form")
        assert "Close the form “Party”?" in web.get(close).text
        with rt.sessions() as s:
            assert s.scalars(select(Form)).one().status == "open"
        assert "is closed" in web.post(close).text

        # Then the web declines answers, and so does a reply, politely
        assert "This form is closed" in web.get(bob_link).text
        with rt.sessions() as s:
            assert s.scalars(select(Form)).one().status == "closed"
        invitation = _to(sink.received, "bob@acme.example", "[Sales] Party")
        late = reply_like_gmail(invitation.message, "bob@acme.example", "1. Bob\n2. 4\n4. Fruit")
        _send(server.port, "bob@acme.example", _reply_to(invitation), late)
        wait_until(lambda: len(sink.received) == 6)
        declined = _to(sink.received[5:], "bob@acme.example", "could not be used")
        assert "The form “Party” is closed" in _text(declined)
        with rt.sessions() as s:
            bob_answers = s.scalars(select(FormResponse).order_by(FormResponse.id)).first()
            assert bob_answers is not None and bob_answers.answers["1"] == 3


def test_one_button_answers_and_gmail_confirm_action(tmp_path: Path) -> None:
    with relayed_runtime(tmp_path) as (rt, sink, server):
        _send(
            server.port,
            "ann@acme.example",
            "sales+form@acme.example",
            _mail("Summer party", "- Are you coming? (yes/no)\n", 1),
        )
        wait_until(lambda: len(sink.received) == 2)
        invitation = _to(sink.received, "bob@acme.example", "Summer party")
        text = _text(invitation)
        assert "Or answer “Are you coming?” with one click:" in text
        yes, no = _link(text, "Yes"), _link(text, "No")

        # The HTML carries a ConfirmAction a Gmail user can press, valid per schema/markup
        markup = extruct.extract(_html(invitation), syntaxes=["json-ld"], uniform=False)["json-ld"]
        actions = [m["potentialAction"] for m in markup]
        confirm = [a for a in actions if a["@type"] == "ConfirmAction"]
        assert confirm and confirm[0]["handler"]["url"] == f"{BASE}{yes}/gmail"
        schema = json.loads((SCHEMA_DIR / "markup" / "email-message.schema.json").read_text())
        for m in markup:
            jsonschema.validate(m, schema)

        web = TestClient(create_app(rt.sessions, rt.files, notify=rt.enqueue_notifications))
        # A link scanner's GET changes nothing
        assert "Are you coming? Yes" in web.get(yes).text
        with rt.sessions() as s:
            assert s.scalars(select(FormResponse)).all() == []
        # The POST records the answer; the same button again is refused; the other still works
        assert "Recorded your answer to “Are you coming?”: Yes" in web.post(yes).text
        assert "already used" in web.post(yes).text
        web.post(no)
        with rt.sessions() as s:
            response = s.scalars(select(FormResponse)).one()
        assert (response.answers, response.via) == ({"0": "No"}, "button")

        # A one-question form's reply needs no number: "Yes!" is an answer
        reply = reply_like_gmail(invitation.message, "bob@acme.example", "Yes!")
        _send(server.port, "bob@acme.example", _reply_to(invitation), reply)
        wait_until(lambda: any("Recorded" in str(r.message["Subject"]) for r in sink.received))
        with rt.sessions() as s:
            assert s.scalars(select(FormResponse)).one().answers == {"0": "Yes"}


def test_form_at_domain_uses_the_default_space_and_outsiders_follow_the_policy(
    tmp_path: Path,
) -> None:
    with relayed_runtime(tmp_path) as (rt, sink, server):
        with unit_of_work(rt.sessions) as s:
            t = directory.get_tenant(s, "acme")
            directory.add_space(s, t, "hr", "HR")
        # With two spaces and no default, form@ makes nothing and says what to do
        _send(
            server.port,
            "ann@acme.example",
            "form@acme.example",
            _mail("Poll", "1. Name\n", 1, "form@acme.example"),
        )
        wait_until(lambda: len(sink.received) == 1)
        assert "has no default space for form@acme.example" in _text(sink.received[0])
        with unit_of_work(rt.sessions) as s:
            directory.set_policy(s, directory.get_tenant(s, "acme"), default_space="sales")
        _send(
            server.port,
            "ann@acme.example",
            "form@acme.example",
            _mail("Poll", "1. Name\n", 2, "form@acme.example"),
        )
        wait_until(lambda: len(sink.received) == 3)
        with rt.sessions() as s:
            form = s.scalars(select(Form)).one()
            assert s.get_one(Space, form.space_id).slug == "sales"
        invitation = _to(sink.received, "bob@acme.example", "Poll")

        # An outsider who got the invitation forwarded cannot answer a members-only form
        fwd = reply_like_gmail(invitation.message, "eve@elsewhere.example", "1. Eve")
        _send(server.port, "eve@elsewhere.example", _reply_to(invitation), fwd)
        wait_until(lambda: len(sink.received) == 4)
        assert "takes answers from members of Acme only" in _text(sink.received[3])
        with rt.sessions() as s:
            assert s.scalars(select(FormResponse)).all() == []

        # When Ann opens the form to anyone, the same reply is recorded under a guest
        with unit_of_work(rt.sessions) as s:
            s.get_one(Form, form.id).answers_from = "anyone"
        fwd2 = reply_like_gmail(invitation.message, "eve@elsewhere.example", "1. Eve again")
        _send(server.port, "eve@elsewhere.example", _reply_to(invitation), fwd2)
        wait_until(lambda: len(sink.received) >= 6)
        with rt.sessions() as s:
            response = s.scalars(select(FormResponse)).one()
            eve = s.get_one(User, response.respondent_id)
        assert (eve.email, eve.guest, response.answers) == (
            "eve@elsewhere.example",
            True,
            {"0": "Eve again"},
        )


def test_the_owner_can_get_answers_in_a_digest_or_not_at_all(tmp_path: Path) -> None:
    with relayed_runtime(tmp_path) as (rt, sink, server):
        _send(
            server.port,
            "ann@acme.example",
            "sales+form@acme.example",
            _mail("Lunch", "1. Name\n2. Dish\n", 1),
        )
        wait_until(lambda: len(sink.received) == 2)
        with unit_of_work(rt.sessions) as s:
            t = directory.get_tenant(s, "acme")
            ann = directory.get_user(s, t, "ann@acme.example")
            form = s.scalars(select(Form)).one()
            preferences.subscribe(
                s, t, ann, SubjectKind.FORM, form.id, None, preferences.parse_frequency("daily")
            )
        invitation = _to(sink.received, "bob@acme.example", "Lunch")
        reply = reply_like_gmail(invitation.message, "bob@acme.example", "1. Bob\n2. Soup")
        _send(server.port, "bob@acme.example", _reply_to(invitation), reply)
        wait_until(lambda: len(sink.received) == 3)  # Bob's receipt only: Ann's waits
        with rt.sessions() as s:
            item = s.scalars(select(DigestItem)).one()
        assert (item.kind, item.form_id, item.frequency) == ("form_answered", form.id, "daily")
