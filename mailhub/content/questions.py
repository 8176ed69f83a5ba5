"""Reading a list of questions the way people type them into an email (issue 5's syntax).

    Please fill this in by Friday.          ← free text before the first question: description
    1. Your name                            ← numbered ("1.", "1)", "Q1:") or bulleted ("-", "*",
                                              "•"): short text
    2. Which day? [Mon / Tue / Wed]         ← inline options: single choice
    3. Snacks (choose any)                  ← "(choose any)", or "[ ] option" lines: multiple
       - Fruit
       - Crisps                             ← indented "- option" lines: single choice
    4. Anything else? (long, optional)      ← hints: (date) (number) (yes/no) (long) (optional)

Each question keeps the line it came from, so the creator's confirmation can show how every
line was understood. The result is a versioned JSON document (schema/form.schema.json).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from mailhub.errors import InvalidInput

FORMAT_VERSION = 1
KINDS = ("short", "long", "number", "date", "yes_no", "single", "multiple")

_QUESTION = re.compile(
    r"^[ \t]{0,3}(?:\d{1,2}[.)]|(?:Q|Question) ?\d{1,2}[.):]|[-*•])[ \t]+(?P<text>\S.*)$", re.I
)
_OPTION = re.compile(r"^[ \t]+(?:[-*•]|[a-z\d][.)]|\[[ xX]?\]|\([ xX]?\))[ \t]+(?P<text>\S.*)$")
_BOX = re.compile(r"^[ \t]*(?:\[[ xX]?\]|\([ xX]?\))[ \t]+(?P<text>\S.*)$")
_INLINE = re.compile(r"\[(?P<options>[^\[\]]*[/,|][^\[\]]*)\]\s*$")
# Where Outlook starts the history it does not quote with ">".
_HISTORY = re.compile(
    r"^(?:-{2,} ?(?:original message|ursprüngliche nachricht|message d'origine) ?-{2,}"
    r"|_{10,}|\*?(?:from|von|de) ?:\*? .*@.*)$",
    re.I,
)
_HINTS = re.compile(r"\((?P<hints>[^()]*)\)\s*$")
_HINT_WORDS = {
    "optional": "optional",
    "date": "date",
    "number": "number",
    "yes/no": "yes_no",
    "yes / no": "yes_no",
    "long": "long",
    "choose any": "multiple",
    "choose one": "single",
}


class NoQuestions(InvalidInput):
    """The mail holds no line mailhub can read as a question."""


@dataclass
class Question:
    text: str
    kind: str = "short"
    required: bool = True
    options: list[str] = field(default_factory=list)
    line: str = ""  # as the creator typed it
    chosen: bool = False  # a hint said single or multiple choice; option boxes do not change it

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"text": self.text, "kind": self.kind, "required": self.required}
        if self.options:
            data["options"] = self.options
        return data


@dataclass
class Definition:
    title: str
    description: str
    questions: list[Question]

    def as_json(self) -> dict[str, Any]:
        return {
            "version": FORMAT_VERSION,
            "title": self.title,
            "description": self.description,
            "questions": [q.as_json() for q in self.questions],
        }


def parse(title: str, body: str) -> Definition:
    """The form a mail's subject and (already trimmed) text describe; NoQuestions if none."""
    description: list[str] = []
    questions: list[Question] = []
    indent = 0  # of the current question's line: deeper bulleted lines are its options
    for line in _content_lines(body):
        depth = len(line) - len(line.lstrip(" \t"))
        option = _OPTION.match(line)
        box = _BOX.match(line)
        if questions and option and depth > indent:
            _add_option(questions[-1], option.group("text"), box=line.strip()[:1])
        elif questions and box:
            _add_option(questions[-1], box.group("text"), box=line.strip()[:1])
        elif (bulleted := _QUESTION.match(line)) or _INLINE.search(line):
            text = bulleted.group("text") if bulleted else line.strip()
            questions.append(_question(text, line))
            indent = depth
        elif not questions:
            description.append(line.strip())
    for q in questions:
        _settle(q)
    if not questions:
        raise NoQuestions("no line reads as a question")
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(description)).strip()
    return Definition(title.strip(), text, questions)


def _content_lines(body: str) -> list[str]:
    """The lines up to a signature ("-- ") or a quoted history (">")."""
    lines = []
    for line in body.replace("\r\n", "\n").split("\n"):
        if line in ("-- ", "--") or line.startswith(">") or _HISTORY.match(line.strip()):
            break
        lines.append(line.replace("\u00a0", " ").rstrip())
    return lines


def _question(text: str, line: str) -> Question:
    q = Question(text="", line=line.strip())
    text = text.strip()
    changed = True
    while changed:  # hints and inline options may come in either order at the end
        changed = False
        hints = _HINTS.search(text)
        if hints and _apply_hints(q, hints.group("hints")):
            text, changed = text[: hints.start()].rstrip(), True
        inline = _INLINE.search(text)
        if inline:
            parts = re.split(r"\s*[/,|]\s*", inline.group("options").strip())
            q.options += [p for p in parts if p]
            if q.kind == "short":
                q.kind = "single"
            text, changed = text[: inline.start()].rstrip(), True
    q.text = text.rstrip(":").rstrip()
    if not q.text:  # "1. (optional)": nothing but hints is a question about the hint itself
        return Question(
            text=line.strip().lstrip("-*•0123456789.) \t") or line.strip(), line=line.strip()
        )
    return q


def _apply_hints(q: Question, hints: str) -> bool:
    """Apply "(long, optional)"; False when the parentheses are not hints but part of the text."""
    words = [w.strip().lower() for w in hints.split(",")]
    if not words or any(w not in _HINT_WORDS for w in words):
        return False
    for w in words:
        meaning = _HINT_WORDS[w]
        if meaning == "optional":
            q.required = False
        elif meaning in ("multiple", "single"):
            q.kind, q.chosen = meaning, True
        elif q.kind in ("short", "single"):
            q.kind = meaning
    return True


def _add_option(q: Question, text: str, box: str) -> None:
    """Add an option; "[ ]" boxes make a question multiple choice, "( )" ones single, unless
    its hint ("choose one", "choose any") already said which."""
    q.options.append(text.strip())
    if q.chosen:
        return
    if box == "[":
        q.kind = "multiple"
    elif q.kind == "short":
        q.kind = "single"


def _settle(q: Question) -> None:
    """Make kind and options agree: yes/no has its two answers, a choice needs options."""
    if q.kind == "yes_no":
        q.options = ["Yes", "No"]
    elif q.kind in ("single", "multiple") and len(q.options) < 2:
        q.kind, q.options = "short", []
    elif q.kind not in ("single", "multiple"):
        q.options = []
