"""IMAP ingress against a real Dovecot: mail put in a mailbox becomes pages, once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from email.message import EmailMessage

import pytest
from sqlalchemy import select

from mailhub.db import unit_of_work
from mailhub.ingress.imap import ImapPoller, add_account, list_accounts, recipients_of
from mailhub.ingress.smtp import SmtpServer
from mailhub.models import ImapAccount, InboundMessage, Page
from mailhub.tasks import Runtime

from conftest import free_port, wait_until
from dovecot import Dovecot
from helpers import final_count, fixture, outbox, smtp_send, to

pytestmark = [pytest.mark.parametrize("backend", ["sqlite"]), pytest.mark.usefixtures("acme")]

USER, PASSWORD = "intranet@acme.example", "imap-secret-1"


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    server = Dovecot(free_port(), {USER: PASSWORD})
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def account_id(runtime: Runtime, dovecot: Dovecot) -> int:
    with unit_of_work(runtime.sessions) as s:
        return add_account(
            s,
            "acme",
            "127.0.0.1",
            dovecot.port,
            USER,
            PASSWORD,
            runtime.settings.secret_key,
            use_ssl=False,
        ).id


def _poller(runtime: Runtime, account_id: int) -> ImapPoller:
    return ImapPoller(
        runtime.sessions,
        runtime.raw_store,
        runtime.enqueue_inbound,
        account_id,
        runtime.settings.secret_key,
        poll_interval=0.5,
    )


def _message(n: int, headers: str = "To: Sales <sales@acme.example>") -> bytes:
    return (
        "Return-Path: <ann@acme.example>\r\n"
        "Delivered-To: intranet@acme.example\r\n"
        f"From: Ann Author <ann@acme.example>\r\n{headers}\r\n"
        f"Subject: From the mailbox {n}\r\nMessage-ID: <imap-{n}@mail.acme.example>\r\n\r\n"
        f"Body {n}.\r\n"
    ).encode()


def test_messages_in_the_mailbox_become_pages_once(
    runtime: Runtime, dovecot: Dovecot, account_id: int
) -> None:
    # Given three messages: addressed to a space, BCC'd to it (only Delivered-To says so), and
    # addressed to a space that does not exist
    dovecot.deliver(USER, _message(1))
    dovecot.deliver(
        USER,
        _message(2, "To: someone@elsewhere.example").replace(
            b"Delivered-To: intranet@acme.example", b"Delivered-To: sales@acme.example"
        ),
    )
    dovecot.deliver(USER, _message(3, "To: nosuchspace@acme.example"))

    assert _poller(runtime, account_id).run_once() == 3
    wait_until(lambda: final_count(runtime) == 3)
    with runtime.sessions() as s:
        rows = {m.message_id: m for m in s.scalars(select(InboundMessage))}
        assert len(s.scalars(select(Page)).all()) == 2
    assert rows["<imap-2@mail.acme.example>"].rcpt_to == ["sales@acme.example"]
    assert rows["<imap-3@mail.acme.example>"].status == "rejected"
    assert rows["<imap-1@mail.acme.example>"].mail_from == "ann@acme.example"
    # and they were moved out of the inbox
    assert dovecot.count(USER, "INBOX") == 0 and dovecot.count(USER, "mailhub-processed") == 3

    # When the poller restarts and more mail arrives, only the new mail is read
    dovecot.deliver(USER, _message(4))
    assert _poller(runtime, account_id).run_once() == 1
    assert _poller(runtime, account_id).run_once() == 0
    with runtime.sessions() as s:
        account = s.get_one(ImapAccount, account_id)
    assert account.last_uid == 4 and account.last_error == ""


def test_a_crash_before_the_move_repeats_nothing(
    runtime: Runtime, dovecot: Dovecot, account_id: int
) -> None:
    dovecot.deliver(USER, _message(1))
    _poller(runtime, account_id).run_once()
    # As if the process died after storing but before recording and moving: the message is
    # back in the inbox and the account forgot how far it read.
    client = dovecot.client(USER)
    client.select_folder("mailhub-processed")
    client.move(client.search(["ALL"]), "INBOX")
    client.logout()
    with unit_of_work(runtime.sessions) as s:
        s.get_one(ImapAccount, account_id).uidvalidity = None
    assert _poller(runtime, account_id).run_once() == 0  # stored already: not again
    with runtime.sessions() as s:
        assert len(s.scalars(select(InboundMessage)).all()) == 1
    assert dovecot.count(USER, "INBOX") == 0


def test_a_message_over_the_size_limit_is_answered_and_left_in_the_mailbox(
    runtime: Runtime, dovecot: Dovecot, account_id: int
) -> None:
    # Given a mailbox with a 3 MB message, and a limit of 2 MB
    big = _message(7).replace(b"Body 7.", b"x" * 3_000_000)
    dovecot.deliver(USER, big)
    dovecot.deliver(USER, _message(8))
    poller = _poller(runtime, account_id)
    poller.max_message_size = 2 * 1024 * 1024

    # When the poller reads it
    assert poller.run_once() == 2

    # Then the small one is a page; the big one is rejected, its sender told, nothing stored of
    # its body, and the message itself kept in the processed folder for an administrator
    def answers() -> list[EmailMessage]:
        return [m for m in outbox(runtime) if m["Auto-Submitted"] == "auto-replied"]

    wait_until(lambda: final_count(runtime) == 2 and answers())
    with runtime.sessions() as s:
        big_row = s.scalars(
            select(InboundMessage).where(InboundMessage.message_id == "<imap-7@mail.acme.example>")
        ).one()
        assert big_row.status == "rejected" and big_row.reason.startswith("too_large: 2.9 MB")
        assert big_row.size < 10_000
        assert [p.title for p in s.scalars(select(Page))] == ["From the mailbox 8"]
    [answer] = answers()
    assert to(answer) == "ann@acme.example"
    assert (
        "larger than Acme accepts (2.0 MB)"
        in answer.get_body(preferencelist=("plain",)).get_content()
    )
    assert dovecot.count(USER, "mailhub-processed") == 2


def test_the_oversize_mark_is_not_believed_over_smtp(runtime: Runtime, smtp: SmtpServer) -> None:
    raw = b"X-Mailhub-Oversize: size=999999999; limit=1\r\n" + _message(9)
    smtp_send(smtp.port, "ann@acme.example", ["sales@acme.example"], raw)
    wait_until(lambda: final_count(runtime) == 1)
    with runtime.sessions() as s:
        assert s.scalars(select(InboundMessage)).one().status == "processed"


def test_the_same_mail_over_smtp_and_imap_makes_one_page(
    runtime: Runtime, dovecot: Dovecot, account_id: int, smtp: SmtpServer
) -> None:
    raw = fixture("page_plain.eml")
    smtp_send(smtp.port, "ann@acme.example", ["sales@acme.example"], raw)
    wait_until(lambda: final_count(runtime) == 1)
    dovecot.deliver(USER, raw)  # IMAP rewrites line ends, so the bytes differ
    _poller(runtime, account_id).run_once()
    wait_until(lambda: final_count(runtime) == 2)
    with runtime.sessions() as s:
        statuses = sorted((m.status, m.reason) for m in s.scalars(select(InboundMessage)))
        assert len(s.scalars(select(Page)).all()) == 1
    assert statuses[0][0] == "ignored" and "duplicate of inbound" in statuses[0][1]
    assert statuses[1][0] == "processed"


def test_idle_picks_up_new_mail_while_running(
    runtime: Runtime, dovecot: Dovecot, account_id: int
) -> None:
    stop = threading.Event()
    thread = threading.Thread(target=_poller(runtime, account_id).run, args=(stop,), daemon=True)
    thread.start()
    try:
        dovecot.deliver(USER, _message(7))
        wait_until(lambda: final_count(runtime) == 1, timeout=20)
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()


def test_a_wrong_password_is_recorded_not_fatal(runtime: Runtime, dovecot: Dovecot) -> None:
    with unit_of_work(runtime.sessions) as s:
        bad = add_account(
            s,
            "acme",
            "127.0.0.1",
            dovecot.port,
            USER,
            "wrong",
            runtime.settings.secret_key,
            use_ssl=False,
        ).id
    stop = threading.Event()
    thread = threading.Thread(target=_poller(runtime, bad).run, args=(stop,), daemon=True)
    thread.start()
    try:
        wait_until(lambda: any(a.last_error for a in _accounts(runtime)), timeout=20)
    finally:
        stop.set()
        thread.join(timeout=10)
    assert "authentication failed" in next(a.last_error for a in _accounts(runtime)).lower()


def _accounts(runtime: Runtime):  # type: ignore[no-untyped-def]
    with runtime.sessions() as s:
        return list_accounts(s)


def test_recipients_come_from_delivery_headers_first() -> None:
    raw = (
        b"Delivered-To: Sales@Acme.Example\r\nX-Original-To: reply+AbCdEfGhIjKlMnOpQrSt@acme.example\r\n"
        b"To: Team <team@acme.example>, other@elsewhere.example\r\nCc: sales@acme.example\r\n\r\nx"
    )
    assert recipients_of(raw, "acme.example", "fallback@acme.example") == (
        "Sales@acme.example",
        "reply+AbCdEfGhIjKlMnOpQrSt@acme.example",
        "team@acme.example",
    )
    assert recipients_of(
        b"To: a@elsewhere.example\r\n\r\nx", "acme.example", "inbox@acme.example"
    ) == ("inbox@acme.example",)
