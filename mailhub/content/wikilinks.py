"""Links between pages by title: "[[Q3 plan]]" in a page or comment, mailed or typed, becomes a
link to the page of that title, when there is one the readers may see. What no page answers
stays as it was written. Linear: one bounded pattern over the sanitized HTML, and at most
MAX_LINKS lookups per text."""

from __future__ import annotations

import html
import re
from collections.abc import Callable

MAX_LINKS = 50
_LINK = re.compile(r"\[\[([^\[\]<>\n]{1,200})\]\]")


def link_titles(markup: str, url_of: Callable[[str], str | None]) -> str:
    """`markup` (sanitized HTML) with each [[Title]] that `url_of` knows made a link."""
    looked = 0

    def replace(m: re.Match[str]) -> str:
        nonlocal looked
        title = " ".join(html.unescape(m.group(1)).split())
        if not title or looked >= MAX_LINKS:
            return m.group(0)
        looked += 1
        url = url_of(title)
        if url is None:
            return m.group(0)
        return f'<a href="{html.escape(url)}" class="page-link">{html.escape(title)}</a>'

    return _LINK.sub(replace, markup)
