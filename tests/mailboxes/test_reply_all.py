"""A reply-all to a page's thread that also went to the space's address becomes a comment on
that page, not a second page; once, even when it also reached the page's reply address."""

from __future__ import annotations

from email.message import EmailMessage

import pytest
from sqlalchemy import select

from mailhub.ingress.smtp import SmtpServer
from mailhub.models import Comment, Page
from mailhub.tasks import Runtime

from conftest import wait_until
from helpers import final_count, outbox, settled, smtp_send, to

pytestmark = [pytest.mark.parametrize("backend", ["sqlite"]), pytest.mark.usefixtures("acme")]


def _mail(sender: str, to_: str, subject: str, text: str, mid: str, reply_to: str = "") -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to_
    msg["Subject"] = subject
    msg["Message-ID"] = mid
    if reply_to:
        msg["In-Reply-To"] = reply_to
        msg["References"] = reply_to
    msg.set_content(text)
    return msg.as_bytes()


def test_a_reply_all_to_the_space_becomes_a_comment(runtime: Runtime, smtp: SmtpServer) -> None:
    first = "<plan-1@mail.acme.example>"
    smtp_send(
        smtp.port,
        "ann@acme.example",
        ["sales@acme.example", "bob@acme.example"],
        _mail(
            "Ann <ann@acme.example>",
            "sales@acme.example, bob@acme.example",
            "Q4 plan",
            "Draft attached.",
            first,
        ),
    )
    wait_until(lambda: final_count(runtime) == 1)
    # Bob answers everyone: Ann, and the space's address again
    reply = _mail(
        "Bob <bob@acme.example>",
        "ann@acme.example, sales@acme.example",
        "Re: Q4 plan",
        "Looks good, ship it.\n\nOn Tue, Nov 24, 2026 at 10:02 AM Ann <ann@acme.example> wrote:\n> Draft attached.\n",
        "<bob-reply-1@mail.acme.example>",
        first,
    )
    smtp_send(smtp.port, "bob@acme.example", ["sales@acme.example"], reply)
    wait_until(lambda: final_count(runtime) == 2 and settled(runtime))
    with runtime.sessions() as s:
        assert [p.title for p in s.scalars(select(Page))] == ["Q4 plan"]
        (comment,) = s.scalars(select(Comment)).all()
        assert (
            comment.body_text == "Looks good, ship it." and "Draft attached." in comment.quoted_text
        )

    # A reply to a notification that reached both the reply address and the space: one comment
    note = next(m for m in outbox(runtime) if to(m) == "cat@acme.example")
    both = _mail(
        "Cat <cat@acme.example>",
        f"{note['Reply-To']}, sales@acme.example",
        "Re: Q4 plan",
        "Count me in.",
        "<cat-reply-1@mail.acme.example>",
        str(note["Message-ID"]),
    )
    smtp_send(smtp.port, "cat@acme.example", [str(note["Reply-To"]), "sales@acme.example"], both)
    wait_until(lambda: final_count(runtime) == 3 and settled(runtime))
    with runtime.sessions() as s:
        bodies = [c.body_text for c in s.scalars(select(Comment).order_by(Comment.id))]
        assert bodies == ["Looks good, ship it.", "Count me in."]
        assert len(s.scalars(select(Page)).all()) == 1

    # A new subject without references stays a page of its own
    smtp_send(
        smtp.port,
        "ann@acme.example",
        ["sales@acme.example"],
        _mail(
            "Ann <ann@acme.example>",
            "sales@acme.example",
            "Q1 plan",
            "Next.",
            "<plan-2@mail.acme.example>",
        ),
    )
    wait_until(lambda: final_count(runtime) == 4)
    with runtime.sessions() as s:
        assert len(s.scalars(select(Page)).all()) == 2
