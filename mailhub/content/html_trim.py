"""Cutting quoted history out of HTML replies by the markers mail clients put there.

Markers are far more reliable than text heuristics, so they are tried first. Each is the
opening tag a client wraps the quoted message in:
Gmail `<div class="gmail_quote">` (and `gmail_quote_container`), Outlook on the web and
Exchange `<div id="divRplyFwdMsg">` / `<div id="appendonsend">`, Outlook desktop's header
rule `<div style="border:none;border-top:solid #E1E1E1 1.0pt…">`, Apple Mail's
`<blockquote type="cite">`, Thunderbird's `<div class="moz-cite-prefix">`, Yahoo's
`yahoo_quoted`, ProtonMail's `protonmail_quote`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_MARKERS = re.compile(
    r"""<(div|blockquote)\b[^>]*?(
        class\s*=\s*["']?[^"'>]*\b(gmail_quote|gmail_quote_container|moz-cite-prefix|
            yahoo_quoted|protonmail_quote|OutlookMessageHeader)\b
      | id\s*=\s*["']?(divRplyFwdMsg|appendonsend|yahoo_quoted_\w+|x_divRplyFwdMsg)\b
      | type\s*=\s*["']?cite\b
      | style\s*=\s*["'][^"']*border-top\s*:\s*solid\s+\#(E1E1E1|B5C4DF)
    )""",
    re.IGNORECASE | re.VERBOSE,
)
# Outlook on the web also puts a bare rule right before divRplyFwdMsg; cut there if present.
_OUTLOOK_HR = re.compile(r"<hr\b[^>]*tabindex\s*=\s*[\"']?-1[^>]*>\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class HtmlReply:
    body: str  # the HTML before the quote (unsanitized: the caller cleans it)
    trimmed: str  # the quoted part, from its marker on


def split_html_reply(html: str) -> HtmlReply | None:
    """The reply and its quoted history, or None when no client marker is found."""
    m = _MARKERS.search(html)
    if m is None:
        return None
    cut = m.start()
    before = html[:cut]
    rule = _OUTLOOK_HR.search(before)
    if rule is not None:
        cut = rule.start()
    return HtmlReply(body=html[:cut], trimmed=html[cut:])
