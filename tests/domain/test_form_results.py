"""Form results people can use: each question summarised in the form's order — options with
their counts (unchosen ones too), numbers as count, minimum, average and maximum, written
answers listed rather than counted as options."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mailhub.domain.forms import Results, Row
from mailhub.models import Form

DEFINITIONS: dict[str, dict[str, Any]] = {
    "Your name": {"text": "Your name", "kind": "short"},
    "Which day?": {"text": "Which day?", "kind": "single", "options": ["Mon", "Tue", "Wed"]},
    "Headcount": {"text": "Headcount", "kind": "number"},
    "Bring?": {"text": "Bring?", "kind": "multiple", "options": ["Laptop", "Slides"]},
    "Anything else?": {"text": "Anything else?", "kind": "long"},
}
# The form's order, which is not alphabetical.
QUESTIONS = ["Your name", "Which day?", "Headcount", "Bring?", "Anything else?"]


def _row(name: str, answers: dict[str, Any]) -> Row:
    return Row(name, f"{name.lower()}@acme.example", datetime(2026, 11, 29), 1, "mail", answers)


def test_each_question_is_summarised_in_the_forms_order() -> None:
    rows = [
        _row(
            "Ann", {"Your name": "Ann", "Which day?": "Tue", "Headcount": 3, "Bring?": ["Laptop"]}
        ),
        _row("Bob", {"Your name": "Bob", "Which day?": "Tue", "Headcount": "4.5"}),
        _row("Cat", {"Your name": "Cat", "Headcount": 10, "Anything else?": "Vegan lunch"}),
    ]
    summaries = Results(Form(title="Offsite"), QUESTIONS, rows, DEFINITIONS).summaries()
    assert [s.question for s in summaries] == QUESTIONS
    name, day, headcount, bring, other = summaries
    assert name.written == ["Ann", "Bob", "Cat"] and name.options == []  # listed, not counted
    assert day.options == [("Mon", 0), ("Tue", 2), ("Wed", 0)] and day.answered == 2
    assert headcount.numbers is not None
    count, low, mean, high = headcount.numbers
    assert (count, low, high) == (3, 3.0, 10.0) and abs(mean - 17.5 / 3) < 1e-9
    assert bring.options == [("Laptop", 1), ("Slides", 0)]
    assert other.written == ["Vegan lunch"] and other.answered == 1
