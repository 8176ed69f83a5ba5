"""Rendering: CSS inlined once per template gives the same styles a per-message premailer run
gives, for every template, and nothing of a template's Jinja logic is lost on the way."""

from __future__ import annotations

import jinja2
import lxml.html
import pytest

from mailhub import i18n
from mailhub.outbound.render import Renderer, inline_css, inline_template

from mail_context import CONTEXT, ROOT, TEMPLATES


def _naive(template: str) -> str:
    """The per-message way: render with the plain templates, then premailer the result."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(ROOT), autoescape=True, undefined=jinja2.StrictUndefined
    )
    html = env.get_template(f"{template}.html").render(
        {**CONTEXT, "_": i18n.translator("en"), "ngettext": i18n.translator("en").n, "lang": "en"}
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


def test_a_digest_names_files_gives_excerpts_and_counts_in_words() -> None:
    for locale, comment, files in (
        ("en", "1 comment", "Files: deck &lt;v2&gt;.pdf, chart.png"),
        ("de", "1 Kommentar", "Dateien: deck &lt;v2&gt;.pdf, chart.png"),
        ("fr", "1 commentaire", "Fichiers : deck &lt;v2&gt;.pdf, chart.png"),
    ):
        rendered = Renderer().render("digest", CONTEXT, locale)
        assert comment + "\n" in rendered.html and f"({comment})" in rendered.text
        assert files in rendered.html and "The review is on &lt;Thursday&gt;." in rendered.html
        assert "Numbers are in. (" in rendered.text  # a comment's files follow its line
