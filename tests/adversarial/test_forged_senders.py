"""Forged senders are not members: mail in a member's name with nothing to authenticate it is
held for a moderator when the member's domain publishes a DMARC policy of quarantine or reject,
as the domain itself asks. DNS is real: a local server the test starts serves the zone, and
mailhub asks it through its ordinary resolver path (MAILHUB_DNS_SERVER)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from dnslib import QTYPE, TXT
from sqlalchemy import select

from mailhub.content.senders import dmarc_policy
from mailhub.db import unit_of_work
from mailhub.dns import txt_lookup
from mailhub.domain import directory, preferences
from mailhub.models import InboundMessage, Notification, Page

from conftest import dns_zone, relayed_runtime, wait_until
from helpers import final_count, smtp_send

ZONE = {
    "_dmarc.strict.org.": "v=DMARC1; p=reject; rua=mailto:dmarc@strict.org",
    "_dmarc.careful.org.": "v=DMARC1; p=none",
    "_dmarc.parent.org.": "v=DMARC1; p=none; sp=quarantine",
}


@pytest.fixture
def dns_server() -> Iterator[str]:
    with dns_zone({(name, QTYPE.TXT): [TXT(text)] for name, text in ZONE.items()}) as server:
        yield server


def test_the_domains_policy_is_read_from_dns(dns_server: str) -> None:
    lookup = txt_lookup(dns_server)
    assert dmarc_policy("strict.org", lookup) == "reject"
    assert dmarc_policy("careful.org", lookup) == "none"
    assert dmarc_policy("mail.parent.org", lookup) == "quarantine"  # sp= for a subdomain
    assert dmarc_policy("nothing.org", lookup) is None


def _mail(sender: str, subject: str) -> bytes:
    return (
        f"From: {sender}\r\nTo: sales@strict.org\r\nSubject: {subject}\r\n"
        f"Message-ID: <{subject.replace(' ', '-')}@mail.example>\r\n\r\nPay invoice 4711 today.\r\n"
    ).encode()


def test_mail_in_a_members_name_from_a_strict_domain_waits_for_a_moderator(
    tmp_path: Path, dns_server: str
) -> None:
    with relayed_runtime(tmp_path, MAILHUB_DNS_SERVER=dns_server) as (rt, sink, server):
        # Given a tenant on a domain that publishes p=reject, with Sam as a member
        with unit_of_work(rt.sessions) as s:
            t = directory.add_tenant(s, "strict", "strict.org", "Strict")
            directory.add_user(s, t, "boss@strict.org", "Boss", admin=True)
            sam = directory.add_user(s, t, "sam@strict.org", "Sam")
            preferences.follow(s, t, sam, directory.add_space(s, t, "sales"))
        # When mail claiming to be Sam's arrives with nothing that authenticates it
        smtp_send(
            server.port, "sam@strict.org", ["sales@strict.org"], _mail("sam@strict.org", "Forged")
        )
        wait_until(lambda: final_count(rt) == 0 and _held(rt) == 1)
        # Then it is held, not published, and the administrator is told
        with rt.sessions() as s:
            held = s.scalars(select(InboundMessage)).one()
            assert held.status == "held" and "DMARC p=reject" in held.reason
            assert s.scalars(select(Page)).all() == []
            assert [n.kind for n in s.scalars(select(Notification))] == ["moderation"]
        # And a tenant that turns the policy off publishes such mail as before
        with unit_of_work(rt.sessions) as s:
            directory.set_policy(s, directory.get_tenant(s, "strict"), apply_dmarc=False)
        smtp_send(
            server.port, "sam@strict.org", ["sales@strict.org"], _mail("sam@strict.org", "Trusted")
        )
        wait_until(lambda: final_count(rt) == 1)
        with rt.sessions() as s:
            assert [p.title for p in s.scalars(select(Page))] == ["Trusted"]


def test_a_domain_without_a_strict_policy_publishes_as_before(
    tmp_path: Path, dns_server: str
) -> None:
    with relayed_runtime(tmp_path, MAILHUB_DNS_SERVER=dns_server) as (rt, _sink, server):
        with unit_of_work(rt.sessions) as s:
            t = directory.add_tenant(s, "careful", "careful.org", "Careful")
            directory.add_user(s, t, "cat@careful.org", "Cat")
            directory.add_space(s, t, "sales")
        raw = _mail("cat@careful.org", "Numbers").replace(b"sales@strict.org", b"sales@careful.org")
        smtp_send(server.port, "cat@careful.org", ["sales@careful.org"], raw)
        wait_until(lambda: final_count(rt) == 1)
        with rt.sessions() as s:
            assert [p.title for p in s.scalars(select(Page))] == ["Numbers"]


def _held(rt: object) -> int:
    with rt.sessions() as s:  # type: ignore[attr-defined]
        return len(s.scalars(select(InboundMessage).where(InboundMessage.status == "held")).all())
