"""Erasure and backups on both databases, tenant closure with its proof, the whole-tenant
export, retention of unused accounts, log expiry, and the same from the command line."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import zipfile
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from mailhub.db import unit_of_work
from mailhub.domain import directory, preferences
from mailhub.domain.search import session_factory
from mailhub.errors import NotFound
from mailhub.models import (
    Attachment,
    Notification,
    Page,
    PrivacyRequest,
    Tenant,
    User,
    utcnow,
)
from mailhub.privacy import backups, closure, datamap, erasure
from mailhub.privacy.export import build_tenant
from mailhub.privacy.proof import Places, Subject, prove
from mailhub.privacy.retention import delete_old_logs, expire_inactive
from mailhub.tasks import Runtime

from conftest import relayed_runtime, wait_until
from helpers import final_count, png, sign_in, smtp_send

MAILHUB = str(Path(sys.executable).parent / "mailhub")


def _mail(sender: str, to: str, subject: str, body: str, n: int, image: bool = False) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg["Message-ID"] = f"<closure-{n}@example.test>"
    msg.set_content(body)
    if image:
        msg.add_attachment(png(), maintype="image", subtype="png", filename="board.png")
    return msg.as_bytes()


def _content(runtime: Runtime, smtp: Any) -> None:
    """Bob Reader's page with a photo; Ann's page that names him."""
    smtp_send(
        smtp.port,
        "bob@acme.example",
        ["sales@acme.example"],
        _mail("Bob Reader <bob@acme.example>", "sales@acme.example", "Board", "Plan.", 1, True),
    )
    smtp_send(
        smtp.port,
        "ann@acme.example",
        ["sales@acme.example"],
        _mail("Ann <ann@acme.example>", "sales@acme.example", "Contacts", "Ask Bob Reader.", 2),
    )
    wait_until(lambda: final_count(runtime) == 2)


@pytest.mark.parametrize("backend", ["sqlite", "postgres-redis", "postgres-blobs"], indirect=True)
def test_erasure_and_restore_on_each_database(
    runtime: Runtime, acme: dict[str, int], smtp: Any
) -> None:
    _content(runtime, smtp)
    with unit_of_work(runtime.sessions) as s:
        t = s.get_one(Tenant, acme["tenant"])
        t.keep_shared_content = False
    made = backups.create(
        runtime.sessions, runtime.places.keys, runtime.places.backups, runtime.files, t.id, 5
    )
    with unit_of_work(runtime.sessions) as s:  # mail to Cat that names Bob, in its JSON
        s.add(
            Notification(
                tenant_id=acme["tenant"],
                kind="mention",
                event_key="test:cat:mention",
                to_addr="cat@acme.example",
                user_id=acme["cat"],
                reason="Bob Reader mentioned you",
                context={"by": {"name": "Bob Reader", "email": "bob@acme.example"}},
                message_id="<test-mention@acme.example>",
                status="sent",
            )
        )
    assert made.files >= 2  # the photo and its thumbnails, sealed
    with runtime.places.backups.open(t.id, made.name) as fh:
        raw = fh.read()
    assert b"bob@acme.example" not in raw and b"Board" not in raw  # nothing in the clear
    if runtime.places.backups.blobs is not None:  # in the database, not on this host's disk
        assert not list(runtime.settings.backups_dir.rglob("*.mhb"))
        assert not list((runtime.settings.data_dir / "cache").rglob("*.mhb*"))
    outcome = erasure.erase_user(runtime.sessions, runtime.places, t, "bob@acme.example")
    assert outcome.state == "done" and set(outcome.proof.values()) == {0}, outcome.left
    assert outcome.counts["attachment files"] >= 2 and outcome.counts["backup keys"] == 1
    with runtime.sessions() as s:
        mention = s.scalars(select(Notification).where(Notification.kind == "mention")).one()
        assert mention.context == {"by": {"name": "[erased]", "email": "[erased]"}}
        assert mention.reason == "[erased] mentioned you"
    restored = backups.restore(
        runtime.sessions,
        runtime.places.keys,
        runtime.files,
        acme["tenant"],
        runtime.places.backups,
        made.name,
    )
    with runtime.sessions() as s:
        assert s.scalars(select(Page.title)).all() == ["Contacts"]
        assert s.scalar(select(func.count()).select_from(Attachment)) == 0
        assert directory.user_by_email(s, acme["tenant"], "bob@acme.example") is None
        assert directory.user_by_email(s, acme["tenant"], "cat@acme.example") is not None
    assert restored.skipped["users"] == 1
    # The proof can fail: a log line that names him is found, and the request says where
    log_file = runtime.settings.data_dir / "mailhub.log"
    places = Places(**{**runtime.places.__dict__, "log_file": log_file})
    log_file.write_text("2026-11-27 INFO leaked cat@acme.example\n")
    with unit_of_work(runtime.sessions) as s:
        t = s.get_one(Tenant, acme["tenant"])
    failed = erasure.erase_user(runtime.sessions, places, t, "cat@acme.example")
    assert failed.state == "failed" and failed.left == {"log application": 1}
    with runtime.sessions() as s:
        req = s.get_one(PrivacyRequest, failed.request_id)
        assert req.error == "left after erasure: log application"


@pytest.mark.parametrize("backend", ["sqlite", "postgres-redis", "postgres-blobs"], indirect=True)
def test_closing_a_tenant_leaves_nothing_of_it_and_nothing_else_is_touched(
    runtime: Runtime, acme: dict[str, int], smtp: Any, tmp_path: Path
) -> None:
    with unit_of_work(runtime.sessions) as s:
        other = directory.add_tenant(s, "globex", "globex.example", "Globex")
        hank = directory.add_user(s, other, "hank@globex.example", "Hank Scorpio")
        preferences.follow(s, other, hank, directory.add_space(s, other, "ops"))
    _content(runtime, smtp)
    smtp_send(
        smtp.port,
        "hank@globex.example",
        ["ops@globex.example"],
        _mail("Hank <hank@globex.example>", "ops@globex.example", "Ops", "Hi", 3, True),
    )
    wait_until(lambda: final_count(runtime) == 3)
    backups.create(
        runtime.sessions,
        runtime.places.keys,
        runtime.places.backups,
        runtime.files,
        acme["tenant"],
        5,
    )
    with runtime.sessions() as s:
        t = s.get_one(Tenant, acme["tenant"])
        counts = build_tenant(s, t, runtime.files, tmp_path / "acme.zip")
    with zipfile.ZipFile(tmp_path / "acme.zip") as z:  # the customer's own copy first
        pages = json.loads(z.read("tables/pages.json"))
        assert sorted(p["title"] for p in pages) == ["Board", "Contacts"]
        assert any(n.startswith("files/") and n.endswith("board.png") for n in z.namelist())
    assert counts["users"] == 3 and counts["tenants"] == 1
    with runtime.sessions() as s:
        globex_before = s.scalar(
            select(func.count()).select_from(Page).where(Page.tenant_id != acme["tenant"])
        )
        globex_files = [
            a.path
            for a in s.scalars(select(Attachment).where(Attachment.tenant_id != acme["tenant"]))
        ]
    closed = closure.close(
        runtime.sessions, runtime.places, "acme", runtime.settings.data_dir / "closures"
    )
    assert closed.left == {} and set(closed.proof.values()) == {0}
    assert len(closed.proof) >= len(datamap.load()["tables"]) - 5
    record = json.loads(closed.record.read_text())
    assert record["left"] == 0 and "acme.example" not in closed.record.read_text()
    if runtime.engine.dialect.name == "sqlite":  # the database's own files, read as bytes
        database = runtime.settings.data_dir / "mailhub.sqlite3"
        raw = b"".join(p.read_bytes() for p in database.parent.glob(database.name + "*"))
        assert raw.count(b"@acme.example") == 0 and raw.count(b"Ann Author") == 0
    assert not (runtime.files.root / str(acme["tenant"])).exists()
    assert not runtime.places.keys.has_tenant(acme["tenant"])
    assert runtime.places.backups.holds(acme["tenant"]) == 0
    assert not runtime.places.backups.entries(acme["tenant"])
    with runtime.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Tenant)) == 1
        assert s.scalar(select(func.count()).select_from(Page)) == globex_before == 1
    assert all((runtime.files.root / p).exists() for p in globex_files)


def test_unused_accounts_are_warned_three_times_then_erased_and_use_cancels(
    tmp_path: Path,
) -> None:
    with relayed_runtime(tmp_path) as (rt, sink, _server):
        now = utcnow()
        with unit_of_work(rt.sessions) as s:
            t = directory.get_tenant(s, "acme")
            t.inactive_days = 730
            for user in s.scalars(select(User)):
                user.last_active_at = now - timedelta(days=729)
        places = rt.places
        warned, erased = expire_inactive(rt.sessions, places, now)
        assert len(warned) == 2 and erased == []
        rt.enqueue_notifications(warned)
        wait_until(lambda: len(sink.received) == 2)
        day = f"{now + timedelta(days=30):%Y-%m-%d}"  # at least 30 days from the first warning
        assert {str(r.message["Subject"]) for r in sink.received} == {
            f"Your account at Acme will be deleted on {day}"
        }
        assert expire_inactive(rt.sessions, places, now) == ([], [])  # once each
        # Ann signs in: her account is in use again, nothing more happens to it
        from fastapi.testclient import TestClient

        from mailhub.web.app import create_app

        sign_in(
            TestClient(create_app(rt.sessions, rt.files)), rt.sessions, "acme", "ann@acme.example"
        )
        later = now + timedelta(days=23, hours=1)
        warned, _ = expire_inactive(rt.sessions, places, later)
        assert len(warned) == 1  # Bob: the 7-day warning, naming the same day
        rt.enqueue_notifications(warned)
        wait_until(lambda: len(sink.received) == 3)
        assert day in str(sink.received[-1].message["Subject"])
        assert sink.received[-1].rcpt_tos == ["bob@acme.example"]
        assert expire_inactive(rt.sessions, places, now + timedelta(days=29, hours=1))[0]
        warned, erased = expire_inactive(rt.sessions, places, now + timedelta(days=30, hours=1))
        assert warned == [] and [o.state for o in erased] == ["done"]
        with rt.sessions() as s:
            assert directory.user_by_email(s, t.id, "bob@acme.example") is None
            ann = directory.get_user(s, t, "ann@acme.example")
            assert ann.deletion_due_at is None and ann.inactivity_warned is None
            req = s.scalars(select(PrivacyRequest)).one()
            assert (req.via, req.state) == ("retention", "done")
        assert erased[0].notice is not None and "erased" in erased[0].notice.draft.subject
        # A worker that was down past the day still warns a day ahead, naming the new day
        with unit_of_work(rt.sessions) as s:
            cat = directory.add_user(s, t, "cat@acme.example", "Cat")
            cat.last_active_at = now - timedelta(days=800)
            cat.deletion_due_at, cat.inactivity_warned = now - timedelta(days=2), 7
        warned, erased = expire_inactive(rt.sessions, places, now)
        assert len(warned) == 1 and erased == []
        with rt.sessions() as s:
            due = directory.get_user(s, t, "cat@acme.example").deletion_due_at
        assert due is not None and due >= now + timedelta(days=1)


def test_rotated_logs_expire(tmp_path: Path) -> None:
    log_file = tmp_path / "mailhub.log"
    log_file.write_text("today\n")
    old = tmp_path / "mailhub.log.2026-01-01"
    recent = tmp_path / "mailhub.log.2026-11-26"
    for path in (old, recent):
        path.write_text("x\n")
    os.utime(old, (time.time() - 20 * 86400,) * 2)
    assert delete_old_logs(log_file, 14) == 1
    assert not old.exists() and recent.exists() and log_file.exists()


def _cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("MAILHUB_")}
    full["MAILHUB_DATA_DIR"] = str(tmp_path / "var")
    full.update(env)
    return subprocess.run([MAILHUB, *args], capture_output=True, text=True, env=full, timeout=60)


@pytest.mark.slow  # runs the mailhub command, process by process
def test_backups_erasure_and_closure_from_the_command_line(tmp_path: Path) -> None:
    def ok(*args: str, **env: str) -> str:
        done = _cli(tmp_path, *args, **env)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def refused(*args: str) -> str:
        done = _cli(tmp_path, *args)
        assert done.returncode == 1 and done.stdout == "", done.stdout
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
        return done.stderr

    ok("migrate")
    ok("tenant", "add", "acme", "--domain", "acme.example")
    ok("user", "add", "acme", "ann@acme.example", "--name", "Ann Author")
    ok("user", "add", "acme", "bob@acme.example", "--name", "Bob Reader")
    assert "kept" in ok("tenant", "set", "acme", "--keep-shared-content", "yes")
    assert "after 730 days" in ok("tenant", "set", "acme", "--inactive-days", "730")
    for _ in range(3):
        assert "rows" in ok("backup", "create", "acme", MAILHUB_BACKUP_KEEP="2")
    listed = json.loads(ok("backup", "list", "acme", "--json"))
    assert len(listed) == 2 and ok("backup", "list", "acme").splitlines()[0].startswith("name ")
    assert "deleted 1 old backups" in ok("backup", "prune", "acme", "--keep", "1")
    [name] = [b["name"] for b in json.loads(ok("backup", "list", "acme", "--json"))]
    assert "--yes" in refused("backup", "restore", "acme", name)
    assert "no backup" in refused("backup", "restore", "acme", "nope.mhb", "--yes")
    assert "--yes" in refused("privacy", "erase", "acme", "bob@acme.example")
    erased = ok("privacy", "erase", "acme", "bob@acme.example", "--yes")
    assert re.search(r"done: .* proof: \d+ stores checked, 0 hits left", erased), erased
    [last] = list((tmp_path / "var" / "outbox").glob("*.eml"))  # the one last mail, to him
    assert "To: bob@acme.example" in last.read_text() and "is erased" in last.read_text()
    restored = ok("backup", "restore", "acme", name, "--yes")
    # (His welcome mail, still queued when he was erased, is not restored either.)
    assert re.search(r"not restored \(erased, keys destroyed\): (.*, )?1 users\b", restored)
    assert re.search(
        r"erase +done .* proof: \d+ stores, 0 hits left", ok("privacy", "list", "acme")
    )
    assert "warned 0 unused accounts" in ok("retention", "run")
    ok("tenant", "export", "acme", "--to", str(tmp_path / "acme.zip"))
    assert "exists already" in refused(
        "tenant", "export", "acme", "--to", str(tmp_path / "acme.zip")
    )
    assert "--yes" in refused("tenant", "close", "acme")
    closed = ok("tenant", "close", "acme", "--yes")
    assert "0 hits left" in closed, closed
    assert "no tenant" in refused("backup", "list", "acme")


@pytest.fixture(scope="module")
def proofs(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, int], dict[str, int]]:
    """An erasure proof and a closure proof, run once over a migrated SQLite database that
    holds one tenant with one user (so some stores have hits: only the keys matter here)."""
    from mailhub.db import make_engine, migrate

    from conftest import make_settings

    settings = make_settings(tmp_path_factory.mktemp("proofs"))
    settings.data_dir.mkdir(parents=True)
    migrate(settings.effective_database_url)
    sessions = session_factory(make_engine(settings.effective_database_url))
    places = Places.of(settings)
    with unit_of_work(sessions) as s:
        t = directory.add_tenant(s, "acme", "acme.example", "Acme")
        u = directory.add_user(s, t, "ann@acme.example", "Ann Author")
        return prove(s, places, Subject(t.id, u.id, u.email, u.name)), closure.prove_closed(
            s, places, t.id, t.domain
        )


@pytest.mark.parametrize("table", sorted(datamap.load()["tables"]))
def test_every_data_map_table_is_covered_by_both_proofs(
    table: str, proofs: tuple[dict[str, int], dict[str, int]]
) -> None:
    """Each table the map lists is checked by the erasure proof and by the closure proof;
    one that holds a person's data names whose it is, so that the access report, the export's
    owner and the backups' sealing can find them."""
    from mailhub.models import Base
    from mailhub.privacy import report
    from mailhub.privacy.backups import archive

    erased, closed = proofs
    assert f"table {table}" in erased and f"table {table}" in closed
    entry = datamap.load()["tables"][table]
    model = Base.metadata.tables.get(table)
    personal = any(c.get("personal") for c in entry["columns"].values())
    if personal and model is not None and "tenant_id" in model.c:
        assert entry["subject"] in model.c, f"{table}: no column says whose a row is"
        assert report.subject_column(model, entry["subject"]) is not None or any(
            fk.column.table.name in {t.name for t in archive.tables()}
            for fk in model.c[entry["subject"]].foreign_keys
        )


