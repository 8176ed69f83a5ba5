"""Leases: one process of the cluster runs each scheduled job, never two at once, and a holder
that dies loses the job to another once its lease runs out."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from mailhub.db import migrate
from mailhub.models import Lease, utcnow
from mailhub.tasks import Runtime
from mailhub.tasks.leader import RETRY_AFTER, Leases

from conftest import REDIS_URL, make_settings, wait_until
from helpers import MAILHUB


def lease_row(rt: Runtime, name: str) -> Lease:
    with rt.sessions() as s:
        row = s.scalar(select(Lease).where(Lease.name == name))
        assert row is not None
        s.expunge(row)
        return row


def test_one_holder_takes_a_due_job_and_it_is_next_due_a_period_later(runtime: Runtime) -> None:
    a, b = Leases(runtime.sessions, 60), Leases(runtime.sessions, 60)
    now = utcnow()
    assert a.claim("backups", now)
    assert not b.claim("backups", now)  # held
    a.finish("backups", now + timedelta(hours=1))
    assert not b.claim("backups", now + timedelta(minutes=59))  # not due yet
    assert b.claim("backups", now + timedelta(minutes=61))
    assert lease_row(runtime, "backups").runs == 1


def test_a_holder_that_dies_mid_run_loses_the_job_once_its_lease_runs_out(
    runtime: Runtime,
) -> None:
    a, b = Leases(runtime.sessions, 60), Leases(runtime.sessions, 60)
    now = utcnow()
    assert a.claim("housekeeping", now)  # and then A is killed: it never finishes
    assert not b.claim("housekeeping", now + timedelta(seconds=59))
    assert b.claim("housekeeping", now + timedelta(seconds=61))  # still due: B runs it
    assert not a.renew("housekeeping", now + timedelta(seconds=62))  # A cannot take it back
    b.finish("housekeeping", now + timedelta(hours=1))
    a.finish("housekeeping", now)  # a late finish from A changes nothing
    row = lease_row(runtime, "housekeeping")
    assert (row.runs, row.holder, row.expires_at) == (1, b.holder, None)


def test_a_long_run_keeps_its_lease_and_nobody_else_starts_it(runtime: Runtime) -> None:
    a, b = Leases(runtime.sessions, 0.3), Leases(runtime.sessions, 0.3)
    release, started = threading.Event(), threading.Event()
    others: list[bool] = []

    def long_job() -> None:
        started.set()
        release.wait(30)

    runner = threading.Thread(target=lambda: a.run_once("digests", 3600, long_job))
    runner.start()
    try:
        assert started.wait(30)
        # Ten lease lengths go by while A works; B asks all along and never gets it.
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            others.append(b.claim("digests"))
            time.sleep(0.05)
    finally:
        release.set()
        runner.join()
    assert others and not any(others)
    assert lease_row(runtime, "digests").runs == 1


def test_a_failed_run_is_tried_again_after_a_pause_not_at_every_sweep(runtime: Runtime) -> None:
    a = Leases(runtime.sessions, 60)

    def broken() -> None:
        raise RuntimeError("backup disk full")

    with pytest.raises(RuntimeError):
        a.run_once("housekeeping", 3600, broken)
    row = lease_row(runtime, "housekeeping")
    assert row.expires_at is None
    assert (
        timedelta(seconds=RETRY_AFTER - 5) < row.due_at - utcnow() <= timedelta(seconds=RETRY_AFTER)
    )


def _runs_by(log: Path) -> list[str]:
    return re.findall(r"housekeeping by (\S+)", log.read_text(errors="replace"))


def test_two_workers_run_housekeeping_once_per_period_and_a_killed_one_is_replaced(
    tmp_path: Path, pg_database: str
) -> None:
    env_extra = {
        "MAILHUB_DATABASE_URL": pg_database,
        "MAILHUB_BROKER_URL": REDIS_URL,
        "MAILHUB_QUEUE_PREFIX": f"t{uuid.uuid4().hex[:10]}",
        "MAILHUB_SWEEP_INTERVAL": "0.2",
        "MAILHUB_HOUSEKEEPING_EVERY": "1",
        "MAILHUB_LEADER_LEASE": "2",
        "MAILHUB_LOG_LEVEL": "INFO",
    }
    settings = make_settings(tmp_path, **env_extra)
    settings.data_dir.mkdir(parents=True)
    migrate(settings.effective_database_url)
    rt = Runtime(settings)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILHUB_")}
    env.update({"MAILHUB_DATA_DIR": str(settings.data_dir), **env_extra})
    logs = [tmp_path / "worker-a.log", tmp_path / "worker-b.log"]
    workers = [
        subprocess.Popen([MAILHUB, "worker"], env=env, stderr=log.open("wb")) for log in logs
    ]
    try:
        start = time.monotonic()
        wait_until(lambda: lease_row_or_none(rt) >= 5, timeout=60)
        elapsed = time.monotonic() - start
        # Once a second, by one of the two: never both in the same period
        runs = sum(len(_runs_by(log)) for log in logs)
        assert 5 <= runs <= elapsed / 1.0 + 2

        # The worker that ran it last is killed; the other takes over within a lease
        holder = lease_row(rt, "housekeeping").holder
        victim = next(w for w in workers if f":{w.pid}:" in holder)
        survivor = next(w for w in workers if w is not victim)
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(timeout=10)
        before = lease_row_or_none(rt)
        wait_until(lambda: lease_row_or_none(rt) >= before + 3, timeout=60)
        assert f":{survivor.pid}:" in lease_row(rt, "housekeeping").holder
    finally:
        for w in workers:
            if w.poll() is None:
                w.send_signal(signal.SIGTERM)
        for w in workers:
            w.wait(timeout=30)
        rt.close()


def lease_row_or_none(rt: Runtime) -> int:
    with rt.sessions() as s:
        return int(s.scalar(select(Lease.runs).where(Lease.name == "housekeeping")) or 0)
