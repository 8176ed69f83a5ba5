"""Secrets that travel in mail: reply keys and action tokens. Random, shown once, stored only
as a SHA-256, always looked up within the tenant they were minted for.

An action token (unsubscribe, follow, unfollow) is also bound to one user, one action and one
subject, and expires. Following and unfollowing are single use: the row is marked used by a
conditional UPDATE, so of two concurrent POSTs exactly one acts. Unsubscribing may be repeated
(RFC 8058 clients retry, and doing it twice is doing it once), until the token expires.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mailhub.db import rowcount
from mailhub.errors import MailhubError
from mailhub.i18n import N_
from mailhub.models import ActionToken, ReplyKey, utcnow
from mailhub.routing import SEALED

# Gmail and Yahoo expect an unsubscribe link to keep working for weeks after the mail.
LIFETIMES = {
    "unsubscribe": timedelta(days=90),
    "follow": timedelta(days=30),
    "unfollow": timedelta(days=30),
    "approve": timedelta(days=14),
    "reject": timedelta(days=14),
    "answer": timedelta(days=30),  # a one-button answer to a form
    "answer_web": timedelta(days=30),  # a person's own link to answer a form on the web
    "results": timedelta(days=90),  # a form owner's link to its answers
    "close": timedelta(days=30),
    "signin": timedelta(minutes=15),
    "welcome": timedelta(days=7),  # the welcome mail's sign-in link: read hours later
    "verify": timedelta(days=7),  # confirming a privacy request made in one's name
    "download": timedelta(days=7),  # an export's archive, deleted when this expires
}
REUSABLE = frozenset({"unsubscribe", "answer_web", "results", "download"})


class TokenRefused(MailhubError):
    """An action link that is unknown, expired, already used or not for this action."""


def new_key() -> str:
    """192 random bits, URL- and local-part-safe (base64url without padding)."""
    return secrets.token_urlsafe(24)


def hash_key(key: str) -> str:
    """The stored form of a key, token or cookie."""
    return hashlib.sha256(key.encode()).hexdigest()


def sealed_hash(key: str) -> str:
    """The stored form of a key as the inbound mailboxes have it: ingress stores reply and
    unsubscribe addresses sealed (routing.seal), "=" and the key's hash. Only for what came
    from a stored envelope: anywhere else (a URL, a cookie, an RCPT) a hash from a leaked
    database must not stand in for the secret, and hash_key is the only form."""
    return key[len(SEALED) :] if key.startswith(SEALED) else hash_key(key)


def reply_key_for(
    session: Session, tenant_id: int, key: str, sealed: bool = False
) -> ReplyKey | None:
    """The reply key with this secret, only within the tenant it was minted for."""
    return session.scalar(
        select(ReplyKey).where(
            ReplyKey.key_hash == (sealed_hash(key) if sealed else hash_key(key)),
            ReplyKey.tenant_id == tenant_id,
        )
    )


def mint_token(
    session: Session,
    tenant_id: int,
    user_id: int,
    action: str,
    subject_kind: str,
    subject_id: int,
    argument: str | None = None,
) -> str:
    token = new_key()
    session.add(
        ActionToken(
            tenant_id=tenant_id,
            user_id=user_id,
            action=action,
            subject_kind=subject_kind,
            subject_id=subject_id,
            argument=argument,
            token_hash=hash_key(token),
            single_use=action not in REUSABLE,
            expires_at=utcnow() + LIFETIMES[action],
        )
    )
    return token


def token_for(session: Session, tenant_id: int, token: str, sealed: bool = False) -> ActionToken:
    """The live token with this secret in this tenant (not yet marked used); `sealed`: as a
    stored envelope has it (sealed_hash)."""
    row = session.scalar(
        select(ActionToken).where(
            ActionToken.token_hash == (sealed_hash(token) if sealed else hash_key(token)),
            ActionToken.tenant_id == tenant_id,
        )
    )
    if row is None:
        raise TokenRefused(N_("This link is not valid. It may have been mistyped or cut off."))
    if row.expires_at <= utcnow():
        raise TokenRefused(N_("This link has expired. Use the link in a newer email."))
    if row.used_at is not None and row.single_use:
        raise TokenRefused(N_("This link was already used; each one works once."))
    return row


def use_token(session: Session, row: ActionToken) -> None:
    """Mark a token used; for a single-use token, refuse if another request got there first."""
    now = utcnow()
    if not row.single_use:
        row.used_at = now
        return
    result = session.execute(
        update(ActionToken)
        .where(ActionToken.id == row.id, ActionToken.used_at.is_(None))
        .values(used_at=now)
    )
    if rowcount(result) != 1:
        raise TokenRefused(N_("This link was already used; each one works once."))
