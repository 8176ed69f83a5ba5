"""Reading answers to a form: from the fields of the web page, or from a reply to the invitation.

A reply may number its answers ("1. Ann", "2) Tue"), name the question ("Which day: Tue"),
write them under each quoted question of the invitation (as people do in Outlook and Gmail),
or, for a form of one question, just say it ("Yes"). Every value is checked against its
question the same way wherever it came from, and every problem is said in one line that names
the question, so the person can fix exactly that.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from mailhub.i18n import N_

Value = str | int | float | list[str]

# What can be wrong with an answer: catalog keys (templates/locales), filled per person.
NO_ANSWER = N_("No answer was found; this one is required.")
NOT_YES_NO = N_("“{value}” is not yes or no.")
NOT_OPTION = N_("“{value}” is not one of: {options}.")
NOT_NUMBER = N_("“{value}” is not a number.")
TWO_DATES = N_("“{value}” could be two dates; write it as 2027-03-12.")
NOT_DATE = N_("“{value}” is not a date; write it as 2027-03-12.")
NO_SUCH_DATE = N_("“{value}” is not a date that exists.")
NO_SUCH_QUESTION = N_("There is no question {numbers}; the form has {count} questions.")
MESSAGES = (
    NO_ANSWER,
    NOT_YES_NO,
    NOT_OPTION,
    NOT_NUMBER,
    TWO_DATES,
    NOT_DATE,
    NO_SUCH_DATE,
    NO_SUCH_QUESTION,
)

_NUMBERED = re.compile(r"^[ \t]*(?:Q\s*)?(?P<n>\d{1,2})[ \t]*[.):][ \t]*(?P<text>.*)$", re.I)
_QUOTE = re.compile(r"^[ \t]*(?:>[ \t]?)+")
_ATTRIBUTION = re.compile(
    r"^(?:on .{0,200}wrote:?|am .{0,200}schrieb:?|le .{0,200}a écrit ?:?|wrote:)$", re.I
)
# Where Outlook starts the history it does not quote with ">".
_HISTORY = re.compile(
    r"^(?:-{2,} ?(?:original message|ursprüngliche nachricht|message d'origine) ?-{2,}"
    r"|[-_]{10,}|\*?(?:from|von|de) ?:\*? .*)$",
    re.I,
)
# Where a phone's signature starts: nothing after it is an answer.
_MOBILE = re.compile(
    r"^(?:sent from my .*|get outlook for .*|von meinem .* gesendet|envoyé de mon .*)$", re.I
)
_YES = {"yes", "y", "yeah", "yep", "sure", "ok", "true", "ja", "oui", "si", "sí", "x"}
_NO = {"no", "n", "nope", "false", "nein", "non"}
_MONTHS = {
    m: i + 1
    for i, names in enumerate(
        [
            ("jan", "january", "januar", "janvier"),
            ("feb", "february", "februar", "février", "fevrier"),
            ("mar", "march", "märz", "maerz", "mars"),
            ("apr", "april", "avril"),
            ("may", "mai"),
            ("jun", "june", "juni", "juin"),
            ("jul", "july", "juli", "juillet"),
            ("aug", "august", "août", "aout"),
            ("sep", "sept", "september", "septembre"),
            ("oct", "october", "okt", "oktober", "octobre"),
            ("nov", "november", "novembre"),
            ("dec", "december", "dez", "dezember", "décembre", "decembre"),
        ]
    )
    for m in names
}


class Unreadable(ValueError):
    """An answer that does not fit its question; the message is a catalog key with values."""

    def __init__(self, template: str, **params: str) -> None:
        super().__init__(template.format(**params))
        self.template = template
        self.params = params


@dataclass(frozen=True)
class Problem:
    """One answer to fix: which question ("2. Which day?"; "" for the form as a whole), and
    what is wrong, as a catalog key and its values, so each person reads it in their language."""

    label: str
    template: str
    params: dict[str, str]
    index: int | None = None  # the question's

    @property
    def message(self) -> str:
        return self.template.format(**self.params)

    def __str__(self) -> str:
        return f"{self.label}: {self.message}" if self.label else self.message


@dataclass
class Reading:
    """What could be read: values by question index, and one entry per problem."""

    values: dict[int, Value] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def check(questions: list[dict[str, Any]], raw: dict[int, str | list[str]]) -> Reading:
    """Check raw answers (index → text, or a list of ticked options) against the questions."""
    reading = Reading()
    for i, q in enumerate(questions):
        given = raw.get(i)
        empty = (
            given is None
            or (isinstance(given, str) and not given.strip())
            or (isinstance(given, list) and not [g for g in given if g.strip()])
        )
        label = f"{i + 1}. {q['text']}"
        if empty:
            if q["required"]:
                reading.problems.append(Problem(label, NO_ANSWER, {}, i))
            continue
        assert given is not None
        try:
            reading.values[i] = _value(q, given)
        except Unreadable as exc:
            reading.problems.append(Problem(label, exc.template, exc.params, i))
    extra = sorted(k for k in raw if not 0 <= k < len(questions))
    if extra:
        numbers = ", ".join(str(k + 1) for k in extra)
        reading.problems.append(
            Problem(
                "",
                NO_SUCH_QUESTION,
                {"numbers": numbers, "count": str(len(questions))},
            )
        )
    return reading


def _value(q: dict[str, Any], given: str | list[str]) -> Value:
    kind = q["kind"]
    text = given if isinstance(given, str) else ", ".join(given)
    text = text.strip()
    if kind == "short":
        return " ".join(text.split())[:1000]
    if kind == "long":
        return text[:20000]
    if kind == "number":
        return _number(text)
    if kind == "date":
        return _date(text).isoformat()
    if kind == "yes_no":
        word = text.lower().split()[0].strip(".,;:!?") if text.split() else ""
        if word in _YES:
            return "Yes"
        if word in _NO:
            return "No"
        raise Unreadable(NOT_YES_NO, value=_short(text))
    options: list[str] = q["options"]
    if kind == "single":
        return _option(options, text)
    parts = given if isinstance(given, list) else re.split(r"\s*(?:[,;\n]|\band\b|&)\s*", text)
    chosen = [_option(options, p) for p in parts if p.strip()]
    return [o for o in options if o in chosen]


def _option(options: list[str], text: str) -> str:
    """The option a person meant: its text (any case), its letter or number, or a prefix of
    exactly one option."""
    t = text.strip().strip(".").strip()
    low = t.lower()
    for o in options:
        if o.lower() == low:
            return o
    letter = re.fullmatch(r"\(?([a-z]|\d{1,2})[.)]?", low)
    if letter:
        key = letter.group(1)
        index = int(key) - 1 if key.isdigit() else ord(key) - ord("a")
        if 0 <= index < len(options):
            return options[index]
    starts = [
        o for o in options if low and (o.lower().startswith(low) or low.startswith(o.lower()))
    ]
    if len(starts) == 1:
        return starts[0]
    raise Unreadable(NOT_OPTION, value=_short(t), options=", ".join(options))


def _number(text: str) -> int | float:
    t = text.replace("\u00a0", "").replace(" ", "")
    m = re.fullmatch(r"[-+]?\d{1,3}(?:[,.']\d{3})+|[-+]?\d+(?:[.,]\d+)?", t)
    if not m:
        raise Unreadable(NOT_NUMBER, value=_short(text))
    if re.fullmatch(r"[-+]?\d{1,3}(?:[,.']\d{3})+", t) and not re.fullmatch(
        r"[-+]?\d+[.,]\d{1,2}", t
    ):
        return int(re.sub(r"[,.']", "", t))  # 1,000 or 1.000 or 1'000: thousands
    value = float(t.replace(",", "."))
    return int(value) if value.is_integer() else value


def _date(text: str) -> date:
    t = text.strip().rstrip(".").lower()
    iso = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", t)
    if iso:
        return _make_date(int(iso.group(1)), int(iso.group(2)), int(iso.group(3)), text)
    dotted = re.fullmatch(r"(\d{1,2})\.(\d{1,2})\.(\d{4})", t)
    if dotted:
        return _make_date(int(dotted.group(3)), int(dotted.group(2)), int(dotted.group(1)), text)
    slashed = re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", t)
    if slashed:
        a, b, year = (int(x) for x in slashed.groups())
        if a > 12 >= b:
            return _make_date(year, b, a, text)
        if b > 12 >= a:
            return _make_date(year, a, b, text)
        if a == b:
            return _make_date(year, a, b, text)
        raise Unreadable(TWO_DATES, value=_short(text))
    # "12 March 2027", "Fri, 12. März 2027", "March 12th, 2027"
    european = re.fullmatch(r"(?:\w+,?\s+)?(\d{1,2})\.?\s+([a-zäéû]+)\.?,?\s+(\d{4})", t)
    american = re.fullmatch(
        r"(?:\w+,?\s+)?([a-zäéû]+)\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})", t
    )
    if european:
        day_s, month_s, year_s = european.group(1, 2, 3)
    elif american:
        month_s, day_s, year_s = american.group(1, 2, 3)
    else:
        month_s = day_s = year_s = ""
    if month_s not in _MONTHS:
        raise Unreadable(NOT_DATE, value=_short(text))
    return _make_date(int(year_s), _MONTHS[month_s], int(day_s), text)


def _make_date(year: int, month: int, day: int, text: str) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise Unreadable(NO_SUCH_DATE, value=_short(text)) from None


def _short(text: str) -> str:
    one = " ".join(text.split())
    return one if len(one) <= 60 else one[:57] + "…"


def from_reply(questions: list[dict[str, Any]], text: str) -> Reading:
    """Read the answers in a reply's whole text (quoted history included)."""
    raw = _under_quoted_questions(questions, text)
    if not raw:
        raw = _in_own_text(questions, _own_text(text))
    return check(questions, raw)


