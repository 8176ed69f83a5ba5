"""Delivery through a real SMTP relay: retries with back-off, never twice, failures recorded."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from mailhub.db import unit_of_work
from mailhub.domain import directory, preferences
from mailhub.ingress.smtp import SmtpServer
from mailhub.models import Notification, NotificationKind
from mailhub.outbound import prepare
from mailhub.outbound.transport import SmtpRelayTransport
from mailhub.tasks import Runtime

from conftest import free_port, relayed_runtime, wait_until
from helpers import fixture, settled, smtp_send
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


def test_one_relay_connection_carries_a_whole_job(tmp_path: Path) -> None:
    # Given three watchers of Sales
    with relayed_runtime(tmp_path) as (rt, sink, server):
        with unit_of_work(rt.sessions) as s:
            t = directory.get_tenant(s, "acme")
            sales = directory.get_space(s, t, "sales")
            for name in ("cat", "dan"):
                preferences.follow(
                    s, t, directory.add_user(s, t, f"{name}@acme.example", name), sales
                )
        # When a page makes one delivery job of three notifications
        smtp_send(
            server.port, "ann@acme.example", ["sales@acme.example"], fixture("page_plain.eml")
        )
        wait_until(lambda: len(sink.received) == 3)
    # Then the relay saw them over a single connection, each mail whole and on its own
    assert isinstance(rt.transport, SmtpRelayTransport) and rt.transport.connections == 1
    assert sorted(r.rcpt_tos[0] for r in sink.received) == [
        "bob@acme.example",
        "cat@acme.example",
        "dan@acme.example",
    ]


def test_a_connection_the_relay_dropped_is_opened_again(tmp_path: Path) -> None:
    port = free_port()
    transport = SmtpRelayTransport("127.0.0.1", port)
    raw = fixture("page_plain.eml").replace(b"\n", b"\r\n")
    with transport.batch():
        with SmtpSink(port) as first:
            transport.send("a", raw, "n@acme.example", ["bob@acme.example"])
        # The relay restarted meanwhile, hanging up on the idle connection
        with SmtpSink(port) as second:
            transport.send("b", raw, "n@acme.example", ["cat@acme.example"])
    assert [r.rcpt_tos for r in first.received] == [["bob@acme.example"]]
    assert [r.rcpt_tos for r in second.received] == [["cat@acme.example"]]
    assert transport.connections == 2


def test_every_kind_of_notification_has_a_maker_and_one_without_fails_alone(
    relayed: tuple[Runtime, SmtpSink, SmtpServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    rt, sink, server = relayed
    # Given the runtime wired (privacy's mail registered): every kind of mail can be made
    missing = {k for k in NotificationKind if k not in prepare._BY_KIND}
    assert missing == {NotificationKind.REJECTION}  # made from the inbound message, not a user
    # When page mail has no maker (as a kind nobody registered would)
    for kind in (NotificationKind.PAGE_CREATED, NotificationKind.PAGE_EDITED):
        monkeypatch.delitem(prepare._BY_KIND, kind)
    smtp_send(server.port, "ann@acme.example", ["sales@acme.example"], fixture("page_plain.eml"))
    wait_until(lambda: _has(rt) and settled(rt))
    # Then that notification fails, saying why, and is never sent as some other kind of mail
    n = _notification(rt)
    assert n.status == "failed" and "no mail is made for notifications of kind" in n.last_error
    assert sink.received == []


def test_a_jobs_mails_are_made_from_rows_loaded_once(tmp_path: Path) -> None:
    """The queries a delivery job makes do not grow with its mails: the page, space, tenant,
    revision and recipients of a fan-out are loaded together, not once per mail (which made
    PostgreSQL delivery half as fast)."""
    from sqlalchemy import event

    from bench.fanout import Dropped, new_page, seed
    from mailhub.db import migrate
    from mailhub.outbound.deliver import deliver_batch

    from conftest import make_settings

    settings = make_settings(tmp_path)
    settings.data_dir.mkdir(parents=True)
    migrate(settings.effective_database_url)
    rt = Runtime(settings, transport=Dropped())
    try:
        tenant_id, space_id = seed(rt, 30)
        _, ids, _ = new_page(rt, tenant_id, space_id, 1)
        selects: list[str] = []

        def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
            if statement.lstrip().upper().startswith("SELECT"):
                selects.append(statement)

        event.listen(rt.engine, "before_cursor_execute", count)
        sent = deliver_batch(rt.sessions, rt.renderer, rt.transport, settings.base_url, ids[:4])
        few = len(selects)
        selects.clear()
        sent |= deliver_batch(rt.sessions, rt.renderer, rt.transport, settings.base_url, ids[4:24])
        assert set(sent.values()) == {"sent"} and len(sent) == 24
        assert len(selects) <= few + 2, selects  # 20 mails cost what 4 did
    finally:
        rt.close()
