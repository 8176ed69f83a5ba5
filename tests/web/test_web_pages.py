"""The web side for a signed-in member, over real SMTP for the mail it causes: writing a page
(seeing first who will be notified), editing it, its history, a diff and a restore (an edit
never destroys content), commenting, and each person's mail settings, signed in or from the
manage link in a mail."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from mailhub.db import unit_of_work
from mailhub.domain import directory, preferences
from mailhub.models import Comment, Objection, Page, Revision, SubjectKind, Subscription
from mailhub.web.app import create_app

from conftest import relayed_runtime, wait_until
from helpers import sign_in


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m
    return m.group(1)


def test_writing_editing_history_restore_and_comments(tmp_path: Path) -> None:
    with relayed_runtime(tmp_path) as (rt, sink, _):
        with unit_of_work(rt.sessions) as s:
            t = directory.get_tenant(s, "acme")
            cat = directory.add_user(s, t, "cat@acme.example", "Cat")
            preferences.subscribe(
                s,
                t,
                cat,
                SubjectKind.SPACE,
                directory.get_space(s, t, "sales").id,
                preferences.parse_level("watching"),
                preferences.parse_frequency("daily"),
            )
        web = TestClient(create_app(rt.sessions, rt.files, notify=rt.enqueue_notifications))
        csrf = sign_in(web, rt.sessions, "acme", "ann@acme.example")

        # Before publishing, Ann sees who will hear of it: Bob now, Cat in her daily digest
        form = web.get("/t/acme/pages/new?space=sales").text
        assert "Publishing notifies 1 person at once, 1 in their daily digest" in form
        # A page without a title is refused, with what she typed kept
        bad = web.post(
            "/t/acme/pages/new",
            data={"csrf": csrf, "space": "sales", "title": " ", "text": "Draft <b>1</b>"},
        )
        assert bad.status_code == 422 and "A page needs a title." in bad.text
        assert "Draft &lt;b&gt;1&lt;/b&gt;" in bad.text
        # Without the session's CSRF token nothing is made
        assert (
            web.post("/t/acme/pages/new", data={"space": "sales", "title": "X"}).status_code == 403
        )
        made = web.post(
            "/t/acme/pages/new",
            data={
                "csrf": csrf,
                "space": "sales",
                "title": "Q4 plan",
                "text": "First draft.\n\nSecond paragraph.",
            },
            follow_redirects=False,
        )
        assert made.status_code == 303
        path = made.headers["location"]
        wait_until(lambda: len(sink.received) == 1)  # Bob, exactly as for a page made by mail
        assert sink.received[0].rcpt_tos == ["bob@acme.example"]
        assert str(sink.received[0].message["Subject"]) == "[Sales] Q4 plan"

        # Editing shows who the edit reaches, then makes revision 2 and tells Bob
        assert (
            "Saving notifies 1 person at once, 1 in their daily digest"
            in web.get(f"{path}/edit").text
        )
        web.post(f"{path}/edit", data={"csrf": csrf, "title": "Q4 plan", "text": "Rewritten."})
        wait_until(lambda: len(sink.received) == 2)
        page = web.get(path).text
        assert "Rewritten." in page and "revision 2" in page

        # The history lists both; the diff shows what changed; a restore brings it back as 3
        history = web.get(f"{path}/history").text
        assert "changes</a>" in history and "restore" in history
        diff = web.get(f"{path}/diff?a=1&b=2").text
        assert (
            '<pre class="del">- First draft.</pre>' in diff
            and '<pre class="add">+ Rewritten.</pre>' in diff
        )
        web.post(f"{path}/restore/1", data={"csrf": csrf})
        with rt.sessions() as s:
            revisions = s.scalars(select(Revision).order_by(Revision.number)).all()
        assert [r.number for r in revisions] == [1, 2, 3]
        assert revisions[2].body_text == revisions[0].body_text  # nothing was destroyed
        assert "First draft." in web.get(path).text

        # A comment from the browser is a comment as a reply would be: Bob hears of it
        web.post(f"{path}/comments", data={"csrf": csrf, "text": "<script>x</script> Ship it"})
        wait_until(
            lambda: any(
                "Re: [Sales] Q4 plan" in str(r.message["Subject"])
                and "Ship it" in r.message.get_body(preferencelist=("plain",)).get_content()
                for r in sink.received
            )
        )
        shown = web.get(path).text
        assert "&lt;script&gt;x&lt;/script&gt; Ship it" in shown and "<script>x" not in shown
        with rt.sessions() as s:
            assert s.scalars(select(Comment)).one().body_text.endswith("Ship it")
        assert web.get(f"{path}/diff?a=1&b=9").status_code == 404


def test_mail_settings_signed_in_and_from_the_manage_link(tmp_path: Path) -> None:
    with relayed_runtime(tmp_path) as (rt, sink, server):
        with unit_of_work(rt.sessions) as s:
            t = directory.get_tenant(s, "acme")
            hr = directory.add_space(s, t, "hr", "HR")
            preferences.set_default(
                s, t, hr, preferences.parse_level("watching"), None, mandatory=True
            )
        web = TestClient(create_app(rt.sessions, rt.files, notify=rt.enqueue_notifications))
        csrf = sign_in(web, rt.sessions, "acme", "bob@acme.example")
        page = web.get("/t/acme/preferences").text
        assert "You get mail about every new page, edit and comment, as it happens." in page
        assert "mandatory: an administrator decided everyone gets it" in page

        # Bob moves Sales to a weekly digest
        web.post(
            "/t/acme/preferences",
            data={
                "csrf": csrf,
                "do": "space",
                "arg": "sales",
                "level": "watching",
                "frequency": "weekly",
            },
        )
        assert "in your weekly digest." in web.get("/t/acme/preferences").text
        # Muting HR is refused with the reason; muting everything keeps HR
        refused = web.post(
            "/t/acme/preferences", data={"csrf": csrf, "do": "space", "arg": "hr", "level": "muted"}
        )
        assert refused.status_code == 409 and "mail about HR is mandatory in Acme" in refused.text
        web.post("/t/acme/preferences", data={"csrf": csrf, "do": "mute-all", "arg": ""})
        with rt.sessions() as s:
            t = directory.get_tenant(s, "acme")
            sales, hr = (directory.get_space(s, t, x).id for x in ("sales", "hr"))
            levels = {sub.subject_id: sub.level for sub in s.scalars(select(Subscription))}
        assert levels == {sales: "muted"}  # HR, mandatory, is kept as it was
        # Without the CSRF token, nothing changes
        assert web.post("/t/acme/preferences", data={"do": "object", "arg": ""}).status_code == 403
        with rt.sessions() as s:
            assert s.scalars(select(Objection)).all() == []

        # Signed out, the manage link of a mail opens the same settings for Bob alone
        web.post(
            "/t/acme/preferences",
            data={
                "csrf": csrf,
                "do": "space",
                "arg": "sales",
                "level": "watching",
                "frequency": "immediately",
            },
        )
        from helpers import smtp_send

        smtp_send(
            server.port,
            "ann@acme.example",
            ["sales@acme.example"],
            b"From: ann@acme.example\r\nTo: sales@acme.example\r\nSubject: Hello\r\nMessage-ID: <h@x>\r\n\r\nHi\r\n",
        )
        wait_until(lambda: len(sink.received) == 1)
        text = sink.received[0].message.get_body(preferencelist=("plain",)).get_content()
        token = re.search(r"/t/acme/unsubscribe/(\S+)", text)
        assert token
        anonymous = TestClient(create_app(rt.sessions, rt.files))
        unsub = anonymous.get(f"/t/acme/unsubscribe/{token.group(1)}").text
        assert f"/t/acme/preferences/{token.group(1)}" in unsub
        mine = anonymous.get(f"/t/acme/preferences/{token.group(1)}")
        assert mine.status_code == 200 and "bob@acme.example" in mine.text
        # Objecting says plainly what stops, and can be withdrawn the same way
        assert "sends you no notifications or digests" in mine.text
        anonymous.post(f"/t/acme/preferences/{token.group(1)}", data={"do": "object", "arg": ""})
        assert (
            "You objected to processing"
            in anonymous.get(f"/t/acme/preferences/{token.group(1)}").text
        )
        anonymous.post(f"/t/acme/preferences/{token.group(1)}", data={"do": "withdraw", "arg": ""})
        with rt.sessions() as s:
            assert s.scalars(select(Objection)).one().withdrawn_at is not None
        # A restriction (Art. 18) the same way, and lifted
        said = anonymous.post(
            f"/t/acme/preferences/{token.group(1)}", data={"do": "restrict", "arg": ""}
        ).text
        assert "Your restriction is recorded" in said and "You restricted processing" in said
        assert "Lift my restriction" in said
        anonymous.post(
            f"/t/acme/preferences/{token.group(1)}", data={"do": "unrestrict", "arg": ""}
        )
        with rt.sessions() as s:
            kinds = [(o.kind, o.withdrawn_at is not None) for o in s.scalars(select(Objection))]
        assert kinds == [("objection", True), ("restriction", True)]
        assert anonymous.get("/t/acme/preferences/not-a-token-at-all-xxxx").status_code == 400
        with rt.sessions() as s:
            assert s.scalars(select(Page)).one().title == "Hello"