def _own_text(text: str) -> list[str]:
    """The reply's new lines, above or below the quoted history: quoted lines and the "On …
    wrote:" line left out, and nothing from a signature or an unquoted (Outlook) history on."""
    lines: list[str] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if line in ("-- ", "--") or _HISTORY.match(line.strip()) or _MOBILE.match(line.strip()):
            break
        if _ATTRIBUTION.match(line.strip()):
            if line.strip().lower() in ("wrote:", "wrote") and lines:
                lines.pop()  # "On Tue, … <x@y>" wrapped before "wrote:"
            continue
        if not _QUOTE.match(line):
            lines.append(line.rstrip())
    return lines


def _in_own_text(questions: list[dict[str, Any]], lines: list[str]) -> dict[int, str | list[str]]:
    raw: dict[int, str | list[str]] = {}
    current: int | None = None
    unnumbered: list[str] = []
    names = [_norm(q["text"]) for q in questions]
    for line in lines:
        numbered = _NUMBERED.match(line)
        named = _named(names, line) if not numbered else None
        if numbered:
            current = int(numbered.group("n")) - 1
            raw[current] = numbered.group("text").strip()
        elif named is not None:
            current, value = named
            raw[current] = value
        elif current is not None and line.strip():
            previous = raw[current]
            assert isinstance(previous, str)
            raw[current] = f"{previous}\n{line.strip()}".strip()
        elif current is None and line.strip():
            unnumbered.append(line.strip())
    if not raw and len(questions) == 1 and unnumbered:
        raw[0] = "\n".join(unnumbered)  # a form of one question: the reply is its answer
    return raw


