"""The words inside an attached file, for search: PDF (read with pypdf), the Office Open XML
and OpenDocument formats (ZIP archives of XML: the members that hold the text are streamed
through expat, which reads each byte once and expands no external entity), plain text, CSV
and HTML.

Everything is bounded: a file larger than MAX_SOURCE is searched by its name only, a ZIP
member is read up to MAX_MEMBER bytes uncompressed (a ZIP bomb stops there), a PDF up to
MAX_PAGES pages, and the text kept stops at MAX_TEXT characters. A file that cannot be read
(damaged, encrypted, not what its name says) gives no text, never an error: its name is
still found.
"""

from __future__ import annotations

import html
import io
import logging
import re
import zipfile
from collections.abc import Callable, Iterator
from pathlib import PurePosixPath
from typing import BinaryIO
from xml.parsers import expat

import nh3

log = logging.getLogger(__name__)

MAX_SOURCE = 20 * 1024 * 1024
MAX_MEMBER = 32 * 1024 * 1024
MAX_MEMBERS = 500  # slides or sheets of one file
MAX_PAGES = 500
MAX_TEXT = 100_000
_CHUNK = 64 * 1024

_SPACES = re.compile(r"[^\S\n]+")
_BLANK_LINES = re.compile(r"\n\s*\n\s*")
_SLIDE = re.compile(r"ppt/slides/slide\d+\.xml|xl/worksheets/sheet\d+\.xml")

# The elements after which a line ends, and those that stand for a space (both formats).
_LINE_ENDS = frozenset({"p", "h", "br", "tr", "si", "line-break", "list-item"})
_SPACERS = frozenset({"tab", "s", "c", "tc", "table-cell"})


class _Full(Exception):
    """Enough text: stop reading."""


def extract(source: BinaryIO, size: int, filename: str, content_type: str) -> str:
    """The searchable text of a file of `size` bytes read from `source`; "" when there is
    none or it cannot be read."""
    reader = _reader(filename, content_type)
    if reader is None or size > MAX_SOURCE:
        return ""
    try:
        return tidy(reader(source))
    except Exception as exc:  # a damaged or hostile file: its name is still searched
        log.info("no text read from an attachment (%s): %s", type(exc).__name__, exc)
        return ""


def readable(filename: str, content_type: str) -> bool:
    """Whether mailhub reads text from files of this name and type."""
    return _reader(filename, content_type) is not None


def _reader(filename: str, content_type: str) -> Callable[[BinaryIO], str] | None:
    suffix = PurePosixPath(filename.lower()).suffix
    by_suffix: dict[str, Callable[[BinaryIO], str]] = {
        ".pdf": _pdf,
        ".docx": _ooxml_word,
        ".xlsx": _ooxml_sheets,
        ".pptx": _ooxml_sheets,
        ".odt": _odf,
        ".ods": _odf,
        ".odp": _odf,
        ".txt": _plain,
        ".csv": _plain,
        ".md": _plain,
        ".htm": _html,
        ".html": _html,
    }
    if suffix in by_suffix:
        return by_suffix[suffix]
    kind = content_type.split(";")[0].strip().lower()
    if kind == "application/pdf":
        return _pdf
    if kind == "text/html":
        return _html
    if kind.startswith("text/"):
        return _plain
    return None


def tidy(text: str) -> str:
    """Runs of spaces as one, at most one empty line in a row, at most MAX_TEXT characters."""
    text = _SPACES.sub(" ", text[: MAX_TEXT * 2])
    return _BLANK_LINES.sub("\n\n", text).strip()[:MAX_TEXT]


