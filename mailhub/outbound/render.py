"""Rendering notifications: Jinja2 HTML and text from templates/email, CSS inlined.

Inlining runs once per rendered mail through premailer, as the design names it; the
notifications issue measures and reworks this for bulk sends.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from premailer import Premailer

from mailhub import TEMPLATES_DIR, i18n


@dataclass(frozen=True)
class Rendered:
    html: str
    text: str


class Renderer:
    def __init__(self, root: Path = TEMPLATES_DIR / "email") -> None:
        loader = jinja2.FileSystemLoader(root)
        self._html = jinja2.Environment(
            loader=loader, autoescape=True, undefined=jinja2.StrictUndefined
        )
        self._text = jinja2.Environment(
            loader=loader,
            autoescape=False,
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
        )

    def render(
        self, template: str, context: dict[str, Any], locale: str = i18n.DEFAULT
    ) -> Rendered:
        """Both bodies in `locale`: templates call `_("English text", name=value)`."""
        context = {**context, "_": i18n.translator(locale), "lang": locale}
        html = self._html.get_template(f"{template}.html").render(context)
        text = self._text.get_template(f"{template}.txt").render(context)
        return Rendered(html=inline_css(html), text=text)


def inline_css(html: str) -> str:
    return str(
        Premailer(
            html,
            keep_style_tags=True,  # media queries and clients that honour <style> keep working
            strip_important=False,
            allow_network=False,
            disable_validation=True,
            cssutils_logging_level=logging.CRITICAL,
        ).transform()
    )
