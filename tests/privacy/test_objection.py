"""Objection to processing (GDPR Art. 21): no notifications from the moment it is recorded —
even one already queued — and mail from the person is answered, not processed."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from mailhub.db import unit_of_work
from mailhub.domain import directory, objections
from mailhub.errors import InvalidInput
from mailhub.ingress.accept import Envelope, store_inbound
from mailhub.ingress.smtp import SmtpServer
from mailhub.mailboxes import process_inbound
from mailhub.models import InboundMessage, Notification, Page
from mailhub.tasks import Runtime

from conftest import wait_until
from helpers import fixture, outbox, smtp_send, to

pytestmark = [
    pytest.mark.parametrize("backend", ["sqlite", "postgres-redis"]),
    pytest.mark.usefixtures("acme"),
]


def _object(runtime: Runtime, email: str, withdraw: bool = False) -> None:
    with unit_of_work(runtime.sessions) as s:
        tenant = directory.get_tenant(s, "acme")
        user = directory.get_user(s, tenant, email)
        (objections.withdraw if withdraw else objections.object_to_processing)(s, tenant, user)


def _statuses(runtime: Runtime) -> dict[str, str]:
    with runtime.sessions() as s:
        return {n.to_addr: n.status for n in s.scalars(select(Notification))}


def test_an_objection_recorded_while_a_notification_waits_stops_it(runtime: Runtime) -> None:
    # Given Ann's page is processed and its notifications are queued, not yet sent
    accepted = store_inbound(
        runtime.sessions,
        runtime.raw_store,
        fixture("page_plain.eml"),
        Envelope("ann@acme.example", ("sales@acme.example",)),
    )
    outcome = process_inbound(runtime.sessions, runtime.stores, accepted[0].inbound_id)
    assert outcome is not None and len(outcome.notification_ids) == 2
    assert set(_statuses(runtime).values()) == {"queued"}

    # When Bob objects before the worker gets to his notification
    _object(runtime, "bob@acme.example")
    runtime.enqueue_notifications(outcome.notification_ids)

    # Then Cat's is sent and Bob's is suppressed: nothing reaches Bob
    wait_until(
        lambda: _statuses(runtime) == {"bob@acme.example": "suppressed", "cat@acme.example": "sent"}
    )
    assert [to(m) for m in outbox(runtime)] == ["cat@acme.example"]
    runtime.enqueue_notifications(outcome.notification_ids)  # a redelivered job changes nothing
    runtime.sweep(grace=0)
    assert [to(m) for m in outbox(runtime)] == ["cat@acme.example"]


def test_an_objector_is_not_a_recipient_and_their_mail_is_not_processed(
    runtime: Runtime, smtp: SmtpServer
) -> None:
    # Given Bob has objected
    _object(runtime, "bob@acme.example")

    # When Ann posts, Bob is not among the recipients at all
    smtp_send(smtp.port, "ann@acme.example", ["sales@acme.example"], fixture("page_plain.eml"))
    wait_until(lambda: _statuses(runtime) == {"cat@acme.example": "sent"})

    # When Bob mails a space, nothing is made of it; he is told why and how to withdraw
    raw = (
        fixture("page_plain.eml")
        .replace(b"ann@acme.example", b"bob@acme.example")
        .replace(b"q3review-1", b"q3review-bob")
    )
    smtp_send(smtp.port, "bob@acme.example", ["sales@acme.example"], raw)
    wait_until(lambda: any(to(m) == "bob@acme.example" for m in outbox(runtime)))
    with runtime.sessions() as s:
        bobs = s.scalars(
            select(InboundMessage).where(InboundMessage.mail_from == "bob@acme.example")
        ).one()
        assert bobs.status == "rejected" and bobs.reason.startswith("objection:")
        assert len(s.scalars(select(Page)).all()) == 1
    answer = next(m for m in outbox(runtime) if to(m) == "bob@acme.example")
    assert answer["Auto-Submitted"] == "auto-replied"
    assert "withdraw your objection" in answer.get_body(preferencelist=("plain",)).get_content()

    # When he withdraws, his mail is processed again
    _object(runtime, "bob@acme.example", withdraw=True)
    smtp_send(
        smtp.port,
        "bob@acme.example",
        ["sales@acme.example"],
        raw.replace(b"q3review-bob", b"q3review-bob2"),
    )
    wait_until(lambda: _page_count(runtime) == 2)


def _page_count(runtime: Runtime) -> int:
    with runtime.sessions() as s:
        return len(s.scalars(select(Page)).all())


def test_a_restriction_stops_mail_both_ways_until_it_is_lifted(
    runtime: Runtime, smtp: SmtpServer
) -> None:
    # Given processing of Bob's data is restricted (Art. 18), and he had objected before and
    # withdrew: only the restriction is in force
    _object(runtime, "bob@acme.example")
    _object(runtime, "bob@acme.example", withdraw=True)
    with unit_of_work(runtime.sessions) as s:
        tenant = directory.get_tenant(s, "acme")
        bob = directory.get_user(s, tenant, "bob@acme.example")
        objections.object_to_processing(s, tenant, bob, "restriction")
        with pytest.raises(InvalidInput, match="no objection in force"):
            objections.withdraw(s, tenant, bob)  # withdrawing an objection lifts no restriction

    # When Ann posts, Bob hears nothing; when he writes, he is told why, not processed
    smtp_send(smtp.port, "ann@acme.example", ["sales@acme.example"], fixture("page_plain.eml"))
    wait_until(lambda: _statuses(runtime) == {"cat@acme.example": "sent"})
    raw = (
        fixture("page_plain.eml")
        .replace(b"ann@acme.example", b"bob@acme.example")
        .replace(b"q3review-1", b"q3review-bob")
    )
    smtp_send(smtp.port, "bob@acme.example", ["sales@acme.example"], raw)
    wait_until(lambda: any(to(m) == "bob@acme.example" for m in outbox(runtime)))
    answer = next(m for m in outbox(runtime) if to(m) == "bob@acme.example")
    assert "restrict the processing" in answer.get_body(preferencelist=("plain",)).get_content()
    assert _page_count(runtime) == 1

    # When the restriction is lifted, his mail is processed again
    with unit_of_work(runtime.sessions) as s:
        tenant = directory.get_tenant(s, "acme")
        objections.withdraw(
            s, tenant, directory.get_user(s, tenant, "bob@acme.example"), "restriction"
        )
    smtp_send(
        smtp.port,
        "bob@acme.example",
        ["sales@acme.example"],
        raw.replace(b"q3review-bob", b"q3review-bob2"),
    )
    wait_until(lambda: _page_count(runtime) == 2)
