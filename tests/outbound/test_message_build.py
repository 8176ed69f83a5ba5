"""The notification message written straight to bytes: the stdlib parser reads back exactly
what was meant (headers, encoded names and subjects, both bodies), lines are CRLF and short,
and the DKIM signature over those bytes verifies with dkimpy."""

from __future__ import annotations

from email import policy
from email.parser import BytesParser

import dkim
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailhub.outbound.compose import Draft, compose
from mailhub.outbound.render import Rendered
from mailhub.outbound.signing import (
    DkimSigner,
    canonical_body,
    canonical_body_by_the_letter,
    canonical_header,
    canonical_header_by_the_letter,
)

from helpers import dkim_test_key

KEY = dkim_test_key("mh2026")


def _draft(**kw: str) -> Draft:
    base = {
        "from_name": "Ann Author (Acme)",
        "from_addr": "notifications@acme.example",
        "to_name": "Bob Reader",
        "to_addr": "bob@acme.example",
        "subject": "[Sales] Q3 pipeline review",
        "message_id": "<acme/pages/1@acme.example>",
        "reason": "you watch the Sales space",
        "reply_to": "reply+k3y@acme.example",
        "thread_root": "<acme/pages/0@acme.example>",
        "list_id": '"Sales" <sales.acme.example>',
        "return_path": "bounce+b0unce@acme.example",
    }
    base.update(kw)
    extra = {
        "List-Unsubscribe": "<https://intranet.acme.example/t/acme/unsubscribe/"
        + "x" * 32
        + ">, <mailto:unsubscribe+"
        + "y" * 32
        + "@acme.example?subject=unsubscribe>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    return Draft(**base, extra_headers=extra)  # type: ignore[arg-type]


def _parse(data: bytes):  # type: ignore[no-untyped-def]
    return BytesParser(policy=policy.default).parsebytes(data)


@pytest.mark.parametrize(
    ("from_name", "subject"),
    [
        ("Ann Author (Acme)", "[Sales] Q3 pipeline review"),
        (
            "Jörg Müller — Ölberg",
            "[Vertrieb] Überblick Q3 — Zahlen, Fakten und ein sehr langer Betreff " * 2,
        ),
        ("张伟", "[销售] 第三季度回顾"),
        ('Quote "Me", Please', "A subject with = signs, ?= and =?utf-8?q?not-encoded?="),
    ],
)
def test_what_is_written_is_what_a_reader_parses(from_name: str, subject: str) -> None:
    body = Rendered(
        html="<p>Grüße aus dem Ölberg</p>\n<p>=3D and a long line " + "word " * 40 + "</p>",
        text="Grüße aus dem Ölberg\n\n-- \nsig with trailing space \n" + "x" * 200,
    )
    data, envelope = compose(_draft(from_name=from_name, subject=subject), body)
    assert envelope.mail_from == "bounce+b0unce@acme.example"
    assert all(len(line) <= 998 for line in data.split(b"\r\n"))
    assert b"\n" not in data.replace(b"\r\n", b"")
    head = data.split(b"\r\n\r\n", 1)[0]
    # Folded at 78 columns, except where one word is longer (the unsubscribe URIs)
    assert all(
        len(line) <= 78 or b" " not in line.strip() or b"unsubscribe" in line
        for line in head.split(b"\r\n")
    )
    msg = _parse(data)
    assert msg["From"].addresses[0].display_name == from_name
    assert msg["From"].addresses[0].addr_spec == "notifications@acme.example"
    assert str(msg["Subject"]) == " ".join(subject.split())
    assert msg["In-Reply-To"] == "<acme/pages/0@acme.example>"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "unsubscribe/" + "x" * 32 in str(msg["List-Unsubscribe"])
    assert msg.get_content_type() == "multipart/alternative"
    plain_part, html_part = msg.iter_parts()
    assert plain_part["Content-Transfer-Encoding"] == "quoted-printable"
    assert html_part["Content-Transfer-Encoding"] == "base64"
    text, html = plain_part.get_content(), html_part.get_content()
    # (the line end before a MIME boundary belongs to the boundary, RFC 2046 §5.1.1)
    assert text.replace("\r\n", "\n").rstrip("\n") == body.text
    assert html.replace("\r\n", "\n").rstrip("\n") == body.html
    assert not msg.defects and all(not p.defects for p in msg.iter_parts())


@settings(max_examples=60, deadline=None)
@given(
    name=st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=60),
    subject=st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=200),
    text=st.text(st.characters(blacklist_categories=("Cs",)), max_size=400),
)
def test_any_name_subject_and_text_survive_and_the_signature_verifies(
    name: str, subject: str, text: str
) -> None:
    data, _ = compose(_draft(from_name=name, subject=subject), Rendered(html="<p>x</p>", text=text))
    signed = DkimSigner({"acme.example": KEY.pem}, "mh2026").sign(data, "acme.example")
    assert dkim.verify(signed, dnsfunc=KEY.dns)
    msg = _parse(signed)
    assert str(msg["Subject"]) == " ".join(subject.split())
    assert msg["From"].addresses[0].addr_spec == "notifications@acme.example"
    expected = text.replace("\r\n", "\n").replace("\r", "\n")
    got = next(msg.iter_parts()).get_content().replace("\r\n", "\n")
    assert got.rstrip("\n") == expected.rstrip("\n")


def test_a_changed_byte_breaks_the_signature() -> None:
    data, _ = compose(_draft(), Rendered(html="<p>Hello</p>", text="Hello\n"))
    signed = DkimSigner({"acme.example": KEY.pem}, "mh2026").sign(data, "acme.example")
    assert dkim.verify(signed, dnsfunc=KEY.dns)
    assert not dkim.verify(signed.replace(b"Hello", b"Hallo"), dnsfunc=KEY.dns)
    assert not dkim.verify(signed.replace(b"One-Click", b"One-Clack"), dnsfunc=KEY.dns)
    # Adding a second From (or In-Reply-To) in transit is caught: those are oversigned
    assert not dkim.verify(b"From: eve@evil.example\r\n" + signed, dnsfunc=KEY.dns)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from([b" ", b"\t", b"\r\n", b"a", b"=20", b"  \t ", b"\r\n\r\n", b"\xc3\xa9"]),
        max_size=60,
    )
)
def test_fast_body_canonicalization_equals_the_rfcs_wording(parts: list[bytes]) -> None:
    body = b"".join(parts)
    assert canonical_body(body) == canonical_body_by_the_letter(body)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from([b" ", b"\t", b"\r\n ", b"\r\n\t", b"a", b"=?utf-8?q?x?=", b"<b@c>"]),
        max_size=30,
    )
)
def test_fast_header_canonicalization_equals_the_rfcs_wording(parts: list[bytes]) -> None:
    value = b"".join(parts)
    assert canonical_header(b"Subject ", value) == canonical_header_by_the_letter(
        b"Subject ", value
    )
