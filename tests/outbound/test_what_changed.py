"""Notifications say what happened: an edit's mail shows the lines it removed and added, not
the whole page again; a digest gives each page a line of its text and names its files; counts
have their plural forms."""

from __future__ import annotations

import pytest

from mailhub.content.changes import SHOWN, changed_lines
from mailhub.db import unit_of_work
from mailhub.domain import directory, editing
from mailhub.tasks import Runtime

from conftest import wait_until
from helpers import outbox, settled, to

pytestmark = [pytest.mark.parametrize("backend", ["sqlite"]), pytest.mark.usefixtures("acme")]

LINES = [f"Line {i} of the handbook stays as it was." for i in range(40)]


def test_an_edit_mail_shows_the_changed_lines_only(runtime: Runtime) -> None:
    with unit_of_work(runtime.sessions) as s:
        t = directory.get_tenant(s, "acme")
        ann = directory.get_user(s, t, "ann@acme.example")
        page, ids = editing.create(
            s, t, directory.get_space(s, t, "sales"), ann, "Handbook", "\n\n".join(LINES)
        )
        page_id = page.id
    runtime.enqueue_notifications(ids)
    wait_until(lambda: settled(runtime) and len(outbox(runtime)) == 2)
    edited = LINES.copy()
    edited[20] = "Line 20 now says something new."
    with unit_of_work(runtime.sessions) as s:
        t = directory.get_tenant(s, "acme")
        ann = directory.get_user(s, t, "ann@acme.example")
        html = "".join(f"<p>{line}</p>" for line in edited)
        _, ids = editing.revise(s, t, page_id, ann, html)
    runtime.enqueue_notifications(ids)
    wait_until(lambda: settled(runtime) and len(outbox(runtime)) == 4)
    mail = [m for m in outbox(runtime) if to(m) == "bob@acme.example"][-1]
    assert str(mail["Subject"]).startswith("Re: [Sales] Handbook")
    text = mail.get_body(preferencelist=("plain",)).get_content()
    assert "What changed:" in text
    assert "- Line 20 of the handbook stays as it was." in text
    assert "+ Line 20 now says something new." in text
    assert "Line 19 of" not in text and "Line 21 of" not in text  # not the whole page again
    html_body = mail.get_body(preferencelist=("html",)).get_content()
    assert "Line 20 now says something new." in html_body and "Line 3 of" not in html_body


def test_changed_lines_are_bounded_and_counted() -> None:
    old = "\n".join(f"old {i}" for i in range(5000))
    new = "\n".join(f"new {i}" for i in range(5000))
    shown, more = changed_lines(old, new)
    assert len(shown) == SHOWN and more == 10_000 - SHOWN
    shown, more = changed_lines("a\nb\nc", "a\nc\nd")
    assert shown == [("-", "b"), ("+", "d")] and more == 0
    assert changed_lines("same", "same") == ([], 0)
    (line,) = changed_lines("", "x" * 1000)[0]
    assert len(line[1]) == 200 and line[1].endswith("…")
