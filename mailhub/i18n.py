"""The languages mailhub writes in: one catalog per language, the English text as the key.

Catalogs are JSON files under templates/locales/ (`de.json`: {"English text": "Deutscher Text"}),
so a translator edits one flat file and a missing entry falls back to English instead of
failing a send. Placeholders are `{name}` and are filled after translation, so a translation may
move them.

A text that names a number has plural forms: `_.n("{count} comment", "{count} comments",
count)` in code and templates, and in a catalog a list of forms under the singular English text
(`"{count} comment": ["{count} Kommentar", "{count} Kommentare"]`), one per plural category of
that language's rule (CLDR: English and German tell one from other, French counts 0 and 1 as
one).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from mailhub import TEMPLATES_DIR

DEFAULT = "en"
LOCALES_DIR = TEMPLATES_DIR / "locales"
_TAG = re.compile(r"^[a-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$")


# The plural category (an index into a catalog entry's forms) of a count, per language.
PLURAL_RULES: dict[str, Callable[[int], int]] = {
    "en": lambda n: 0 if n == 1 else 1,
    "de": lambda n: 0 if n == 1 else 1,
    "fr": lambda n: 0 if n in (0, 1) else 1,
}
PLURAL_FORMS = {"en": 2, "de": 2, "fr": 2}  # how many forms each language's entries have


@dataclass(frozen=True)
class Translator:
    """gettext for one language; `_("Hello {name}", name=...)` in templates and code, and
    `_.n(singular, plural, count, name=...)` for a text that names a number."""

    locale: str
    catalog: dict[str, str]
    plurals: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def __call__(self, msgid: str, /, **params: object) -> str:
        text = self.catalog.get(msgid) or msgid
        return text.format(**params) if params else text

    def n(self, singular: str, plural: str, count: int, /, **params: object) -> str:
        forms = self.plurals.get(singular)
        if forms:
            rule = PLURAL_RULES.get(self.locale, PLURAL_RULES[DEFAULT])
            text = forms[min(rule(count), len(forms) - 1)]
        else:  # English, or a text missing from the catalog
            text = singular if count == 1 else plural
        return text.format(count=count, **params)


@cache
def available(root: Path = LOCALES_DIR) -> frozenset[str]:
    """The languages with a catalog; read once, as the catalogs themselves are."""
    return frozenset({DEFAULT} | {p.stem for p in root.glob("*.json")})


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


def is_locale_tag(value: str) -> bool:
    return bool(_TAG.match(value.strip()))


@cache
def translator(locale: str, root: Path = LOCALES_DIR) -> Translator:
    if locale == DEFAULT:
        return Translator(DEFAULT, {})
    path = root / f"{locale}.json"
    catalog = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    return Translator(
        locale,
        {str(k): str(v) for k, v in catalog.items() if isinstance(v, str)},
        {str(k): tuple(str(f) for f in v) for k, v in catalog.items() if isinstance(v, list)},
    )
