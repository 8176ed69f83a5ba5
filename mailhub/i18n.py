"""The languages mailhub writes in: gettext message catalogs, read and pluralized by Babel.

Catalogs are `templates/locales/LANG/LC_MESSAGES/messages.po`, the English text as the msgid;
`templates/locales/messages.pot` is what `python -m mailhub.i18n` extracts from the code and
the templates (Babel's extractors: `_("…")`, `N_("…")` where a text is defined away from its
use, `ngettext("…", "…", count)` in templates and `_.n("…", "…", count)` in code). A missing
entry falls back to English instead of failing a send. Placeholders are `{name}`, filled
after translation, so a translation may move them.

A text that names a number has plural forms, as many as the language's CLDR rule has
categories (Babel writes the Plural-Forms header; French counts 0 and 1 as one).

Dates and numbers are written per language too (`when`, `number`), by Babel's CLDR data.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path

from markupsafe import Markup, escape

from mailhub import ROOT, TEMPLATES_DIR

DEFAULT = "en"
LOCALES_DIR = TEMPLATES_DIR / "locales"
DOMAIN = "messages"
_TAG = re.compile(r"^[a-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$")
# What the extraction reads, and how: Python with Babel's extractor, templates with Jinja's.
EXTRACT_FROM = (
    ("mailhub/**.py", "python"),
    ("templates/**.html", "jinja2.ext:babel_extract"),
    ("templates/**.txt", "jinja2.ext:babel_extract"),
)
KEYWORDS = {"_": None, "_html": None, "N_": None, "n": (1, 2), "Nn_": (1, 2), "ngettext": (1, 2)}


def N_(text: str) -> str:
    """Marks a text for the catalogs where it is defined; it is translated where it is used."""
    return text


def Nn_(singular: str, plural: str) -> tuple[str, str]:
    """N_ for a text with plural forms: the pair `_.n(*pair, count)` takes."""
    return singular, plural


@dataclass(frozen=True)
class Translator:
    """gettext for one language; `_("Hello {name}", name=...)` in templates and code, and
    `_.n(singular, plural, count, name=...)` (`ngettext` in templates) for a text that names
    a number. `when` and `number` write dates and numbers as the language does."""

    locale: str
    catalog: object  # babel.support.Translations, or gettext.NullTranslations for English

    def __call__(self, msgid: str, /, **params: object) -> str:
        text = self.catalog.gettext(msgid)  # type: ignore[attr-defined]
        return text.format(**params) if params else str(text)

    def n(self, singular: str, plural: str, count: int, /, **params: object) -> str:
        text = self.catalog.ngettext(singular, plural, count)  # type: ignore[attr-defined]
        return str(text).format(count=self.number(count), **params)

    def html(self, msgid: str, /, **params: object) -> Markup:
        """A translated sentence with HTML in its placeholders (a link in a sentence): the
        text is escaped, the values too unless they are markup already (`_html` in web
        templates)."""
        return Markup(escape(self.catalog.gettext(msgid))).format(**params)  # type: ignore[attr-defined]

    def when(self, value: datetime | date, style: str = "medium") -> str:
        """A date, or a date with its time (UTC, as mailhub stores them), in this language."""
        from babel import dates

        if isinstance(value, datetime):
            return str(dates.format_datetime(value, style, tzinfo=None, locale=self.locale))
        return str(dates.format_date(value, style, locale=self.locale))

    def number(self, value: int | float) -> str:
        from babel import numbers

        return str(numbers.format_decimal(value, locale=self.locale))


@cache
def available(root: Path = LOCALES_DIR) -> frozenset[str]:
    """The languages with a catalog; read once, as the catalogs themselves are."""
    found = {p.parent.parent.name for p in root.glob(f"*/LC_MESSAGES/{DOMAIN}.po")}
    return frozenset({DEFAULT} | found)


def negotiate(*preferences: str | None, root: Path = LOCALES_DIR) -> str:
    """The first preference mailhub has a catalog for ("de-CH" finds "de"); else English."""
    have = available(root)
    for pref in preferences:
        if not pref:
            continue
        tag = pref.strip().replace("_", "-").lower()
        for candidate in (tag, tag.split("-")[0]):
            if candidate in have:
                return candidate
    return DEFAULT


def accepted(header: str, limit: int = 12) -> list[str]:
    """The languages of an Accept-Language header, most wanted first (RFC 9110 §12.5.4);
    at most `limit` of them, so a long header costs nothing."""
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(header[:1000].split(",")[:limit]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag and tag != "*" and quality > 0 and is_locale_tag(tag):
            ranked.append((-quality, index, tag))
    return [tag for _, _, tag in sorted(ranked)]


def is_locale_tag(value: str) -> bool:
    return bool(_TAG.match(value.strip()))


@cache
def translator(locale: str, root: Path = LOCALES_DIR) -> Translator:
    import gettext

    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po
    from babel.support import Translations

    path = root / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
    if locale == DEFAULT or not path.exists():
        return Translator(DEFAULT if locale == DEFAULT else locale, gettext.NullTranslations())
    with path.open("rb") as po:
        catalog = read_po(po, locale=locale, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return Translator(locale, Translations(compiled, domain=DOMAIN))


def extract() -> Iterator[tuple[str, str | tuple[str, str], list[tuple[str, int]]]]:
    """Every text to translate: (msgid, the text or its (singular, plural), where it is)."""
    from babel.messages.extract import extract_from_dir

    found = extract_from_dir(
        str(ROOT),
        list(EXTRACT_FROM),
        {},
        keywords=KEYWORDS,
        comment_tags=(),
        strip_comment_tags=True,
    )
    for path, line, message, _comments, _context in found:
        if isinstance(message, tuple):
            yield message[0], (message[0], message[1]), [(path, line)]
        else:
            yield message, message, [(path, line)]


def write_template(target: Path = LOCALES_DIR / f"{DOMAIN}.pot") -> int:
    """Extract into the .pot and bring every .po in line with it (new texts added
    untranslated, gone ones dropped). Returns how many texts there are."""
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import read_po, write_po

    template = Catalog(
        project="mailhub",
        domain=DOMAIN,
        header_comment="# The texts mailhub writes, to translate. Made by python -m mailhub.i18n",
    )
    for _msgid, message, where in extract():
        template.add(message, locations=where)
    with target.open("wb") as out:
        write_po(out, template, width=100, sort_output=True, no_location=True)
    for lang in sorted(available() - {DEFAULT}):
        path = LOCALES_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
        with path.open("rb") as po:
            catalog = read_po(po, locale=lang, domain=DOMAIN)
        catalog.update(template, no_fuzzy_matching=True)
        catalog.header_comment = (
            f"# mailhub's texts in {lang}. New texts come with python -m mailhub.i18n; a test "
            "fails until they are translated."
        )
        catalog.obsolete.clear()
        with path.open("wb") as out:
            write_po(out, catalog, width=100, sort_output=True, no_location=True)
    return len(template)


if __name__ == "__main__":  # python -m mailhub.i18n: refresh the catalogs after changing texts
    print(f"{write_template()} texts in {LOCALES_DIR}")
