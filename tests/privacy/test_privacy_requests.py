"""Privacy requests as records, over real SMTP: identity verified by an emailed link (a
duplicate cannot skip it, a scanner's GET confirms nothing), states and due dates, an audit
log that names nobody, the access report (Art. 15) driven by the data map, objection by
request, and the administrators' warning a week before a request is due."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from mailhub.db import unit_of_work
from mailhub.domain import directory
from mailhub.models import Base, Objection, PrivacyEvent, PrivacyRequest, utcnow
from mailhub.privacy import datamap, requests
from mailhub.privacy.report import subject_column
from mailhub.privacy.report_words import WORDS
from mailhub.web.app import create_app

from conftest import relayed_runtime, wait_until
from helpers import final_count, sign_in, smtp_send
from smtp_sink import Received


def _text(r: Received) -> str:
    body = r.message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content()).replace("\r\n", "\n")


def _confirm_link(r: Received) -> str:
    m = re.search(r"https://intranet\.acme\.example(/t/acme/privacy/\S+)", _text(r))
    assert m, _text(r)
    return m.group(1)


def test_one_month_is_a_calendar_month() -> None:
    assert requests.one_month_after(datetime(2027, 1, 31, 9)) == datetime(2027, 2, 28, 9)
    assert requests.one_month_after(datetime(2027, 12, 15)) == datetime(2028, 1, 15)


def test_an_access_request_is_verified_then_answered_with_the_report(tmp_path: Path) -> None:
    with relayed_runtime(tmp_path) as (rt, sink, server):
        # Bob has something to report: a page he wrote and a subscription
        smtp_send(
            server.port,
            "bob@acme.example",
            ["sales@acme.example"],
            b"From: Bob <bob@acme.example>\r\nTo: sales@acme.example\r\nSubject: Bob's notes\r\nMessage-ID: <b1@acme.example>\r\n\r\nHello\r\n",
        )
        wait_until(lambda: final_count(rt) == 1)
        with unit_of_work(rt.sessions) as s:
            t = directory.get_tenant(s, "acme")
            directory.get_user(s, t, "ann@acme.example").is_admin = True
            first, mail = requests.request(s, t, "bob@acme.example", "access")
        rt.enqueue_notifications([mail])
        wait_until(
            lambda: any("Please confirm" in str(r.message["Subject"]) for r in sink.received)
        )
        # Asking again while it is open makes no second request; the link is mailed again
        with unit_of_work(rt.sessions) as s:
            again, mail2 = requests.request(
                s, directory.get_tenant(s, "acme"), "bob@acme.example", "access"
            )
        assert again.id == first.id and mail2
        rt.enqueue_notifications([mail2])
        wait_until(
            lambda: sum("Please confirm" in str(r.message["Subject"]) for r in sink.received) == 2
        )
        verify = next(r for r in sink.received if "Please confirm" in str(r.message["Subject"]))
        assert verify.rcpt_tos == ["bob@acme.example"]
        assert "Nothing happens until you confirm it." in _text(verify)
        link = _confirm_link(verify)

        web = TestClient(create_app(rt.sessions, rt.files, notify=rt.enqueue_notifications))
        # A scanner's GET shows the page and confirms nothing
        page = web.get(link)
        assert page.status_code == 200 and "Confirm the request" in page.text
        with rt.sessions() as s:
            assert s.get_one(PrivacyRequest, first.id).state == "received"
        assert "report of your data is on its way" in web.post(link).text
        assert "already" in web.post(link).text  # the link works once
        wait_until(
            lambda: any("holds about you" in str(r.message["Subject"]) for r in sink.received)
        )
        report = next(r for r in sink.received if "holds about you" in str(r.message["Subject"]))
        text = _text(report)
        # Each kind of data in words: what it is, why kept, how long, who sees it, where it
        # came from, and the person's items as they know them
        assert "Your account (1)" in text and "Bob <bob@acme.example>, member" in text
        assert text.index("Your account") < text.index("Pages you wrote")  # the account first
        assert "Pages you wrote (1)" in text and "“Bob's notes”" in text
        assert "What you chose to hear of (1)" in text
        assert "the Sales space: every page and comment" in text
        for label in ("What it is: ", "Why it is kept: ", "How long: ", "Who sees it: "):
            assert label in text
        assert "Where it came from: " in text
        assert "ann@acme.example" not in text  # nobody else's data
        # No table or column names, no internal ids, no raw HTML
        for technical in ("users:", "pages:", "subscriptions", "author_id", "subject_id", "<p>"):
            assert technical not in text, technical
        with rt.sessions() as s:
            req = s.get_one(PrivacyRequest, first.id)
            events = s.scalars(select(PrivacyEvent).order_by(PrivacyEvent.id)).all()
        assert (
            req.state == "done"
            and req.due_at.date() == requests.one_month_after(req.received_at).date()
        )
        assert [e.event for e in events] == [
            "received",
            "asked again",
            "verified",
            "running",
            "done",
        ]
        log = json.dumps([[e.event, e.detail] for e in events]) + req.subject_hash
        assert "bob" not in log.lower() and "acme.example" not in log  # the audit names nobody
        assert req.subject_hash == requests.subject_hash(req.salt, "Bob@acme.example")
        assert "pages" in events[-1].detail["stores"] and events[-1].detail["items"] >= 3


def test_objection_by_request_web_entry_point_cancel_and_due_warning(tmp_path: Path) -> None:
    with relayed_runtime(tmp_path) as (rt, sink, _):
        with unit_of_work(rt.sessions) as s:
            directory.get_user(
                s, directory.get_tenant(s, "acme"), "ann@acme.example"
            ).is_admin = True
        web = TestClient(create_app(rt.sessions, rt.files, notify=rt.enqueue_notifications))
        csrf = sign_in(web, rt.sessions, "acme", "bob@acme.example")
        # From the mail settings page, Bob asks for the report: confirmed by mail first
        done = web.post("/t/acme/preferences", data={"csrf": csrf, "do": "report", "arg": ""})
        assert "Confirm it with the link we just mailed you" in done.text
        wait_until(lambda: len(sink.received) == 1)
        with rt.sessions() as s:
            req = s.scalars(select(PrivacyRequest)).one()
        assert (req.kind, req.via, req.state) == ("access", "web", "received")

        # An objection by request: once confirmed it is recorded, and its outcome still
        # reaches Bob (what he asked for himself), though nothing else will
        with unit_of_work(rt.sessions) as s:
            obj, mail = requests.request(
                s, directory.get_tenant(s, "acme"), "bob@acme.example", "object"
            )
        rt.enqueue_notifications([mail])
        wait_until(lambda: len(sink.received) == 2)
        web.post(_confirm_link(sink.received[1]))
        wait_until(lambda: len(sink.received) == 3)
        assert "From now on Acme sends you no notifications" in _text(sink.received[2])
        with rt.sessions() as s:
            assert s.scalars(select(Objection)).one().kind == "objection"

        # The open access request can be cancelled; a finished one cannot
        with unit_of_work(rt.sessions) as s:
            t = directory.get_tenant(s, "acme")
            warned = requests.warn_due(s)  # nothing due within a week yet
            s.execute(
                update(PrivacyRequest)
                .where(PrivacyRequest.id == req.id)
                .values(due_at=utcnow() + timedelta(days=6))
            )
        assert warned == []
        ids = rt.warn_due_requests()
        assert len(ids) == 1 and rt.warn_due_requests() == []  # once
        wait_until(lambda: len(sink.received) == 4)
        due = sink.received[3]
        assert due.rcpt_tos == ["ann@acme.example"] and "is due on" in str(due.message["Subject"])
        with unit_of_work(rt.sessions) as s:
            t = directory.get_tenant(s, "acme")
            assert requests.cancel(s, t, req.id).state == "cancelled"
            assert [r.state for r in requests.listing(s, t)] == ["done", "cancelled"]
        # Administrators see the requests on their page, by hash, not by name
        admin = TestClient(create_app(rt.sessions, rt.files))
        sign_in(admin, rt.sessions, "acme", "ann@acme.example")
        listed = admin.get("/t/acme/admin").text.split('id="privacy"')[1].split("<h3>")[0]
        assert (
            "<td>access</td><td>cancelled</td>" in listed
            and "<td>objection</td><td>done</td>" in listed  # the kind in words
        )
        assert "bob" not in listed


def test_an_export_is_a_zip_of_valid_documents_that_deletes_itself(tmp_path: Path) -> None:
    import io
    import zipfile
    from email.message import EmailMessage

    import jsonschema
    from referencing import Registry, Resource

    from mailhub import SCHEMA_DIR

    schema = json.loads((SCHEMA_DIR / "export.schema.json").read_text())
    form_schema = json.loads((SCHEMA_DIR / "form.schema.json").read_text())
    registry = Registry().with_resources(
        [
            (
                "https://mailhub.invalid/schema/form.schema.json",
                Resource.from_contents(form_schema),
            ),
            ("https://mailhub.invalid/schema/export.schema.json", Resource.from_contents(schema)),
        ]
    )
    with relayed_runtime(tmp_path) as (rt, sink, server):
        msg = EmailMessage()
        msg["From"] = "Bob <bob@acme.example>"
        msg["To"] = "sales@acme.example"
        msg["Subject"] = "Bob's plan"
        msg["Message-ID"] = "<export-1@acme.example>"
        msg.set_content("Plan attached.")
        msg.add_attachment(
            b"%PDF-1.4 plan", maintype="application", subtype="pdf", filename="plan.pdf"
        )
        smtp_send(server.port, "bob@acme.example", ["sales@acme.example"], msg.as_bytes())
        wait_until(lambda: final_count(rt) == 1)
        web = TestClient(
            create_app(
                rt.sessions,
                rt.files,
                notify=rt.enqueue_notifications,
                exports=rt.settings.exports_dir,
            )
        )
        csrf = sign_in(web, rt.sessions, "acme", "bob@acme.example")
        assert (
            "the download link follows by mail"
            in web.post("/t/acme/preferences", data={"csrf": csrf, "do": "export", "arg": ""}).text
        )
        wait_until(lambda: len(sink.received) == 1)
        assert "being packed" in web.post(_confirm_link(sink.received[0])).text
        with unit_of_work(rt.sessions) as s:  # as if a worker died while packing: it resumes
            s.execute(update(PrivacyRequest).values(state="running"))
        rt.enqueue_notifications(rt.run_exports())
        wait_until(lambda: len(sink.received) == 2)
        ready = _text(sink.received[1])
        assert "is ready" in str(sink.received[1].message["Subject"])
        link = re.search(r"https://intranet\.acme\.example(/t/acme/exports/\S+)", ready)
        assert link
        got = web.get(link.group(1))
        assert got.status_code == 200 and got.headers["content-type"] == "application/zip"
        with zipfile.ZipFile(io.BytesIO(got.content)) as z:
            names = set(z.namelist())
            manifest = json.loads(z.read("manifest.json"))
            for name in [*manifest["documents"], "manifest.json"]:
                ref = {"$ref": f"https://mailhub.invalid/schema/export.schema.json#/$defs/{name}"}
                jsonschema.Draft202012Validator(ref, registry=registry).validate(
                    json.loads(z.read(name))
                )
            profile = json.loads(z.read("profile.json"))
            pages = json.loads(z.read("pages.json"))
            pdf = [n for n in names if n.startswith("attachments/")]
            assert [z.read(n) for n in pdf] == [b"%PDF-1.4 plan"]
        assert profile["email"] == "bob@acme.example" and pages[0]["title"] == "Bob's plan"
        assert manifest["counts"]["attachments"] == 1
        # When the link expires, the archive deletes itself, and the link says so
        with unit_of_work(rt.sessions) as s:
            req = s.scalars(select(PrivacyRequest)).one()
            path = rt.settings.exports_dir / str(req.archive)
            s.execute(
                update(PrivacyRequest).values(archive_expires_at=utcnow() - timedelta(seconds=1))
            )
        assert path.exists() and rt.expire_exports() == 1 and not path.exists()
        late = web.get(link.group(1))
        assert late.status_code == 400 and "expired" in late.text


def test_every_kind_of_personal_data_is_put_in_words() -> None:
    for name, entry in datamap.load()["tables"].items():
        table = Base.metadata.tables.get(name)
        if table is not None and subject_column(table, entry.get("subject")) is not None:
            assert name in WORDS, f"the access report has no words for {name}"
            assert all(c in table.c for c in WORDS[name].columns), name


def test_a_member_reads_their_data_on_the_web_in_words(tmp_path: Path) -> None:
    with relayed_runtime(tmp_path) as (rt, _sink, _):
        web = TestClient(create_app(rt.sessions, rt.files))
        assert (
            web.get("/t/acme/my-data", follow_redirects=False).status_code == 303
        )  # signed in only
        sign_in(web, rt.sessions, "acme", "bob@acme.example")
        page = web.get("/t/acme/my-data").text
        assert "What Acme holds about you" in page and "Your account" in page
        assert "Bob &lt;bob@acme.example&gt;, member" in page
        assert "Who sees it" in page and "Where it came from" in page
        assert "ann@acme.example" not in page
        for technical in ("users:", "subject_id", "author_id", "web_sessions"):
            assert technical not in page
