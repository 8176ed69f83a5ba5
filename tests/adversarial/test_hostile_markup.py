"""A title or name that looks like markup stays text in every mail: the JSON-LD block cannot be
closed early or turned into an HTML comment that hides the rest of the notification."""

from __future__ import annotations

import json

import extruct
import lxml.html

from mailhub.outbound import actions
from mailhub.outbound.render import Renderer

HOSTILE = ["<!--<script>", "</script><b>x</b>", "--> & <!--", "a]]></script>&amp;"]


def test_json_ld_has_no_character_that_html_reads_inside_a_script() -> None:
    for title in HOSTILE:
        markup = actions.view_action("https://i.example/p/1", "View", title, title, "https://i")
        script = actions.to_script(markup)
        assert not set("<>&") & set(script)
        assert json.loads(script) == markup  # and it is still the same JSON


def test_a_hostile_title_hides_nothing_of_the_notification() -> None:
    for title in HOSTILE:
        markup = actions.view_action(
            "https://i.example/p/1", "View page", title, "Acme", "https://i"
        )
        context = {
            "subject": title,
            "json_ld": actions.to_script(markup),
            "author_name": "Ann",
            "space_name": "Sales",
            "page_title": title,
            "body_html": "<p>The body.</p>",
            "body_text": "The body.",
            "page_url": "https://i.example/p/1",
            "buttons": [("View page", "https://i.example/p/1", True)],
            "reason": "you watch Sales",
            "mandatory": False,
            "tenant_name": "Acme",
            "manage_url": "https://i.example/unsubscribe/t",
            "files": [(title, "1 KB", "https://i.example/t/acme/files/1/x/y")],
        }
        html = Renderer().render("page_created", context).html
        # Then a consumer of the markup reads the title back whole
        [found] = extruct.extract(html, syntaxes=["json-ld"])["json-ld"]
        assert found["description"] == title
        # And an HTML parser still sees the body and the button after the script
        text = lxml.html.fromstring(html).text_content()
        assert "The body." in text and "View page" in text
