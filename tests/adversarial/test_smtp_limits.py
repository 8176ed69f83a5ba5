"""The SMTP door keeps a real MTA's limits: a recipient named many times is one recipient,
too many recipients or connections are refused with the codes Postfix uses, and DATA that
never ends a line, or never ends at all within the size limit, is not held in memory."""

from __future__ import annotations

import contextlib
import smtplib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from mailhub.db import unit_of_work
from mailhub.domain import directory
from mailhub.ingress.ratelimit import PEER_FACTOR, TENANT_FACTOR, SenderRateLimiter
from mailhub.ingress.smtp import MailhubHandler, SmtpServer
from mailhub.models import InboundMessage, Page
from mailhub.tasks import Runtime

from conftest import free_port, wait_until
from helpers import final_count, fixture

pytestmark = [pytest.mark.parametrize("backend", ["sqlite"]), pytest.mark.usefixtures("acme")]


@contextlib.contextmanager
def serving(runtime: Runtime, max_size: int = 10**6, **limits: int) -> Iterator[SmtpServer]:
    handler = MailhubHandler(runtime.sessions, runtime.raw_store, runtime.enqueue_inbound, **limits)
    server = SmtpServer(handler, "127.0.0.1", free_port(), max_size)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_one_space_named_many_times_makes_one_page(runtime: Runtime) -> None:
    with serving(runtime) as server, smtplib.SMTP("127.0.0.1", server.port) as s:
        s.ehlo()
        s.mail("ann@acme.example")
        for address in ["sales@acme.example", "SALES@acme.example", "Sales@ACME.example"] * 50:
            assert s.rcpt(address)[0] == 250
        assert s.data(fixture("page_plain.eml"))[0] == 250
    wait_until(lambda: final_count(runtime) == 1)
    with runtime.sessions() as session:
        [msg] = session.scalars(select(InboundMessage)).all()
        assert msg.rcpt_to == ["sales@acme.example"]
        assert len(session.scalars(select(Page)).all()) == 1


def test_recipients_past_the_limit_are_refused_452(runtime: Runtime) -> None:
    with unit_of_work(runtime.sessions) as session:
        directory.add_space(session, directory.get_tenant(session, "acme"), "support")
    with serving(runtime, max_recipients=2) as server, smtplib.SMTP("127.0.0.1", server.port) as s:
        s.ehlo()
        s.mail("ann@acme.example")
        assert s.rcpt("sales@acme.example")[0] == 250
        assert s.rcpt("support@acme.example")[0] == 250
        code, text = s.rcpt("sales+form@acme.example")
        assert (code, text) == (452, b"4.5.3 Too many recipients")
        assert s.rcpt("SALES@acme.example")[0] == 250  # a repeat is no new recipient
        assert s.data(fixture("page_plain.eml"))[0] == 250
    wait_until(lambda: final_count(runtime) == 1)
    with runtime.sessions() as session:
        assert len(session.scalars(select(Page)).all()) == 2


def test_connections_past_the_limit_are_refused_421(runtime: Runtime) -> None:
    with serving(runtime, max_connections=2) as server:
        first = smtplib.SMTP("127.0.0.1", server.port)
        second = smtplib.SMTP("127.0.0.1", server.port)
        with pytest.raises(smtplib.SMTPConnectError) as refused:
            smtplib.SMTP("127.0.0.1", server.port)
        assert refused.value.smtp_code == 421
        first.quit()
        # One leaves, the next comes in
        wait_until(lambda: server.controller.handler.open_connections < 2)
        with smtplib.SMTP("127.0.0.1", server.port) as third:
            assert third.noop()[0] == 250
        second.quit()


def test_one_client_address_cannot_hold_every_connection(runtime: Runtime) -> None:
    with serving(runtime, max_connections=10, max_per_client=2) as server:
        held = [smtplib.SMTP("127.0.0.1", server.port) for _ in range(2)]
        with pytest.raises(smtplib.SMTPConnectError) as refused:
            smtplib.SMTP("127.0.0.1", server.port)
        assert refused.value.smtp_code == 421
        # Another address is still let in (the connection limit is not used up)
        with smtplib.SMTP("127.0.0.1", server.port, source_address=("127.0.0.2", 0)) as other:
            assert other.noop()[0] == 250
        for connection in held:
            connection.quit()


def _rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def _in_data(sock: socket.socket) -> Callable[[], bytes]:
    """Greet, open a transaction from Ann to sales@ and start DATA, by hand (the bytes that
    follow are the test's); return how to read the server's next reply."""
    reader = sock.makefile("rb")

    def reply() -> bytes:
        while True:
            got = reader.readline()
            if got[3:4] != b"-":  # the last line of a multi-line reply
                return got

    reply()
    for command in (b"EHLO x", b"MAIL FROM:<ann@acme.example>", b"RCPT TO:<sales@acme.example>"):
        sock.sendall(command + b"\r\n")
        reply()
    sock.sendall(b"DATA\r\n")
    assert reply().startswith(b"354")
    return reply


