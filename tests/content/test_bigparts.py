"""Large parts are decoded from disk exactly as the stdlib would decode them in memory."""

from __future__ import annotations

import os
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from mailhub.content.bigparts import MARKER, skeleton_of
from mailhub.content.parse import parse_file, parse_message


def _big_mail(tmp_path: Path, cte: str = "base64") -> tuple[Path, EmailMessage]:
    msg = EmailMessage()
    msg["From"] = "ann@acme.example"
    msg["To"] = "sales@acme.example"
    msg["Subject"] = "Footage"
    msg.set_content("See the footage.")
    msg.add_alternative("<p>See the <b>footage</b>.</p>", subtype="html")
    msg.add_attachment(
        os.urandom(3 * 1024 * 1024 + 17), maintype="video", subtype="mp4", filename="launch.mp4"
    )
    msg.add_attachment(b"small", maintype="text", subtype="plain", filename="notes.txt")
    if cte == "quoted-printable":
        text = ("Zeile mit Umlauten äöü und = Zeichen " * 40 + "\n") * 1500
        msg.add_attachment(text, subtype="plain", filename="protokoll.txt", cte="quoted-printable")
    path = tmp_path / "big.eml"
    path.write_bytes(msg.as_bytes())
    return path, msg


@pytest.mark.parametrize("cte", ["base64", "quoted-printable"])
def test_large_parts_decode_exactly_like_the_stdlib(tmp_path: Path, cte: str) -> None:
    path, _ = _big_mail(tmp_path, cte)
    expected = message_from_bytes(path.read_bytes(), policy=policy.default)
    want = {p.get_filename(): p.get_payload(decode=True) for p in expected.iter_attachments()}

    parsed = parse_file(path)
    assert parsed.text.strip() == "See the footage." and "<b>footage</b>" in parsed.html
    got = {}
    for f in parsed.files:
        got[f.filename] = b"".join(f.large.decoded_chunks()) if f.large else f.data
    assert got == want
    assert (
        any(f.large for f in parsed.files)
        and not next(f for f in parsed.files if f.filename == "notes.txt").large
    )
    skeleton = skeleton_of(path)
    assert skeleton is not None and len(skeleton.data) < 100_000


def test_small_mail_is_parsed_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "small.eml"
    path.write_bytes(b"From: a@acme.example\r\nSubject: hi\r\n\r\nhello\r\n")
    assert skeleton_of(path) is None and parse_file(path).text.strip() == "hello"


def test_a_marker_header_in_the_mail_itself_points_nowhere(tmp_path: Path) -> None:
    msg = EmailMessage()
    msg["From"] = "mallory@elsewhere.example"
    msg["Subject"] = "forged"
    msg.set_content("x")
    msg.add_attachment(b"payload", maintype="application", subtype="pdf", filename="a.pdf")
    attachment = next(msg.iter_attachments())
    attachment[MARKER] = "0123456789abcdef:0"
    parsed = parse_message(msg.as_bytes())
    assert [f.large for f in parsed.files] == [None] and parsed.files[0].data == b"payload"
