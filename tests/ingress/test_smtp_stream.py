"""DATA is streamed to disk byte-exact: dot-stuffing undone, any size, any bytes."""

from __future__ import annotations

import socket

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from mailhub.ingress.protocol import FLUSH_AT
from mailhub.ingress.smtp import SmtpServer
from mailhub.models import InboundMessage
from mailhub.tasks import Runtime

from conftest import wait_until
from helpers import smtp_send

pytestmark = [pytest.mark.parametrize("backend", ["sqlite"]), pytest.mark.usefixtures("acme")]

HEADER = b"From: ann@acme.example\r\nTo: sales@acme.example\r\nSubject: stream\r\n"


def _stored(runtime: Runtime, message_id: str) -> bytes:
    with runtime.sessions() as s:
        msg = s.scalars(select(InboundMessage).where(InboundMessage.message_id == message_id)).one()
    return runtime.raw_store.read(msg.raw_path)


def _expected(raw: bytes) -> bytes:
    """What smtplib puts on the wire before dot-stuffing: bytes as given, ending in CRLF."""
    return raw if raw.endswith(b"\r\n") else raw + b"\r\n"


def _message(n: int, body: bytes) -> tuple[str, bytes]:
    message_id = f"<stream-{n}@mail.acme.example>"
    return message_id, HEADER + f"Message-ID: {message_id}\r\n\r\n".encode() + body


lines = st.lists(
    st.one_of(
        st.sampled_from([b".", b"..", b".x", b"...", b"", b" .", b"\xff\xfe 8bit", b"."]),
        st.binary(max_size=120).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"")),
    ),
    max_size=60,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body_lines=lines)
def test_any_body_is_stored_exactly(
    runtime: Runtime, smtp: SmtpServer, body_lines: list[bytes]
) -> None:
    n = abs(hash(tuple(body_lines)))
    message_id, raw = _message(n, b"\r\n".join(body_lines))
    smtp_send(smtp.port, "ann@acme.example", ["sales@acme.example"], raw)
    assert _stored(runtime, message_id) == _expected(raw)


def test_large_message_with_dots_across_flush_boundaries(
    runtime: Runtime, smtp: SmtpServer
) -> None:
    line = b"." + b"x" * 70  # every line starts with a dot, so stuffing is everywhere
    body = b"\r\n".join([line] * (3 * FLUSH_AT // len(line))) + b"\r\n.\r\n..\r\nend"
    message_id, raw = _message(1, body)
    smtp_send(smtp.port, "ann@acme.example", ["sales@acme.example"], raw)
    assert _stored(runtime, message_id) == _expected(raw)


def test_a_command_sent_right_after_the_dot_is_answered(runtime: Runtime, smtp: SmtpServer) -> None:
    message_id, raw = _message(2, b"hello")
    with socket.create_connection(("127.0.0.1", smtp.port), timeout=10) as sock:
        f = sock.makefile("rwb")

        def cmd(line: bytes) -> bytes:
            f.write(line)
            f.flush()
            return f.readline()

        assert f.readline().startswith(b"220")
        cmd(b"HELO client.example\r\n")
        assert cmd(b"MAIL FROM:<ann@acme.example>\r\n").startswith(b"250")
        assert cmd(b"RCPT TO:<sales@acme.example>\r\n").startswith(b"250")
        assert cmd(b"DATA\r\n").startswith(b"354")
        # The message, its end, and the next command in one write, as a pipelining client does
        assert cmd(raw + b"\r\n.\r\nNOOP\r\n").startswith(b"250 2.0.0 Ok: stored")
        assert f.readline().startswith(b"250")  # the NOOP's answer
        assert cmd(b"QUIT\r\n").startswith(b"221")
    assert _stored(runtime, message_id) == raw + b"\r\n"


def test_a_connection_lost_during_data_keeps_nothing(runtime: Runtime, smtp: SmtpServer) -> None:
    with socket.create_connection(("127.0.0.1", smtp.port), timeout=10) as sock:
        f = sock.makefile("rwb")
        f.readline()
        for line in (
            b"HELO c\r\n",
            b"MAIL FROM:<ann@acme.example>\r\n",
            b"RCPT TO:<sales@acme.example>\r\n",
            b"DATA\r\n",
        ):
            f.write(line)
            f.flush()
            f.readline()
        f.write(HEADER + b"\r\nhalf a message")
        f.flush()
        f.close()  # the file object holds the socket open until closed itself
    wait_until(lambda: not list((runtime.settings.raw_dir / "incoming").glob("*")))
    with runtime.sessions() as s:
        assert s.scalars(select(InboundMessage)).all() == []


def test_the_sweeper_removes_spools_left_by_a_dead_process(runtime: Runtime) -> None:
    import os
    import time

    left = runtime.raw_store.spool(in_memory=0)  # a receiving process died here
    left.write(b"half a message")
    fresh = runtime.raw_store.spool(in_memory=0)  # a slow client still sending
    old = time.time() - 3600
    os.utime(left.path, (old, old))
    runtime.sweep()
    assert not left.path.exists() and fresh.path.exists()
    left.discard()
    fresh.discard()
