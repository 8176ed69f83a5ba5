"""Bad input ends in a clear status with a reason, never a crash and never a lost message."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from mailhub.ingress.smtp import SmtpServer
from mailhub.models import InboundMessage, Notification, Page, Revision
from mailhub.tasks import Runtime

from conftest import wait_until
from helpers import final_count, fixture, outbox, smtp_send, to

pytestmark = [pytest.mark.parametrize("backend", ["sqlite"]), pytest.mark.usefixtures("acme")]


def _deliver(
    runtime: Runtime, smtp: SmtpServer, name: str, mail_from: str = "ann@acme.example"
) -> InboundMessage:
    before = final_count(runtime)
    smtp_send(smtp.port, mail_from, ["sales@acme.example"], fixture(name))
    wait_until(lambda: final_count(runtime) == before + 1)
    with runtime.sessions() as s:
        msg = s.scalars(select(InboundMessage).order_by(InboundMessage.id.desc())).first()
        assert msg is not None
        return msg


def test_html_is_sanitized_and_charset_decoded(runtime: Runtime, smtp: SmtpServer) -> None:
    msg = _deliver(runtime, smtp, "page_html_script.eml")
    assert msg.status == "processed"
    with runtime.sessions() as s:
        page = s.scalars(select(Page)).one()
        rev = s.scalars(select(Revision)).one()
    assert page.title == "Präsentation für Kunden"
    assert "Präsentation" in rev.body_html
    for bad in ("<script", "onclick", "javascript:", "tracker.example"):
        assert bad not in rev.body_html
    assert rev.body_text.startswith("Die Präsentation ist fertig.")


def test_empty_subject_and_undeclared_windows_1252(runtime: Runtime, smtp: SmtpServer) -> None:
    msg = _deliver(runtime, smtp, "page_no_subject_cp1252.eml")
    assert msg.status == "processed"
    with runtime.sessions() as s:
        page = s.scalars(select(Page)).one()
    assert page.title == "Café crème for everyone on Friday"


def test_empty_mail_is_rejected_with_a_reason_and_answered(
    runtime: Runtime, smtp: SmtpServer
) -> None:
    msg = _deliver(runtime, smtp, "empty.eml")
    assert msg.status == "rejected" and msg.reason.startswith("empty:")
    wait_until(lambda: len(outbox(runtime)) == 1)
    answer = outbox(runtime)[0]
    assert to(answer) == "ann@acme.example"
    assert (
        "neither a subject nor any text" in answer.get_body(preferencelist=("plain",)).get_content()
    )


def test_unknown_sender_is_rejected_politely(runtime: Runtime, smtp: SmtpServer) -> None:
    raw = fixture("page_plain.eml").replace(b"ann@acme.example", b"eve@elsewhere.example")
    smtp_send(smtp.port, "eve@elsewhere.example", ["sales@acme.example"], raw)
    wait_until(lambda: final_count(runtime) == 1)
    with runtime.sessions() as s:
        msg = s.scalars(select(InboundMessage)).one()
        assert s.scalars(select(Page)).all() == []
    assert msg.status == "rejected" and "not a member of Acme" in msg.reason
    wait_until(lambda: len(outbox(runtime)) == 1)
    answer = outbox(runtime)[0]
    assert to(answer) == "eve@elsewhere.example"
    assert answer["Auto-Submitted"] == "auto-replied"
    assert answer["In-Reply-To"] == "<CAF8k2xQ-q3review-1@mail.acme.example>"


def test_mail_without_from_is_rejected(runtime: Runtime, smtp: SmtpServer) -> None:
    msg = _deliver(runtime, smtp, "no_from.eml")
    assert msg.status == "rejected" and "no usable From" in msg.reason


def test_rejections_are_sent_once_a_day_per_sender_and_reason(
    runtime: Runtime, smtp: SmtpServer
) -> None:
    raw = fixture("page_plain.eml").replace(b"ann@acme.example", b"eve@elsewhere.example")
    for i in range(3):  # a script retrying, or a forged sender
        smtp_send(
            smtp.port,
            "eve@elsewhere.example",
            ["sales@acme.example"],
            raw.replace(b"<CAF8k2xQ", f"<try{i}".encode()),
        )
    wait_until(lambda: final_count(runtime) == 3)
    with runtime.sessions() as s:
        assert len(s.scalars(select(Notification)).all()) == 1
        reasons = sorted(m.reason for m in s.scalars(select(InboundMessage)))
    assert sum("told this sender the same today already" in r for r in reasons) == 2
    # Another sender is answered
    smtp_send(
        smtp.port, "zed@elsewhere.example", ["sales@acme.example"], raw.replace(b"eve@", b"zed@")
    )
    wait_until(lambda: final_count(runtime) == 4)
    with runtime.sessions() as s:
        assert sorted(n.to_addr for n in s.scalars(select(Notification))) == [
            "eve@elsewhere.example",
            "zed@elsewhere.example",
        ]


def test_garbage_bytes_end_in_a_final_status(runtime: Runtime, smtp: SmtpServer) -> None:
    garbage = (
        b"\xff\xfe\x00garbage\r\nContent-Type: multipart/mixed; boundary=\r\n\r\n--\r\n\x00\x01"
    )
    smtp_send(smtp.port, "ann@acme.example", ["sales@acme.example"], garbage)
    wait_until(lambda: final_count(runtime) == 1)
    with runtime.sessions() as s:
        msg = s.scalars(select(InboundMessage)).one()
    assert msg.status in ("rejected", "processed") and msg.reason


def test_allowed_image_hosts_reach_the_page(runtime: Runtime, smtp: SmtpServer, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from dataclasses import replace

    from conftest import make_settings

    configured = Runtime(
        make_settings(
            tmp_path / "other", MAILHUB_ALLOWED_IMAGE_HOSTS="img.acme.example, cdn.acme.example"
        )
    )
    assert configured.stores.image_hosts == {"img.acme.example", "cdn.acme.example"}
    configured.close()
    runtime.stores = replace(runtime.stores, image_hosts=frozenset({"img.acme.example"}))
    raw = fixture("page_html_script.eml").replace(
        b"<script>", b'<img src=3D"https://img.acme.example/chart.png"><script>'
    )
    smtp_send(smtp.port, "ann@acme.example", ["sales@acme.example"], raw)
    wait_until(lambda: final_count(runtime) == 1)
    with runtime.sessions() as s:
        rev = s.scalars(select(Revision)).one()
    assert 'src="https://img.acme.example/chart.png"' in rev.body_html
    assert "tracker.example" not in rev.body_html


def _nested(depth: int) -> bytes:
    head = b"From: Ann <ann@acme.example>\r\nTo: sales@acme.example\r\nSubject: Deep\r\n"
    head += b"Message-ID: <deep@mail.acme.example>\r\nMIME-Version: 1.0\r\n"
    opening = b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i)
        for i in range(depth)
    )
    closing = b"".join(b"\r\n--b%d--\r\n" % i for i in reversed(range(depth)))
    return head + opening + b"Content-Type: text/plain\r\n\r\nhello\r\n" + closing


@pytest.mark.parametrize("depth", [150, 3000])
def test_mime_nested_too_deep_is_refused_and_its_sender_told(
    runtime: Runtime, smtp: SmtpServer, depth: int
) -> None:
    smtp_send(smtp.port, "ann@acme.example", ["sales@acme.example"], _nested(depth))
    wait_until(lambda: final_count(runtime) == 1 and bool(outbox(runtime)))
    with runtime.sessions() as s:
        msg = s.scalars(select(InboundMessage)).one()
        assert s.scalars(select(Page)).all() == []
    # Rejected at once with the reason (not retried until it fails), and answered once
    assert msg.status == "rejected" and msg.reason.startswith("too_deep:") and msg.attempts == 1
    [answer] = outbox(runtime)
    assert to(answer) == "ann@acme.example"
    text = answer.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert "nested more deeply than any mail program" in text and "Deep" in text


def test_mail_to_the_notifications_address_is_told_where_to_send(
    runtime: Runtime, smtp: SmtpServer
) -> None:
    """Someone answers the sender of a notification instead of replying: they learn where
    replies and new pages go, instead of "no such space"."""
    raw = fixture("page_plain.eml").replace(
        b"To: Sales <sales@acme.example>", b"To: Acme intranet <notifications@acme.example>"
    )
    smtp_send(smtp.port, "ann@acme.example", ["notifications@acme.example"], raw)
    wait_until(lambda: final_count(runtime) == 1)
    with runtime.sessions() as s:
        msg = s.scalars(select(InboundMessage)).one()
        assert s.scalars(select(Page)).all() == []
    assert msg.status == "rejected" and msg.reason.startswith("notifications_address:")
    wait_until(lambda: len(outbox(runtime)) == 1)
    text = outbox(runtime)[0].get_body(preferencelist=("plain",)).get_content()
    assert "notifications@acme.example only sends notifications" in text
    assert "reply to its notification" in text and "such as sales@acme.example" in text
    assert "There is no space" not in text
