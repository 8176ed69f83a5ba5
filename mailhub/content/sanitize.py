"""Make mailed-in content safe to show: HTML through nh3, plain text escaped into paragraphs.

nh3 (ammonia) drops scripts, event handlers and javascript: URLs. Remote images are dropped:
in mail they are mostly tracking pixels; hosts the operator allows (an intranet's own image
server, say) are kept, over https only. An image left without a source, or one pixel in size,
goes entirely, so no empty frame is shown.
"""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

import nh3

_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "div", "dl", "dt", "em",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "ol", "p",
    "pre", "q", "s", "small", "span", "strong", "sub", "sup", "table", "tbody", "td",
    "tfoot", "th", "thead", "tr", "u", "ul",
}  # fmt: skip
_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
}
# <img> as nh3 writes it: attribute values double-quoted, where a ">" may sit.
_IMG = re.compile(r'<img\b(?:[^>"]|"[^"]*"){0,10000}>', re.IGNORECASE)
_PIXEL = re.compile(r'\b(width|height)="[01](px)?"')
_URL = re.compile(r"\bhttps?://[^\s<>\"']+", re.IGNORECASE)
# HTML parsers take time quadratic in how deeply block elements nest (nh3's html5ever: 40,000
# nested <div> or <blockquote> cost 5 s). No mail client nests so deep; past MAX_DEPTH the
# tags go and their text stays.
MAX_DEPTH = 100
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)[^<>]*>")
# Elements with no content, and those a parser closes by itself at the next sibling (so an
# unclosed run of them is no nesting).
_FLAT = frozenset(
    [
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
        "p",
        "li",
        "dt",
        "dd",
        "tr",
        "td",
        "th",
        "option",
        "optgroup",
        "thead",
        "tbody",
        "tfoot",
        "colgroup",
        "rb",
        "rt",
        "rp",
    ]
)


def image_host_allowed(src: str, hosts: frozenset[str]) -> bool:
    """An https image on an allowed host (or a subdomain of one); never plain http."""
    parts = urlsplit(src)
    host = (parts.hostname or "").lower()
    return parts.scheme == "https" and any(host == h or host.endswith("." + h) for h in hosts)


def clean_html(markup: str, image_hosts: frozenset[str] = frozenset()) -> str:
    """Sanitized HTML; remote images only from `image_hosts` (MAILHUB_ALLOWED_IMAGE_HOSTS)."""

    def keep(element: str, attribute: str, value: str) -> str | None:
        if element == "img" and attribute == "src" and not value.startswith(("cid:", "/")):
            return value if image_host_allowed(value, image_hosts) else None
        return value

    cleaned = nh3.clean(
        shallow(markup),
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes={"http", "https", "mailto", "cid"},
        link_rel="noopener noreferrer nofollow",
        attribute_filter=keep,
        strip_comments=True,
    )
    return _IMG.sub(_shown_or_gone, cleaned).strip()


def _shown_or_gone(m: re.Match[str]) -> str:
    """An image whose source was dropped (a tracking pixel, a remote image) or that is a pixel
    in size leaves no empty <img> behind."""
    tag = m.group(0)
    if ' src="' not in tag or _PIXEL.search(tag):
        return ""
    return tag


def shallow(markup: str, limit: int = MAX_DEPTH) -> str:
    """The markup with every tag deeper than `limit` removed (its text kept); one pass."""
    depth = dropped = 0

    def visit(m: re.Match[str]) -> str:
        nonlocal depth, dropped
        tag = m.group(0)
        if m.group(2).lower() in _FLAT or tag.endswith("/>"):
            return tag
        if m.group(1):  # a closing tag: of a dropped element first, the innermost
            if dropped:
                dropped -= 1
                return ""
            depth = max(0, depth - 1)
            return tag
        if depth >= limit:
            dropped += 1
            return ""
        depth += 1
        return tag

    return _TAG.sub(visit, markup)


def text_to_html(text: str) -> str:
    """Plain text as escaped paragraphs, with line breaks kept and bare URLs made links."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    out = []
    for para in paragraphs:
        escaped = html.escape(para)
        linked = _URL.sub(
            lambda m: f'<a href="{m.group(0)}" rel="noopener noreferrer nofollow">{m.group(0)}</a>',
            escaped,
        )
        out.append("<p>" + linked.replace("\n", "<br>\n") + "</p>")
    return "\n".join(out)


def html_to_text(markup: str) -> str:
    """A readable plain-text rendering of sanitized HTML, for the text/plain alternative."""
    # Every pattern here is linear: a tag is read up to the next "<" or ">", and a run of
    # spaces is only tried from its start, so "<<<<…" or a long run of spaces is read once.
    text = re.sub(r"(?i)<br\s*/?>", "\n", markup)
    text = re.sub(r"(?i)</(p|div|h[1-6]|li|tr|blockquote|pre)>", "\n\n", text)
    text = re.sub(r"(?i)<li[^<>]*>", "- ", text)
    text = re.sub(r"<[^<>]+>", "", text)
    text = html.unescape(text)
    # Outlook writes empty paragraphs as <p>&nbsp;</p>: a line of only spaces is blank.
    text = re.sub(r"(?<![ \t\xa0])[ \t\xa0]+\n", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()
