"""Forms as a use case: answering them (by mail, on the web, with one button), correcting their
questions, closing them, and reading or exporting their results.

Every edge (the reply mailbox, the web page, an action link, the CLI) comes through here, so a
closed form declines answers the same way everywhere, and one person has one response per form:
answering again replaces it and points it at the version of the questions they answered.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime
from math import isfinite
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailhub.content.answers import Value
from mailhub.content.questions import Definition
from mailhub.domain.directory import can_see
from mailhub.errors import MailhubError, NotFound
from mailhub.models import (
    Form,
    FormResponse,
    FormVersion,
    Space,
    SubjectKind,
    Tenant,
    User,
    utcnow,
)
from mailhub.outbound import events
from mailhub.outbound.keys import TokenRefused, token_for


class AnswerRefused(MailhubError):
    """The form takes no answer from this person now: it is closed, or they may not answer."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code  # a rejection text's code: form_closed or form_internal


def get_form(session: Session, tenant: Tenant, form_id: int) -> Form:
    form = session.get(Form, form_id)
    if form is None or form.tenant_id != tenant.id:
        raise NotFound(f"no form {form_id} in {tenant.slug}")
    return form


def version(session: Session, form: Form, number: int | None = None) -> FormVersion:
    """A form's version by number, its current one by default."""
    return session.scalars(
        select(FormVersion).where(
            FormVersion.form_id == form.id,
            FormVersion.number == (number or form.current_version),
        )
    ).one()


def by_link(
    session: Session, tenant: Tenant, form_id: int, token: str, action: str
) -> tuple[Form, User]:
    """The form and person a personal link (answer_web, results) is for; TokenRefused if the
    link is not for this form, or its person can no longer use it."""
    row = token_for(session, tenant.id, token)
    form = get_form(session, tenant, form_id)
    user = session.get(User, row.user_id)
    if row.action != action or row.subject_kind != SubjectKind.FORM or row.subject_id != form.id:
        raise TokenRefused("This link is not valid. It may have been mistyped or cut off.")
    if user is None or user.tenant_id != tenant.id or not user.active:
        raise TokenRefused("This link is not valid. It may have been mistyped or cut off.")
    if action == "results" and form.creator_id != user.id:
        raise TokenRefused("Only the person who made this form can see its answers.")
    if not can_see(session, user, session.get_one(Space, form.space_id)):
        raise TokenRefused("This form is in a space you are no longer a member of.")
    return form, user


def response_of(session: Session, form: Form, user: User) -> FormResponse | None:
    return session.scalar(
        select(FormResponse).where(
            FormResponse.form_id == form.id, FormResponse.respondent_id == user.id
        )
    )


def may_answer(form: Form, user: User) -> None:
    if form.status != "open":
        raise AnswerRefused("form_closed", f"the form “{form.title}” is closed")
    if not user.active or (user.guest and form.answers_from != "anyone"):
        raise AnswerRefused(
            "form_internal", f"the form “{form.title}” takes answers from members only"
        )


@dataclass(frozen=True)
class Answered:
    response: FormResponse
    replaced: bool  # earlier answers by the same person were replaced
    notification_ids: list[int]


def answer(
    session: Session,
    tenant: Tenant,
    form: Form,
    answered: FormVersion,
    user: User,
    values: dict[int, Value],
    via: str,
    inbound_id: int | None = None,
) -> Answered:
    """Record a person's answers to a version. The owner hears of it per their preferences
    (events.form_answered): the notifications to send now are in the result."""
    may_answer(form, user)
    response = session.scalar(
        select(FormResponse)
        .where(FormResponse.form_id == form.id, FormResponse.respondent_id == user.id)
        .with_for_update()
    )
    stored = {str(i): v for i, v in sorted(values.items())}
    replaced = response is not None
    if response is None:
        response = FormResponse(
            tenant_id=tenant.id,
            form_id=form.id,
            version_id=answered.id,
            respondent_id=user.id,
            answers=stored,
            via=via,
            source_inbound_id=inbound_id,
        )
        session.add(response)
    else:
        response.version_id, response.answers, response.via = answered.id, stored, via
        response.source_inbound_id, response.updated_at = inbound_id, utcnow()
    session.flush()
    ids = events.form_answered(session, tenant, form, response, user)
    return Answered(response, replaced, ids)


def revise(
    session: Session, tenant: Tenant, form: Form, definition: Definition, text: str, inbound_id: int
) -> FormVersion:
    """A corrected list of questions: a new version; earlier answers keep theirs."""
    number = form.current_version + 1
    row = FormVersion(
        tenant_id=tenant.id,
        form_id=form.id,
        number=number,
        definition=definition.as_json(),
        source_text=text,
        source_inbound_id=inbound_id,
    )
    session.add(row)
    form.current_version, form.title = number, definition.title or form.title
    session.flush()
    return row


def close(session: Session, tenant: Tenant, form: Form) -> bool:
    """Close a form; False if it already was."""
    if form.status == "closed":
        return False
    form.status, form.closed_at = "closed", utcnow()
    return True


