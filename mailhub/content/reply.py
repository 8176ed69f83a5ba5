"""What a reply says: its new part as safe HTML and text, and the quoted history set apart.

HTML client markers first (html_trim), then the text heuristics (trim) on what is left, which
also set signatures and "Sent from my …" apart.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailhub.content.html_trim import split_html_reply
from mailhub.content.parse import ParsedMail
from mailhub.content.sanitize import clean_html, html_to_text, text_to_html
from mailhub.content.trim import split_reply


@dataclass(frozen=True)
class ReplyContent:
    body_html: str
    body_text: str
    trimmed: str  # the history and signature as text, shown collapsed


def reply_content(parsed: ParsedMail, image_hosts: frozenset[str] = frozenset()) -> ReplyContent:
    if parsed.html.strip():
        split = split_html_reply(parsed.html)
        if split is not None:
            kept_html = clean_html(split.body, image_hosts)
            kept_text = html_to_text(kept_html)
            if kept_text.strip():
                reply = split_reply(kept_text)
                history = html_to_text(clean_html(split.trimmed))
                trimmed = "\n\n".join(p for p in (reply.trimmed, history) if p)
                if reply.body != kept_text.strip():  # a signature was set apart as well
                    kept_html = text_to_html(reply.body)
                return ReplyContent(kept_html, reply.body, trimmed)
    text = parsed.text if parsed.text.strip() else html_to_text(clean_html(parsed.html))
    reply = split_reply(text)
    return ReplyContent(text_to_html(reply.body), reply.body, reply.trimmed)
