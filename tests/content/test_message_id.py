"""The Message-ID that ingress keys deliveries on is found by a scan of the header block; it
must read every ordinary header the way the email parser (the reference) reads it."""

from __future__ import annotations

from email import policy
from email.parser import BytesHeaderParser

from hypothesis import given, settings
from hypothesis import strategies as st

from mailhub.content.parse import message_id_of

PARSER = BytesHeaderParser(policy=policy.default)

names = st.sampled_from(
    [b"Subject", b"From", b"To", b"Received", b"X-Mailer", b"Message-Id", b"MESSAGE-ID", b"Date"]
)
plain = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=40)
values = st.lists(plain, min_size=1, max_size=3).map(lambda words: " ".join(words).encode())


def by_parser(raw: bytes) -> str:
    """The parser's reading; a value it cannot parse at all ("<") is taken as written, as
    mailhub does with any header the parser raises on."""
    msg = PARSER.parsebytes(raw)
    try:
        value = msg.get("Message-ID")
    except Exception:  # noqa: BLE001 - policy.default's header parser raises all kinds
        value = next((v for k, v in msg.raw_items() if k.lower() == "message-id"), None)
    return str(value).strip() if value is not None else ""


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(names, values), max_size=8),
    st.sampled_from([b"\r\n", b"\n"]),
    st.booleans(),
)
def test_the_scan_reads_plain_headers_as_the_parser_does(
    fields: list[tuple[bytes, bytes]], eol: bytes, folded_first: bool
) -> None:
    lines = []
    for name, value in fields:
        if folded_first and name.lower() != b"message-id":
            head, _, rest = value.partition(b" ")
            lines.append(name + b": " + head + (eol + b" " + rest if rest else b""))
        else:
            lines.append(name + b": " + value)
    raw = eol.join(lines) + eol + eol + b"Message-ID: <in-the-body@example.com>" + eol
    expected = by_parser(raw) or "<x@mailhub.invalid>"
    if "=?" in expected:
        return  # an encoded word: the parser decodes it, and the scan hands it to the parser
    assert message_id_of(raw, "x") == expected


def test_what_the_scan_does_not_read_goes_to_the_parser() -> None:
    # An encoded word, 8-bit bytes, a line that is no header: the parser's reading stands.
    assert message_id_of(b"Message-ID: =?utf-8?q?abc?=\r\n\r\n") == "abc"
    assert message_id_of(b"Message-ID: <\xc3\xa9@example.com>\r\n\r\n") == "<\xe9@example.com>"
    assert message_id_of(b"X: y\nnot a header\nMessage-ID: <a@b>\n\n", "s") == (
        "<s@mailhub.invalid>"
    )


def test_the_field_ends_at_the_header_block_and_continuations_unfold() -> None:
    assert message_id_of(b"Subject: x\r\n\r\nMessage-ID: <a@b>\r\n", "s") == "<s@mailhub.invalid>"
    assert message_id_of(b"Message-ID:\r\n <a@b.example>\r\nSubject: x\r\n\r\n") == (
        "<a@b.example>"
    )
    assert message_id_of(b"From someone Sat Jan  3 01:05:34 1996\nMessage-ID: <a@b>\n\n") == (
        "<a@b>"
    )


def test_a_long_header_block_is_read_in_one_pass() -> None:
    # 64 KB of one-character continuation lines: linear, and the field before it is found.
    raw = b"Message-ID: <a@b>\r\nX-Long: a" + b"\r\n b" * 20_000 + b"\r\n\r\n"
    assert message_id_of(raw) == "<a@b>"
