"""Sender authentication: DKIM verified with a key served by a stand-in for DNS, trusted
Authentication-Results believed, untrusted ones ignored; failures wait for a moderator."""

from __future__ import annotations

from dataclasses import replace
from email.message import EmailMessage

import dkim
import pytest
from sqlalchemy import select

from mailhub.content.senders import authenticate
from mailhub.db import unit_of_work
from mailhub.domain.inbound_log import approve, reject_held
from mailhub.errors import InvalidInput
from mailhub.ingress.accept import Envelope, store_inbound
from mailhub.models import InboundMessage, Page, Tenant
from mailhub.tasks import Runtime

from conftest import wait_until
from helpers import dkim_test_key, final_count

KEY = dkim_test_key("mail")
PRIVATE = KEY.pem
dns = KEY.dns  # the TXT records a resolver would return: only the test key exists


def _mail(i: int, extra: str = "") -> bytes:
    msg = EmailMessage()
    msg["From"] = "Ann Author <ann@acme.example>"
    msg["To"] = "sales@acme.example"
    msg["Subject"] = f"Signed {i}"
    msg["Message-ID"] = f"<signed-{i}@mail.acme.example>"
    msg.set_content("Quarterly numbers are in.\n")
    raw = msg.as_bytes().replace(b"\n", b"\r\n")
    return (extra.encode() + raw) if extra else raw


def _signed(i: int, domain: str = "acme.example") -> bytes:
    raw = _mail(i)
    return (
        dkim.sign(
            raw,
            b"mail",
            domain.encode(),
            PRIVATE,
            include_headers=[b"From", b"To", b"Subject", b"Message-ID"],
        )
        + raw
    )


def test_dkim_pass_fail_and_none() -> None:
    assert authenticate(_signed(1), "acme.example", (), dns).result == "pass"
    tampered = _signed(2).replace(b"Quarterly numbers are in.", b"Send the money to me.")
    verdict = authenticate(tampered, "acme.example", (), dns)
    assert verdict.result == "fail" and "aligned with acme.example" in verdict.detail
    assert (
        authenticate(_signed(3, "elsewhere.example"), "acme.example", (), dns).result == "fail"
    )  # no key, not aligned
    assert authenticate(_mail(4), "acme.example", (), dns).result == "none"


@pytest.mark.parametrize(
    ("header", "trusted", "result"),
    [
        (
            "Authentication-Results: mx.acme.example; dkim=pass header.d=acme.example; dmarc=pass header.from=acme.example\r\n",
            ("mx.acme.example",),
            "pass",
        ),
        (
            "Authentication-Results: mx.acme.example; spf=pass smtp.mailfrom=ann@acme.example; dmarc=fail header.from=acme.example\r\n",
            ("mx.acme.example",),
            "fail",
        ),
        (
            "Authentication-Results: mx.acme.example; dkim=pass header.d=elsewhere.example\r\n",
            ("mx.acme.example",),
            "none",
        ),
        # Anyone can write this header: from an authserv-id not trusted, it means nothing
        (
            "Authentication-Results: evil.example; dmarc=pass header.from=acme.example\r\n",
            ("mx.acme.example",),
            "none",
        ),
    ],
)
def test_authentication_results(header: str, trusted: tuple[str, ...], result: str) -> None:
    assert authenticate(_mail(5, header), "acme.example", trusted, dns).result == result


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.usefixtures("acme")
def test_failed_authentication_waits_for_a_moderator(runtime: Runtime) -> None:
    stores = replace(runtime.stores, dnsfunc=dns)
    runtime.stores = stores  # the worker's actor reads stores from the runtime

    def deliver(raw: bytes) -> int:
        accepted = store_inbound(
            runtime.sessions,
            runtime.raw_store,
            raw,
            Envelope("ann@acme.example", ("sales@acme.example",)),
        )
        runtime.enqueue_inbound([accepted[0].inbound_id])
        return accepted[0].inbound_id

    good = deliver(_signed(10))
    forged = deliver(_signed(11).replace(b"Quarterly numbers are in.", b"Pay invoice 4711 today."))
    wait_until(lambda: final_count(runtime) == 1 and _status(runtime, forged) == "held")
    assert _status(runtime, good) == "processed"
    with runtime.sessions() as s:
        held = s.get_one(InboundMessage, forged)
        assert held.reason.startswith("held for moderation: no valid DKIM signature")
        assert len(s.scalars(select(Page)).all()) == 1
    runtime.sweep(grace=0)
    assert _status(runtime, forged) == "held"  # not retried behind the moderator's back

    # When a moderator approves it, it is published
    with unit_of_work(runtime.sessions) as s:
        approve(s, "acme", forged)
    runtime.sweep()
    wait_until(lambda: _status(runtime, forged) == "processed")
    with runtime.sessions() as s:
        assert len(s.scalars(select(Page)).all()) == 2
        with pytest.raises(InvalidInput):
            reject_held(s, "acme", forged)

    # A tenant that requires authentication holds unsigned mail too; rejecting it answers no one
    with unit_of_work(runtime.sessions) as s:
        s.scalars(select(Tenant)).one().require_authenticated = True
    unsigned = deliver(_mail(12))
    wait_until(lambda: _status(runtime, unsigned) == "held")
    with unit_of_work(runtime.sessions) as s:
        reject_held(s, "acme", unsigned)
    assert _status(runtime, unsigned) == "rejected"


def _status(runtime: Runtime, inbound_id: int) -> str:
    with runtime.sessions() as s:
        return s.get_one(InboundMessage, inbound_id).status
