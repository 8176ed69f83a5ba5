"""The SMTP edge, spoken to with stdlib smtplib over loopback, as a sending server would."""

from __future__ import annotations

import smtplib
import threading
from pathlib import Path

import pytest
from sqlalchemy import select

from mailhub.ingress.smtp import MailhubHandler, SmtpServer
from mailhub.models import InboundMessage, Page
from mailhub.stores.rawstore import RawStore
from mailhub.tasks import Runtime

from conftest import free_port, wait_until
from helpers import final_count, fixture, smtp_send

pytestmark = pytest.mark.usefixtures("acme")


def _rcpt(port: int, address: str) -> tuple[int, bytes]:
    with smtplib.SMTP("127.0.0.1", port) as s:
        s.ehlo()
        s.mail("ann@acme.example")
        return s.rcpt(address)


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("sales@unknown.example", b"not a domain mailhub serves"),
        ("nosuchspace@acme.example", b"no space 'nosuchspace'"),
        ("reply+AAAAAAAAAAAAAAAAAAAAAAAA@acme.example", b"unknown or has expired"),
        ("a+b+c@acme.example", b"no mailbox"),
    ],
)
def test_unknown_recipients_are_refused_at_rcpt(
    smtp: SmtpServer, address: str, expected: bytes
) -> None:
    code, text = _rcpt(smtp.port, address)
    assert code == 550
    assert expected in text


def test_malformed_address_is_refused(smtp: SmtpServer) -> None:
    with smtplib.SMTP("127.0.0.1", smtp.port) as s:
        s.ehlo()
        s.mail("ann@acme.example")
        code, _ = s.docmd("RCPT TO:<not an address>")
    assert code in (501, 550, 553)


def test_size_is_advertised_and_enforced(runtime: Runtime, tmp_path: Path) -> None:
    handler = MailhubHandler(runtime.sessions, runtime.raw_store, runtime.enqueue_inbound)
    server = SmtpServer(handler, "127.0.0.1", free_port(), max_size=10_000)
    server.start()
    try:
        with smtplib.SMTP("127.0.0.1", server.port) as s:
            s.ehlo()
            assert s.has_extn("size") and s.esmtp_features["size"] == "10000"
            big = fixture("page_plain.eml") + (b"x" * 70 + b"\r\n") * 300
            with pytest.raises(smtplib.SMTPSenderRefused) as err:  # refused at MAIL FROM SIZE=
                s.sendmail("ann@acme.example", ["sales@acme.example"], big)
            assert err.value.smtp_code == 552
        with smtplib.SMTP("127.0.0.1", server.port) as s:  # a client that does not declare SIZE
            s.ehlo()
            s.mail("ann@acme.example")
            s.rcpt("sales@acme.example")
            code, _ = s.data(big)
            assert code == 552
    finally:
        server.stop()
    with runtime.sessions() as session:
        assert session.scalars(select(InboundMessage)).all() == []


def test_250_only_after_the_message_is_stored(runtime: Runtime, smtp: SmtpServer) -> None:
    # The worker is running, so look at the row and the file the moment 250 comes back.
    raw = fixture("page_plain.eml")
    smtp_send(smtp.port, "ann@acme.example", ["sales@acme.example"], raw)
    with runtime.sessions() as s:
        msg = s.scalars(select(InboundMessage)).one()
    stored = runtime.raw_store.read(msg.raw_path).replace(b"\r\n", b"\n")
    assert stored.rstrip() == raw.replace(b"\r\n", b"\n").rstrip()
    assert msg.mail_from == "ann@acme.example" and msg.rcpt_to == ["sales@acme.example"]