def test_every_data_map_store_is_covered_by_both_proofs(
    proofs: tuple[dict[str, int], dict[str, int]],
) -> None:
    erased, closed = proofs
    dm = datamap.load()
    for kind, section in (
        ("file store", "file_stores"),
        ("queue", "queues"),
        ("log", "logs"),
        ("backup", "backups"),
    ):
        for name in dm[section]:
            assert f"{kind} {name}" in erased and f"{kind} {name}" in closed
    # Ann's data key does not exist yet (no backup was made): nothing to shred, nothing found
    assert erased["file store keys_dir"] == 0


def test_the_worker_backs_up_each_tenant_on_schedule_with_strict_rotation(
    tmp_path: Path,
) -> None:
    with relayed_runtime(tmp_path, MAILHUB_BACKUP_EVERY_HOURS="24", MAILHUB_BACKUP_KEEP="2") as (
        rt,
        _sink,
        _server,
    ):
        assert rt.run_backups() == 1  # acme, which had none
        assert rt.run_backups() == 0  # not due for a day
        later = time.time() + 25 * 3600
        assert rt.run_backups(now=later) == 1
        assert rt.run_backups(now=later + 25 * 3600) == 1
        with rt.sessions() as s:
            tenant_id = directory.get_tenant(s, "acme").id
        kept = backups.listing(rt.places.backups, tenant_id)
        assert len(kept) == 2 and kept[0].created_at > kept[1].created_at  # the newest two


