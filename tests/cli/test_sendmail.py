"""`mailhub send` sends what was typed, to a real SMTP server."""

from __future__ import annotations

from pathlib import Path

from mailhub.cli.sendmail import send_mail

from conftest import free_port, make_settings
from smtp_sink import SmtpSink


def test_a_body_line_starting_with_from_is_sent_as_typed(tmp_path: Path) -> None:
    port = free_port()
    settings = make_settings(tmp_path, MAILHUB_SMTP_PORT=str(port))
    body = "Plan for Thursday:\nFrom the top, then the numbers.\n>From is kept too.\n"
    with SmtpSink(port) as sink:
        send_mail(
            settings, "Ann <ann@acme.example>", "Sales <sales@acme.example>", "Q3", body, None
        )
    (got,) = sink.handler.received
    assert got.mail_from == "ann@acme.example" and got.rcpt_tos == ["sales@acme.example"]
    assert b"\r\nFrom the top, then the numbers.\r\n" in got.raw
    assert got.message.get_content().replace("\r\n", "\n") == body
