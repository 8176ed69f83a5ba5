"""Rendering: CSS inlined once per template gives the same styles a per-message premailer run
gives, for every template, and nothing of a template's Jinja logic is lost on the way."""

from __future__ import annotations

from typing import Any

import jinja2
import lxml.html
import pytest

from mailhub import TEMPLATES_DIR
from mailhub.outbound.render import Renderer, inline_css, inline_template

ROOT = TEMPLATES_DIR / "email"
CONTEXT: dict[str, Any] = {
    "subject": "[Sales] Q3 pipeline review",
    "json_ld": '{"@context": "http://schema.org"}',
    "author_name": "Ann <Author>",
    "space_name": "Sales & Marketing",
    "page_title": "Q3 pipeline review",
    "body_html": "<p>Numbers <b>are</b> in.</p><blockquote>old</blockquote>",
    "body_text": "Numbers are in.",
    "page_url": "https://intranet.acme.example/t/acme/pages/1?a=1&b=2",
    "reason": "you watch the Sales space",
    "mandatory": True,
    "headline": "Your page “Q3 <review>” is published in Sales.",
    "audience": ["12 people were notified now.", "30 will see it in their daily digest."],
    "preview": [("2. Which day? [Mon / Tue]", "Which day?", "single choice: Mon, Tue; required")],
    "form_url": "https://intranet.acme.example/t/acme/forms/1",
    "facts": [("From", "Eve <eve@partner.example>"), ("Why it waits", "not a member")],
    "manage_url": "https://intranet.acme.example/t/acme/unsubscribe/tok?x=1&y=2",
    "buttons": [
        ("View page", "https://intranet.acme.example/t/acme/pages/1?a=1&b=2", True),
        ("Unfollow this page", "https://intranet.acme.example/t/acme/actions/tok", False),
    ],
    "spaces": [
        (
            "Sales & Marketing",
            [
                {
                    "title": "Q3 <review>",
                    "url": "https://intranet.acme.example/t/acme/pages/1",
                    "new": True,
                    "edits": 2,
                    "comments": [{"author": "Ann <Author>", "excerpt": "Numbers are in."}],
                    "form": False,
                    "answers": 0,
                },
                {
                    "title": "Offsite <poll>",
                    "url": "https://intranet.acme.example/t/acme/forms/1",
                    "new": True,
                    "edits": 0,
                    "comments": [],
                    "form": True,
                    "answers": 3,
                },
            ],
        )
    ],
    "tenant_name": "Acme",
    "files": [
        ("plan <v2>.pdf", "1.2 MB", "https://intranet.acme.example/t/acme/files/3/x?a=1&b=2")
    ],
    "original_subject": "Hello",
    "original_to": "sales@acme.example",
    "published": False,
    "what": "Something happened.",
    "todo": "Do something.",
    "description": "Please answer by <Friday>.",
    "questions": [(1, "Your name", "", False), (2, "Which day?", "choose one", ["Mon", "Tue"])],
    "quick": [("Yes", "https://intranet.acme.example/t/acme/actions/a?x=1&y=2")],
    "quick_question": "Coming <soon>?",
    "problems": ["2. Which day?: “Thu” is not one of: Mon, Tue."],
    "lines": ["Someone, probably you, asked to sign in to <Acme>."],
    "report": {
        "categories": [
            {
                "table": "pages",
                "purpose": "what <you> wrote",
                "retention": "while kept",
                "count": 1,
                "entries": [{"title": "Q3 <review>"}],
            }
        ]
    },
}
# Whole mails; "_name" templates are parts they include.
TEMPLATES = sorted(
    p.stem for p in ROOT.glob("*.html") if p.stem != "layout" and not p.stem.startswith("_")
)


def _naive(template: str) -> str:
    """The per-message way: render with the plain templates, then premailer the result."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(ROOT), autoescape=True, undefined=jinja2.StrictUndefined
    )
    html = env.get_template(f"{template}.html").render(
        {**CONTEXT, "_": lambda s, **kw: s.format(**kw) if kw else s, "lang": "en"}
    )
    return inline_css(html)


def _styles(html: str) -> list[tuple[str, frozenset[str]]]:
    """(tag, style declarations) of the template's own elements, in document order.

    Left out: the page's own HTML (styled by the <style> block, not inlined per message any
    more), <body> (Gmail drops its style), and links in the footer (a layout-to-child rule).
    """
    doc = lxml.html.document_fromstring(html)
    out = []
    for el in doc.iter():
        if not isinstance(el.tag, str) or el.tag in ("html", "head", "body", "meta", "title"):
            continue
        if el.xpath("ancestor::div[contains(@class, 'content')]") or el.tag in ("style", "script"):
            continue
        if el.tag == "a" and el.xpath("ancestor::div[contains(@class, 'footer')]"):
            continue
        style = frozenset(
            d.strip().replace(" ", "") for d in el.get("style", "").split(";") if d.strip()
        )
        out.append((el.tag, style))
    return out


@pytest.mark.parametrize("template", TEMPLATES)
def test_inlined_once_equals_inlined_per_message(template: str) -> None:
    fast = Renderer().render(template, CONTEXT)
    assert _styles(fast.html) == _styles(_naive(template))
    assert 'style="' in fast.html and "<style>" in fast.html  # both, for every kind of client


@pytest.mark.parametrize("template", TEMPLATES)
def test_values_are_escaped_and_links_kept(template: str) -> None:
    html = Renderer().render(template, CONTEXT).html
    assert "Ann <Author>" not in html
    if "author_name" in (ROOT / f"{template}.html").read_text():
        assert "Ann &lt;Author&gt;" in html
    if "page_url" in (ROOT / f"{template}.html").read_text():
        assert 'href="https://intranet.acme.example/t/acme/pages/1?a=1&amp;b=2"' in html
    assert "xJINJAx" not in html


def test_jinja_tags_survive_inlining_in_text_attributes_and_between_elements() -> None:
    source = (
        '{% if x > 1 %}<p class="a" title="{{ t }}">{{ "<b>" if y else "&" }}</p>{% endif %}'
        "{# a comment with <tags> #}<ul>{% for i in items %}<li>{{ i }}</li>{% endfor %}</ul>"
    )
    inlined = inline_template(source, ".a { color: red } li { margin: 0 }")
    assert '{% if x > 1 %}<p class="a" title="{{ t }}" style="color:red">' in inlined
    assert '{{ "<b>" if y else "&" }}' in inlined and "{# a comment with <tags> #}" in inlined
    assert '{% for i in items %}<li style="margin:0">{{ i }}</li>{% endfor %}' in inlined
    out = jinja2.Environment().from_string(inlined).render(x=2, t="T", y=True, items=[1, 2])
    assert out.count("<li") == 2 and "&lt;b&gt;" not in out
