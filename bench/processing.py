"""Inbound processing: messages per second on one worker core, and peak memory for a 50 MB mail.

1. A realistic mix — 40 % plain text, 40 % HTML with a text alternative, 20 % with a 1 MB
   attachment (a JPEG, so a thumbnail is made) — is stored, then processed one after another
   in one thread (one core): parse, route, sanitize, page + revision + attachment rows and
   files, notification rows. Delivery is not included.
2. One 50 MB message (a 37 MB attachment, base64) is processed in a fresh process; the figure
   is the peak RSS above the process's RSS before processing, against the message size.

    python bench/processing.py [--messages 300] [--database sqlite|postgres] [--processes 1,2]

3. The same mix processed by 1 and then 2 worker processes sharing the database, each taking
   its share of the stored messages (as `mailhub worker` processes share the queue).
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from PIL import Image  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from mailhub import config  # noqa: E402
from mailhub.db import migrate, unit_of_work  # noqa: E402
from mailhub.domain import directory, preferences  # noqa: E402
from mailhub.ingress.accept import Envelope, store_inbound  # noqa: E402
from mailhub.mailboxes import process_inbound  # noqa: E402
from mailhub.models import InboundMessage  # noqa: E402
from mailhub.tasks import Runtime  # noqa: E402

PG_ADMIN = os.environ.get("MAILHUB_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def photo(size: int) -> bytes:
    side = 1600
    out = io.BytesIO()
    Image.effect_noise((side, side), 60).convert("RGB").save(out, "JPEG", quality=95)
    data = out.getvalue()
    return (data * (size // len(data) + 1))[:size] if len(data) < size else data[:size]


def message(i: int, jpeg: bytes) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Ann Author <ann@acme.example>"
    msg["To"] = "sales@acme.example"
    msg["Subject"] = f"Weekly update {i}"
    msg["Message-ID"] = f"<bench-{i}-{uuid.uuid4().hex}@acme.example>"
    text = "\n\n".join(
        f"Paragraph {p} of update {i}: the pipeline grew in EMEA, shrank in APAC."
        for p in range(12)
    )
    msg.set_content(text)
    kind = i % 5
    if kind in (1, 2):
        msg.add_alternative(
            "".join(
                f"<p>Paragraph <b>{p}</b> with a <a href='https://crm.acme.example/{p}'>link</a></p>"
                for p in range(12)
            ),
            subtype="html",
        )
    elif kind == 4:
        msg.add_attachment(jpeg, maintype="image", subtype="jpeg", filename=f"whiteboard-{i}.jpg")
    return msg.as_bytes()


def runtime_for(database: str, work: Path) -> tuple[Runtime, str]:
    env = {"MAILHUB_DATA_DIR": str(work), "MAILHUB_SENDER_RATE_LIMIT": "0"}
    db_name = ""
    if database == "postgres":
        db_name = f"mailhub_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{db_name}"')
        env["MAILHUB_DATABASE_URL"] = (
            PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
            + "/"
            + db_name
        )
    settings = config.load(env)
    work.mkdir(parents=True, exist_ok=True)
    migrate(settings.effective_database_url)
    rt = Runtime(settings)
    with unit_of_work(rt.sessions) as s:
        t = directory.add_tenant(s, "acme", "acme.example", "Acme")
        directory.add_user(s, t, "ann@acme.example", "Ann")
        space = directory.add_space(s, t, "sales")
        for n in range(5):
            reader = directory.add_user(s, t, f"reader{n}@acme.example", f"Reader {n}")
            preferences.follow(s, t, reader, space)
    return rt, db_name


def throughput(database: str, count: int) -> float:
    work = Path(tempfile.mkdtemp(prefix="mailhub-bench-"))
    rt, db_name = runtime_for(database, work / "var")
    jpeg = photo(1024 * 1024)
    try:
        ids = []
        for i in range(count):
            accepted = store_inbound(
                rt.sessions,
                rt.raw_store,
                message(i, jpeg),
                Envelope("ann@acme.example", ("sales@acme.example",)),
            )
            ids.append(accepted[0].inbound_id)
        start = time.process_time()
        wall = time.perf_counter()
        for inbound_id in ids:
            outcome = process_inbound(rt.sessions, rt.stores, inbound_id)
            assert outcome is not None and outcome.status == "processed", outcome
        cpu = time.process_time() - start
        elapsed = time.perf_counter() - wall
        print(
            f"  {database}: {count} messages in {elapsed:.2f} s wall, {cpu:.2f} s CPU "
            f"→ {count / elapsed:.1f} msg/s per worker thread ({count / cpu:.1f} per CPU-second)"
        )
        return count / elapsed
    finally:
        rt.close()
        if db_name:
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')


def scaling(database: str, count: int, processes: list[int]) -> dict[int, float]:
    """Messages per second with 1, 2, … worker processes, each taking its share of the ids
    (as `mailhub worker` processes share a queue), on the same database."""
    work = Path(tempfile.mkdtemp(prefix="mailhub-bench-"))
    rt, db_name = runtime_for(database, work / "var")
    jpeg = photo(1024 * 1024)
    rates: dict[int, float] = {}
    try:
        for n in processes:
            ids = [
                store_inbound(
                    rt.sessions,
                    rt.raw_store,
                    message(i, jpeg),
                    Envelope("ann@acme.example", ("sales@acme.example",)),
                )[0].inbound_id
                for i in range(count)
            ]
            env = {k: v for k, v in os.environ.items() if not k.startswith("MAILHUB_")}
            env["MAILHUB_DATA_DIR"] = str(work / "var")
            env["MAILHUB_DATABASE_URL"] = rt.settings.effective_database_url
            env["MAILHUB_SENDER_RATE_LIMIT"] = "0"  # one author publishes them all
            workers = [
                subprocess.Popen(
                    [sys.executable, __file__, "--process-ids", ",".join(map(str, ids[k::n]))],
                    env=env,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                )
                for k in range(n)
            ]
            for w in workers:  # started up (imports, connections) before the clock starts
                assert w.stdout is not None and w.stdout.readline() == b"ready\n"
            start = time.perf_counter()
            for w in workers:
                assert w.stdin is not None
                w.stdin.close()  # go
            if any(w.wait() for w in workers):
                raise SystemExit("a worker process failed")
            rates[n] = count / (time.perf_counter() - start)
            print(f"  {database}: {n} worker process(es): {rates[n]:.1f} msg/s")
        return rates
    finally:
        rt.close()
        if db_name:
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')


def process_ids(ids: list[int]) -> None:
    """In a worker process of `scaling`: process these, one after another."""
    rt = Runtime(config.load({k: v for k, v in os.environ.items() if k.startswith("MAILHUB_")}))
    with rt.sessions() as session:  # a connection in the pool, as a running worker has
        session.scalar(select(func.count()).select_from(InboundMessage))
    print("ready", flush=True)
    sys.stdin.read()  # until the parent says go
    for inbound_id in ids:
        outcome = process_inbound(rt.sessions, rt.stores, inbound_id)
        assert outcome is not None and outcome.status == "processed", outcome
    rt.close()


def store_big(work: str) -> None:
    """In its own process: build and store one 50 MB message; print its id and size."""
    rt, _ = runtime_for("sqlite", Path(work))
    msg = EmailMessage()
    msg["From"] = "ann@acme.example"
    msg["To"] = "sales@acme.example"
    msg["Subject"] = "Raw footage"
    msg.set_content("The raw footage from the launch event.")
    msg.add_attachment(
        os.urandom(37 * 1024 * 1024), maintype="video", subtype="mp4", filename="launch.mp4"
    )
    raw = msg.as_bytes()
    accepted = store_inbound(
        rt.sessions, rt.raw_store, raw, Envelope("ann@acme.example", ("sales@acme.example",))
    )
    print(accepted[0].inbound_id, len(raw))


def process_big(work: str, inbound_id: int) -> None:
    """In a fresh process that never held the message: process it, print RSS before and peak."""
    settings = config.load({"MAILHUB_DATA_DIR": work})
    rt = Runtime(settings)
    before = rss_now()
    outcome = process_inbound(rt.sessions, rt.stores, inbound_id)
    assert outcome is not None and outcome.status == "processed", outcome
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(before, peak)


def rss_now() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--messages", type=int, default=300)
    p.add_argument("--database", choices=["sqlite", "postgres", "both"], default="both")
    p.add_argument("--store-big", help=argparse.SUPPRESS)
    p.add_argument("--process-big", nargs=2, help=argparse.SUPPRESS)
    p.add_argument("--process-ids", help=argparse.SUPPRESS)
    p.add_argument(
        "--processes",
        default="1,2",
        help="worker process counts for the scaling run (default 1,2; empty: skip it)",
    )
    args = p.parse_args()
    if args.process_ids:
        process_ids([int(x) for x in args.process_ids.split(",")])
        return
    if args.store_big:
        store_big(args.store_big)
        return
    if args.process_big:
        process_big(args.process_big[0], int(args.process_big[1]))
        return
    print("Processing throughput, realistic mix (40% plain, 40% HTML, 20% 1 MB JPEG attachment):")
    databases = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    for db in databases:
        throughput(db, args.messages)
    if args.processes:
        counts = [int(x) for x in args.processes.split(",")]
        print(f"Scaling with worker processes ({args.messages} messages each run):")
        for db in databases:
            rates = scaling(db, args.messages, counts)
            base = rates[counts[0]]
            print(
                f"  {db}: "
                + ", ".join(f"x{n} {rates[n] / base:.2f} of x{counts[0]}" for n in counts[1:])
            )
    work = tempfile.mkdtemp(prefix="mailhub-bench-big-")
    stored = subprocess.run(
        [sys.executable, __file__, "--store-big", work], capture_output=True, text=True, check=True
    )
    inbound_id, size = (int(x) for x in stored.stdout.split()[-2:])
    done = subprocess.run(
        [sys.executable, __file__, "--process-big", work, str(inbound_id)],
        capture_output=True,
        text=True,
        check=True,
    )
    before, peak = (int(x) for x in done.stdout.split()[-2:])
    grew = peak - before
    print(
        f"One {size / 2**20:.1f} MB message: RSS {before / 2**20:.0f} MB before processing, "
        f"peak {peak / 2**20:.0f} MB; processing took {grew / 2**20:.0f} MB = {grew / size:.2f}x the message"
    )


if __name__ == "__main__":
    main()
