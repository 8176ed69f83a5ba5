"""The route table is pure: grammar only, no database."""

from __future__ import annotations

import pytest

from mailhub.routing import Mailbox, route, split_address

KEY = "eWDfbWN9KEay3TIY5Lf_y7CDMPuyyow_"


@pytest.mark.parametrize(
    ("address", "mailbox", "arg"),
    [
        ("sales@acme.example", Mailbox.PAGES, "sales"),
        ("Sales@ACME.example", Mailbox.PAGES, "sales"),
        ("<sales@acme.example>", Mailbox.PAGES, "sales"),
        ("sales+form@acme.example", Mailbox.FORMS, "sales"),
        (f"reply+{KEY}@acme.example", Mailbox.COMMENTS, KEY),
        (f"bounce+{KEY}@acme.example", Mailbox.BOUNCES, KEY),
        ("reply+short@acme.example", Mailbox.BACKSTOP, ""),
        ("a+b+c@acme.example", Mailbox.BACKSTOP, ""),
        ("not an address", Mailbox.BACKSTOP, ""),
        ("@acme.example", Mailbox.BACKSTOP, ""),
    ],
)
def test_routes(address: str, mailbox: Mailbox, arg: str) -> None:
    r = route(address)
    assert (r.mailbox, r.arg) == (mailbox, arg)


def test_reply_keys_keep_their_case() -> None:
    assert route(f"reply+{KEY}@Acme.Example").arg == KEY
    assert route(f"reply+{KEY}@Acme.Example").domain == "acme.example"


@pytest.mark.parametrize("bad", ["a@b@c", "a b@c.example", "x@", "x@bad_domain!", "x@a..b"])
def test_split_address_refuses_malformed(bad: str) -> None:
    assert split_address(bad) is None
