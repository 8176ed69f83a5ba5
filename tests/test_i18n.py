"""Localized mail: every English text mailhub writes has a translation in every catalog, with the
same placeholders, and a tenant or user language picks the catalog a rejection is written in."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from mailhub import i18n
from mailhub.content import answers
from mailhub.db import unit_of_work
from mailhub.domain import directory
from mailhub.ingress.smtp import SmtpServer
from mailhub.outbound import recipients, rejection_texts
from mailhub.outbound.mails import digest
from mailhub.tasks import Runtime

from conftest import wait_until
from helpers import fixture, outbox, smtp_send


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def _catalog(locale: str) -> Catalog:
    path = i18n.LOCALES_DIR / locale / "LC_MESSAGES" / f"{i18n.DOMAIN}.po"
    with path.open("rb") as po:
        return read_po(po, locale=locale)


def _extracted() -> dict[str, str | tuple[str, str]]:
    return {msgid: message for msgid, message, _where in i18n.extract()}


def test_the_extraction_finds_the_texts_of_code_and_templates() -> None:
    found = _extracted()
    assert len(found) > 200
    # From code through _(), from definitions through N_() and Nn_(), from templates
    assert "Open the intranet" in found  # digest.py, _()
    assert rejection_texts.FALLBACK[0] in found and digest.REASONS["hourly"] in found
    assert found[digest.SUBJECTS["daily"][0]] == digest.SUBJECTS["daily"]
    assert answers.NOT_NUMBER in found and recipients.REASONS["author"] in found
    assert found["{count} comment"] == ("{count} comment", "{count} comments")  # ngettext
    # The template for translators is what the extraction finds today
    with (i18n.LOCALES_DIR / f"{i18n.DOMAIN}.pot").open("rb") as pot:
        template = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(pot) if m.id}
    assert template == set(found), "run python -m mailhub.i18n"


@pytest.mark.parametrize("locale", sorted(i18n.available() - {"en"}))
def test_every_catalog_translates_everything_with_the_same_placeholders(locale: str) -> None:
    catalog, found = _catalog(locale), _extracted()
    entries = {m.id if isinstance(m.id, str) else m.id[0]: m for m in catalog if m.id}
    assert sorted(set(found) - set(entries)) == [], "untranslated"
    assert sorted(set(entries) - set(found)) == [], "stale entries nobody uses"
    for msgid, message in found.items():
        entry = entries[msgid]
        assert not entry.fuzzy, msgid
        if isinstance(message, tuple):
            # One form per plural category of the language, each naming what the text names
            # (the count may be left to the words: "ein Kommentar").
            assert isinstance(entry.string, tuple), msgid
            assert len(entry.string) == catalog.num_plurals, msgid
            for form in entry.string:
                assert form.strip() and _fields(form) <= _fields(message[1]), msgid
                assert _fields(message[1]) - {"count"} <= _fields(form), msgid
            continue
        assert isinstance(entry.string, str) and entry.string.strip(), msgid
        # A word may be the same in both languages ("Name", "in {space}"); a sentence is not
        literal = "".join(text for text, *_ in string.Formatter().parse(msgid))
        assert entry.string != msgid or len(re.findall(r"[^\W\d_]+", literal)) <= 1, msgid
        assert _fields(entry.string) == _fields(msgid), msgid


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
        ("fr", 2000, "2\u202f000 commentaires"),
        ("de", 2000, "2.000 Kommentare"),
        ("en", 2000, "2,000 comments"),
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
