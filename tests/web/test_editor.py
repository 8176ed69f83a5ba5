"""The page editor's server side: what the rich-text editor sends is sanitised as mail is, an
unchanged save makes no revision, the plain-text box still works without JavaScript, and the
editor's files are served from mailhub itself, exactly the versions package-lock.json pins."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from mailhub import TEMPLATES_DIR
from mailhub.models import Revision
from mailhub.web.app import create_app

from conftest import relayed_runtime
from helpers import ROOT, sign_in

VENDOR = TEMPLATES_DIR / "web" / "static" / "vendor"
EDITOR = ROOT / "mailhub" / "web" / "editor"


def test_rich_edits_are_sanitised_and_an_unchanged_save_makes_no_revision(tmp_path: Path) -> None:
    with relayed_runtime(tmp_path) as (rt, _sink, _):
        web = TestClient(create_app(rt.sessions, rt.files, notify=rt.enqueue_notifications))
        csrf = sign_in(web, rt.sessions, "acme", "ann@acme.example")
        made = web.post(
            "/t/acme/pages/new",
            data={
                "csrf": csrf,
                "space": "sales",
                "title": "Plan",
                "mode": "rich",
                "body_html": '<p>A <b>bold</b> plan<img src="x" onerror="alert(1)"></p>'
                "<script>alert(2)</script><table><tr><td>1</td></tr></table>",
            },
            follow_redirects=False,
        )
        path = made.headers["location"]
        edit = web.get(f"{path}/edit").text
        sent = re.search(r'name="body_html" value="([^"]*)"', edit)
        assert sent is not None
        html = sent.group(1).replace("&lt;", "<").replace("&gt;", ">").replace("&#34;", '"')
        assert "<b>bold</b>" in html and "<table>" in html
        assert "onerror" not in html and "<script" not in html and "alert(2)" not in html

        # The editor sends the page's HTML back untouched when nothing changed: no revision
        with rt.sessions() as s:
            stored = s.scalars(select(Revision.body_html)).one()
        for title in ("Plan", ""):
            data = {"csrf": csrf, "title": title, "mode": "rich", "body_html": stored}
            web.post(f"{path}/edit", data=data)
        assert _revisions(rt) == 1

        # A change is a revision; the plain-text box (no JavaScript) still writes one too
        changed = stored.replace("plan", "idea")
        web.post(
            f"{path}/edit",
            data={"csrf": csrf, "title": "Plan", "mode": "rich", "body_html": changed},
        )
        web.post(
            f"{path}/edit",
            data={"csrf": csrf, "title": "Plan", "mode": "text", "text": "Plain now."},
        )
        with rt.sessions() as s:
            bodies = list(s.scalars(select(Revision.body_html).order_by(Revision.number)))
        assert len(bodies) == 3 and "idea" in bodies[1] and bodies[2] == "<p>Plain now.</p>"

        # Too much HTML is refused with a clear message, nothing saved
        huge = web.post(
            f"{path}/edit",
            data={"csrf": csrf, "title": "Plan", "mode": "rich", "body_html": "<p>x</p>" * 600_000},
        )
        assert huge.status_code == 400 and "too long" in huge.text and _revisions(rt) == 3


def test_the_editor_files_are_ours_and_the_pinned_versions() -> None:
    manifest = json.loads((VENDOR / "MANIFEST.json").read_text())
    lock = json.loads((EDITOR / "package-lock.json").read_text())["packages"]
    for name, entry in manifest.items():
        assert lock[f"node_modules/{entry['package']}"]["version"] == entry["version"]
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == entry["sha256"]
    assert (VENDOR / "squire.LICENSE").exists() and (VENDOR / "purify.LICENSE").exists()


def test_the_editor_scripts_are_served_and_nothing_else_is(tmp_path: Path) -> None:
    with relayed_runtime(tmp_path) as (rt, _sink, _):
        web = TestClient(create_app(rt.sessions, rt.files))
        for name in ("editor.js", "vendor/squire.js", "vendor/purify.min.js", "search.js"):
            r = web.get(f"/static/{name}")
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript")
        for name in ("vendor/MANIFEST.json", "../base.html", "vendor/../editor.js.bak"):
            assert web.get(f"/static/{name}").status_code == 404


def _revisions(rt: object) -> int:
    with rt.sessions() as s:  # type: ignore[attr-defined]
        return len(list(s.scalars(select(Revision))))
