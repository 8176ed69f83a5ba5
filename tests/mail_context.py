"""A context every mail template renders with: each value a template asks for, with markup in
it that must come out escaped, and a body as wide as mail gets (a long link, a wide table, a
large image). Shared by the rendering tests and the browser tests of the mail layout."""

from __future__ import annotations

from typing import Any

from mailhub import TEMPLATES_DIR

ROOT = TEMPLATES_DIR / "email"
CONTEXT: dict[str, Any] = {
    "subject": "[Sales] Q3 pipeline review",
    "json_ld": '{"@context": "http://schema.org"}',
    "author_name": "Ann <Author>",
    "space_name": "Sales & Marketing",
    "page_title": "Q3 pipeline review",
    "body_html": (
        "<p>Numbers <b>are</b> in.</p><blockquote>old</blockquote>"
        "<p>https://crm.acme.example/reports/q3/pipeline/by-region/by-quarter/with-forecast"
        "?from=2026-07-01&amp;to=2026-09-30&amp;currency=EUR</p>"
        "<table><tr>" + "<td>region&nbsp;total&nbsp;forecast</td>" * 8 + "</tr></table>"
        '<p><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" width="1200" height="300"></p>'
    ),
    "body_text": "Numbers are in.",
    "page_url": "https://intranet.acme.example/t/acme/pages/1?a=1&b=2",
    "reason": "you watch the Sales space",
    "mandatory": True,
    "headline": "Your page “Q3 <review>” is published in Sales.",
    "audience": ["12 people were notified now.", "30 people will see it in their daily digest."],
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
                    "comments": [
                        {"author": "Ann <Author>", "excerpt": "Numbers are in.", "files": ["a.pdf"]}
                    ],
                    "form": False,
                    "answers": 0,
                    "excerpt": "The review is on <Thursday>.",
                    "files": ["deck <v2>.pdf", "chart.png"],
                },
                {
                    "title": "Offsite <poll>",
                    "url": "https://intranet.acme.example/t/acme/forms/1",
                    "new": True,
                    "edits": 0,
                    "comments": [],
                    "form": True,
                    "answers": 3,
                    "excerpt": "",
                    "files": [],
                },
            ],
        )
    ],
    "changes": [("-", "The review is on <Thursday>."), ("+", "The review is on <Friday>.")],
    "more": 3,
    "addresses": [
        ("Sales & <Co>", "sales@acme.example", "https://intranet.acme.example/t/acme/s/sales")
    ],
    "note": "The link works once.",
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
                "title": "Pages you wrote",
                "what": "the pages you <published>",
                "who": "members",
                "source": "your mail",
                "purpose": "what <you> wrote",
                "retention": "while kept",
                "count": 3,
                "listed": ["“Q3 <review>”, 29 November 2026"],
            }
        ]
    },
}
# Whole mails; "_name" templates are parts they include.
TEMPLATES = sorted(
    p.stem for p in ROOT.glob("*.html") if p.stem != "layout" and not p.stem.startswith("_")
)