def test_rebuilding_search_after_a_restore_gives_what_indexing_as_you_go_gave(
    runtime: Runtime, acme: dict[str, int], smtp: Any
) -> None:
    from mailhub.domain import editing
    from mailhub.domain.search import reindex_tenant
    from mailhub.models import SearchEntry

    _content(runtime, smtp)
    smtp_send(
        smtp.port,
        "ann@acme.example",
        ["sales+form@acme.example"],
        _mail("Ann <ann@acme.example>", "sales+form@acme.example", "Lunch", "1. Day? [Mo / Tu]", 4),
    )
    wait_until(lambda: final_count(runtime) == 3)
    with unit_of_work(runtime.sessions) as s:
        t = s.get_one(Tenant, acme["tenant"])
        page = s.scalars(select(Page).where(Page.title == "Board")).one()
        editing.comment(s, t, page.id, s.get_one(User, acme["cat"]), "Nice board.")
        editing.revise(s, t, page.id, s.get_one(User, acme["ann"]), "<p>Plan B.</p>", "Board")

    def entries() -> list[tuple[Any, ...]]:
        with runtime.sessions() as s:
            return sorted(
                (
                    e.item_key,
                    e.kind,
                    e.space_id,
                    e.page_id,
                    e.comment_id,
                    e.form_id,
                    e.attachment_id,
                    e.title,
                    e.label,
                    e.body,
                )
                for e in s.scalars(select(SearchEntry))
            )

    as_you_go = entries()
    assert {e[1] for e in as_you_go} == {"page", "comment", "form", "attachment"}
    with unit_of_work(runtime.sessions) as s:
        assert reindex_tenant(s, acme["tenant"]) == len(as_you_go)
    assert entries() == as_you_go


