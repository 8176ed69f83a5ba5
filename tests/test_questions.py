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
