"""The words inside attached files, for search: each format read, and every bound held on
hostile files (a ZIP bomb, entity expansion, a damaged PDF, a file too large)."""

from __future__ import annotations

import io
import zipfile

from mailhub.content import extract
from mailhub.content.extract import from_bytes

from helpers import docx_with, odt_with, pdf_with, xlsx_with, zipped


def test_each_format_gives_its_words_in_order() -> None:
    pdf = from_bytes(
        pdf_with("Quarterly plan for Zoë", "Kilimanjaro (summit) trip"), "plan.pdf", ""
    )
    assert "Quarterly plan for Zoë" in pdf and "Kilimanjaro (summit) trip" in pdf
    # By content type when the name says nothing
    assert "Kilimanjaro" in from_bytes(pdf_with("Kilimanjaro"), "scan", "application/pdf")
    assert from_bytes(docx_with("First point", "Second point"), "notes.docx", "") == (
        "First point\nSecond point"
    )
    assert from_bytes(odt_with("Überblick", "Straße"), "b.odt", "") == "Überblick\nStraße"
    assert from_bytes(xlsx_with("Revenue", "Lisbon office"), "numbers.xlsx", "").split("\n")[
        :2
    ] == ["Revenue", "Lisbon office"]
    assert from_bytes("Café prices, 3 €".encode("cp1252"), "menu.txt", "") == "Café prices, 3 €"
    assert from_bytes(b"a,b\nNorth,12\n", "t.csv", "") == "a,b\nNorth,12"
    page = b"<html><style>p{}</style><script>steal()</script><p>Hello &amp; welcome</p><p>Bye</p>"
    assert from_bytes(page, "page.html", "") == "Hello & welcome\nBye"
    # Formats it does not read give no text (the file name is still searched)
    assert from_bytes(b"\x89PNG\r\n", "photo.png", "image/png") == ""
    assert from_bytes(b"MZ\x90\x00", "setup.exe", "application/octet-stream") == ""


def test_damaged_or_hostile_files_give_no_text_and_no_error() -> None:
    assert from_bytes(b"%PDF-1.4 nothing else", "broken.pdf", "") == ""
    assert from_bytes(b"PK\x03\x04 not really a zip", "broken.docx", "") == ""
    assert from_bytes(zipped({"other.xml": "<a/>"}), "empty.docx", "") == ""
    assert from_bytes(docx_with("<unclosed"), "bad.docx", "") == ""  # not well-formed XML
    # Entity expansion ("billion laughs") is refused by the parser, not computed
    laughs = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lolololololololololol">'
        + "".join(
            f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
            for i in range(1, 10)
        )
        + ']><document xmlns:w="w"><w:p>&lol9;</w:p></document>'
    )
    assert len(from_bytes(zipped({"word/document.xml": laughs}), "lol.docx", "")) <= (
        extract.MAX_TEXT
    )
    # An external entity is never fetched or read
    xxe = (
        '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        "<d><p>&x;</p></d>"
    )
    assert "root:" not in from_bytes(zipped({"content.xml": xxe}), "x.odt", "")


def test_every_bound_holds() -> None:
    # A ZIP bomb: 200 MB of one paragraph, compressed to a few hundred KB; read up to the bound
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open("content.xml", "w") as member,
    ):
        member.write(b"<d><p>")
        for _ in range(200):
            member.write(b"a " * (512 * 1024))
        member.write(b"</p></d>")
    bomb = buffer.getvalue()
    assert len(bomb) < 2 * 1024 * 1024
    text = from_bytes(bomb, "bomb.odt", "")
    assert 0 < len(text) <= extract.MAX_TEXT
    # A file over MAX_SOURCE is searched by its name only
    huge = b"word " * (extract.MAX_SOURCE // 5 + 1)
    assert from_bytes(huge, "huge.txt", "") == ""
    # Long text is cut at MAX_TEXT, runs of spaces folded
    long = ("many    spaced\twords\n\n\n\n" * 20_000).encode()
    read = from_bytes(long, "long.txt", "")
    assert len(read) == extract.MAX_TEXT and "  " not in read and "\n\n\n" not in read
