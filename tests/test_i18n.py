"""Localized mail: every English text mailhub writes has a translation in every catalog, with the
same placeholders, and a tenant or user language picks the catalog a rejection is written in."""

from __future__ import annotations

import ast
import json
import re
import string
from pathlib import Path

import pytest

from mailhub import ROOT, TEMPLATES_DIR, i18n
from mailhub.content import answers
from mailhub.db import unit_of_work
from mailhub.domain import directory
from mailhub.ingress.smtp import SmtpServer
from mailhub.outbound import recipients, rejection_texts
from mailhub.outbound.mails import digest
from mailhub.tasks import Runtime

from conftest import wait_until
from helpers import fixture, outbox, smtp_send

_TEMPLATE_CALL = re.compile(r"""_\(\s*"((?:[^"\\]|\\.)*)\"""")
_TEMPLATE_PLURAL = re.compile(r"""_\.n\(\s*"((?:[^"\\]|\\.)*)",\s*"((?:[^"\\]|\\.)*)\"""")


def _msgids() -> set[str]:
    """What a translator must translate: `_("…")` in templates and code, and the rejection texts."""
    ids = {text for pair in rejection_texts.TEXTS.values() for text in pair}
    ids |= set(rejection_texts.FALLBACK)
    ids |= set(recipients.REASONS.values())  # why a mail came, translated in its footer
    ids |= set(digest.REASONS.values())  # why a digest came
    ids |= set(answers.MESSAGES)  # what is wrong with an answer to a form, said in a receipt
    for path in TEMPLATES_DIR.rglob("*.[ht][tx][mt]*"):
        ids |= set(_TEMPLATE_CALL.findall(path.read_text(encoding="utf-8")))
    for path in (ROOT / "mailhub").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "_" and node.args:
                ids |= {
                    c.value
                    for c in ast.walk(node.args[0])
                    if isinstance(c, ast.Constant) and isinstance(c.value, str)
                }
    return ids


def _plural_msgids() -> dict[str, str]:
    """Texts with plural forms, `_.n("singular", "plural", count)`: singular to plural."""
    pairs = dict(digest.SUBJECTS.values())
    for path in TEMPLATES_DIR.rglob("*.[ht][tx][mt]*"):
        pairs |= dict(_TEMPLATE_PLURAL.findall(path.read_text(encoding="utf-8")))
    for path in (ROOT / "mailhub").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "n"
                and getattr(node.func.value, "id", "") == "_"
                and len(node.args) >= 2
                and all(isinstance(a, ast.Constant) for a in node.args[:2])
            ):
                pairs[node.args[0].value] = node.args[1].value  # type: ignore[attr-defined]
    return pairs


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("locale", sorted(i18n.available() - {"en"}))
def test_every_catalog_translates_everything_with_the_same_placeholders(locale: str) -> None:
    catalog = json.loads((i18n.LOCALES_DIR / f"{locale}.json").read_text(encoding="utf-8"))
    ids, plurals = _msgids(), _plural_msgids()
    assert len(ids) > 30 and len(plurals) > 8  # the extraction finds the texts at all
    assert sorted((ids | set(plurals)) - set(catalog)) == [], "untranslated"
    assert sorted(set(catalog) - ids - set(plurals)) == [], "stale entries nobody uses"
    for msgid, text in catalog.items():
        if msgid in plurals:
            # One form per plural category of the language, each naming what the text names
            # (the count may be left to the words: "ein Kommentar").
            assert isinstance(text, list) and len(text) == i18n.PLURAL_FORMS[locale], msgid
            for form in text:
                assert form.strip() and _fields(form) <= _fields(plurals[msgid]), msgid
                assert _fields(plurals[msgid]) - {"count"} <= _fields(form), msgid
            continue
        assert isinstance(text, str) and text.strip() and text != msgid, msgid
        assert _fields(text) == _fields(msgid), msgid


@pytest.mark.parametrize(
    ("locale", "count", "expected"),
    [
        ("en", 1, "1 comment"),
        ("en", 2, "2 comments"),
        ("en", 0, "0 comments"),
        ("de", 1, "1 Kommentar"),
        ("de", 3, "3 Kommentare"),
        ("fr", 0, "0 commentaire"),
        ("fr", 1, "1 commentaire"),
        ("fr", 2, "2 commentaires"),
    ],
)
def test_plurals_follow_each_languages_rule(locale: str, count: int, expected: str) -> None:
    assert i18n.translator(locale).n("{count} comment", "{count} comments", count) == expected


def test_digest_wording_has_its_article_and_number() -> None:
    en, de, fr = (i18n.translator(x) for x in ("en", "de", "fr"))
    assert en(digest.REASONS["hourly"]) == "you chose an hourly digest"
    assert (
        en.n(*digest.SUBJECTS["daily"], 1, tenant="Acme") == "Your daily digest from Acme: 1 update"
    )
    assert de.n(*digest.SUBJECTS["weekly"], 1, tenant="Acme").endswith("1 Neuigkeit")
    assert "stündliche" in de(digest.REASONS["hourly"])
    assert fr.n(*digest.SUBJECTS["daily"], 2, tenant="Acme").endswith("2 nouveautés")


def test_negotiation_falls_back_from_region_to_language_to_english(tmp_path: Path) -> None:
    assert i18n.negotiate("de-CH", "fr") == "de"
    assert i18n.negotiate(None, "fr_FR") == "fr"
    assert i18n.negotiate("pt-BR", "") == "en"
    assert i18n.translator("de")("What happened:") == "Was geschehen ist:"
    # A text missing from a catalog is written in English rather than failing the send
    assert i18n.translator("de")("Not in any catalog {x}", x=1) == "Not in any catalog 1"


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.usefixtures("acme")
def test_rejections_are_written_in_the_tenant_or_the_users_language(
    runtime: Runtime, smtp: SmtpServer
) -> None:
    # Given Acme writes German, and Cat chose French
    with unit_of_work(runtime.sessions) as s:
        acme = directory.get_tenant(s, "acme")
        directory.set_policy(s, acme, locale="de")
        directory.get_user(s, acme, "cat@acme.example").locale = "fr"

    # When a stranger and Cat both mail a space that does not exist or cannot take them
    stranger = fixture("page_plain.eml").replace(b"ann@acme.example", b"eve@partner.example")
    smtp_send(smtp.port, "eve@partner.example", ["sales@acme.example"], stranger)
    cat = fixture("empty.eml").replace(b"ann@acme.example", b"cat@acme.example")
    smtp_send(smtp.port, "cat@acme.example", ["sales@acme.example"], cat)
    wait_until(lambda: len(outbox(runtime)) == 2)
    answers = {str(m["To"]): m for m in outbox(runtime)}

    # Then the stranger is answered in the tenant's German, Cat in her French
    eve = answers["eve@partner.example"]
    assert eve["Subject"] == "Ihre Nachricht konnte nicht verwendet werden"
    assert "Intranet von Acme" in str(eve["From"])
    text = eve.get_body(preferencelist=("plain",)).get_content()
    assert "eve@partner.example ist kein Mitglied von Acme" in text
    assert "Was Sie tun können:" in text
    html = eve.get_body(preferencelist=("html",)).get_content()
    assert '<html lang="de">' in html and "Was geschehen ist:" in html
    cat_answer = next(m for addr, m in answers.items() if "cat@acme.example" in addr)
    assert (
        "Le message n’a ni objet ni texte."
        in cat_answer.get_body(preferencelist=("plain",)).get_content()
    )
