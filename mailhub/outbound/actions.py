"""Gmail action markup: the JSON-LD that lets an inbox show a one-click button.

A ViewAction on every notification (schema.org EmailMessage → potentialAction), and where the
mail offers one state change (unfollow this page) a ConfirmAction whose HttpActionHandler is a
POST-only endpoint. Built as data and serialised here, so the template never hand-writes JSON.
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


def confirm_action(handler_url: str, name: str, description: str) -> dict[str, Any]:
    """A one-click state change (Gmail shows a button; Google POSTs to the handler with a
    Bearer token, once). Only for actions that are one state change and safe to confirm."""
    return {
        "@context": "http://schema.org",
        "@type": "EmailMessage",
        "potentialAction": {
            "@type": "ConfirmAction",
            "name": name,
            "handler": {"@type": "HttpActionHandler", "url": handler_url},
        },
        "description": description,
    }


# What could end the <script> element early or open a comment inside it ("</script>",
# "<!--" and "-->" in a page title), escaped the way JSON allows, as HTML serialisers do.
_SCRIPT_SAFE = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})


def to_script(markup: dict[str, Any] | list[dict[str, Any]]) -> str:
    """JSON safe inside <script>: no "<", ">" or "&" at all, so no title can close the element,
    open an HTML comment that hides the rest of the mail, or start an entity."""
    text = json.dumps(markup, ensure_ascii=False, separators=(",", ":"))
    return text.translate(_SCRIPT_SAFE)
