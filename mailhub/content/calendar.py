"""Calendar invitations (text/calendar, RFC 5545) as a readable summary for the page.

Outlook, Google Calendar and Apple Calendar send an invitation as a text/calendar part; people
should see what, when, where and who, not iCalendar source. The .ics itself stays attached.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_DATETIME = re.compile(r"^(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})?(Z)?)?$")


@dataclass(frozen=True)
class Event:
    summary: str
    start: str
    end: str
    location: str
    organizer: str
    method: str  # REQUEST, CANCEL, REPLY …


def parse_events(ics: str) -> list[Event]:
    lines = _unfold(ics)
    events: list[Event] = []
    method = ""
    current: dict[str, str] | None = None
    for line in lines:
        name, params, value = _split(line)
        if name == "METHOD":
            method = value.upper()
        elif name == "BEGIN" and value.upper() == "VEVENT":
            current = {}
        elif name == "END" and value.upper() == "VEVENT" and current is not None:
            events.append(
                Event(
                    summary=current.get("SUMMARY", "(no title)"),
                    start=current.get("DTSTART", ""),
                    end=current.get("DTEND", ""),
                    location=current.get("LOCATION", ""),
                    organizer=current.get("ORGANIZER", ""),
                    method=method,
                )
            )
            current = None
        elif current is not None and name in ("SUMMARY", "LOCATION", "DESCRIPTION"):
            current[name] = _text(value)
        elif current is not None and name in ("DTSTART", "DTEND"):
            current[name] = _when(value, params)
        elif current is not None and name == "ORGANIZER":
            cn = re.search(r"CN=\"?([^\";:]+)", params, re.IGNORECASE)
            mail = value.split(":", 1)[1] if value.lower().startswith("mailto:") else value
            current[name] = f"{cn.group(1)} <{mail}>" if cn else mail
    return events


def summary_text(events: list[Event]) -> str:
    blocks = []
    for e in events:
        heading = "Cancelled event" if e.method == "CANCEL" else "Calendar invitation"
        lines = [f"{heading}: {e.summary}"]
        if e.start:
            lines.append(f"When: {e.start}" + (f" – {e.end}" if e.end else ""))
        if e.location:
            lines.append(f"Where: {e.location}")
        if e.organizer:
            lines.append(f"Organizer: {e.organizer}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _unfold(ics: str) -> list[str]:
    """RFC 5545 §3.1: a line starting with a space or tab continues the previous one."""
    out: list[str] = []
    for raw in ics.replace("\r\n", "\n").split("\n"):
        if raw[:1] in (" ", "\t") and out:
            out[-1] += raw[1:]
        elif raw:
            out.append(raw)
    return out


def _split(line: str) -> tuple[str, str, str]:
    head, _, value = line.partition(":")
    name, _, params = head.partition(";")
    return name.upper(), params, value


def _text(value: str) -> str:
    return (
        value.replace("\\n", "\n")
        .replace("\\N", "\n")
        .replace("\\,", ",")
        .replace("\\;", ";")
        .replace("\\\\", "\\")
    )


def _when(value: str, params: str) -> str:
    m = _DATETIME.match(value.strip())
    if m is None:
        return value
    y, mo, d, hh, mm, _ss, utc = m.groups()
    if hh is None:
        return f"{y}-{mo}-{d}"
    tz = re.search(r"TZID=\"?([^\";:]+)", params, re.IGNORECASE)
    zone = " UTC" if utc else (f" ({tz.group(1)})" if tz else "")
    return f"{y}-{mo}-{d} {hh}:{mm}{zone}"
