"""Shared fixtures: real databases, real brokers, a real SMTP server on loopback.

Backends: "sqlite" (a file in a temp dir, in-process broker), "postgres-redis" and
"postgres-rabbitmq" (the services already running on this machine's loopback). Each test
gets its own PostgreSQL database and its own queue prefix, so tests never see each other.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from mailhub import config
from mailhub.config import Settings
from mailhub.db import migrate, unit_of_work
from mailhub.domain import directory, preferences
from mailhub.ingress.smtp import MailhubHandler, SmtpServer
from mailhub.privacy import logredact
from mailhub.tasks import Runtime

from smtp_sink import SmtpSink

PG_ADMIN = os.environ.get("MAILHUB_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("MAILHUB_TEST_REDIS", "redis://127.0.0.1:6379/0")
AMQP_URL = os.environ.get("MAILHUB_TEST_AMQP", "amqp://guest:guest@127.0.0.1:5672/%2F")
ROOT = Path(__file__).resolve().parent.parent
# Real reply bodies from ../shared/corpus, used in place (CI lays shared/ beside the clone).
CORPUS = Path(os.environ.get("MAILHUB_CORPUS", ROOT.parent / "shared" / "corpus"))

# Every log line of the test run, as production writes them (redacted when each record is
# made): at the end of the run, no test user's address and no client IP may be in it.
RUN_LOG = ROOT / "tests" / "output" / "test-run.log"
_ADDRESS = re.compile(rb"[A-Za-z0-9._%+-]+@(?:acme|globex|partner|elsewhere|mail\.gmail)\.example")


def pytest_configure(config: pytest.Config) -> None:
    logredact.install()
    RUN_LOG.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(RUN_LOG, mode="w", encoding="utf-8")
    handler.setLevel(logging.INFO)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)


# What starts processes, a browser, Dovecot, a soak or megabytes of hostile text: `pytest -m "not slow"` is the quick loop
# while developing; CI runs everything.
SLOW = (
    "e2e/",
    "cli/",
    "web/test_browser.py",
    "outbound/test_mail_layout.py",
    "ingress/test_imap.py",
    "adversarial/test_linear_scans.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    tests = ROOT / "tests"
    for item in items:
        if item.path.relative_to(tests).as_posix().startswith(SLOW):
            item.add_marker(pytest.mark.slow)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The log of the whole run holds no test user's address and no IP address."""
    for handler in logging.getLogger().handlers:
        handler.flush()
    if not RUN_LOG.exists():
        return
    text = RUN_LOG.read_bytes()
    found = sorted({m.decode() for m in _ADDRESS.findall(text)})
    ips = re.findall(rb"(?<![\d.])127\.0\.0\.1(?![\d.])", text)
    if found or ips:
        print(f"\nLOG LEAK: {RUN_LOG} holds {found[:5]} and {len(ips)} IP addresses")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(
    predicate: Callable[[], object], timeout: float = 20.0, interval: float = 0.05
) -> object:
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {predicate}")
        time.sleep(interval)


@pytest.fixture
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for one test; its SQLAlchemy URL."""
    name = f"mailhub_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def make_settings(tmp_path: Path, **overrides: str) -> Settings:
    env = {
        "MAILHUB_DATA_DIR": str(tmp_path / "var"),
        "MAILHUB_BASE_URL": "https://intranet.acme.example",
        "MAILHUB_SECRET_KEY": "test-secret-0123456789abcdef",
    }
    env.update(overrides)
    return config.load(env)


@pytest.fixture(params=["sqlite", "postgres-redis"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    if backend == "sqlite":
        return make_settings(tmp_path)
    db = request.getfixturevalue("pg_database")
    broker = REDIS_URL if backend.startswith("postgres-") else AMQP_URL
    # "postgres-blobs" (asked for by a test): raw mail and files in the database too
    blobs = {"MAILHUB_BLOB_STORE": "postgres"} if backend == "postgres-blobs" else {}
    return make_settings(
        tmp_path,
        MAILHUB_DATABASE_URL=db,
        MAILHUB_BROKER_URL=broker,
        MAILHUB_QUEUE_PREFIX=f"t{uuid.uuid4().hex[:10]}",
        **blobs,
    )


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    """A migrated database, a broker and a running worker with its sweeper."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate(settings.effective_database_url)
    rt = Runtime(settings)
    worker = rt.worker(poll_ms=100)
    worker.start()
    try:
        yield rt
    finally:
        worker.stop()
        _purge_queues(rt)
        rt.close()