def _stream(port: int, size: int, line: bytes) -> bytes:
    """Open a transaction and send `size` bytes of `line` repeated, then end DATA."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        reply = _in_data(sock)
        sock.sendall(b"Subject: stream\r\n\r\n")
        block = line * (65536 // len(line))
        for _ in range(size // len(block)):
            sock.sendall(block)
        sock.sendall(b"\r\n.\r\n")
        return reply()


def test_data_without_line_ends_past_the_limit_is_not_held_in_memory(runtime: Runtime) -> None:
    with serving(runtime, max_size=1_000_000) as server:
        before = peak = _rss()
        done = threading.Event()

        def watch() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, _rss())
                time.sleep(0.01)

        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            answers = [_stream(server.port, 100_000_000, b"x") for _ in range(2)]
        finally:
            done.set()
            watcher.join()
    assert all(a.startswith(b"552 5.3.4") for a in answers)
    assert peak - before < 50 * 1024 * 1024, f"RSS grew by {(peak - before) >> 20} MiB"
    with runtime.sessions() as session:
        assert session.scalars(select(InboundMessage)).all() == []
    assert list(runtime.raw_store.root.rglob("*.spool")) == []


def test_a_line_longer_than_the_buffer_is_stored_whole(runtime: Runtime) -> None:
    with serving(runtime, max_size=10_000_000) as server:
        answer = _stream(server.port, 2_000_000, b"ab.cd")
    assert answer.startswith(b"250")
    with runtime.sessions() as session:
        msg = session.scalars(select(InboundMessage)).one()
    stored = runtime.raw_store.read(msg.raw_path)
    body = stored.split(b"\r\n\r\n", 1)[1]
    assert body == b"ab.cd" * (2_000_000 // 5 // 13107 * 13107) + b"\r\n"


def test_changing_the_envelope_sender_does_not_escape_the_rate_limit() -> None:
    limiter = SenderRateLimiter(limit=2)
    allowed = [limiter.allow(1, f"bot{i}@x.example", "203.0.113.9", now=i) for i in range(100)]
    assert allowed.count(True) == 2 * PEER_FACTOR
    assert limiter.allow(1, "someone@x.example", "198.51.100.1", now=101)  # another client


def test_a_botnet_is_slowed_at_the_tenant() -> None:
    # Many senders from many addresses, each under its own limits, to one tenant
    limiter = SenderRateLimiter(limit=1)
    allowed = [
        limiter.allow(1, f"bot{i}@x.example", f"203.0.{i // 250}.{i % 250}", now=0)
        for i in range(1000)
    ]
    assert allowed.count(True) == TENANT_FACTOR
    assert limiter.allow(2, "bot0@x.example", "203.0.0.0", now=0)  # another tenant is not


@pytest.mark.parametrize("fake_end", [b"\n.\n", b"\r.\r", b"\n.\r\n", b"\r\n.\n", b"\r.\r\n"])
def test_a_smuggled_second_message_stays_inside_the_first(
    runtime: Runtime, fake_end: bytes
) -> None:
    # Given a message whose body hides a fake end of DATA and a second transaction after it
    smuggled = (
        b"Subject: outer\r\n\r\nHello."
        + fake_end
        + b"MAIL FROM:<boss@acme.example>\r\nRCPT TO:<sales@acme.example>\r\nDATA\r\n"
        + b"Subject: smuggled\r\n\r\nPay now.\r\n"
    )
    with serving(runtime) as server, socket.create_connection(("127.0.0.1", server.port)) as sock:
        reply = _in_data(sock)
        sock.sendall(smuggled + b"\r\n.\r\nQUIT\r\n")
        answers = [reply(), reply()]
    # Then the server saw one message, answered once, and the "second" is text inside it
    assert answers[0].startswith(b"250") and answers[1].startswith(b"221")
    with runtime.sessions() as session:
        [msg] = session.scalars(select(InboundMessage)).all()
    stored = runtime.raw_store.read(msg.raw_path)
    assert b"Subject: smuggled" in stored and msg.mail_from == "ann@acme.example"


def test_a_member_publishing_past_the_hourly_limit_waits_for_a_moderator(runtime: Runtime) -> None:
    from dataclasses import replace

    from mailhub.domain.inbound_log import approve
    from mailhub.ingress.accept import Envelope, store_inbound
    from mailhub.mailboxes import process_inbound

    stores = replace(runtime.stores, author_hourly_limit=2)

    def deliver(n: int, mail_from: str) -> str:
        raw = fixture("page_plain.eml").replace(b"<CAF8k2xQ-q3review-1@", f"<hourly-{n}@".encode())
        [accepted] = store_inbound(
            runtime.sessions, runtime.raw_store, raw, Envelope(mail_from, ("sales@acme.example",))
        )
        outcome = process_inbound(runtime.sessions, stores, accepted.inbound_id)
        assert outcome is not None
        return outcome.status

    # Ann, authenticated as a member, publishes twice; the third within the hour waits,
    # however the envelope sender changes
    assert [deliver(1, "ann@acme.example"), deliver(2, "x@bounce.example")] == ["processed"] * 2
    assert deliver(3, "other@relay.example") == "held"
    with runtime.sessions() as session:
        held = session.scalars(select(InboundMessage).where(InboundMessage.status == "held")).one()
        assert "the limit is 2" in held.reason
    # A moderator's approval is final: it is published
    with unit_of_work(runtime.sessions) as session:
        approve(session, "acme", held.id)
    process_inbound(runtime.sessions, stores, held.id)
    with runtime.sessions() as session:
        assert len(session.scalars(select(Page)).all()) == 3
