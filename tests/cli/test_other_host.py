"""With MAILHUB_BLOB_STORE=postgres, another machine's `mailhub` sees what a worker wrote: the
outbox (no relay set) and the tenant's backups, with nothing of them on either disk; and what
one machine stored in its folders before moves into the database."""

from __future__ import annotations

import os
import subprocess
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from mailhub.models import Attachment, InboundMessage
from mailhub.privacy import backups
from mailhub.privacy.proof import Places
from mailhub.tasks import Runtime

from conftest import make_settings, wait_until
from helpers import MAILHUB, final_count, png, smtp_send


def _backup(runtime: Runtime, tenant_id: int) -> backups.Backup:
    return backups.create(
        runtime.sessions, runtime.places.keys, runtime.places.backups, runtime.files, tenant_id, 3
    )


def _host_env(runtime: Runtime, data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of `mailhub` on a machine with its own data directory and the same
    database and secret."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILHUB_")}
    env.update(
        MAILHUB_DATA_DIR=str(data_dir),
        MAILHUB_DATABASE_URL=runtime.settings.effective_database_url,
        MAILHUB_SECRET_KEY=runtime.settings.secret_key,
        **extra,
    )
    return env


def _mhb(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and ".mhb" in p.name]


@pytest.mark.parametrize("backend", ["postgres-blobs"], indirect=True)
def test_another_host_reads_the_outbox_and_restores_a_backup(
    runtime: Runtime, acme: dict[str, int], smtp: Any, tmp_path: Path
) -> None:
    page = EmailMessage()
    page["From"], page["To"], page["Subject"] = "ann@acme.example", "sales@acme.example", "Plan"
    page["Message-ID"] = "<other-host-1@acme.example>"
    page.set_content("Numbers on Friday.")
    smtp_send(smtp.port, "ann@acme.example", ["sales@acme.example"], page.as_bytes())
    box = runtime.places.outbox
    wait_until(lambda: any(b"bob@acme.example" in box.read(n) for n in box.names()))
    made = _backup(runtime, acme["tenant"])
    assert not list(runtime.settings.outbox_dir.glob("*")) and not _mhb(runtime.settings.data_dir)

    env = _host_env(runtime, tmp_path / "host2", MAILHUB_BLOB_STORE="postgres")

    def mailhub(*args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([MAILHUB, *args], capture_output=True, env=env, timeout=60)

    listed = mailhub("outbox", "--to", "bob@acme.example")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.decode().splitlines()
    assert lines[0].split() == ["name", "to", "subject"] and len(lines) == 2
    name = lines[1].split()[0]
    assert "bob@acme.example" in lines[1] and "Plan" in lines[1]
    shown = mailhub("outbox", name)
    assert shown.returncode == 0 and shown.stdout == box.read(name)
    missing = mailhub("outbox", "n999-none.eml")
    assert missing.returncode != 0 and missing.stdout == b""
    assert missing.stderr.decode().count("\n") == 1 and b"no mail n999-none.eml" in missing.stderr

    listed = mailhub("backup", "list", "acme")
    assert listed.returncode == 0 and made.name in listed.stdout.decode()
    restored = mailhub("backup", "restore", "acme", made.name, "--yes")
    assert restored.returncode == 0, restored.stderr
    assert f"from {made.name}" in restored.stdout.decode()
    assert not _mhb(tmp_path / "host2") and not _mhb(runtime.settings.data_dir)


@pytest.mark.parametrize("backend", ["postgres-redis"], indirect=True)
def test_a_machines_files_move_into_the_database_and_serve_from_there(
    runtime: Runtime, acme: dict[str, int], smtp: Any, tmp_path: Path
) -> None:
    """An installation that began with files on one machine's disk moves them into the
    database when it grows to several: nothing stays behind, everything reads back, backups
    open with their moved keys, and running it again changes nothing."""
    page = EmailMessage()
    page["From"], page["To"], page["Subject"] = "ann@acme.example", "sales@acme.example", "Board"
    page["Message-ID"] = "<move-1@acme.example>"
    page.set_content("The board.")
    page.add_attachment(png(), maintype="image", subtype="png", filename="board.png")
    smtp_send(smtp.port, "ann@acme.example", ["sales@acme.example"], page.as_bytes())
    wait_until(lambda: final_count(runtime) == 1)
    box = runtime.places.outbox
    wait_until(lambda: len(box.names()) >= 2)  # bob's and cat's notifications
    made = _backup(runtime, acme["tenant"])
    outbox = {name: box.read(name) for name in box.names()}
    with runtime.sessions() as s:
        photo = s.scalars(select(Attachment)).one()
        raw_path = s.scalar(select(InboundMessage.raw_path))
    assert raw_path and runtime.raw_store.exists(raw_path)
    data = runtime.settings.data_dir
    env = _host_env(runtime, data)

    def move(**extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [MAILHUB, "files", "move-to-database"],
            capture_output=True,
            text=True,
            env={**env, **extra},
            timeout=120,
        )

    refused = move()  # the setting is not switched yet
    assert refused.returncode != 0 and "MAILHUB_BLOB_STORE=postgres" in refused.stderr
    assert refused.stderr.count("\n") == 1 and runtime.files.path(photo.path).exists()

    done = move(MAILHUB_BLOB_STORE="postgres")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith(  # the tenant's key and one for each member
        "moved 1 backups, 2 attachment files, 2 outbox mails, 1 raw mails ("
    ) and done.stdout.endswith(" bytes) and 4 keys into the database\n")
    for folder in ("raw", "files", "backups", "outbox", "keys"):
        left = [p for p in (data / folder).rglob("*") if p.is_file()]
        assert left == [], (folder, left)

    blob_settings = make_settings(
        tmp_path / "elsewhere",
        MAILHUB_DATABASE_URL=runtime.settings.effective_database_url,
        MAILHUB_BLOB_STORE="postgres",
    )
    there = Places.of(blob_settings, runtime.engine)
    assert there.files.path(photo.path).read_bytes() == png()
    assert b"The board." in there.raw.read(raw_path)
    assert {name: there.outbox.read(name) for name in there.outbox.names()} == outbox
    assert [b.name for b in backups.listing(there.backups, acme["tenant"])] == [made.name]
    restored = backups.restore(
        runtime.sessions, there.keys, there.files, acme["tenant"], there.backups, made.name
    )
    assert restored.files == made.files and not restored.skipped

    again = move(MAILHUB_BLOB_STORE="postgres")
    assert again.returncode == 0 and "moved no files (0 bytes) and 0 keys" in again.stdout
    # A name the database holds with other bytes stays here, and says so
    clash = data / "files" / photo.path
    clash.parent.mkdir(parents=True, exist_ok=True)
    clash.write_bytes(b"not the photo")
    clashed = move(MAILHUB_BLOB_STORE="postgres")
    assert clashed.returncode == 1 and f"files {photo.path}" in clashed.stdout
    assert clash.read_bytes() == b"not the photo"
    assert there.files.path(photo.path).read_bytes() == png()