def test_storage_failure_answers_451_and_keeps_nothing(runtime: Runtime, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the raw store's directory should be")
    handler = MailhubHandler(runtime.sessions, RawStore(blocker), runtime.enqueue_inbound)
    server = SmtpServer(handler, "127.0.0.1", free_port(), 1_000_000)
    server.start()
    try:
        with pytest.raises(smtplib.SMTPDataError) as err:
            smtp_send(
                server.port, "ann@acme.example", ["sales@acme.example"], fixture("page_plain.eml")
            )
        assert err.value.smtp_code == 451
    finally:
        server.stop()
    with runtime.sessions() as s:
        assert s.scalars(select(InboundMessage)).all() == []


def test_same_mail_delivered_twice_is_stored_once(runtime: Runtime, smtp: SmtpServer) -> None:
    raw = fixture("page_plain.eml")
    smtp_send(smtp.port, "ann@acme.example", ["sales@acme.example"], raw)
    smtp_send(smtp.port, "ann@acme.example", ["sales@acme.example"], raw)  # the sender retried
    wait_until(lambda: final_count(runtime) == 1)
    with runtime.sessions() as s:
        assert len(s.scalars(select(InboundMessage)).all()) == 1
        assert len(s.scalars(select(Page)).all()) == 1


def test_one_mail_to_two_spaces_makes_two_pages(runtime: Runtime, smtp: SmtpServer) -> None:
    from mailhub.db import unit_of_work
    from mailhub.domain import directory

    with unit_of_work(runtime.sessions) as s:
        directory.add_space(s, directory.get_tenant(s, "acme"), "support")
    smtp_send(
        smtp.port,
        "ann@acme.example",
        ["sales@acme.example", "support@acme.example"],
        fixture("page_plain.eml"),
    )
    wait_until(lambda: final_count(runtime) == 1)
    with runtime.sessions() as s:
        spaces = sorted(p.space_id for p in s.scalars(select(Page)))
    assert len(spaces) == 2 and spaces[0] != spaces[1]


def test_mail_without_message_id_gets_a_deterministic_one(
    runtime: Runtime, smtp: SmtpServer
) -> None:
    raw = fixture("no_message_id.eml")
    smtp_send(smtp.port, "ann@acme.example", ["sales@acme.example"], raw)
    smtp_send(smtp.port, "ann@acme.example", ["sales@acme.example"], raw)
    wait_until(lambda: final_count(runtime) == 1)
    with runtime.sessions() as s:
        msg = s.scalars(select(InboundMessage)).one()
    assert msg.message_id.endswith("@mailhub.invalid>")


def test_one_mail_delivered_per_recipient_makes_each_page_once(
    runtime: Runtime, smtp: SmtpServer
) -> None:
    from mailhub.db import unit_of_work
    from mailhub.domain import directory

    with unit_of_work(runtime.sessions) as s:
        directory.add_space(s, directory.get_tenant(s, "acme"), "support")
    raw = fixture("page_plain.eml")
    # An MTA that retried one recipient after a 4xx sends the same bytes once more
    smtp_send(smtp.port, "ann@acme.example", ["sales@acme.example"], raw)
    wait_until(lambda: final_count(runtime) == 1)
    smtp_send(smtp.port, "ann@acme.example", ["support@acme.example"], raw)
    wait_until(lambda: final_count(runtime) == 2)
    # and a third copy for both changes nothing
    smtp_send(smtp.port, "ann@acme.example", ["sales@acme.example", "support@acme.example"], raw)
    wait_until(lambda: final_count(runtime) == 3)
    with runtime.sessions() as s:
        assert len(s.scalars(select(Page)).all()) == 2
        statuses = sorted(m.status for m in s.scalars(select(InboundMessage)))
    assert statuses == ["ignored", "processed", "processed"]


def test_a_sender_over_the_rate_limit_is_asked_to_retry_later(runtime: Runtime) -> None:
    handler = MailhubHandler(
        runtime.sessions, runtime.raw_store, runtime.enqueue_inbound, sender_rate_limit=2
    )
    server = SmtpServer(handler, "127.0.0.1", free_port(), 1_000_000)
    server.start()
    try:
        for i in range(2):
            raw = fixture("page_plain.eml").replace(b"<CAF8k2xQ", f"<rate{i}".encode())
            smtp_send(server.port, "ann@acme.example", ["sales@acme.example"], raw)
        with smtplib.SMTP("127.0.0.1", server.port) as s:
            s.ehlo()
            s.mail("ann@acme.example")
            code, text = s.rcpt("sales@acme.example")
        assert code == 450 and b"try again later" in text  # the sender's server keeps it
        with smtplib.SMTP("127.0.0.1", server.port) as s:  # another sender is not affected
            s.ehlo()
            s.mail("bob@acme.example")
            assert s.rcpt("sales@acme.example")[0] == 250
    finally:
        server.stop()


def test_the_rate_window_slides() -> None:
    from mailhub.ingress.ratelimit import SenderRateLimiter

    limiter = SenderRateLimiter(limit=2, window=60)
    assert limiter.allow(1, "a@x", now=0) and limiter.allow(1, "a@x", now=1)
    assert not limiter.allow(1, "a@x", now=30)
    assert limiter.allow(2, "a@x", now=30)  # per tenant
    assert limiter.allow(1, "a@x", now=61)  # the first one has left the window


def test_a_broker_that_hangs_delays_no_250(runtime: Runtime, acme: dict[str, int]) -> None:
    """The rows are committed before "250"; handing them to the broker happens beside it, so a
    broker that does not answer holds up no sender (the sweeper enqueues what it missed)."""
    stuck = threading.Event()
    handed: list[list[int]] = []

    def enqueue(ids: list[int]) -> None:
        handed.append(ids)
        stuck.wait(60)

    server = SmtpServer(
        MailhubHandler(runtime.sessions, runtime.raw_store, enqueue),
        "127.0.0.1",
        free_port(),
        10**6,
    )
    server.start()
    try:
        for n in range(3):
            raw = fixture("page_plain.eml").replace(
                b"<CAF8k2xQ-q3review-1@", f"<hang-{n}@".encode()
            )
            with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as client:
                assert client.sendmail("ann@acme.example", ["sales@acme.example"], raw) == {}
        assert handed  # the broker was asked (and is still not answering)
    finally:
        stuck.set()
        server.stop()
    with runtime.sessions() as s:
        assert len(s.scalars(select(InboundMessage.id)).all()) == 3
