"""Hostile load: what legitimate mail sees while attackers hold the SMTP port, and how long one
pathological page takes to process.

1. Acceptance latency of legitimate 32 KB messages (one at a time, a new connection each),
   first alone, then while 50 hostile connections run: 20 streaming DATA without CRLF past the
   size limit, 15 flooding RCPT with the same and with too many recipients, 15 slow senders
   trickling a byte at a time. Figures: p50 and p99 in ms, and the server's RSS growth.
2. Processing time of a 5 MB plain-text page of pathological text (one long run without "@",
   lines of quote marks, blank lines), through the same use case the worker runs.

    python bench/hostile.py [--messages 200]
"""

from __future__ import annotations

import argparse
import contextlib
import smtplib
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mailhub import config  # noqa: E402
from mailhub.db import migrate, unit_of_work  # noqa: E402
from mailhub.domain import directory  # noqa: E402
from mailhub.ingress.accept import Envelope, store_inbound  # noqa: E402
from mailhub.ingress.smtp import MailhubHandler, SmtpServer  # noqa: E402
from mailhub.mailboxes import process_inbound  # noqa: E402
from mailhub.tasks import Runtime  # noqa: E402

LEGIT = (
    b"From: Ann <ann@acme.example>\r\nTo: sales@acme.example\r\nSubject: Numbers\r\n\r\n"
    + (b"Quarterly numbers are in and they look good. " * 2 + b"\r\n") * 350
)


def _rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _legit(port: int, count: int) -> list[float]:
    times = []
    for i in range(count):
        started = time.perf_counter()
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as s:
            s.sendmail("ann@acme.example", ["sales@acme.example"], LEGIT + b"%d\r\n" % i)
        times.append((time.perf_counter() - started) * 1000)
    return times


def _hostile(port: int, kind: str, stop: threading.Event) -> None:
    while not stop.is_set():
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", port), timeout=30) as sock,
        ):
            sock.recv(512)
            if kind == "slow":
                for ch in b"EHLO slow.example\r\n":
                    if stop.wait(0.2):
                        return
                    sock.sendall(bytes([ch]))
                continue
            sock.sendall(b"EHLO x\r\nMAIL FROM:<eve@evil.example>\r\n")
            if kind == "rcpt":
                for i in range(150):
                    sock.sendall(
                        b"RCPT TO:<%s@acme.example>\r\n" % (b"SALES" if i % 2 else b"sales")
                    )
                continue
            sock.sendall(b"RCPT TO:<sales@acme.example>\r\nDATA\r\n")
            block = b"x" * 65536
            while not stop.is_set():
                sock.sendall(block)


def _percentiles(times: list[float]) -> str:
    ordered = sorted(times)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {statistics.median(ordered):.1f} ms, p99 {p99:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = config.load(
            {"MAILHUB_DATA_DIR": str(Path(tmp) / "var"), "MAILHUB_SENDER_RATE_LIMIT": "0"}
        )
        settings.data_dir.mkdir(parents=True)
        migrate(settings.effective_database_url)
        rt = Runtime(settings)
        with unit_of_work(rt.sessions) as s:
            t = directory.add_tenant(s, "acme", "acme.example", "Acme")
            directory.add_user(s, t, "ann@acme.example", "Ann")
            directory.add_space(s, t, "sales")
        handler = MailhubHandler(rt.sessions, rt.raw_store, lambda ids: None)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            free = probe.getsockname()[1]
        server = SmtpServer(handler, "127.0.0.1", free, 2_000_000)
        server.start()
        port = server.port
        alone = _legit(port, args.messages)
        stop = threading.Event()
        kinds = ["stream"] * 20 + ["rcpt"] * 15 + ["slow"] * 15
        attackers = [threading.Thread(target=_hostile, args=(port, k, stop)) for k in kinds]
        before = _rss()
        for a in attackers:
            a.start()
        time.sleep(2)
        attacked = _legit(port, args.messages)
        grown = (_rss() - before) >> 20
        stop.set()
        for a in attackers:
            a.join()
        server.stop()
        print(f"legitimate mail alone:            {_percentiles(alone)}")
        print(f"with 50 hostile connections:      {_percentiles(attacked)}")
        print(f"RSS growth under the attack:      {grown} MiB (server and attackers together)")

        text = ("a" * 2_000_000 + "\n" + "> \n" * 500_000 + "\n" * 1_500_000).encode()
        raw = b"From: Ann <ann@acme.example>\r\nTo: sales@acme.example\r\nSubject: Huge\r\n\r\n"
        [accepted] = store_inbound(
            rt.sessions,
            rt.raw_store,
            raw + text,
            Envelope("ann@acme.example", ("sales@acme.example",)),
        )
        started = time.perf_counter()
        outcome = process_inbound(rt.sessions, rt.stores, accepted.inbound_id)
        took = time.perf_counter() - started
        assert outcome is not None
        print(f"5 MB pathological plain-text page: {took:.2f} s ({outcome.status})")
        rt.close()


if __name__ == "__main__":
    main()
