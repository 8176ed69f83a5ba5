"""The ways into the content: the tenant's home lists the spaces a member sees with what is new,
each space has a home with its addresses, who hears of it and the member's own setting, its
recent pages and forms; the page list is paged and sortable, with dates, authors and space
names; forms have a list of their own."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from mailhub.content.questions import parse
from mailhub.db import unit_of_work
from mailhub.domain import directory, editing
from mailhub.models import Form, FormVersion, Page, WebSession, utcnow
from mailhub.web.app import create_app

from conftest import relayed_runtime
from helpers import sign_in


def test_homes_lists_and_paging(tmp_path: Path) -> None:
    with relayed_runtime(tmp_path) as (rt, _sink, _):
        with unit_of_work(rt.sessions) as s:
            t = directory.get_tenant(s, "acme")
            ann = directory.get_user(s, t, "ann@acme.example")
            sales = directory.get_space(s, t, "sales")
            secret = directory.add_space(s, t, "board", "Board")
            directory.set_space(s, t, "board", restricted=True)
            directory.add_member(s, t, "board", "ann@acme.example")
            for i in range(55):
                editing.create(s, t, sales, ann, f"Report {i:02d}", f"Numbers for week {i}.")
            editing.create(s, t, secret, ann, "Salaries", "Not for everyone.")
            form = Form(tenant_id=t.id, space_id=sales.id, creator_id=ann.id, title="Offsite")
            s.add(form)
            s.flush()
            definition = parse("Offsite", "1. Which day? [Mon / Tue]\n")
            s.add(
                FormVersion(
                    tenant_id=t.id, form_id=form.id, number=1, definition=definition.as_json()
                )
            )
        web = TestClient(create_app(rt.sessions, rt.files))
        sign_in(web, rt.sessions, "acme", "bob@acme.example")

        home = web.get("/t/acme").text
        assert 'href="/t/acme/s/sales"' in home and "55 pages" in home
        assert "56 new or changed" not in home and "55 new or changed in the last 7 days" in home
        assert "Board" not in home and "Salaries" not in home  # a members-only space stays hidden
        assert 'href="mailto:sales@acme.example"' in home

        space = web.get("/t/acme/s/sales").text
        assert 'href="mailto:sales@acme.example"' in space and "sales+form@acme.example" in space
        assert "A new page here reaches" in space and "all my mail settings" in space
        assert "Report 54" in space and "55 pages in all" in space
        assert "Offsite" in space and "open · 0 answers" in space
        assert web.get("/t/acme/s/board").status_code == 404
        assert web.get("/t/acme/s/nothing").status_code == 404

        first = web.get("/t/acme/pages").text
        assert "55 pages" in first and "page 1 of 2" in first and "Report 54" in first
        assert "Report 04" not in first and 'href="/t/acme/s/sales">Sales</a>' in first
        second = web.get("/t/acme/pages?page=2").text
        assert "page 2 of 2" in second and "Report 04" in second and "Report 54" not in second
        by_title = web.get("/t/acme/pages?sort=title").text
        titles = re.findall(r">(Report \d\d)</a>", by_title)
        assert titles == sorted(titles) and titles[0] == "Report 00"
        assert "page 2 of 2" in web.get("/t/acme/pages?page=999").text  # past the end: the last
        assert web.get("/t/acme/pages?page=abc").status_code == 200

        forms = web.get("/t/acme/forms").text
        assert "Offsite" in forms and 'href="/t/acme/s/sales">Sales</a>' in forms


def test_pages_form_a_tree_with_breadcrumbs_and_contents(tmp_path: Path) -> None:
    with relayed_runtime(tmp_path) as (rt, _sink, _):
        with unit_of_work(rt.sessions) as s:
            t = directory.get_tenant(s, "acme")
            ann = directory.get_user(s, t, "ann@acme.example")
            sales = directory.get_space(s, t, "sales")
            handbook, _ = editing.create(s, t, sales, ann, "Handbook", "All about sales.")
            travel, _ = editing.create(s, t, sales, ann, "Travel", "How we travel.")
            trains, _ = editing.create(s, t, sales, ann, "Trains", "Book early.")
            ids = (handbook.id, travel.id, trains.id)
        web = TestClient(create_app(rt.sessions, rt.files))
        csrf = sign_in(web, rt.sessions, "acme", "ann@acme.example")
        h, tr, tn = ids

        def put(page: int, parent: int | str) -> int:
            form = web.get(f"/t/acme/pages/{page}/edit").text
            assert 'id="parent"' in form
            data = {"csrf": csrf, "title": "", "mode": "rich", "parent": str(parent)}
            data["body_html"] = re.search(r'name="body_html" value="([^"]*)"', form).group(1)  # type: ignore[union-attr]
            data["body_html"] = data["body_html"].replace("&lt;", "<").replace("&gt;", ">")
            return web.post(f"/t/acme/pages/{page}/edit", data=data).status_code

        assert put(tr, h) == 200 and put(tn, tr) == 200
        trains_page = web.get(f"/t/acme/pages/{tn}").text
        assert (
            f'<a href="/t/acme/pages/{h}">Handbook</a> › <a href="/t/acme/pages/{tr}">Travel</a> › Trains'
            in trains_page
        )
        assert f'href="/t/acme/pages/{tn}">Trains</a>' in web.get(f"/t/acme/pages/{tr}").text
        contents = web.get("/t/acme/s/sales").text
        nested = re.search(r"<h2>Contents</h2>\s*(.*?)</section>", contents, re.DOTALL)
        assert nested is not None
        assert re.search(
            r"Handbook</a><ul class=\"tree\"><li><a [^>]+>Travel</a><ul class=\"tree\"><li><a [^>]+>Trains",
            nested.group(1),
        )
        # A page cannot sit under its own descendant; nothing changes
        refused = put(h, tn)
        assert refused == 400
        assert "Handbook</a> ›" not in web.get(f"/t/acme/pages/{h}").text
        assert put(tn, "") == 200  # back to the top
        assert "Travel</a> › Trains" not in web.get(f"/t/acme/pages/{tn}").text


def test_following_from_the_space_home_says_so_there(tmp_path: Path) -> None:
    with relayed_runtime(tmp_path) as (rt, _sink, _):
        web = TestClient(create_app(rt.sessions, rt.files))
        csrf = sign_in(web, rt.sessions, "acme", "bob@acme.example")
        home = web.get("/t/acme/s/sales").text
        assert 'id="follow"' in home and "every page and comment (follow)" in home
        saved = web.post(
            "/t/acme/preferences",
            data={
                "csrf": csrf,
                "do": "space",
                "arg": "sales",
                "level": "watching",
                "frequency": "daily",
                "back": "/t/acme/s/sales",
            },
            follow_redirects=False,
        )
        assert saved.status_code == 303
        assert saved.headers["location"] == "/t/acme/s/sales?done=saved#follow"
        after = web.get(saved.headers["location"]).text
        assert "Saved: you now hear of Sales" in after and "in your daily digest" in after
        # From the settings page, the message stands in the row that changed
        again = web.post(
            "/t/acme/preferences",
            data={
                "csrf": csrf,
                "do": "space",
                "arg": "sales",
                "level": "normal",
                "frequency": "inherit",
            },
            follow_redirects=False,
        )
        assert again.headers["location"].endswith("?done=saved&at=sales#space-sales")
        row = web.get(again.headers["location"]).text.split('id="space-sales"')[1].split("</tr>")[0]
        assert 'role="status" class="done">Saved.' in row
        # A "back" elsewhere is ignored
        odd = web.post(
            "/t/acme/preferences",
            data={
                "csrf": csrf,
                "do": "space",
                "arg": "sales",
                "level": "watching",
                "frequency": "daily",
                "back": "https://evil.example/",
            },
            follow_redirects=False,
        )
        assert odd.headers["location"].startswith("/t/acme/preferences")


def test_the_home_says_what_is_new_since_the_last_visit(tmp_path: Path) -> None:
    with relayed_runtime(tmp_path) as (rt, _sink, _):
        with unit_of_work(rt.sessions) as s:
            t = directory.get_tenant(s, "acme")
            ann = directory.get_user(s, t, "ann@acme.example")
            sales = directory.get_space(s, t, "sales")
            old, _ = editing.create(s, t, sales, ann, "Old news", "Seen already.")
            old.updated_at = utcnow() - timedelta(hours=5)
        web = TestClient(create_app(rt.sessions, rt.files))
        sign_in(web, rt.sessions, "acme", "bob@acme.example")
        with unit_of_work(rt.sessions) as s:  # Bob was last here three hours ago…
            s.execute(update(WebSession).values(last_seen_at=utcnow() - timedelta(hours=3)))
            t = directory.get_tenant(s, "acme")
            editing.create(  # …and this came since
                s,
                t,
                directory.get_space(s, t, "sales"),
                directory.get_user(s, t, "ann@acme.example"),
                "Fresh",
                "New.",
            )
        home = web.get("/t/acme").text
        assert "1 new or changed since your last visit" in home
        with rt.sessions() as s:
            assert len(s.scalars(select(Page)).all()) == 2


def test_a_space_says_what_it_is_for(tmp_path: Path) -> None:
    with relayed_runtime(tmp_path) as (rt, _sink, _):
        with unit_of_work(rt.sessions) as s:
            t = directory.get_tenant(s, "acme")
            directory.get_user(s, t, "ann@acme.example").is_admin = True
        web = TestClient(create_app(rt.sessions, rt.files))
        csrf = sign_in(web, rt.sessions, "acme", "ann@acme.example")
        web.post(
            "/t/acme/admin",
            data={
                "csrf": csrf,
                "do": "space",
                "space": "sales",
                "description": "Deals, <leads> and forecasts.",
            },
        )
        assert "Deals, &lt;leads&gt; and forecasts." in web.get("/t/acme/s/sales").text
        assert "Deals, &lt;leads&gt; and forecasts." in web.get("/t/acme").text
        too_long = web.post(
            "/t/acme/admin",
            data={"csrf": csrf, "do": "space", "space": "sales", "description": "x" * 1001},
        )
        assert too_long.status_code == 422 and "at most 1000 characters" in too_long.text
