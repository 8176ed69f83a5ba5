"""The languages mailhub writes in: one catalog per language, the English text as the key.

Catalogs are JSON files under templates/locales/ (`de.json`: {"English text": "Deutscher Text"}),
so a translator edits one flat file and a missing entry falls back to English instead of
failing a send. Placeholders are `{name}` and are filled after translation, so a translation may
move them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from mailhub import TEMPLATES_DIR

DEFAULT = "en"
LOCALES_DIR = TEMPLATES_DIR / "locales"
_TAG = re.compile(r"^[a-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$")


@dataclass(frozen=True)
class Translator:
    """gettext for one language; `_("Hello {name}", name=...)` in templates and code."""

    locale: str
    catalog: dict[str, str]

    def __call__(self, msgid: str, /, **params: object) -> str:
        text = self.catalog.get(msgid) or msgid
        return text.format(**params) if params else text


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
    return Translator(locale, {str(k): str(v) for k, v in catalog.items()})
