"""Inbound acceptance: mailhub smtp against a stock Postfix on the same machine.

Postfix's smtp-source sends N messages of SIZE bytes over S parallel sessions to each server in
turn, in the same run; the figure is messages accepted durably per second (for both servers
"250" means the message is fsynced: Postfix's queue file, mailhub's raw file and committed row).

Needs root and Debian's postfix package (smtp-source comes with it). The machine's Postfix is
configured for the run: loopback only, mail for bench.example discarded after queueing.

    python bench/ingress.py [--messages 2000] [--size 32768] [--sessions 8] [--only sqlite]
                            [--rounds 3]

Postfix runs first and again after every mailhub run; each mailhub run's ratio is against the
mean of the Postfix runs just before and after it (the machine's speed drifts within minutes).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mailhub import config  # noqa: E402
from mailhub.db import make_engine, migrate, unit_of_work  # noqa: E402
from mailhub.domain import directory  # noqa: E402
from mailhub.domain.search import session_factory  # noqa: E402
from mailhub.models import InboundMessage  # noqa: E402

PG_ADMIN = os.environ.get("MAILHUB_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS = os.environ.get("MAILHUB_TEST_REDIS", "redis://127.0.0.1:6379/0")
MAILHUB = str(Path(sys.executable).parent / "mailhub")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listens on 127.0.0.1:{port}")


def smtp_source(port: int, messages: int, size: int, sessions: int, rcpt: str) -> float:
    """Seconds smtp-source took to have every message accepted."""
    start = time.perf_counter()
    subprocess.run(
        [
            "smtp-source",
            "-s",
            str(sessions),
            "-m",
            str(messages),
            "-l",
            str(size),
            "-f",
            "sender@client.example",
            "-t",
            rcpt,
            "-M",
            "client.example",
            f"127.0.0.1:{port}",
        ],
        check=True,
        timeout=max(120, messages / 10),  # a server that stops answering fails the run loudly
    )
    return time.perf_counter() - start


def start_postfix() -> int:
    if not shutil.which("postfix") or not shutil.which("smtp-source"):
        raise SystemExit("install Debian's postfix package first: apt-get install postfix")
    for setting in (
        "inet_interfaces=loopback-only",
        "mydestination=bench.example, localhost",
        "local_transport=discard",
        "default_transport=discard",
        "smtpd_recipient_restrictions=permit_mynetworks, reject",
        "mynetworks=127.0.0.0/8",
        "local_recipient_maps=",  # accept any local part: no mailbox lookup for Postfix
    ):
        subprocess.run(["postconf", "-e", setting], check=True)
    subprocess.run(["postfix", "stop"], capture_output=True)
    subprocess.run(["postfix", "start"], check=True, capture_output=True)
    wait_port(25)
    return 25


def mailhub_servers(
    env: dict[str, str], port: int, processes: int
) -> list[subprocess.Popen[bytes]]:
    """`processes` mailhub smtp processes sharing the port (SO_REUSEPORT), as in production.

    Each must say it is listening: a figure for "x2" measured on one process would be a lie.
    """
    procs: list[subprocess.Popen[bytes]] = []
    for n in range(processes):
        proc = subprocess.Popen(
            [MAILHUB, "smtp"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        procs.append(proc)
        assert proc.stdout is not None and proc.stderr is not None
        line = proc.stdout.readline().decode()  # "listening on …": bound before the next starts
        if not line.startswith("mailhub smtp listening"):
            proc.wait(timeout=30)
            stop_servers(procs)
            raise SystemExit(
                f"mailhub smtp process {n + 1} of {processes} did not start: "
                + (proc.stderr.read().decode().strip().splitlines() or ["(no message)"])[-1]
            )
    wait_port(port)
    return procs


def stop_servers(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        proc.wait(timeout=30)


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU the processes have used so far (/proc/PID/stat)."""
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15
    return total / os.sysconf("SC_CLK_TCK")


def postfix_idle(timeout: float = 120) -> None:
    """Wait until Postfix has discarded what it queued, so it takes no CPU from the next run."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = subprocess.run(["postqueue", "-j"], capture_output=True, text=True).stdout
        if not out.strip():
            return
        time.sleep(0.5)
    raise SystemExit("Postfix's queue did not drain")


def prepare_mailhub(
    data_dir: Path, database_url: str, broker_url: str, port: int
) -> dict[str, str]:
    """Settings for a fresh data dir and database with the bench tenant."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILHUB_")}
    env.update(
        {
            "MAILHUB_DATA_DIR": str(data_dir),
            "MAILHUB_SMTP_PORT": str(port),
            "MAILHUB_LOG_LEVEL": "WARNING",
            "MAILHUB_SENDER_RATE_LIMIT": "0",  # smtp-source sends everything from one sender
            "MAILHUB_QUEUE_PREFIX": f"bench{uuid.uuid4().hex[:8]}",
        }
    )
    if database_url:
        env["MAILHUB_DATABASE_URL"] = database_url
    if broker_url:
        env["MAILHUB_BROKER_URL"] = broker_url
    settings = config.load({k: v for k, v in env.items() if k.startswith("MAILHUB_")})
    data_dir.mkdir(parents=True, exist_ok=True)
    migrate(settings.effective_database_url)
    with unit_of_work(session_factory(make_engine(settings.effective_database_url))) as s:
        t = directory.add_tenant(s, "bench", "bench.example")
        directory.add_space(s, t, "sales")
    return env


