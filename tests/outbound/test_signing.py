"""DKIM signing of outgoing mail: signed with the sending domain's key, verified with dkimpy as a
receiver would after a real SMTP hop; a changed byte breaks it; no key, no signature."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import dkim
import pytest
from sqlalchemy import select

from mailhub.config import ConfigError
from mailhub.domain import directory
from mailhub.errors import InvalidInput
from mailhub.models import Notification
from mailhub.outbound.signing import DkimSigner, wire_bytes
from mailhub.privacy import erasure

from conftest import make_settings, relayed_runtime, wait_until
from helpers import dkim_test_key, fixture, smtp_send

KEY = dkim_test_key("mh2026")
PEM = KEY.pem
dns = KEY.dns  # the receiver's TXT lookup: only the published key of acme.example exists


def test_notifications_are_signed_and_verify_after_the_relay(tmp_path: Path) -> None:
    # Given a key for acme.example in the key directory
    keys = tmp_path / "dkim"
    keys.mkdir()
    (keys / "acme.example.pem").write_bytes(PEM)
    with relayed_runtime(
        tmp_path, MAILHUB_DKIM_KEY_DIR=str(keys), MAILHUB_DKIM_SELECTOR="mh2026"
    ) as (rt, sink, server):
        # When Ann's page makes a notification for Bob, with a long non-ASCII subject to fold
        subject = b"Subject: Q3 pipeline review \xe2\x80\x94 " + "Ölberg ".encode() * 12
        raw = fixture("page_plain.eml").replace(b"Subject: Q3 pipeline review", subject)
        smtp_send(server.port, "ann@acme.example", ["sales@acme.example"], raw)
        wait_until(lambda: len(sink.received) == 1)

    # Then what the relay received carries a signature of d=acme.example that verifies
    got = sink.received[0].raw
    assert got.startswith(b"DKIM-Signature:")
    sig = sink.received[0].message["DKIM-Signature"]
    assert "d=acme.example" in sig and "s=mh2026" in sig and "a=rsa-sha256" in sig
    assert dkim.verify(got, dnsfunc=dns)
    # And a changed byte in the body or a signed header breaks it
    assert not dkim.verify(
        got.replace(b"Olberg", b"Oelberg").replace(b"pipeline", b"pipe1ine"), dnsfunc=dns
    )
    assert not dkim.verify(got.replace(b"To: Bob", b"To: Eve", 1), dnsfunc=dns)


def _msg(sender: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "bob@acme.example"
    msg["Subject"] = "x"
    msg.set_content("hello\n")
    return msg


def test_a_domain_without_a_key_goes_out_unsigned(tmp_path: Path) -> None:
    signer = DkimSigner({"acme.example": PEM}, "mh2026")
    assert wire_bytes(_msg("n@other.example"), signer).startswith(b"From:")
    assert wire_bytes(_msg("n@ACME.example"), signer).startswith(b"DKIM-Signature:")
    assert b"\r\n" in wire_bytes(_msg("n@other.example"))  # CRLF on the wire, signed or not


def test_bad_key_configuration_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="MAILHUB_DKIM_KEY_DIR=.* is not a directory"):
        make_settings(tmp_path, MAILHUB_DKIM_KEY_DIR=str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="MAILHUB_DKIM_SELECTOR"):
        make_settings(tmp_path, MAILHUB_DKIM_SELECTOR="bad selector")
    (tmp_path / "acme.example.pem").write_text("not a key")
    with pytest.raises(InvalidInput, match="acme.example is not a PEM private key"):
        DkimSigner.from_dir(tmp_path, "mh2026")


def test_the_last_mail_to_an_erased_person_is_rendered_and_signed_like_any_other(
    tmp_path: Path,
) -> None:
    keys = tmp_path / "dkim"
    keys.mkdir()
    (keys / "acme.example.pem").write_bytes(PEM)
    with relayed_runtime(
        tmp_path, MAILHUB_DKIM_KEY_DIR=str(keys), MAILHUB_DKIM_SELECTOR="mh2026"
    ) as (rt, sink, _server):
        # Given Bob erased at once (as an administrator may, for a request made elsewhere)
        with rt.sessions() as s:
            tenant = directory.get_tenant(s, "acme")
        outcome = erasure.erase_user(rt.sessions, rt.places, tenant, "bob@acme.example")
        assert outcome.state == "done"
        # When his last mail is sent
        rt.send_last_mails([outcome])
        # Then it is a notification like every other: both parts, the intranet's footer, and a
        # DKIM signature of acme.example that verifies after the relay
        [got] = [r for r in sink.received if r.rcpt_tos == ["bob@acme.example"]]
        assert dkim.verify(got.raw, dnsfunc=dns)
        assert "erased" in str(got.message["Subject"])
        html = got.message.get_body(preferencelist=("html",))
        assert html is not None and "This is the last mail you get from Acme" in html.get_content()
        # And it was never a row: nothing of his is left behind to send it
        with rt.sessions() as s:
            assert s.scalars(select(Notification)).all() == []
