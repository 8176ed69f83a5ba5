"""Erasure true to the last byte (issue 20): with the default that keeps shared content, the
attachments that name the person — theirs and others' — are redacted, renamed or removed, the
erasure ends done, and a raw read of the whole data directory (the SQLite file and its WAL
included), through every encoding the proof decodes, finds them nowhere. And the proof fails
on a hit planted in each of those encodings, naming the store and the encoding."""

from __future__ import annotations

import base64
import io
import os
import zipfile
from email.message import EmailMessage
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from mailhub.db import unit_of_work
from mailhub.domain import directory
from mailhub.models import Attachment, Page, Tenant
from mailhub.privacy import erasure
from mailhub.privacy.proof import Subject, prove
from mailhub.privacy.scan import found, found_in_file
from mailhub.web.app import create_app

from conftest import relayed_runtime, wait_until
from helpers import png, settled, sign_in, smtp_send

BOB = "bob@acme.example"
NEEDLES = [BOB, "bob builder"]


def _docx(text: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr(
            "word/document.xml",
            f'<w:document xmlns:w="w"><w:body><w:p><w:r><w:t>{text}</w:t></w:r></w:p>'
            "</w:body></w:document>",
        )
    return buf.getvalue()


def _mail(
    sender: str, subject: str, body: str, n: int, files: list[tuple[str, str, bytes]]
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "sales@acme.example"
    msg["Subject"] = subject
    msg["Message-ID"] = f"<bytes-{n}@acme.example>"
    msg.set_content(body)
    for filename, ctype, data in files:
        maintype, subtype = ctype.split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes()


def _raw_hits(root: Path) -> list[str]:
    """Every file under the data directory that names Bob, in its bytes (any encoding) or
    in its path."""
    hits = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        how = found_in_file(path, NEEDLES)
        named = found(path.relative_to(root).as_posix().replace("_", " ").encode(), NEEDLES)
        if how or named:
            hits.append(f"{path.relative_to(root)}: {how or 'its name'}")
    return hits


def test_kept_attachments_that_name_the_person_never_block_the_erasure(tmp_path: Path) -> None:
    with relayed_runtime(tmp_path) as (rt, sink, server):
        with unit_of_work(rt.sessions) as s:
            directory.get_user(s, directory.get_tenant(s, "acme"), BOB).name = "Bob Builder"
        vcard = b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Bob Builder\r\nEMAIL:bob@acme.example\r\nEND:VCARD\r\n"
        mine = [
            ("bob.vcf", "text/vcard", vcard),
            ("cv.docx", "application/octet-stream", _docx("Curriculum vitae of Bob Builder")),
            ("Bob_Builder.png", "image/png", png()),
            ("notes.html", "text/html", b"<p>Call Bob&#32;Builder</p>"),
            ("plan.txt", "text/plain", b"Nothing personal in here.\n"),
        ]
        smtp_send(
            server.port,
            BOB,
            ["sales@acme.example"],
            _mail(f"Bob Builder <{BOB}>", "Contacts", "Files.", 1, mine),
        )
        staff = b"name,email\r\nBob Builder,bob@acme.example\r\nAnn,ann@acme.example\r\n"
        smtp_send(
            server.port,
            "ann@acme.example",
            ["sales@acme.example"],
            _mail(
                "Ann <ann@acme.example>",
                "Staff",
                "The list.",
                2,
                [("staff.csv", "text/csv", staff)],
            ),
        )
        wait_until(lambda: settled(rt))
        with rt.sessions() as s:
            before = {a.filename: a for a in s.scalars(select(Attachment))}
            assert set(before) >= {
                "bob.vcf",
                "cv.docx",
                "Bob_Builder.png",
                "notes.html",
                "staff.csv",
            }
            tenant = s.scalars(select(Tenant)).one()
            assert tenant.keep_shared_content  # the default

        outcome = erasure.erase_user(rt.sessions, rt.places, tenant, BOB)

        assert outcome.state == "done", outcome.left
        assert outcome.counts["attachments redacted"] == 2  # the vCard and Ann's list
        assert outcome.counts["attachments removed"] == 2  # the CV, and HTML it cannot redact
        assert outcome.counts["attachments renamed"] == 1
        assert _raw_hits(rt.settings.data_dir) == []
        with rt.sessions() as s:
            after = {a.id: a for a in s.scalars(select(Attachment))}
            vcf = after[before["bob.vcf"].id]
            text = rt.files.path(vcf.path).read_bytes()
            assert b"FN:[erased]" in text and b"EMAIL:[erased]" in text and b"BEGIN:VCARD" in text
            assert vcf.size == len(text) and "bob" not in (vcf.extracted_text or "").lower()
            csv = rt.files.path(after[before["staff.csv"].id].path).read_bytes()
            assert csv == b"name,email\r\n[erased],[erased]\r\nAnn,ann@acme.example\r\n"
            image = after[before["Bob_Builder.png"].id]
            assert image.filename == f"attachment-{image.id}.png"
            assert rt.files.path(image.path).read_bytes() == png()  # the image itself stays
            assert before["cv.docx"].id not in after and before["notes.html"].id not in after
            plan = after[before["plan.txt"].id]
            assert plan.path == before["plan.txt"].path  # untouched
            page = s.scalars(select(Page).where(Page.title == "Contacts")).one()
            assert page.attachments_removed == 2
        web = TestClient(create_app(rt.sessions, rt.files, base_url=rt.settings.base_url))
        sign_in(web, rt.sessions, "acme", "ann@acme.example")
        shown = web.get(f"/t/acme/pages/{page.id}").text
        assert "2 attachments were removed here when a member&#39;s account was erased." in shown
        assert "cv.docx" not in shown and "Bob_Builder" not in shown
        assert web.get(f"/t/acme/attachments/{before['cv.docx'].id}").status_code == 404


def test_a_redaction_cut_short_is_finished_by_the_next_run(tmp_path: Path) -> None:
    """The old file of a redacted attachment is left behind (a crash after the row moved to
    the new file): the next run finds it, no row pointing to it, and removes it."""
    with relayed_runtime(tmp_path) as (rt, sink, server):
        with unit_of_work(rt.sessions) as s:
            t = directory.get_tenant(s, "acme")
            directory.get_user(s, t, BOB).name = "Bob Builder"
            tenant_id = t.id
        stray = rt.files.write(tenant_id, "left.txt", b"Bob Builder was here")
        path = rt.files.path(stray)
        os.utime(path, (0, 0))  # old enough not to be a worker's file in the making
        with rt.sessions() as s:
            tenant = s.get_one(Tenant, tenant_id)
        outcome = erasure.erase_user(rt.sessions, rt.places, tenant, BOB)
        assert outcome.state == "done", outcome.left
        assert outcome.counts["stray files removed"] == 1 and not path.exists()


@pytest.mark.parametrize(
    ("encoding", "data"),
    [
        ("plain", b"Dear Bob Builder,"),
        ("folded", b"To: Bob\r\n Builder <someone@example.org>"),
        ("utf-16", "Author: Bob Builder".encode("utf-16-le")),
        ("rfc2047", b"From: =?utf-8?B?" + base64.b64encode(b"Bob Builder") + b"?= <x@y.example>"),
        (
            "quoted-printable",
            b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
            + b"Gr=C3=BC=C3=9Fe an Bob=\r\n Builder, bob=40acme.example",
        ),
        (
            "base64",
            b"Content-Transfer-Encoding: base64\r\n\r\n"
            + base64.encodebytes(b"Minutes of the meeting with Bob Builder." * 3),
        ),
        ("html entities", b"<p>Bob&#x20;Builder &lt;bob&#64;acme.example&gt;</p>"),
        ("json escapes", b'{"to": "\\u0062ob@acme.example", "n": "Bob\\u0020Builder"}'),
        ("url encoding", b"https://intranet.example/?q=bob%40acme.example"),
        ("zip member, plain", _docx("Bob Builder")),
    ],
)
def test_the_proof_fails_on_a_hit_in_each_encoding(
    tmp_path: Path, encoding: str, data: bytes
) -> None:
    with relayed_runtime(tmp_path) as (rt, _sink, _server):
        with unit_of_work(rt.sessions) as s:
            t = directory.get_tenant(s, "acme")
            bob = directory.get_user(s, t, BOB)
            subject = Subject(t.id, bob.id, BOB, "Bob Builder")
        rel = rt.files.write(subject.tenant_id, "planted.bin", data)
        with rt.sessions() as s:
            hits = prove(s, rt.places, subject)
        assert hits["file store files_dir"] == 1
        if encoding == "plain":
            assert not any(k.startswith("file store files_dir (") for k in hits)
        else:
            assert hits[f"file store files_dir ({encoding})"] == 1, hits
        rt.files.delete(rel)
        with rt.sessions() as s:
            assert prove(s, rt.places, subject)["file store files_dir"] == 0


def test_the_scan_reads_hostile_input_through() -> None:
    """A megabyte of what each decoder's pattern almost matches is read to the end (no
    pattern here backtracks), and finds nothing."""
    for junk in (
        b"=?" * 500_000,
        b"A" * 1_000_000,
        b"=?utf-8?b?" + b"A" * 1_000_000,
        b"\\u" * 500_000,
        b"&#" * 500_000,
        b"%" * 1_000_000,
        b"AAAAAAAA\n" * 100_000,
        b"Zm9v" * 250_000 + b"\n",
    ):
        assert found(junk, NEEDLES) is None


def test_text_in_other_encodings_is_redacted_in_its_own_encoding() -> None:
    from mailhub.privacy.erasure.attachments import _redacted

    latin = "Name;Ort\r\nBob Builder;Köln\r\n".encode("latin-1")
    assert _redacted(latin, NEEDLES) == "Name;Ort\r\n[erased];Köln\r\n".encode("latin-1")
    wide = "Author: Bob Builder\r\n".encode("utf-16")  # with its byte order mark
    assert _redacted(wide, NEEDLES) == "Author: [erased]\r\n".encode("utf-16")
    # Still naming them once scrubbed (here in an entity): not redactable, so removed instead
    assert _redacted(b"<p>Bob&#32;Builder</p>", NEEDLES) is None
