"""Files that come with mail: stored with their rows, thumbnails made, inline images linked,
executables refused, and the file store kept in step with the database."""

from __future__ import annotations

import io
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.policy import SMTP

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select

from mailhub.content.thumbnails import make_thumbnail
from mailhub.ingress.smtp import SmtpServer
from mailhub.models import Attachment, InboundMessage, Page, Revision
from mailhub.stores.filecheck import check_files, remove_stray
from mailhub.tasks import Runtime
from mailhub.web.app import create_app

from conftest import wait_until
from helpers import final_count, outbox, reply_like_gmail, sign_in, smtp_send, to

pytestmark = [pytest.mark.parametrize("backend", ["sqlite"]), pytest.mark.usefixtures("acme")]

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _jpeg(width: int = 1200, height: int = 800) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, "JPEG")
    return out.getvalue()


def _mail(subject: str, text: str, message_id: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Ann Author <ann@acme.example>"
    msg["To"] = "sales@acme.example"
    msg["Subject"] = subject
    msg["Message-ID"] = message_id
    msg.set_content(text)
    return msg


def _deliver(runtime: Runtime, smtp: SmtpServer, msg: EmailMessage, count: int = 1) -> None:
    smtp_send(smtp.port, "ann@acme.example", ["sales@acme.example"], msg.as_bytes(policy=SMTP))
    wait_until(lambda: final_count(runtime) == count)


def test_attachments_are_stored_with_thumbnails_and_served(
    runtime: Runtime, smtp: SmtpServer
) -> None:
    msg = _mail("Q3 deck", "The deck and a photo.", "<att-1@mail.acme.example>")
    # Apple Mail and Outlook send non-ASCII names RFC 2231-encoded
    msg.add_attachment(
        PDF, maintype="application", subtype="pdf", filename=("utf-8", "", "Präsentation Q3.pdf")
    )
    msg.add_attachment(_jpeg(), maintype="image", subtype="jpeg", filename="whiteboard.jpg")
    _deliver(runtime, smtp, msg)

    with runtime.sessions() as s:
        page = s.scalars(select(Page)).one()
        files = {a.filename: a for a in s.scalars(select(Attachment))}
    assert set(files) == {"Präsentation Q3.pdf", "whiteboard.jpg"}
    pdf, photo = files["Präsentation Q3.pdf"], files["whiteboard.jpg"]
    assert runtime.files.path(pdf.path).read_bytes() == PDF and pdf.size == len(PDF)
    assert pdf.thumbnails == {} and set(photo.thumbnails) == {"320"}
    with Image.open(runtime.files.path(photo.thumbnails["320"])) as thumb:
        assert thumb.size == (320, 213)

    client = TestClient(create_app(runtime.sessions, runtime.files))
    sign_in(client, runtime.sessions, "acme", "bob@acme.example")
    html = client.get(f"/t/acme/pages/{page.id}").text
    assert "Präsentation Q3.pdf" in html and f"/t/acme/attachments/{photo.id}/thumb/320" in html
    got = client.get(f"/t/acme/attachments/{pdf.id}")
    assert got.content == PDF and got.headers["content-disposition"].startswith("attachment")
    assert got.headers["content-type"] == "application/octet-stream"  # never rendered inline
    img = client.get(f"/t/acme/attachments/{photo.id}")
    assert img.headers["content-type"] == "image/jpeg" and img.headers[
        "content-disposition"
    ].startswith("inline")
    assert (
        client.get(f"/t/acme/attachments/{photo.id}/thumb/320").headers["content-type"]
        == "image/jpeg"
    )
    assert client.get(f"/t/globex/attachments/{pdf.id}").status_code == 404
    assert client.get(f"/t/acme/attachments/{pdf.id}/thumb/320").status_code == 404


def test_inline_images_of_multipart_related_are_linked(runtime: Runtime, smtp: SmtpServer) -> None:
    msg = _mail("Whiteboard", "See the whiteboard.", "<att-2@mail.acme.example>")
    msg.add_alternative(
        '<html><body><p>See the whiteboard:</p><img src="cid:part1.0A1B@acme.example" alt="board"></body></html>',
        subtype="html",
    )
    html_part = msg.get_payload()[1]
    html_part.add_related(
        _jpeg(400, 300), maintype="image", subtype="jpeg", cid="<part1.0A1B@acme.example>"
    )
    _deliver(runtime, smtp, msg)
    with runtime.sessions() as s:
        att = s.scalars(select(Attachment)).one()
        rev = s.scalars(select(Revision)).one()
    assert att.inline and att.content_id == "part1.0A1B@acme.example"
    assert f'src="/t/acme/attachments/{att.id}"' in rev.body_html and "cid:" not in rev.body_html


def test_executables_are_refused_and_the_sender_is_told(runtime: Runtime, smtp: SmtpServer) -> None:
    msg = _mail("Tool", "Here is the tool and its manual.", "<att-3@mail.acme.example>")
    msg.add_attachment(
        b"MZ\x90\x00fake", maintype="application", subtype="octet-stream", filename="setup.exe"
    )
    msg.add_attachment(PDF, maintype="application", subtype="pdf", filename="manual.pdf")
    _deliver(runtime, smtp, msg)
    with runtime.sessions() as s:
        inbound = s.scalars(select(InboundMessage)).one()
        assert [a.filename for a in s.scalars(select(Attachment))] == ["manual.pdf"]
        # Readers of the page see that a file was left out, and why
        rev = s.scalars(select(Revision)).one()
        assert "Files left out: setup.exe (executable files" in rev.body_text
        assert 'class="refused-files"' in rev.body_html
    assert inbound.status == "processed" and "setup.exe (executable files" in inbound.reason
    assert not any(p.name == "setup.exe" for p in runtime.settings.files_dir.rglob("*"))
    wait_until(lambda: any(to(m) == "ann@acme.example" for m in outbox(runtime)))
    notice = next(m for m in outbox(runtime) if to(m) == "ann@acme.example")
    text = notice.get_body(preferencelist=("plain",)).get_content()
    assert "was published, with a problem" in text and "setup.exe" in text


def test_a_reply_with_a_file_adds_it_to_the_page(runtime: Runtime, smtp: SmtpServer) -> None:
    _deliver(runtime, smtp, _mail("Plan", "The plan.", "<att-4@mail.acme.example>"))
    wait_until(lambda: len(outbox(runtime)) == 2)
    bob_mail = next(m for m in outbox(runtime) if to(m) == "bob@acme.example")
    reply = message_from_bytes(
        reply_like_gmail(bob_mail, "bob@acme.example", "Updated numbers attached."),
        policy=policy.default,
    )
    assert isinstance(reply, EmailMessage)
    reply.add_attachment(b"a,b\n1,2\n", maintype="text", subtype="csv", filename="numbers.csv")
    smtp_send(
        smtp.port, "bob@acme.example", [str(bob_mail["Reply-To"])], reply.as_bytes(policy=SMTP)
    )
    wait_until(lambda: final_count(runtime) == 2)
    with runtime.sessions() as s:
        att = s.scalars(select(Attachment)).one()
    assert att.filename == "numbers.csv" and att.comment_id is not None


def test_file_check_finds_and_removes_strays_and_reports_missing(
    runtime: Runtime, smtp: SmtpServer
) -> None:
    msg = _mail("Deck", "Deck.", "<att-5@mail.acme.example>")
    msg.add_attachment(PDF, maintype="application", subtype="pdf", filename="deck.pdf")
    _deliver(runtime, smtp, msg)
    stray = runtime.files.write(1, "left-by-a-crash.pdf", b"x")  # as if its transaction died
    with runtime.sessions() as s:
        assert check_files(s, runtime.files, min_age=0).stray == [stray]
        assert check_files(s, runtime.files).stray == []  # too fresh to be sure it is stray
        assert remove_stray(s, runtime.files, min_age=0) == [stray]
        deck = s.scalars(select(Attachment)).one()
    runtime.files.path(deck.path).unlink()
    with runtime.sessions() as s:
        found = check_files(s, runtime.files, min_age=0)
    assert found.stray == [] and found.missing == [deck.path]


def test_a_failed_transaction_leaves_no_file(runtime: Runtime) -> None:
    with pytest.raises(RuntimeError), runtime.files.batch() as batch:
        batch.write(1, "a.pdf", PDF)
        raise RuntimeError("the commit failed")
    assert list(runtime.files.all_files()) == []


def test_thumbnails_refuse_bombs_and_garbage() -> None:
    assert make_thumbnail(b"not an image", 320) is None
    out = io.BytesIO()
    Image.new("1", (9000, 9000)).save(out, "PNG")  # 81 Mpx: over the limit
    assert make_thumbnail(out.getvalue(), 320) is None
    assert make_thumbnail(_jpeg(100, 50), 320) is not None  # small images are kept small


def _tnef(files: dict[str, bytes]) -> bytes:
    """A winmail.dat as Outlook writes one (TNEF: signature, key, then level/name/type/length
    records with a 16-bit checksum), holding the given files."""
    import struct

    def attr(level: int, name: int, kind: int, data: bytes) -> bytes:
        return (
            struct.pack("<BHHI", level, name, kind, len(data))
            + data
            + struct.pack("<H", sum(data) & 0xFFFF)
        )

    out = struct.pack("<IH", 0x223E9F78, 0x0101)
    out += attr(1, 0x9006, 0x0006, b"\x00\x00\x01\x00")  # TNEF version
    for name, data in files.items():
        out += attr(
            2, 0x9002, 0x0006, b"\x01\x00\xff\xff\xff\xff" + b"\x00" * 8
        )  # starts an attachment
        out += attr(2, 0x8010, 0x0001, name.encode() + b"\x00")
        out += attr(2, 0x800F, 0x0006, data)
    return out


def test_winmail_dat_is_unpacked(runtime: Runtime, smtp: SmtpServer) -> None:
    msg = _mail(
        "Budget", "Budget attached (sent from Outlook in rich text).", "<att-6@mail.acme.example>"
    )
    msg.add_attachment(
        _tnef({"budget.xlsx": b"PK\x03\x04 fake xlsx", "notes.txt": b"read me"}),
        maintype="application",
        subtype="ms-tnef",
        filename="winmail.dat",
    )
    _deliver(runtime, smtp, msg)
    with runtime.sessions() as s:
        files = {
            a.filename: runtime.files.path(a.path).read_bytes()
            for a in s.scalars(select(Attachment))
        }
    assert files == {"budget.xlsx": b"PK\x03\x04 fake xlsx", "notes.txt": b"read me"}


def test_a_broken_winmail_dat_is_kept_as_it_is() -> None:
    from mailhub.content.files_in_mail import unpack_tnef

    assert unpack_tnef(b"not tnef at all") == []
