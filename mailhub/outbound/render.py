"""Rendering notifications: Jinja2 HTML and text from templates/email, CSS inlined.

Clients that drop <style> (Gmail in some apps, Outlook.com's older views) need the CSS in
style attributes. premailer does that, but at about 3 ms a message it would cap a worker at a
few hundred mails a second, so it runs once per template instead, when Jinja loads it: the
Jinja tags are swapped for placeholders, premailer inlines the markup around them, the tags go
back. What a message adds at render time (the page's own HTML) is styled by the <style> block
the layout keeps in <head>. `inline_css` is the per-message way, kept for comparison in bench/.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from premailer import Premailer

from mailhub import TEMPLATES_DIR, i18n

# Jinja's own tags: statements, expressions, comments.
_JINJA = re.compile(r"\{%.*?%\}|\{\{.*?\}\}|\{#.*?#\}", re.DOTALL)
# Plain ASCII: libxml2 percent-encodes anything else inside href and src.
_PLACEHOLDER = re.compile(r"xJINJAx(\d+)xJINJAx")
_STYLE_BLOCK = re.compile(r"<style[^>]*>(.*?)</style>", re.DOTALL | re.IGNORECASE)
_BETWEEN_TAGS = re.compile(r">\s+<")
_BODY = re.compile(r"(<body[^>]*>)(.*)(</body>)", re.DOTALL | re.IGNORECASE)


@dataclass(frozen=True)
class Rendered:
    html: str
    text: str


class InliningLoader(jinja2.FileSystemLoader):
    """Hands Jinja each .html template with the email CSS already in its style attributes."""

    def __init__(self, root: Path, css_from: str = "layout.html") -> None:
        super().__init__(root)
        self.css = "\n".join(_STYLE_BLOCK.findall((root / css_from).read_text(encoding="utf-8")))

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        source, filename, uptodate = super().get_source(environment, template)
        if template.endswith(".html"):
            # Indentation between tags is only bytes on the wire, to encode, hash and sign.
            source = _BETWEEN_TAGS.sub(">\n<", inline_template(source, self.css))
        return source, filename, uptodate


def inline_template(source: str, css: str) -> str:
    """Inline `css` into the markup of a Jinja template, leaving every Jinja tag as it was.

    Only the body is touched: the head keeps its <style> and its JSON-LD verbatim. A child
    template (all blocks) is a fragment and is inlined whole; rules that match across a
    layout and its child (".footer a") are for the <style> block, not for inlining.
    """
    tags: list[str] = []

    def protect(m: re.Match[str]) -> str:
        tags.append(m.group(0))
        return f"xJINJAx{len(tags) - 1}xJINJAx"

    body = _BODY.search(source)
    head, fragment, tail = (
        (source[: body.start(2)], body.group(2), source[body.end(2) :])
        if body
        else ("", source, "")
    )
    protected = _JINJA.sub(protect, fragment)
    inlined = inline_css(f"<html><body>{protected}</body></html>", css_text=css, keep=False)
    inner = _BODY.search(inlined)
    assert inner is not None
    restored = _PLACEHOLDER.sub(lambda m: tags[int(m.group(1))], inner.group(2))
    return head + restored + tail


class Renderer:
    def __init__(self, root: Path = TEMPLATES_DIR / "email") -> None:
        # auto_reload off: a worker's templates do not change under it, and checking every
        # template file's mtime on every render was a third of the rendering time.
        self._html = jinja2.Environment(
            loader=InliningLoader(root),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            auto_reload=False,
        )
        self._text = jinja2.Environment(
            loader=jinja2.FileSystemLoader(root),
            autoescape=False,
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
            auto_reload=False,
        )

    def render(
        self, template: str, context: dict[str, Any], locale: str = i18n.DEFAULT
    ) -> Rendered:
        """Both bodies in `locale`: templates call `_("English text", name=value)`."""
        _ = i18n.translator(locale)
        context = {**context, "_": _, "ngettext": _.n, "lang": locale}
        html = self._html.get_template(f"{template}.html").render(context)
        text = self._text.get_template(f"{template}.txt").render(context)
        return Rendered(html=html, text=text)


def inline_css(html: str, css_text: str | None = None, keep: bool = True) -> str:
    """premailer on one document: the naive per-message way, and the per-template step."""
    return str(
        Premailer(
            html,
            css_text=css_text,
            keep_style_tags=keep,  # media queries and clients that honour <style> keep working
            strip_important=False,
            allow_network=False,
            disable_validation=True,
            cssutils_logging_level=logging.CRITICAL,
        ).transform()
    )
