"""Delivery through a real SMTP relay: retries with back-off, never twice, failures recorded."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from mailhub.ingress.smtp import SmtpServer
from mailhub.models import Notification
from mailhub.tasks import Runtime

from conftest import relayed_runtime, wait_until
from helpers import fixture, smtp_send
from smtp_sink import SmtpSink


@pytest.fixture
def relayed(tmp_path: Path) -> Iterator[tuple[Runtime, SmtpSink, SmtpServer]]:
    with relayed_runtime(tmp_path) as parts:
        yield parts


def _notification(rt: Runtime) -> Notification:
    with rt.sessions() as s:
        return s.scalars(select(Notification)).one()


def test_a_temporary_relay_failure_is_retried_and_sent_once(
    relayed: tuple[Runtime, SmtpSink, SmtpServer],
) -> None:
    rt, sink, server = relayed
    sink.handler.fail_next = 2  # the relay answers 451 twice
    smtp_send(server.port, "ann@acme.example", ["sales@acme.example"], fixture("page_plain.eml"))
    wait_until(lambda: _notification(rt).status == "sent" if _has(rt) else False, timeout=30)
    assert len(sink.received) == 1
    n = _notification(rt)
    assert n.attempts == 3 and n.last_error == ""
    got = sink.received[0]
    # The envelope sender is the notification's VERP address, the same on every attempt
    assert got.rcpt_tos == ["bob@acme.example"]
    assert got.mail_from == f"bounce+{n.bounce_key}@acme.example"


def test_a_permanent_refusal_is_recorded_not_retried(
    relayed: tuple[Runtime, SmtpSink, SmtpServer],
) -> None:
    rt, sink, server = relayed
    sink.handler.reject_all = True
    smtp_send(server.port, "ann@acme.example", ["sales@acme.example"], fixture("page_plain.eml"))
    wait_until(lambda: _notification(rt).status == "failed" if _has(rt) else False, timeout=30)
    n = _notification(rt)
    assert n.attempts == 1 and "550" in n.last_error
    assert sink.received == []


def _has(rt: Runtime) -> bool:
    with rt.sessions() as s:
        return s.scalars(select(Notification)).first() is not None