def test_a_name_with_accents_is_found_and_erased_inside_json(
    runtime: Runtime, acme: dict[str, int]
) -> None:
    """JSON keeps non-ASCII letters escaped; the scan and the scrub find them all the same."""
    with unit_of_work(runtime.sessions) as s:
        t = s.get_one(Tenant, acme["tenant"])
        directory.add_user(s, t, "zoe@acme.example", "Zoë Müller")
        s.add(
            Notification(
                tenant_id=t.id,
                kind="mention",
                event_key="test:ann:mention",
                to_addr="ann@acme.example",
                user_id=acme["ann"],
                reason="you were mentioned",
                context={"by": "Zoë Müller"},
                message_id="<test-mention-2@acme.example>",
                status="sent",
            )
        )
    outcome = erasure.erase_user(runtime.sessions, runtime.places, t, "zoe@acme.example")
    assert outcome.state == "done" and outcome.counts["mentions scrubbed"] == 1
    with runtime.sessions() as s:
        mention = s.scalars(select(Notification).where(Notification.kind == "mention")).one()
        assert mention.context == {"by": "[erased]"}


@pytest.mark.parametrize("backend", ["postgres-blobs"], indirect=True)
def test_a_blob_that_names_the_person_fails_the_proof(
    runtime: Runtime, acme: dict[str, int]
) -> None:
    assert runtime.files.blobs is not None
    runtime.files.blobs.write(acme["tenant"], f"{acme['tenant']}/x/notes.txt", [b"Cat Reader"])
    with unit_of_work(runtime.sessions) as s:
        t = s.get_one(Tenant, acme["tenant"])
    failed = erasure.erase_user(runtime.sessions, runtime.places, t, "cat@acme.example")
    assert failed.state == "failed"
    # in the blob store, and so in the database's own files, read as bytes
    assert failed.left == {"file store blob_store": 1, "database files": 1}
    # and the proof left no copy of what it read on this host
    assert not list((runtime.settings.data_dir / "cache").rglob("notes.txt"))


