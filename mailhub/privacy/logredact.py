"""Logs never hold raw email addresses, IP addresses or the secrets of links (GDPR: logs are a
store like any other, and the one nobody remembers to erase).

Installed as the LogRecord factory, so every record of every logger (mailhub's, uvicorn's
access log, aiosmtpd's, dramatiq's) is redacted when it is made, before any handler sees it:
an address becomes `<email:1a2b3c4d>` (a short keyed hash, so one person's lines can still
be followed through a log without naming them), an IP `<ip>`, and a token in a path `<token>`.
"""

from __future__ import annotations

import hashlib
import logging
import re
import traceback
from typing import Any

# Starts only where an address can start, so a long run without "@" is read once (linear).
_EMAIL = re.compile(r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
_H = r"[0-9a-fA-F]{1,4}"
# Full (eight groups) or shortened with "::"; a time like 12:30:45 is neither.
_IPV6 = re.compile(
    rf"(?<![\w:])(?:(?:{_H}:){{7}}{_H}|(?:{_H}(?::{_H})*)?::(?:{_H}(?::{_H})*)?)(?![\w:])"
)
# reply+KEY@, and /unsubscribe/TOKEN, /actions/TOKEN, /signin/TOKEN, … in URLs
_TOKEN = re.compile(r"(?<=[/+])[A-Za-z0-9_-]{20,64}(?=[/@?#\s\"']|$)")
_installed = False


def _email(match: re.Match[str]) -> str:
    digest = hashlib.sha256(b"mailhub-log:" + match.group(0).lower().encode()).hexdigest()
    return f"<email:{digest[:8]}>"


def redact(text: str) -> str:
    text = _EMAIL.sub(_email, text)
    text = _TOKEN.sub("<token>", text)
    text = _IPV6.sub("<ip>", text)
    return _IPV4.sub("<ip>", text)


def install() -> None:
    """Make every LogRecord from now on a redacted one (idempotent)."""
    global _installed
    if _installed:
        return
    make = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a malformed format string: keep what there is
            message = str(record.msg)
        record.msg, record.args = redact(message), None
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)))
        return record

    logging.setLogRecordFactory(factory)
    _installed = True
