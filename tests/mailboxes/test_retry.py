"""A message that kept failing stays visible as failed and can be processed again."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from mailhub.db import unit_of_work
from mailhub.domain.inbound_log import retry_inbound
from mailhub.errors import InvalidInput
from mailhub.ingress.accept import Envelope, store_inbound
from mailhub.mailboxes import process_inbound
from mailhub.mailboxes.lifecycle import MAX_ATTEMPTS
from mailhub.models import InboundMessage, Notification, Page
from mailhub.tasks import Runtime

from conftest import wait_until
from helpers import final_count, fixture

pytestmark = [pytest.mark.parametrize("backend", ["sqlite"]), pytest.mark.usefixtures("acme")]


def test_failed_message_is_retried_on_request(runtime: Runtime) -> None:
    # Given a message whose raw file is unreadable, so processing fails every time
    accepted = store_inbound(
        runtime.sessions,
        runtime.raw_store,
        fixture("page_plain.eml"),
        Envelope("ann@acme.example", ("sales@acme.example",)),
    )
    with runtime.sessions() as s:
        msg = s.get_one(InboundMessage, accepted[0].inbound_id)
    path = runtime.settings.raw_dir / msg.raw_path
    data = path.read_bytes()
    path.unlink()
    for _ in range(MAX_ATTEMPTS - 1):  # the worker's attempts, each raising for a retry
        with pytest.raises(FileNotFoundError):
            process_inbound(runtime.sessions, runtime.stores, msg.id)
    outcome = process_inbound(runtime.sessions, runtime.stores, msg.id)  # the last one
    assert outcome is not None and outcome.status == "failed"
    with runtime.sessions() as s:
        failed = s.get_one(InboundMessage, msg.id)
    assert failed.status == "failed" and "FileNotFoundError" in failed.reason

    # When the file is back and an admin retries
    path.write_bytes(data)
    with unit_of_work(runtime.sessions) as s:
        assert retry_inbound(s, "acme", msg.id).status == "pending"
    runtime.sweep()

    # Then it is processed, once
    wait_until(lambda: final_count(runtime) == 1)
    with runtime.sessions() as s:
        assert s.get_one(InboundMessage, msg.id).status == "processed"
        assert len(s.scalars(select(Page)).all()) == 1
        with pytest.raises(InvalidInput):
            retry_inbound(s, "acme", msg.id)


def test_a_message_that_keeps_killing_its_worker_ends_failed_and_its_sender_is_told(
    runtime: Runtime,
) -> None:
    # Given a message whose every run died before it finished (each run counts its attempt
    # first, then the worker was killed: what a message that stalls or crashes it leaves)
    accepted = store_inbound(
        runtime.sessions,
        runtime.raw_store,
        fixture("page_plain.eml"),
        Envelope("ann@acme.example", ("sales@acme.example",)),
    )
    inbound_id = accepted[0].inbound_id
    with unit_of_work(runtime.sessions) as s:
        msg = s.get_one(InboundMessage, inbound_id)
        msg.status, msg.attempts = "processing", MAX_ATTEMPTS
    # When the sweeper picks it up once more
    outcome = process_inbound(runtime.sessions, runtime.stores, inbound_id)
    # Then it is not tried again: it ends failed, saying why, and nothing was published
    assert outcome is not None and outcome.status == "failed"
    with runtime.sessions() as s:
        failed = s.get_one(InboundMessage, inbound_id)
        assert failed.status == "failed" and "stopped 5 times" in failed.reason
        assert s.scalars(select(Page)).all() == []
        # And its sender gets one answer saying so
        [told] = s.scalars(select(Notification)).all()
        assert (told.kind, told.to_addr) == ("rejection", "ann@acme.example")
        assert told.context["code"] == "not_processed"
    assert process_inbound(runtime.sessions, runtime.stores, inbound_id) is None
