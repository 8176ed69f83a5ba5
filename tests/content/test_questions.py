"""Lists of questions as people type them into an email become forms: numbered, bulleted,
pasted from a document, with options inline or below, hints, signatures and quoted history;
every result validates against schema/form.schema.json."""

from __future__ import annotations

import json

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailhub import SCHEMA_DIR
from mailhub.content.questions import NoQuestions, parse
from mailhub.content.sanitize import html_to_text

SCHEMA = json.loads((SCHEMA_DIR / "form.schema.json").read_text())


def _shape(body: str) -> list[tuple[str, str, bool, list[str]]]:
    form = parse("Team offsite", body)
    jsonschema.validate(form.as_json(), SCHEMA)
    return [(q.text, q.kind, q.required, q.options) for q in form.questions]


def test_the_syntax_of_the_issue() -> None:
    body = (
        "Hi all, please fill this in by Friday.\n"
        "Thanks!\n\n"
        "1. Your name\n"
        "2. Which day? [Mon / Tue / Wed]\n"
        "3. Snacks (choose any)\n"
        "   - Fruit\n"
        "   - Crisps\n"
        "4. Room\n"
        "   - Big\n"
        "   - Small\n"
        "5. Arrival (date)\n"
        "6. Guests (number, optional)\n"
        "7. Vegetarian? (yes/no)\n"
        "8. Anything else? (long, optional)\n"
    )
    form = parse("Team offsite", body)
    assert form.description == "Hi all, please fill this in by Friday.\nThanks!"
    assert _shape(body) == [
        ("Your name", "short", True, []),
        ("Which day?", "single", True, ["Mon", "Tue", "Wed"]),
        ("Snacks", "multiple", True, ["Fruit", "Crisps"]),
        ("Room", "single", True, ["Big", "Small"]),
        ("Arrival", "date", True, []),
        ("Guests", "number", False, []),
        ("Vegetarian?", "yes_no", True, ["Yes", "No"]),
        ("Anything else?", "long", False, []),
    ]
    assert form.questions[1].line == "2. Which day? [Mon / Tue / Wed]"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # Bulleted with "-", trailing colons
        (
            "- Your name:\n- Team:\n",
            [("Your name", "short", True, []), ("Team", "short", True, [])],
        ),
        # Asterisks and bullets pasted from Word, with a no-break space
        (
            "* Project\n•\u00a0Budget (number)\n",
            [("Project", "short", True, []), ("Budget", "number", True, [])],
        ),
        # Checkbox lines under a question make it multiple choice
        (
            "1) Which sessions will you attend?\n[ ] Keynote\n[ ] Workshop\n[x] Dinner\n",
            [
                (
                    "Which sessions will you attend?",
                    "multiple",
                    True,
                    ["Keynote", "Workshop", "Dinner"],
                )
            ],
        ),
        # Inline options with commas, and an inline list that is a plain line
        (
            "Which office? [Berlin, Paris, Lisbon]\n",
            [("Which office?", "single", True, ["Berlin", "Paris", "Lisbon"])],
        ),
        # Parentheses that are not hints stay in the text
        ("1. Your role (in the project)\n", [("Your role (in the project)", "short", True, [])]),
        # A signature and the quoted history below are not questions
        (
            "1. Your name\n2. Your team\n\n-- \nAnn Author\n- Head of Sales\n",
            [("Your name", "short", True, []), ("Your team", "short", True, [])],
        ),
        (
            "- T-shirt size [S / M / L]\n\nOn Tue, Bob wrote:\n> - Old question\n",
            [("T-shirt size", "single", True, ["S", "M", "L"])],
        ),
        # One lone option is not a choice
        ("1. Lunch\n   - Pizza\n", [("Lunch", "short", True, [])]),
        # A line of nothing but a hint is still a question, about that
        ("1. (optional)\n", [("(optional)", "short", True, [])]),
        # Hints in either order with inline options
        ("1. Day [Mon / Tue] (optional)\n", [("Day", "single", False, ["Mon", "Tue"])]),
        (
            "1. Topics (choose any) [AI / Cloud / Security]\n",
            [("Topics", "multiple", True, ["AI", "Cloud", "Security"])],
        ),
        # Pasted from a document: "Q1:" numbering, blank lines between, lettered options
        (
            "Q1: Which project are you on?\n   a) Apollo\n   b) Gemini\n\n"
            "Q2. Start date (date)\n\nQuestion 3: Hours per week (number)\n",
            [
                ("Which project are you on?", "single", True, ["Apollo", "Gemini"]),
                ("Start date", "date", True, []),
                ("Hours per week", "number", True, []),
            ],
        ),
        # An HTML mail's lists, made plain (Outlook and Gmail send lists as <ol>/<ul>)
        (
            html_to_text(
                "<p>Hi all,</p><ol><li>Your name</li><li>Which day? [Mon / Tue]</li></ol>"
                "<ul><li>Dietary needs (optional)</li></ul><p>Thanks</p>"
            ),
            [
                ("Your name", "short", True, []),
                ("Which day?", "single", True, ["Mon", "Tue"]),
                ("Dietary needs", "short", False, []),
            ],
        ),
        # A phone's signature and a sign-off after the list are not questions
        (
            "Quick poll:\n- Pizza or pasta? [Pizza / Pasta]\n\nThanks,\nAnn\n\nSent from my iPhone\n",
            [("Pizza or pasta?", "single", True, ["Pizza", "Pasta"])],
        ),
        # Outlook's unquoted history below: only the new list counts
        (
            "1. Budget owner\n2. Deadline (date)\n\n-----Original Message-----\n"
            "From: Bob <bob@acme.example>\n1. Old question\n",
            [("Budget owner", "short", True, []), ("Deadline", "date", True, [])],
        ),
        # Checkboxes typed with brackets as options, and "choose one" said out loud
        (
            "1. Lunch (choose one)\n   ( ) Soup\n   ( ) Salad\n2. Notes (long, optional)\n",
            [
                ("Lunch", "single", True, ["Soup", "Salad"]),
                ("Notes", "long", False, []),
            ],
        ),
    ],
)
def test_real_world_shapes(body: str, expected: list[tuple[str, str, bool, list[str]]]) -> None:
    assert _shape(body) == expected


def test_a_mail_without_questions_is_refused() -> None:
    with pytest.raises(NoQuestions):
        parse("Hello", "Just wanted to say hi.\nSee you tomorrow?\n\n-- \n- Ann")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
def test_any_text_gives_a_valid_form_or_a_clear_refusal(body: str) -> None:
    try:
        form = parse("t", body)
    except NoQuestions:
        return
    jsonschema.validate(form.as_json(), SCHEMA)