@pytest.mark.parametrize("backend", ["postgres-blobs"], indirect=True)
def test_hosts_without_a_shared_disk_share_the_backup_keys(
    runtime: Runtime, acme: dict[str, int], tmp_path: Path
) -> None:
    """With the blob store, the keys are in the database: a key made on one worker host is
    the key another host opens backups with, and shredding it on any host shreds it for all
    (with keys in each host's own directory, an erasure run on another host left it)."""
    from mailhub.privacy.keys import KeyStore

    engine = runtime.sessions.kw["bind"]
    here = runtime.places.keys
    there = KeyStore(tmp_path / "other-host-keys", runtime.settings.secret_key, engine)
    assert here.engine is not None  # MAILHUB_BLOB_STORE=postgres puts them in the database
    made = here.user_key(acme["tenant"], acme["cat"], create=True)
    assert made is not None
    sealed = made.encrypt(b"cat's row")
    opened = there.user_key(acme["tenant"], acme["cat"])
    assert opened is not None and opened.decrypt(sealed) == b"cat's row"
    assert not (tmp_path / "other-host-keys").exists()  # nothing on either host's disk
    assert there.destroy_user(acme["tenant"], acme["cat"])
    assert not here.has_user_key(acme["tenant"], acme["cat"])
    assert here.user_key(acme["tenant"], acme["cat"]) is None
    # Two hosts making the tenant's key at once agree on one
    a, b = here.tenant_key(acme["tenant"], create=True), there.tenant_key(acme["tenant"], True)
    assert a is not None and b is not None and b.decrypt(a.encrypt(b"x")) == b"x"
    assert here.destroy_tenant(acme["tenant"]) == 1 and not there.has_tenant(acme["tenant"])


