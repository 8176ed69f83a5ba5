"""Bounces to the VERP address: a permanent failure suppresses the address at once, temporary
ones add up; a suppressed address is left out when recipients are resolved and again right
before a send; reports are read from RFC 3464 parts or, failing that, from their text."""

from __future__ import annotations

import time
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import select

from mailhub.db import unit_of_work
from mailhub.mailboxes.bounces import SOFT_LIMIT, dsn_status
from mailhub.models import InboundMessage, Notification, Suppression
from mailhub.outbound.deliver import deliver_notification
from mailhub.tasks import Runtime

from conftest import relayed_runtime, wait_until
from helpers import fixture, settled, smtp_send
from smtp_sink import SmtpSink


def dsn(to_verp: str, status: str, recipient: str = "bob@acme.example") -> bytes:
    """A delivery status notification as Postfix writes one (RFC 3464 multipart/report)."""
    action = "failed" if status.startswith("5") else "delayed"
    return (
        f"From: MAILER-DAEMON@mx.acme.example (Mail Delivery System)\r\n"
        f"To: {to_verp}\r\n"
        f"Subject: Undelivered Mail Returned to Sender\r\n"
        f"Message-ID: <dsn-{time.monotonic_ns()}@mx.acme.example>\r\n"
        f"MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        f"--B\r\nContent-Type: text/plain\r\n\r\nI'm sorry to have to inform you...\r\n"
        f"--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        f"Reporting-MTA: dns; mx.acme.example\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nAction: {action}\r\nStatus: {status}\r\n"
        f"Diagnostic-Code: smtp; 550 {status} <{recipient}>: Recipient address rejected\r\n"
        f"\r\n--B--\r\n"
    ).encode()


def _page(rt: Runtime, port: int, sink: SmtpSink, n: int) -> list[str]:
    before = len(sink.received)
    raw = fixture("page_plain.eml").replace(b"<CAF8k2xQ-q3review-1@", f"<bounce-{n}@".encode())
    smtp_send(port, "ann@acme.example", ["sales@acme.example"], raw)
    wait_until(lambda: settled(rt))
    return [r.mail_from for r in sink.received[before:]]


def _suppression(rt: Runtime) -> Suppression | None:
    with rt.sessions() as s:
        return s.scalars(select(Suppression)).one_or_none()


def test_a_hard_bounce_suppresses_the_address(tmp_path: Path) -> None:
    with relayed_runtime(tmp_path) as (rt, sink, server):
        # Given Bob's notification went out from his own VERP address
        (verp,) = _page(rt, server.port, sink, 1)
        assert verp.startswith("bounce+") and verp.endswith("@acme.example")

        # When his server's bounce comes back to it, with a null sender
        smtp_send(server.port, "", [verp], dsn(verp, "5.1.1"))
        wait_until(lambda: settled(rt))

        # Then the report is recorded against his address, not answered, and he is suppressed
        with rt.sessions() as s:
            last = s.scalars(select(InboundMessage).order_by(InboundMessage.id.desc())).first()
            assert last is not None and last.status == "bounced"
            assert "hard bounce 5.1.1" in last.reason and "suppressed" in last.reason
        sup = _suppression(rt)
        assert sup is not None and sup.suppressed and sup.address == "bob@acme.example"
        assert "Recipient address rejected" in sup.last_diagnostic
        # And the next page is not mailed to him at all
        assert _page(rt, server.port, sink, 2) == []
        # A bounce for a key nobody issued changes nothing
        smtp_send(
            server.port, "", ["bounce+AAAAAAAAAAAAAAAAAAAAAAAA@acme.example"], dsn("x", "5.1.1")
        )
        wait_until(lambda: settled(rt))
        with rt.sessions() as s:
            last = s.scalars(select(InboundMessage).order_by(InboundMessage.id.desc())).first()
            assert last is not None and "unknown key" in last.reason
            assert len(s.scalars(select(Suppression)).all()) == 1


def test_soft_bounces_add_up_and_a_queued_mail_is_stopped_before_sending(tmp_path: Path) -> None:
    with relayed_runtime(tmp_path) as (rt, sink, server):
        (verp,) = _page(rt, server.port, sink, 1)
        for i in range(SOFT_LIMIT):
            sup = _suppression(rt)
            assert sup is None or (not sup.suppressed and sup.soft_score == i)
            smtp_send(server.port, "", [verp], dsn(verp, "4.2.2"))
            wait_until(lambda: settled(rt))
        sup = _suppression(rt)
        assert sup is not None and sup.suppressed and sup.last_status == "4.2.2"

        # A notification queued before the suppression is stopped right before sending
        with unit_of_work(rt.sessions) as s:
            first = s.scalars(select(Notification)).one()
            first.status = "queued"
        status = deliver_notification(
            rt.sessions, rt.renderer, rt.transport, rt.settings.base_url, first.id
        )
        assert status == "suppressed"
        assert len(sink.received) == 1


def test_status_codes_are_read_from_reports_and_from_plain_text() -> None:
    assert dsn_status(dsn("x", "5.1.1")) == (
        "5.1.1",
        "smtp; 550 5.1.1 <bob@acme.example>: Recipient address rejected",
    )
    assert dsn_status(dsn("x", "4.4.7"))[0] == "4.4.7"
    plain = EmailMessage()
    plain["From"] = "postmaster@old-exchange.example"
    plain["Subject"] = "Undeliverable: Q3"
    plain.set_content(
        "Delivery has failed.\n\nRemote Server returned '550 5.7.1 RESOLVER.RST.AuthRequired'\n"
    )
    assert dsn_status(plain.as_bytes())[0] == "5.7.1"
    only_smtp = EmailMessage()
    only_smtp.set_content("host mx said: 552 mailbox full\n")
    assert dsn_status(only_smtp.as_bytes()) == ("5.0.0", "host mx said: 552 mailbox full")
    nothing = EmailMessage()
    nothing.set_content("your mail could not be delivered\n")
    assert dsn_status(nothing.as_bytes())[0] == "4.0.0"  # unknown counts as temporary
