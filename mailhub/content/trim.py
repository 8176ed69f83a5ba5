"""Split a reply into what the person wrote and the history their client quoted below it.

The approach of Discourse's EmailReplyTrimmer, on our own marks (quote_marks.py): every line
gets a letter — text, quote, marker (a quote header, a separator, an Outlook block), delimiter,
phone signature, empty — and the shape of the whole mail decides:

- phone and app signatures ("Sent from my iPhone", "Envoyé de mon iPhone") are set apart;
- the first delimiter ("-- ", "__", "***", "ᐧ") after the first words ends the reply;
- a marker with text above it ends the reply when history follows it: no quotes at all (a client
  that quotes without marks), or one block of quotes with at most a few unquoted lines under
  it (the quoted person's signature, a list footer);
- a marker with nothing above it is a forward or a bottom-posted reply: what follows is kept (an
  answer under a quote keeps the answer); an interleaved reply keeps its answers and the quotes
  they answer, and only the header line goes;
- a block of quotes that ends the mail is history.

The trimmed part is kept, never thrown away, and a non-empty mail never yields an empty body.
Each decision reads precomputed counts, so trimming is linear in the mail's length.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mailhub.content.quote_marks import (
    DELIMITER,
    INVISIBLE,
    MARKER,
    QUOTE,
    SIGNATURE,
    TEXT,
    classify,
)

_HARD_RULE = re.compile(r"^\s*(-{2,}|_{2,}|ᐧ)\s*$")  # a delimiter, whatever follows
_UNDERLINE = re.compile(r"^(={3,}|-{3,})\s*$")  # right under a line of text: a heading
_SOFT_RULE_TEXT = 10  # a "***" or "====" rule above more text lines than this is a divider
_SIGNATURE_TEXT = 2  # a "Sent from …" line above more text lines than this is text
_FOOTER_LINES = 7  # unquoted lines under a quote that are still history (a signature, a footer)
_BLANKS = re.compile(r"\n{3,}")
_EDGES = "\r\n" + INVISIBLE  # blank and invisible


@dataclass(frozen=True)
class Reply:
    body: str  # what the person wrote
    trimmed: str  # quoted history and signature, kept to show collapsed


def split_reply(text: str) -> Reply:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    keep = _keep(lines, classify(lines))
    pairs = list(zip(lines, keep, strict=True))
    body = _BLANKS.sub("\n\n", "\n".join(ln for ln, k in pairs if k).strip(_EDGES))
    trimmed = "\n".join(ln for ln, k in pairs if not k).strip()
    if not body and text.strip():
        # Everything looked like history (a bare quote, a forward with nothing under it).
        return Reply(body=text.strip(), trimmed="")
    return Reply(body=body, trimmed=trimmed)


class _Counts:
    """Prefix counts of text and quote lines and the nearest marker, quote and content line
    around each position, so that every question about a stretch of the mail costs O(1)."""

    def __init__(self, kinds: list[str]) -> None:
        n = len(kinds)
        self.text = [0] * (n + 1)
        self.quote = [0] * (n + 1)
        for i, k in enumerate(kinds):
            self.text[i + 1] = self.text[i] + (k == TEXT)
            self.quote[i + 1] = self.quote[i] + (k == QUOTE)
        self.next_marker = [n] * (n + 1)
        self.next_content = [n] * (n + 1)
        for i in range(n - 1, -1, -1):
            self.next_marker[i] = i if kinds[i] == MARKER else self.next_marker[i + 1]
            self.next_content[i] = i if kinds[i] in (TEXT, QUOTE) else self.next_content[i + 1]
        self.prev_quote = [-1] * (n + 1)
        self.prev_text = [-1] * (n + 1)
        for i in range(1, n + 1):
            k = kinds[i - 1]
            self.prev_quote[i] = i - 1 if k == QUOTE else self.prev_quote[i - 1]
            self.prev_text[i] = i - 1 if k == TEXT else self.prev_text[i - 1]

    def texts(self, a: int, b: int) -> int:
        return self.text[b] - self.text[a] if b > a else 0

    def quotes(self, a: int, b: int) -> int:
        return self.quote[b] - self.quote[a] if b > a else 0


def _keep(lines: list[str], kinds: list[str]) -> list[bool]:
    n = len(kinds)
    _soften_rules(lines, kinds)
    keep = [k != SIGNATURE for k in kinds]
    end = _first_delimiter(kinds)
    for i in range(end, n):
        keep[i] = False
    c = _Counts(kinds)
    start = 0
    while True:
        m = c.next_marker[start]
        if m >= end:
            _cut_trailing_quotes(kinds, keep, c, start, end)
            break
        me = m
        while me < end and kinds[me] == MARKER:
            me += 1
        quotes, texts = c.quotes(me, end), c.texts(me, end)
        first = c.next_content[me]
        last_quote = c.prev_quote[end] if quotes else -1
        if c.texts(start, m) == 0:
            # Nothing written above the marker: a forward, a bottom post or an interleaved reply.
            if texts and (not quotes or kinds[first] == TEXT):
                _drop(keep, start, me)  # a forward's header: what follows is looked at again
                start = me
                continue
            if texts and c.texts(me, last_quote) == 0:
                _drop(keep, start, last_quote + 1)  # the answer under the quote
            elif texts:
                _drop_markers(kinds, keep, start, end)  # interleaved: only the header goes
                _cut_trailing_quotes(kinds, keep, c, start, end)
            else:
                _drop(keep, start, end)  # all history: the caller shows it whole
            break
        one_block = quotes and kinds[first] == QUOTE and c.texts(me, last_quote) == 0
        if (
            not quotes
            or kinds[first] == TEXT
            or (one_block and c.texts(last_quote, end) < _FOOTER_LINES)
        ):
            _drop(keep, m, end)
        else:
            _drop_markers(kinds, keep, start, end)  # answers between the quotes
            _cut_trailing_quotes(kinds, keep, c, start, end)
        break
    return keep


def _soften_rules(lines: list[str], kinds: list[str]) -> None:
    """A "***", "####" or "====" rule with much text under it divides the text; a "===="
    or "----" right under a line of text underlines a heading; a "Sent with …" line with text
    under it is part of the text."""
    below = 0
    for i in range(len(kinds) - 1, -1, -1):
        k = kinds[i]
        if k == MARKER:
            below = 0
        elif k == TEXT:
            below += 1
        elif k == SIGNATURE and below > _SIGNATURE_TEXT:
            kinds[i] = TEXT  # "Sent with love" above the rest of a letter is what they wrote
            below += 1
        elif k == DELIMITER and _UNDERLINE.match(lines[i]) and i > 0 and kinds[i - 1] == TEXT:
            kinds[i] = TEXT  # a heading's underline ("Agenda" over "------")
            below += 1
        elif k == DELIMITER and not _HARD_RULE.match(lines[i]) and below > _SOFT_RULE_TEXT:
            kinds[i] = TEXT
            below += 1


def _first_delimiter(kinds: list[str]) -> int:
    """The first delimiter below some content ends the reply (a rule at the very top does not)."""
    seen = False
    for i, k in enumerate(kinds):
        if k == DELIMITER and seen:
            return i
        seen = seen or k in (TEXT, QUOTE, MARKER)
    return len(kinds)


def _cut_trailing_quotes(
    kinds: list[str], keep: list[bool], c: _Counts, start: int, end: int
) -> None:
    last_text = c.prev_text[end]
    if last_text < start or c.quotes(last_text, end) == 0:
        return
    _drop(keep, last_text + 1, end)


def _drop(keep: list[bool], a: int, b: int) -> None:
    for i in range(a, b):
        keep[i] = False


def _drop_markers(kinds: list[str], keep: list[bool], a: int, b: int) -> None:
    for i in range(a, b):
        if kinds[i] == MARKER:
            keep[i] = False