def _named(names: list[str], line: str) -> tuple[int, str] | None:
    """ "Which day: Tue" or "Which day? - Tue": a question's text, then its answer."""
    low = _norm(line)
    for i, name in enumerate(names):
        if name and low.startswith(name):
            head = re.match(rf"^\s*{_loose(name)}\s*[?:=\-–—]+\s*(?P<v>.*)$", line, re.I)
            if head:
                return i, head.group("v").strip()
    return None


def _under_quoted_questions(
    questions: list[dict[str, Any]], text: str
) -> dict[int, str | list[str]]:
    """Answers typed under each quoted question: "> 2. Which day?" then "Tue"."""
    raw: dict[int, str | list[str]] = {}
    names = [_norm(q["text"]) for q in questions]
    current: int | None = None
    for line in text.replace("\r\n", "\n").split("\n"):
        quoted = _QUOTE.match(line)
        if quoted:
            inner = line[quoted.end() :]
            found = _question_line(names, inner)
            if found is not None:
                current = found
            elif inner.strip() and (current in raw or not inner[:1].isspace()):
                current = None  # not the question's indented options: the invitation's footer
            continue
        if line in ("-- ", "--") or _HISTORY.match(line.strip()):
            break
        if current is not None and line.strip():
            previous = raw.get(current, "")
            assert isinstance(previous, str)
            raw[current] = f"{previous}\n{line.strip()}".strip()
    return raw


def _question_line(names: list[str], line: str) -> int | None:
    """Which question a quoted line of the invitation is: "1. Your name (required)"."""
    numbered = _NUMBERED.match(line)
    if not numbered:
        return None
    n = int(numbered.group("n")) - 1
    body = _norm(numbered.group("text"))
    if 0 <= n < len(names) and names[n] and body.startswith(names[n]):
        return n
    return None


def _norm(text: str) -> str:
    return " ".join(text.lower().replace("*", "").split())


def _loose(name: str) -> str:
    return r"\s+".join(re.escape(w) for w in name.split())
