"""Answers to a form as people write them in a reply: numbered, named, under each quoted
question, top- or bottom-posted, with signatures and Outlook's unquoted history; and every value
checked against its question, with one clear line per problem."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailhub.content.answers import check, from_reply

from conftest import CORPUS

REPLIES = CORPUS / "email_reply_parser"

OFFSITE: list[dict[str, Any]] = [
    {"text": "Your name", "kind": "short", "required": True},
    {"text": "Which day?", "kind": "single", "required": True, "options": ["Mon", "Tue", "Wed"]},
    {"text": "Vegetarian?", "kind": "yes_no", "required": True, "options": ["Yes", "No"]},
    {"text": "Guests", "kind": "number", "required": False},
    {"text": "Arrival", "kind": "date", "required": False},
    {
        "text": "Snacks",
        "kind": "multiple",
        "required": False,
        "options": ["Fruit", "Crisps", "Nuts"],
    },
    {"text": "Anything else?", "kind": "long", "required": False},
]

# The invitation's text as a mail client quotes it under a reply.
INVITATION = (
    "> Ann asks you to answer “Offsite”.\n"
    ">\n"
    "> 1. Your name\n"
    "> 2. Which day?\n"
    ">    Mon / Tue / Wed\n"
    ">    (choose one)\n"
    "> 3. Vegetarian?\n"
    ">    (yes or no)\n"
    "> 4. Guests\n"
    ">    (a number; optional)\n"
    "> 5. Arrival\n"
    ">    (a date, like 2027-03-12; optional)\n"
    "> 6. Snacks\n"
    ">    Fruit / Crisps / Nuts\n"
    "> 7. Anything else?\n"
    ">    (as long as you like; optional)\n"
    ">\n"
    "> Reply to this email with your answers, one per line.\n"
    "> -- \n"
    "> You are receiving this because you watch the Sales space.\n"
)


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        # Top-posted, numbered, the way the invitation asks
        (
            "1. Ann\n2. tue\n3. yes\n\nOn Tue, Nov 24, 2026 at 10:02 AM Acme wrote:\n" + INVITATION,
            {0: "Ann", 1: "Tue", 2: "Yes"},
        ),
        # "2)" and "Q3:" numbering, letters and numbers for options, thousands in a number
        (
            "1) Ann Author\n2) b\nQ3: No\n4. 1,200\n6. 1, 3\n",
            {0: "Ann Author", 1: "Tue", 2: "No", 3: 1200, 5: ["Fruit", "Nuts"]},
        ),
        # Answers written under each quoted question (Gmail, Thunderbird)
        (
            "See below.\n\nOn Tue, Ann wrote:\n"
            "> 1. Your name\nBob\n> 2. Which day?\n>    Mon / Tue / Wed\n>    (choose one)\nWednesday\n"
            "> 3. Vegetarian?\n>    (yes or no)\nnope\n> 4. Guests\n>    (a number; optional)\n"
            "> 5. Arrival\n>    (a date, like 2027-03-12; optional)\n12.03.2027\n"
            "> 6. Snacks\n>    Fruit / Crisps / Nuts\ncrisps and nuts\n"
            "> 7. Anything else?\n>    (as long as you like; optional)\nI will be late.\nSorry!\n"
            "> Reply to this email with your answers, one per line.\n\nThanks, Bob\n",
            {
                0: "Bob",
                1: "Wed",
                2: "No",
                4: "2027-03-12",
                5: ["Crisps", "Nuts"],
                6: "I will be late.\nSorry!",
            },
        ),
        # Bottom-posted below the whole quote, with a signature after
        (
            "On Tue, Ann wrote:\n" + INVITATION + "\n1. Cat\n2. Mon\n3. y\n-- \nCat\nSales team\n",
            {0: "Cat", 1: "Mon", 2: "Yes"},
        ),
        # Named instead of numbered; dates in words
        (
            "Your name: Dan\nWhich day? - Mon\nVegetarian?: yes\nArrival: March 5th, 2027\n",
            {0: "Dan", 1: "Mon", 2: "Yes", 4: "2027-03-05"},
        ),
        # Outlook: top-posted, history below an unquoted header, the questions repeated in it
        (
            "1. Eve\n2. Tue\n3. No\n7. Long answer\ncontinues here\n\n"
            "________________________________\nFrom: Acme <notifications@acme.example>\n"
            "Sent: Tuesday\n\n1. Your name\n2. Which day?\n",
            {0: "Eve", 1: "Tue", 2: "No", 6: "Long answer\ncontinues here"},
        ),
        # A phone's signature ends the answers
        ("1. Fay\n2. Wed\n3. Yes\n\nSent from my iPhone\n\n4. 9\n", {0: "Fay", 1: "Wed", 2: "Yes"}),
    ],
)
def test_replies_in_the_shapes_people_write_them(reply: str, expected: dict[int, Any]) -> None:
    reading = from_reply(OFFSITE, reply)
    assert reading.problems == []
    assert reading.values == expected


def test_every_problem_is_one_line_naming_its_question() -> None:
    reading = from_reply(
        OFFSITE, "2. Thursday\n3. maybe\n4. lots\n5. 03/04/2027\n6. Fruit, Cake\n9. extra\n"
    )
    assert [str(p) for p in reading.problems] == [
        "1. Your name: No answer was found; this one is required.",
        "2. Which day?: “Thursday” is not one of: Mon, Tue, Wed.",
        "3. Vegetarian?: “maybe” is not yes or no.",
        "4. Guests: “lots” is not a number.",
        "5. Arrival: “03/04/2027” could be two dates; write it as 2027-03-12.",
        "6. Snacks: “Cake” is not one of: Fruit, Crisps, Nuts.",
        "There is no question 9; the form has 7 questions.",
    ]
    assert reading.values == {}
    assert [p.index for p in reading.problems] == [0, 1, 2, 3, 4, 5, None]
    assert str(from_reply(OFFSITE, "1. A\n2. Mon\n3. no\n5. 2027-02-30").problems[0]) == (
        "5. Arrival: “2027-02-30” is not a date that exists."
    )


@pytest.mark.parametrize(
    ("given", "value"),
    [
        ("25/12/2027", "2027-12-25"),  # unambiguous day first
        ("12/25/2027", "2027-12-25"),  # unambiguous month first
        ("Fri, 12. März 2027", "2027-03-12"),
        ("12 March 2027", "2027-03-12"),
        ("2027-03-12", "2027-03-12"),
    ],
)
def test_dates_in_the_forms_people_write_them(given: str, value: str) -> None:
    q = [{"text": "When", "kind": "date", "required": True}]
    assert check(q, {0: given}).values == {0: value}


@pytest.mark.parametrize(
    ("given", "value"),
    [("3", 3), ("-2", -2), ("2.5", 2.5), ("2,5", 2.5), ("1.000", 1000), ("1 000", 1000)],
)
def test_numbers(given: str, value: float) -> None:
    q = [{"text": "How many", "kind": "number", "required": True}]
    assert check(q, {0: given}).values == {0: value}


def test_a_one_question_form_takes_the_reply_itself_from_real_replies() -> None:
    """Real replies (another project's corpus): the new text is the answer; the quoted
    history, "On … wrote:" and "Sent from my iPhone" are not."""
    question = [{"text": "Comments", "kind": "long", "required": True}]
    iphone = from_reply(question, (REPLIES / "email_iPhone.txt").read_text())
    assert iphone.values == {0: "Here is another email"}
    riak = from_reply(question, (REPLIES / "email_1_2.txt").read_text())
    answer = str(riak.values[0])
    assert answer.startswith("Hi,\n\nYou can list the keys") or answer.startswith("Hi,")
    assert "What is the best way" not in answer and "wrote:" not in answer
    outlook = from_reply(question, (REPLIES / "email_2_1.txt").read_text())
    assert outlook.values == {0: "Outlook with a reply"}


def test_web_fields_are_checked_by_the_same_rules() -> None:
    reading = check(OFFSITE, {0: "Ann", 1: "Tue", 2: "No", 5: ["Nuts", "Fruit"], 6: ""})
    assert reading.ok and reading.values == {0: "Ann", 1: "Tue", 2: "No", 5: ["Fruit", "Nuts"]}
    assert [p.index for p in check(OFFSITE, {0: " ", 1: "Tue", 2: "No"}).problems] == [0]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_any_reply_reads_without_crashing(text: str) -> None:
    reading = from_reply(OFFSITE, text)
    assert set(reading.values) <= set(range(len(OFFSITE)))
    for problem in reading.problems:
        assert str(problem) and "\n" not in problem.label
