"""With MAILHUB_BLOB_STORE=postgres, another machine's `mailhub` sees what a worker wrote: the
outbox (no relay set) and the tenant's backups, with nothing of them on either disk."""

from __future__ import annotations

import os
import subprocess
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from mailhub.privacy import backups
from mailhub.tasks import Runtime

from conftest import wait_until
from helpers import MAILHUB, smtp_send


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
    made = backups.create(
        runtime.sessions,
        runtime.places.keys,
        runtime.places.backups,
        runtime.files,
        acme["tenant"],
        3,
    )
    assert not list(runtime.settings.outbox_dir.glob("*")) and not _mhb(runtime.settings.data_dir)

    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILHUB_")}
    env.update(
        MAILHUB_DATA_DIR=str(tmp_path / "host2"),
        MAILHUB_DATABASE_URL=runtime.settings.effective_database_url,
        MAILHUB_BLOB_STORE="postgres",
        MAILHUB_SECRET_KEY=runtime.settings.secret_key,
    )

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