def _purge_queues(rt: Runtime) -> None:
    for queue in (rt.inbound_queue, rt.outbound_queue):
        for name in (queue, f"{queue}.DQ", f"{queue}.XQ"):
            with contextlib.suppress(Exception):
                rt.broker.flush(name)


@pytest.fixture
def acme(runtime: Runtime) -> dict[str, int]:
    """Tenant acme (acme.example): ann (admin, author), bob and cat follow sales."""
    with unit_of_work(runtime.sessions) as s:
        t = directory.add_tenant(s, "acme", "acme.example", "Acme")
        t.publish_receipts = False  # tests count notifications; test_receipts covers these
        ann = directory.add_user(s, t, "ann@acme.example", "Ann Author", admin=True)
        bob = directory.add_user(s, t, "bob@acme.example", "Bob Reader")
        cat = directory.add_user(s, t, "cat@acme.example", "Cat Reader")
        sales = directory.add_space(s, t, "sales", "Sales")
        for u in (ann, bob, cat):
            preferences.follow(s, t, u, sales)
        return {"tenant": t.id, "ann": ann.id, "bob": bob.id, "cat": cat.id, "sales": sales.id}


@pytest.fixture
def smtp(runtime: Runtime) -> Iterator[SmtpServer]:
    handler = MailhubHandler(runtime.sessions, runtime.raw_store, runtime.enqueue_inbound)
    server = SmtpServer(handler, "127.0.0.1", free_port(), runtime.settings.max_message_size)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def add_small_acme(rt: Runtime, hourly_cap: int = 20) -> None:
    """Tenant acme with Ann, who writes, and Bob, who follows sales."""
    with unit_of_work(rt.sessions) as s:
        t = directory.add_tenant(s, "acme", "acme.example", "Acme")
        t.hourly_cap = hourly_cap
        t.publish_receipts = False  # tests count notifications; test_receipts covers these
        directory.add_user(s, t, "ann@acme.example", "Ann")
        bob = directory.add_user(s, t, "bob@acme.example", "Bob")
        preferences.follow(s, t, bob, directory.add_space(s, t, "sales"))


@contextlib.contextmanager
def relayed_runtime(tmp_path: Path, **env: str) -> Iterator[tuple[Runtime, SmtpSink, SmtpServer]]:
    """SQLite, a worker, mailhub's SMTP port, and a real SMTP relay (the sink) that keeps what
    it receives; Ann writes, Bob follows sales."""
    sink_port = free_port()
    settings = make_settings(tmp_path, MAILHUB_SMTP_RELAY=f"127.0.0.1:{sink_port}", **env)
    settings.data_dir.mkdir(parents=True)
    migrate(settings.effective_database_url)
    rt = Runtime(settings)
    add_small_acme(rt)
    worker = rt.worker(poll_ms=100)
    worker.start()
    server = SmtpServer(
        MailhubHandler(rt.sessions, rt.raw_store, rt.enqueue_inbound),
        "127.0.0.1",
        free_port(),
        10**6,
    )
    server.start()
    try:
        with SmtpSink(sink_port) as sink:
            yield rt, sink, server
    finally:
        server.stop()
        worker.stop()
        rt.close()


@contextlib.contextmanager
def dns_zone(records: dict[tuple[str, int], list[object]]) -> Iterator[str]:
    """A DNS server on loopback answering `records` ((name., QTYPE) → dnslib rdata), nothing
    else; yields its host:port for MAILHUB_DNS_SERVER."""
    from dnslib import RR, DNSRecord
    from dnslib.server import BaseResolver, DNSServer

    class Zone(BaseResolver):  # type: ignore[misc]
        def resolve(self, request: DNSRecord, handler: object) -> DNSRecord:
            reply = request.reply()
            name = str(request.q.qname).lower()
            for rdata in records.get((name, request.q.qtype), []):
                reply.add_answer(RR(name, request.q.qtype, rdata=rdata, ttl=60))
            return reply

    port = free_port()
    server = DNSServer(Zone(), address="127.0.0.1", port=port)
    server.start_thread()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop()


@contextlib.contextmanager
def serving(app: object) -> Iterator[str]:
    """`app` served by uvicorn on a loopback port in a thread; yields its base URL."""
    import threading

    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
