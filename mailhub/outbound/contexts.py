"""The shape of a notification's `context` (a JSON column), one per kind of mail: written
where the notification is owed (outbound/events.py, privacy, sign-in), read where its mail is
made (outbound/mails/, privacy/mails.py). Both sides name the same type, so a key written in
one place and read in another is checked by mypy, not by a test that happens to reach it.
"""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict, TypeVar, cast

from mailhub.models import Notification


class Audience(TypedDict):
    """Who heard of something at once, and how many will in which digest."""

    now: int
    later: dict[str, int]


class Subscribed(TypedDict):
    """Mail a person gets by their subscription: the resolver's rule (translated when the
    mail is made), the setting that sent it (kind, id), and whether it is mandatory."""

    reason_code: str
    params: dict[str, str]
    setting: list[Any]
    mandatory: bool


class FormCreated(TypedDict):
    lines: list[str]
    version: int
    invited: NotRequired[Audience]


class FormAnswered(TypedDict):
    response_id: int
    setting: list[Any]
    mandatory: bool


class FormReceipt(TypedDict):
    version_id: int
    recorded: list[list[str]]
    problems: list[list[Any]]  # [label, catalog key, values]: translated when the mail is made
    replaced: bool


class Moderation(TypedDict):
    why: str
    subject: str


class SignIn(TypedDict):
    next: str


class Welcome(TypedDict):
    """A welcome mail needs nothing but its person: what it says is read when it is sent."""


class Digest(TypedDict):
    frequency: str


class PrivacyRequestMail(TypedDict):
    request_id: int


class BreachNotice(TypedDict):
    breach_id: int


class AccountExpiry(TypedDict):
    due: str
    days: int


class Rejection(TypedDict):
    code: str
    detail: str
    subject: str
    params: dict[str, str]


Context = (
    Audience
    | Subscribed
    | FormCreated
    | FormAnswered
    | FormReceipt
    | Moderation
    | SignIn
    | Welcome
    | Digest
    | PrivacyRequestMail
    | BreachNotice
    | AccountExpiry
    | Rejection
)


Shape = TypeVar("Shape")


def context_of(n: Notification, shape: type[Shape]) -> Shape:
    """The notification's context as the shape its kind writes."""
    return cast(Shape, n.context or {})
