"""Links between pages by title: [[Title]] in a page or comment becomes a link to that page
(in its space first, else an open space; never a members-only page elsewhere), what no page
answers stays as written, and each page lists the pages that link to it."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from mailhub.content.wikilinks import MAX_LINKS, link_titles
from mailhub.db import unit_of_work
from mailhub.domain import directory, editing
from mailhub.models import Revision
from mailhub.web.app import create_app

from conftest import relayed_runtime
from helpers import sign_in


def test_titles_become_links_and_pages_know_who_links_to_them(tmp_path: Path) -> None:
    with relayed_runtime(tmp_path) as (rt, _sink, _):
        with unit_of_work(rt.sessions) as s:
            t = directory.get_tenant(s, "acme")
            ann = directory.get_user(s, t, "ann@acme.example")
            sales = directory.get_space(s, t, "sales")
            board = directory.add_space(s, t, "board", "Board")
            directory.set_space(s, t, "board", restricted=True)
            directory.add_member(s, t, "board", "ann@acme.example")
            plan, _ = editing.create(s, t, sales, ann, "Q3 plan & budget", "The plan.")
            editing.create(s, t, board, ann, "Salaries", "Secret.")
            handbook, _ = editing.create(
                s,
                t,
                sales,
                ann,
                "Handbook",
                "See [[q3 plan &   budget]], [[Salaries]] and [[Nothing here]].",
            )
            plan_id, handbook_id = plan.id, handbook.id
            editing.comment(s, t, plan_id, ann, "Also see [[Handbook]].")
        with rt.sessions() as s:
            html = s.scalars(
                select(Revision.body_html).where(Revision.page_id == handbook_id)
            ).one()
        assert (
            f'<a href="/t/acme/pages/{plan_id}" class="page-link">q3 plan &amp; budget</a>' in html
        )
        assert "[[Salaries]]" in html  # a members-only page of another space is not revealed
        assert "[[Nothing here]]" in html
        web = TestClient(create_app(rt.sessions, rt.files))
        sign_in(web, rt.sessions, "acme", "bob@acme.example")
        plan_page = web.get(f"/t/acme/pages/{plan_id}").text
        assert (
            "Related pages" in plan_page
            and f'href="/t/acme/pages/{handbook_id}">Handbook' in plan_page
        )
        comment = web.get(f"/t/acme/pages/{plan_id}").text
        assert f'href="/t/acme/pages/{handbook_id}" class="page-link">Handbook</a>' in comment
        assert "Related pages" not in web.get(f"/t/acme/pages/{handbook_id}").text


def test_link_titles_is_bounded_and_leaves_the_unknown_alone() -> None:
    many = "[[x]]" * (MAX_LINKS + 10)
    asked: list[str] = []
    linked = link_titles(many, lambda title: asked.append(title) or "/p/1")
    assert len(asked) == MAX_LINKS and linked.count('class="page-link"') == MAX_LINKS
    assert link_titles("[[a]] [[]] [[<b>]]", lambda _: None) == "[[a]] [[]] [[<b>]]"