@pytest.mark.parametrize("backend", ["postgres-blobs"], indirect=True)
def test_a_backup_made_on_one_host_is_listed_restored_and_pruned_on_another(
    runtime: Runtime, acme: dict[str, int], smtp: Any, tmp_path: Path
) -> None:
    """With the blob store, backups are in the database: the worker that made one may be gone,
    and any other host lists it, restores it and prunes it; neither host keeps a file."""
    from conftest import make_settings

    _content(runtime, smtp)
    made = backups.create(
        runtime.sessions,
        runtime.places.keys,
        runtime.places.backups,
        runtime.files,
        acme["tenant"],
        5,
    )
    other_settings = make_settings(
        tmp_path / "host2",
        MAILHUB_DATABASE_URL=runtime.settings.effective_database_url,
        MAILHUB_BLOB_STORE="postgres",
    )
    there = Places.of(other_settings, runtime.engine)
    listed = backups.listing(there.backups, acme["tenant"])
    assert [(b.name, b.rows, b.files) for b in listed] == [(made.name, made.rows, made.files)]
    assert listed[0].size == made.size
    assert backups.readable_for(there.keys, there.backups, acme["tenant"], acme["bob"]) == 1
    with unit_of_work(runtime.sessions) as s:  # damage: the files go, the titles are lost
        for a in s.scalars(select(Attachment)):
            runtime.files.delete(a.path)
            s.delete(a)
        for p in s.scalars(select(Page)):
            p.title = "Lost"
    restored = backups.restore(
        runtime.sessions, there.keys, there.files, acme["tenant"], there.backups, made.name
    )
    assert restored.files == made.files and not restored.skipped
    with runtime.sessions() as s:
        assert sorted(s.scalars(select(Page.title))) == ["Board", "Contacts"]
        photo = s.scalars(select(Attachment)).one()
    assert runtime.files.path(photo.path).read_bytes() == png()  # on the first host too
    newer = [
        backups.create(runtime.sessions, there.keys, there.backups, there.files, acme["tenant"], 2)
        for _ in range(2)
    ]
    names = [b.name for b in backups.listing(runtime.places.backups, acme["tenant"])]
    assert names == sorted((b.name for b in newer), reverse=True)  # made.name pruned, on host 2
    for host in (runtime.settings.data_dir, other_settings.data_dir):
        assert not [p for p in host.rglob("*") if p.is_file() and ".mhb" in p.name]
    with pytest.raises(NotFound):
        backups.restore(
            runtime.sessions, there.keys, there.files, acme["tenant"], there.backups, made.name
        )
    with pytest.raises(NotFound):  # only a backup's name: never a path
        there.backups.open(acme["tenant"], f"../{acme['tenant']}/{names[0]}")