def stored(database_url: str) -> int:
    with session_factory(make_engine(database_url))() as s:
        return int(s.scalar(select(func.count()).select_from(InboundMessage)) or 0)


def settle() -> None:
    """Flush what the last run left to write (PostgreSQL's checkpoint, the page cache), so
    its write-back does not land on the next run's fsyncs: every run starts on a quiet disk."""
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute("CHECKPOINT")
    os.sync()


def fresh_pg() -> str:
    name = f"mailhub_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + "/" + name


def drop_pg(url: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--messages", type=int, default=2000)
    p.add_argument("--size", type=int, default=32 * 1024)
    p.add_argument("--sessions", type=int, default=8)
    p.add_argument(
        "--processes",
        type=int,
        default=os.cpu_count() or 1,
        help="mailhub smtp processes on the port for the first run (default: one per core)",
    )
    p.add_argument(
        "--only",
        choices=["pg", "pg-blobs", "sqlite"],
        action="append",
        help="measure only these mailhub set-ups (repeatable; default: all three)",
    )
    p.add_argument(
        "--rounds", type=int, default=1, help="measure every set-up this many times (median)"
    )
    args = p.parse_args()
    n, size, sessions = args.messages, args.size, args.sessions
    rates: dict[str, list[float]] = {}
    ratios: dict[str, list[float]] = {}
    cpu_ms: dict[str, list[float]] = {}
    loads = [os.getloadavg()[0]]

    def postfix_run() -> float:
        settle()
        rate = n / smtp_source(25, n, size, sessions, "sales@bench.example")
        postfix_idle()
        return rate

    start_postfix()
    postfix_rates = [postfix_run()]

    work = Path(tempfile.mkdtemp(prefix="mailhub-bench-"))
    runs = [
        (f"mailhub PostgreSQL+Redis x{args.processes}", "pg", REDIS, args.processes),
        ("mailhub PostgreSQL+Redis x1", "pg", REDIS, 1),
        (f"mailhub PG+Redis, blobs x{args.processes}", "pg-blobs", REDIS, args.processes),
        (f"mailhub SQLite x{args.processes}", "", "", args.processes),
        ("mailhub SQLite x1", "", "", 1),
    ]
    wanted = set(args.only or ["pg", "pg-blobs", "sqlite"])
    runs = [run for run in runs if (run[1] or "sqlite") in wanted] * args.rounds
    try:
        for label, db, broker, processes in runs:
            db_url = fresh_pg() if db else ""
            data_dir = work / uuid.uuid4().hex[:8]
            port = free_port()
            try:
                env = prepare_mailhub(data_dir, db_url, broker, port)
                if db == "pg-blobs":  # raw mail in the database, not in the data directory
                    env["MAILHUB_BLOB_STORE"] = "postgres"
                servers = mailhub_servers(env, port, processes)
                settle()  # the new database's files, the migrations
                try:
                    pids = [server.pid for server in servers]
                    cpu_before = cpu_seconds(pids)
                    secs = smtp_source(port, n, size, sessions, "sales@bench.example")
                    cpu = (cpu_seconds(pids) - cpu_before) * 1000 / n
                    loads.append(os.getloadavg()[0])
                    gone = [s.pid for s in servers if s.poll() is not None]
                    if gone:
                        raise SystemExit(f"{label}: mailhub smtp {gone} ended during the run")
                finally:
                    stop_servers(servers)
                count = stored(db_url or f"sqlite:///{(data_dir / 'mailhub.sqlite3').resolve()}")
            finally:
                if db_url:
                    drop_pg(db_url)
            if count != n:
                raise SystemExit(f"{label}: {count} of {n} messages stored")
            # Postfix again after every run: the machine's speed drifts, so each run is held
            # against the mean of the Postfix runs just before and just after it.
            postfix_rates.append(postfix_run())
            rates.setdefault(label, []).append(n / secs)
            ratios.setdefault(label, []).append(n / secs * 2 / sum(postfix_rates[-2:]))
            cpu_ms.setdefault(label, []).append(cpu)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(
        f"\n{n} messages of {size} bytes over {sessions} sessions, accepted durably "
        "(xN: mailhub smtp processes sharing the port); load average "
        + ", ".join(f"{x:.2f}" for x in loads)
    )
    print(
        f"  {'postfix (runs in order)':<32} {statistics.median(postfix_rates):8.1f} msg/s   "
        + " / ".join(f"{r:.0f}" for r in postfix_rates)
    )
    for label in rates:
        ratio = statistics.median(ratios[label])
        print(
            f"  {label:<32} {statistics.median(rates[label]):8.1f} msg/s   ratio to Postfix "
            f"{ratio:5.2f} ({' '.join(f'{r:.2f}' for r in ratios[label])})   "
            f"{statistics.median(cpu_ms[label]):.2f} ms CPU per message"
        )
    print(
        json.dumps(
            {
                "messages": n,
                "size": size,
                "sessions": sessions,
                "postfix_msg_per_s": postfix_rates,
                "msg_per_s": rates,
                "ratio_to_neighbouring_postfix_runs": ratios,
                "cpu_ms_per_msg": cpu_ms,
                "load": loads,
            }
        )
    )


if __name__ == "__main__":
    main()