def _decoded(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _plain(source: BinaryIO) -> str:
    return _decoded(source.read(MAX_TEXT * 4))


def _html(source: BinaryIO) -> str:
    markup = _decoded(source.read(MAX_TEXT * 8))
    markup = re.sub(r"<(?:br|/p|/div|/li|/tr|/h\d)\b", lambda m: "\n" + m.group(0), markup)
    return html.unescape(nh3.clean(markup, tags=set()))


def _pdf(source: BinaryIO) -> str:
    from pypdf import PdfReader  # only a worker reading a PDF pays for importing it

    reader = PdfReader(source)
    if reader.is_encrypted:
        return ""
    parts: list[str] = []
    length = 0
    for number, page in enumerate(reader.pages):
        if number >= MAX_PAGES or length >= MAX_TEXT:
            break
        text = page.extract_text() or ""
        parts.append(text)
        length += len(text)
    return "\n\n".join(parts)


def _ooxml_word(source: BinaryIO) -> str:
    with zipfile.ZipFile(source) as archive:
        names = set(archive.namelist())
        parts = ["word/document.xml"] + sorted(
            n for n in names if re.fullmatch(r"word/(?:header|footer|footnotes)\d*\.xml", n)
        )
        return _xml_members(archive, [n for n in parts if n in names])


def _ooxml_sheets(source: BinaryIO) -> str:
    with zipfile.ZipFile(source) as archive:
        names = archive.namelist()
        members = [n for n in names if n == "xl/sharedStrings.xml"]
        members += sorted((n for n in names if _SLIDE.fullmatch(n)), key=_numbered)
        return _xml_members(archive, members[:MAX_MEMBERS])


def _odf(source: BinaryIO) -> str:
    with zipfile.ZipFile(source) as archive:
        return _xml_members(archive, ["content.xml"])


def _numbered(name: str) -> tuple[int, str]:
    digits = re.search(r"(\d+)\.xml$", name)
    return (int(digits.group(1)) if digits else 0, name)


def _xml_members(archive: zipfile.ZipFile, members: list[str]) -> str:
    """The character data of the members, in document order, with a line end after each
    paragraph, row or shared string, and a space for each tab or cell."""
    out: list[str] = []
    length = 0

    def text(data: str) -> None:
        nonlocal length
        out.append(data)
        length += len(data)
        if length > MAX_TEXT:
            raise _Full

    def start(name: str, _attrs: dict[str, str]) -> None:
        if name.rsplit(":", 1)[-1] in _SPACERS:
            out.append(" ")

    def end(name: str) -> None:
        if name.rsplit(":", 1)[-1] in _LINE_ENDS:
            out.append("\n")

    try:
        for member in members:
            parser = expat.ParserCreate()
            parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
            parser.CharacterDataHandler = text
            parser.StartElementHandler = start
            parser.EndElementHandler = end
            for chunk in _bounded(archive, member):
                parser.Parse(chunk, False)
            parser.Parse(b"", True)
            out.append("\n")
    except _Full:
        pass
    return "".join(out)


def _bounded(archive: zipfile.ZipFile, member: str) -> Iterator[bytes]:
    """A member's bytes in chunks, at most MAX_MEMBER of them whatever its header claims."""
    read = 0
    with archive.open(member) as stream:
        while read < MAX_MEMBER:
            chunk = stream.read(min(_CHUNK, MAX_MEMBER - read))
            if not chunk:
                return
            read += len(chunk)
            yield chunk


def from_bytes(data: bytes, filename: str, content_type: str) -> str:
    """`extract` for a file held in memory."""
    return extract(io.BytesIO(data), len(data), filename, content_type)


# Run as `python -m mailhub.content.extract PATH FILENAME CONTENT_TYPE` by the worker, so that
# a file built to make a parser loop or swell costs one child process, never the worker: the
# child limits its own memory and CPU before it opens the file, and prints the text.
CHILD_MEMORY = 1024 * 1024 * 1024
CHILD_CPU_SECONDS = 20


def _child(path: str, filename: str, content_type: str) -> None:
    import resource
    import sys

    resource.setrlimit(resource.RLIMIT_AS, (CHILD_MEMORY, CHILD_MEMORY))
    resource.setrlimit(resource.RLIMIT_CPU, (CHILD_CPU_SECONDS, CHILD_CPU_SECONDS))
    with open(path, "rb") as source:
        size = source.seek(0, io.SEEK_END)
        source.seek(0)
        text = extract(source, size, filename, content_type)
    sys.stdout.buffer.write(text.encode("utf-8", "replace"))


if __name__ == "__main__":
    import sys

    _child(*sys.argv[1:4])
