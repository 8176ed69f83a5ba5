"""Gmail action markup: the JSON-LD that lets an inbox show a one-click button.

A ViewAction on every notification (schema.org EmailMessage → potentialAction). Built as data
and serialised here, so the template never hand-writes JSON.
"""

from __future__ import annotations

import json
from typing import Any


def view_action(
    url: str, name: str, description: str, publisher: str, publisher_url: str
) -> dict[str, Any]:
    return {
        "@context": "http://schema.org",
        "@type": "EmailMessage",
        "potentialAction": {"@type": "ViewAction", "url": url, "target": url, "name": name},
        "description": description,
        "publisher": {"@type": "Organization", "name": publisher, "url": publisher_url},
    }


def to_script(markup: dict[str, Any]) -> str:
    """JSON safe inside <script>: no "</" can close the element early."""
    return json.dumps(markup, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
