"""One process of the cluster at a time: leases in the database.

Every worker runs a sweeper, and on several hosts several sweepers would each make the hourly
backups, apply retention, send the due-date warnings, cut the digests, and read the same IMAP
mailbox. A lease row per job decides who does: a process takes it with one conditional UPDATE
(the job is due, and nobody holds it or the holder's time ran out), keeps it alive while it works,
and on finishing sets when the job is next due. The database is the only thing the processes
share, so this works on SQLite and PostgreSQL alike, and needs no clock but the database's rows:

- never twice: the UPDATE succeeds for one process only, and a holder renews its lease well
  before it runs out (every third of it) for as long as the job runs;
- never not at all: a holder killed mid-run stops renewing; once its lease has run out another
  process takes the job, which is still due because it was never finished.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from mailhub.db import SessionFactory, rowcount, unit_of_work
from mailhub.models import Lease, utcnow

log = logging.getLogger(__name__)

RETRY_AFTER = 300.0  # seconds before a failed run of a job is tried again


def holder_name() -> str:
    """This process (and object: two sweepers in one test process are two holders)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


class Leases:
    def __init__(self, sessions: SessionFactory, lease: float, holder: str | None = None) -> None:
        self.sessions = sessions
        self.lease = timedelta(seconds=lease)
        self.holder = holder or holder_name()

    def claim(self, name: str, now: datetime | None = None) -> bool:
        """Take the job if it is due and nobody holds it (or its holder's lease ran out)."""
        now = now or utcnow()
        with unit_of_work(self.sessions) as session:
            insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
            session.execute(
                insert(Lease)
                .values(name=name, holder="", due_at=now, runs=0)
                .on_conflict_do_nothing(index_elements=["name"])
            )
            taken = session.execute(
                update(Lease)
                .where(
                    Lease.name == name,
                    Lease.due_at <= now,
                    or_(Lease.expires_at.is_(None), Lease.expires_at < now),
                )
                .values(holder=self.holder, expires_at=now + self.lease)
            )
            return rowcount(taken) == 1

    def renew(self, name: str, now: datetime | None = None) -> bool:
        """Keep holding; False when the lease was lost (it ran out and was taken over)."""
        now = now or utcnow()
        with unit_of_work(self.sessions) as session:
            kept = session.execute(
                update(Lease)
                .where(Lease.name == name, Lease.holder == self.holder, Lease.expires_at >= now)
                .values(expires_at=now + self.lease)
            )
            return rowcount(kept) == 1

    def finish(self, name: str, next_due: datetime) -> None:
        """The run is complete: let go, and say when the job is next due."""
        with unit_of_work(self.sessions) as session:
            session.execute(
                update(Lease)
                .where(Lease.name == name, Lease.holder == self.holder)
                .values(expires_at=None, due_at=next_due, runs=Lease.runs + 1)
            )

    def release(self, name: str) -> None:
        """Let go without a completed run (the job stays due for whoever comes next)."""
        with unit_of_work(self.sessions) as session:
            session.execute(
                update(Lease)
                .where(Lease.name == name, Lease.holder == self.holder)
                .values(expires_at=None)
            )

    @contextmanager
    def kept(self, name: str) -> Iterator[threading.Event]:
        """Renew the held lease in the background while the body runs. The event is set if the
        lease is lost anyway (the database was unreachable for longer than the lease)."""
        lost, done = threading.Event(), threading.Event()
        every = self.lease.total_seconds() / 3

        def keep() -> None:
            while not done.wait(every):
                try:
                    if not self.renew(name):
                        lost.set()
                        return
                except Exception:
                    log.warning("could not renew the lease on %s", name, exc_info=True)

        thread = threading.Thread(target=keep, name=f"mailhub-lease-{name}", daemon=True)
        thread.start()
        try:
            yield lost
        finally:
            done.set()
            thread.join()

    def run_once(self, name: str, period: float, job: Callable[[], object]) -> bool:
        """Run `job()` if this process wins the job's lease now; the next run is due `period`
        seconds after this one started (RETRY_AFTER at most when it failed, so a job that
        keeps failing is not tried at every sweep). Whether it ran here."""
        started = utcnow()
        if not self.claim(name, started):
            return False
        try:
            with self.kept(name):
                job()
        except BaseException:
            self.finish(name, started + timedelta(seconds=min(period, RETRY_AFTER)))
            raise
        self.finish(name, started + timedelta(seconds=period))  # a no-op if it was taken over
        return True


def serve_duty(
    leases: Leases, name: str, stop: threading.Event, work: Callable[[threading.Event], None]
) -> None:
    """A standing duty (reading one IMAP mailbox) that one process does at a time: `work(quit)`
    runs while this process holds the lease, until `stop` is set or the lease is lost; a process
    without the lease tries again every third of a lease. Runs until `stop` is set."""
    wait = leases.lease.total_seconds() / 3
    while not stop.is_set():
        try:
            held = leases.claim(name)
        except Exception:
            log.warning("could not claim %s", name, exc_info=True)
            held = False
        if not held:
            stop.wait(wait)
            continue
        quit_ = threading.Event()
        try:
            with leases.kept(name) as lost:
                watcher = threading.Thread(
                    target=_either, args=(stop, lost, quit_), name=f"mailhub-duty-{name}"
                )
                watcher.daemon = True
                watcher.start()
                work(quit_)
        finally:
            quit_.set()
            leases.release(name)


def _either(a: threading.Event, b: threading.Event, then: threading.Event) -> None:
    while not then.wait(0.5):
        if a.is_set() or b.is_set():
            then.set()