def listing(session: Session, tenant: Tenant) -> list[tuple[Form, int]]:
    counts = {
        form_id: count
        for form_id, count in session.execute(
            select(FormResponse.form_id, func.count())
            .where(FormResponse.tenant_id == tenant.id)
            .group_by(FormResponse.form_id)
        )
    }
    rows = session.scalars(select(Form).where(Form.tenant_id == tenant.id).order_by(Form.id))
    return [(f, int(counts.get(f.id, 0))) for f in rows]


def set_policy(form: Form, answers_from: str) -> None:
    if answers_from not in ("members", "anyone"):
        raise MailhubError(f"answers may come from members or anyone, not {answers_from!r}")
    form.answers_from = answers_from


def shown(value: Any) -> str:
    """An answer as text: options joined, numbers as written."""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return "" if value is None else str(value)


@dataclass(frozen=True)
class Row:
    respondent: str
    email: str
    answered_at: datetime
    version: int
    via: str
    answers: dict[str, Any]  # by question text


@dataclass(frozen=True)
class Summary:
    """One question's answers at a glance: options with how often each was chosen (in the
    form's order, unchosen ones too), a number's count, minimum, average and maximum, or the
    written answers listed."""

    question: str
    kind: str
    answered: int
    options: list[tuple[str, int]]
    numbers: tuple[int, float, float, float] | None  # count, minimum, average, maximum
    written: list[str]


_CHOICES = frozenset({"single", "multiple", "yes_no"})


@dataclass(frozen=True)
class Results:
    form: Form
    questions: list[str]  # every question text of every version, in order of first appearance
    rows: list[Row]
    definitions: dict[str, dict[str, Any]] = field(default_factory=dict)  # newest, by text

    def summaries(self) -> list[Summary]:
        """A summary of each question, in the form's order."""
        out = []
        for question in self.questions:
            definition = self.definitions.get(question, {})
            kind = str(definition.get("kind", "short"))
            values = [
                row.answers[question]
                for row in self.rows
                if row.answers.get(question) not in (None, "", [])
            ]
            options: list[tuple[str, int]] = []
            numbers = None
            written: list[str] = []
            if kind in _CHOICES:
                counted: dict[str, int] = {str(o): 0 for o in definition.get("options", [])}
                for value in values:
                    for option in value if isinstance(value, list) else [value]:
                        counted[str(option)] = counted.get(str(option), 0) + 1
                options = list(counted.items())
            elif kind == "number":
                found = [f for f in (float(v) for v in values if _is_number(v)) if isfinite(f)]
                if found:
                    numbers = (len(found), min(found), sum(found) / len(found), max(found))
            else:
                written = [shown(v) for v in values]
            out.append(Summary(question, kind, len(values), options, numbers, written))
        return out


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    try:
        float(str(value))
    except ValueError:
        return False
    return True


def results(session: Session, tenant: Tenant, form: Form) -> Results:
    versions = {
        v.id: v
        for v in session.scalars(
            select(FormVersion).where(FormVersion.form_id == form.id).order_by(FormVersion.number)
        )
    }
    questions: list[str] = []
    definitions: dict[str, dict[str, Any]] = {}
    for v in versions.values():
        for q in v.definition["questions"]:
            if q["text"] not in questions:
                questions.append(q["text"])
            definitions[q["text"]] = q  # the newest version's wins
    rows = []
    for response, user in session.execute(
        select(FormResponse, User)
        .join(User, User.id == FormResponse.respondent_id)
        .where(FormResponse.form_id == form.id, FormResponse.tenant_id == tenant.id)
        .order_by(FormResponse.updated_at, FormResponse.id)
    ):
        v = versions[response.version_id]
        asked = v.definition["questions"]
        answers = {
            asked[int(i)]["text"]: value
            for i, value in response.answers.items()
            if int(i) < len(asked)
        }
        rows.append(
            Row(user.name, user.email, response.updated_at, v.number, response.via, answers)
        )
    return Results(form, questions, rows, definitions)


def to_csv(res: Results) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["Name", "Email", "Answered at (UTC)", "Version", "Via", *res.questions])
    for row in res.rows:
        writer.writerow(
            [
                _cell(row.respondent),
                row.email,
                row.answered_at.strftime("%Y-%m-%d %H:%M:%S"),
                row.version,
                row.via,
                *(_cell(shown(row.answers.get(q))) for q in res.questions),
            ]
        )
    return out.getvalue()


def _cell(text: str) -> str:
    """A cell a spreadsheet shows as text, never runs as a formula (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_json(session: Session, res: Results) -> dict[str, Any]:
    form = res.form
    return {
        "form": {
            "id": form.id,
            "title": form.title,
            "status": form.status,
            "answers_from": form.answers_from,
            "created_at": form.created_at.isoformat(),
            "closed_at": form.closed_at.isoformat() if form.closed_at else None,
            "versions": [
                {"number": v.number, "definition": v.definition}
                for v in session.scalars(
                    select(FormVersion)
                    .where(FormVersion.form_id == form.id)
                    .order_by(FormVersion.number)
                )
            ],
        },
        "responses": [
            {
                "name": row.respondent,
                "email": row.email,
                "answered_at": row.answered_at.isoformat(),
                "version": row.version,
                "via": row.via,
                "answers": row.answers,
            }
            for row in res.rows
        ],
    }
