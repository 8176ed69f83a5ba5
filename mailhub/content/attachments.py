"""Files that come with a mail: which are refused, and how a page says so; cid: images linked.

A part is a file when it is marked as an attachment, has a file name, or is not the text or
HTML body (inline images referenced by cid:, RFC 2392). Names come through RFC 2231 and
RFC 2047 decoding (the stdlib's policy.default). Executable types are refused, never stored. Storing the rest is the use case's
(domain/attachments.py): this module is pure.
"""

from __future__ import annotations

import html
import re

from mailhub.content.files_in_mail import IncomingFile

# Windows executables and scripts: what mail filters at Microsoft and Google refuse outright.
BLOCKED_EXTENSIONS = frozenset(
    [
        "ade",
        "adp",
        "app",
        "bat",
        "chm",
        "cmd",
        "com",
        "cpl",
        "dll",
        "exe",
        "hta",
        "inf",
        "ins",
        "isp",
        "jar",
        "jse",
        "js",
        "lib",
        "lnk",
        "mde",
        "msc",
        "msi",
        "msp",
        "mst",
        "pif",
        "ps1",
        "reg",
        "scr",
        "sct",
        "shb",
        "sys",
        "vb",
        "vbe",
        "vbs",
        "vxd",
        "wsc",
        "wsf",
        "wsh",
    ]
)
BLOCKED_TYPES = frozenset(
    {"application/x-msdownload", "application/x-msdos-program", "application/x-dosexec"}
)
_CID = re.compile(r"""(src\s*=\s*["'])cid:([^"']+)(["'])""", re.IGNORECASE)


def refusal_note(refused: list[tuple[str, str]]) -> tuple[str, str]:
    """(HTML, text) telling readers of a page which files the mail carried but were left out."""
    if not refused:
        return "", ""
    items = "; ".join(f"{name} ({why})" for name, why in refused)
    text = f"Files left out: {items}."
    return f'<p class="refused-files">{html.escape(text)}</p>', text


def refusal(f: IncomingFile, max_size: int) -> str | None:
    ext = f.filename.rsplit(".", 1)[-1].lower() if "." in f.filename else ""
    if ext in BLOCKED_EXTENSIONS or f.content_type in BLOCKED_TYPES:
        return "executable files and scripts are not accepted"
    if len(f.data) > max_size:
        return f"it is larger than {max_size // (1024 * 1024)} MB"
    return None


def link_inline_images(html: str, url_of_cid: dict[str, str]) -> str:
    """Point cid: image sources at the stored files (multipart/related, RFC 2387)."""

    def replace(m: re.Match[str]) -> str:
        url = url_of_cid.get(m.group(2))
        if url is None:
            return m.group(0)
        return f"{m.group(1)}{url}{m.group(3)}"

    return _CID.sub(replace, html)
