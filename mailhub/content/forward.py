"""Forwarded mail: the forwarded message is the content, and its original sender is kept.

Recognised by the subject prefix clients add (Fwd:, Fw:, Tr: in French, WG: in German, RV: in
Spanish, I: in Italian, Doorst: in Dutch, VS: in Finnish, PD: in Polish) together with the
header block they put above the forwarded text: Gmail's "---------- Forwarded message
---------", Apple Mail's "Begin forwarded message:", Outlook's "From: … Sent: …" block — or a
message/rfc822 attachment (forwarded "as attachment").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mailhub.content.parse import ParsedMail, parse_message

_PREFIX = re.compile(r"^\s*((fwd?|fw|tr|wg|rv|i|doorst|vs|pd|enc|vb)\s*:\s*)+", re.IGNORECASE)
# Within one line ([ \t], not \s): a \s* at each line start would read every blank line that
# follows, once per line, which is quadratic in a mail of many empty lines.
_MARKER = re.compile(
    r"^[ \t]*(-{3,}[ \t]*(Forwarded message|Weitergeleitete Nachricht|Message transféré|"
    r"Mensaje reenviado|Messaggio inoltrato|Doorgestuurd bericht|Original Message|"
    r"Ursprüngliche Nachricht)[ \t]*-*|Begin forwarded message:|Anfang der weitergeleiteten Nachricht:|"
    r"Début du message réexpédié :|_{20,})[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)
_FIELD = re.compile(
    r"^\s*\*?(From|Von|De|Da|Van|Od|Date|Datum|Sent|Gesendet|Envoyé|Enviado|Subject|Betreff|Objet|Asunto|Oggetto|Onderwerp)\*?\s*:\*?\s*(.+?)\s*$",
    re.IGNORECASE,
)
_FROM = {"from", "von", "de", "da", "van", "od"}
_DATE = {"date", "datum", "sent", "gesendet", "envoyé", "enviado"}
_SUBJECT = {"subject", "betreff", "objet", "asunto", "oggetto", "onderwerp"}


@dataclass(frozen=True)
class Forwarded:
    original_from: str
    original_date: str
    original_subject: str


def strip_prefix(subject: str) -> str:
    """The subject without the forward prefixes, as the original had it."""
    return _PREFIX.sub("", subject).strip() or subject.strip()


def forwarded_of(parsed: ParsedMail) -> Forwarded | None:
    marker = _MARKER.search(parsed.text)
    if marker is not None and (
        _PREFIX.match(parsed.subject) or "forward" in marker.group(0).lower()
    ):
        fields: dict[str, str] = {}
        for line in parsed.text[marker.end() :].lstrip("\n").splitlines()[:8]:
            m = _FIELD.match(line)
            if m is None:
                if fields:
                    break
                continue
            key = m.group(1).lower()
            kind = (
                "from"
                if key in _FROM
                else "date"
                if key in _DATE
                else "subject"
                if key in _SUBJECT
                else ""
            )
            if kind and kind not in fields:
                fields[kind] = m.group(2)
        if "from" in fields:
            return Forwarded(fields["from"], fields.get("date", ""), fields.get("subject", ""))
    if _PREFIX.match(parsed.subject):
        for f in parsed.files:
            if f.content_type == "message/rfc822" and f.data:
                inner = parse_message(f.data)
                sender = (
                    f"{inner.from_name} <{inner.from_addr}>" if inner.from_name else inner.from_addr
                )
                return Forwarded(sender, inner.headers.get("date", ""), inner.subject)
    return None
