"""Split a reply into what the person wrote and the history their client quoted below it.

Text heuristics in the spirit of github/email_reply_parser and Discourse's EmailReplyTrimmer:
the first quote header ("On … wrote:", Outlook's "-----Original Message-----" or "From:/Sent:"
block) or trailing ">" block ends the new text; a "-- " line or "Sent from my …" starts the
signature. The trimmed part is kept, never thrown away, and a non-empty mail never yields an
empty body.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# "On <date>, <name> wrote:" and its translations. Clients wrap it over two lines when the
# name and address are long (Gmail does at 80 columns), so it is matched on a joined pair.
_WROTE = re.compile(
    r"^\s*(On|Am|Le|El|Il|Il giorno|Em|Op|Den|Dnia|W dniu|På|Le\s\w+\.?)\b.{0,300}?"
    r"(wrote|schrieb|a écrit|escribió|ha scritto|escreveu|schreef|skrev|napisał(\(a\))?|pisze)"
    r".{0,40}:\s*$",
    re.IGNORECASE | re.DOTALL,
)
# Japanese and Chinese clients put the verb last, or no verb at all: Gmail in Japanese writes
# "2026年11月24日(火) 10:02 Ann <ann@acme.example>:", in Chinese "Ann <ann@…> 于2026年11月24日
# 周二 10:02写道：", Apple Mail in Japanese "…のメッセージ:" or "…さんは書きました:".
_WROTE_CJK = re.compile(
    r"(.{4,200}(のメッセージ|書きました|写道|寫道)[:：]?\s*$)|"
    r"(^\s*\d{4}年\d{1,2}月\d{1,2}日.{0,120}<[^>@\s]+@[^>\s]+>\s*[:：]\s*$)",
    re.DOTALL,
)
# Gmail in languages that lead with the date ("tir. 24. nov. 2026 kl. 10:02 skrev Ann
# <ann@…>:" in Norwegian): a line with a digit that ends in "<address>:".
_WROTE_DATED = re.compile(r"^.{0,200}\d.{0,200}<[^>\s]+@[^>\s]+>\s*[:：]\s*$")
# Outlook's plain-text separator in each language it ships in, and QQ Mail's / Foxmail's.
_ORIGINAL = re.compile(
    r"^\s*-{2,}\s*(Original Message|Ursprüngliche Nachricht|Message d'origine|"
    r"Mensaje original|Messaggio originale|Oorspronkelijk bericht|Mensagem original|"
    r"Ursprungligt meddelande|Oprindelig meddelelse|Opprinnelig melding|"
    r"Oryginalna wiadomość|元のメッセージ|原始邮件|原始郵件|Forwarded message)\s*-{2,}\s*$",
    re.IGNORECASE,
)
# Outlook puts a rule of underscores above its "From: / Sent:" header block.
_OUTLOOK_RULE = re.compile(r"^\s*_{20,}\s*$")
_HEADER_FROM = re.compile(r"^\s*\*?(From|Von|De|Van|Da|Från|Fra|Od)\s*:\*?\s+\S", re.IGNORECASE)
_HEADER_SENT = re.compile(
    r"^\s*\*?(Sent|Date|Gesendet|Datum|Envoyé|Enviado|Inviato|Verzonden|Skickat|Sendt|Wysłane)"
    r"\s*:\*?\s+\S",
    re.IGNORECASE,
)
_SIGNATURE = re.compile(r"^-- ?$|^__+$")
_SENT_FROM = re.compile(
    r"^\s*(Sent from (my )?.{1,40}|Get Outlook for \w+|Von meinem .{1,40} gesendet|"
    r"Envoyé de mon .{1,40}|Enviado desde mi .{1,40})\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Reply:
    body: str  # what the person wrote
    trimmed: str  # quoted history and signature, kept to show collapsed


def split_reply(text: str) -> Reply:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    cut = _quote_start(lines)
    body_lines, rest = lines[:cut], lines[cut:]
    body_lines, signature = _split_signature(body_lines)
    body = "\n".join(body_lines).strip()
    trimmed = "\n".join(signature + rest).strip()
    if not body and text.strip():
        # Everything looked like history (a top-quoted forward, a bare quote): show it all.
        return Reply(body=text.strip(), trimmed="")
    return Reply(body=body, trimmed=trimmed)


def _quote_start(lines: list[str]) -> int:
    after = _Tail(lines)
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped:
            continue
        pair = stripped + " " + lines[i + 1].strip() if i + 1 < len(lines) else stripped
        # A quote header ends the new text only when history follows it; when answers follow
        # the quotes (an interleaved reply), the quotes are context and everything stays.
        header = (
            _WROTE.match(stripped) or _WROTE_CJK.match(stripped) or _WROTE_DATED.match(stripped)
        )
        if header and after.history_follows(i + 1):
            return i
        next_line = lines[i + 1].strip() if i + 1 < len(lines) else ""
        if _WROTE.match(pair) and not _WROTE.match(next_line) and after.history_follows(i + 2):
            return i
        if _ORIGINAL.match(stripped):
            return i
        if _OUTLOOK_RULE.match(stripped) and _header_block_follows(lines, i + 1):
            return i
        if _HEADER_FROM.match(stripped) and _header_block_follows(lines, i):
            return i
        if stripped.startswith(">") and after.only_quotes_follow(i):
            return i
    return len(lines)


def _header_block_follows(lines: list[str], start: int) -> bool:
    window = [ln for ln in lines[start : start + 6] if ln.strip()]
    return (
        bool(window)
        and _HEADER_FROM.match(window[0]) is not None
        and any(_HEADER_SENT.match(ln) for ln in window[1:5])
    )


class _Tail:
    """What comes after each line, worked out once from the end, so that asking it at every
    line of a long quoted mail costs nothing (asked by reading the rest each time, it was
    quadratic in the number of lines)."""

    def __init__(self, lines: list[str]) -> None:
        n = len(lines)
        # quotes_only[i]: from line i on, nothing but quotes, blanks and at most two
        # signature lines. first_quoted[i]: the first non-blank line from i on is a quote
        # (None: there is none).
        self.quotes_only = [True] * (n + 1)
        self.first_quoted: list[bool | None] = [None] * (n + 1)
        unquoted, signatures_only = 0, True
        for i in range(n - 1, -1, -1):
            line = lines[i].strip()
            self.first_quoted[i] = self.first_quoted[i + 1]
            if line:
                self.first_quoted[i] = line.startswith(">")
                if not line.startswith(">"):
                    unquoted += 1
                    signatures_only = signatures_only and bool(
                        _SIGNATURE.match(line) or _SENT_FROM.match(line)
                    )
            self.quotes_only[i] = unquoted <= 2 and signatures_only

    def history_follows(self, start: int) -> bool:
        """After a quote header: history, unless quotes are followed by answers (interleaved).

        Clients that quote without ">" (Outlook, HTML converted to text) put the old text
        right under the header; that is history too.
        """
        start = min(start, len(self.quotes_only) - 1)
        if not self.first_quoted[start]:
            return True
        return self.quotes_only[start]

    def only_quotes_follow(self, start: int) -> bool:
        """True when nothing but quotes, blanks and a signature come from `start` on.

        Otherwise it is an interleaved reply, where the quotes give context to the answers.
        """
        return self.quotes_only[min(start, len(self.quotes_only) - 1)]


def _split_signature(lines: list[str]) -> tuple[list[str], list[str]]:
    for i in range(len(lines) - 1, -1, -1):
        line = lines[i].rstrip()
        if _SIGNATURE.match(line) or (_SENT_FROM.match(line) and len(lines) - i <= 3):
            return lines[:i], lines[i:]
    return lines, []
