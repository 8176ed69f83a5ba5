"""Secrets that travel in mail (reply keys): random, shown once, stored only as a hash."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailhub.models import ReplyKey


def new_key() -> str:
    """192 random bits, URL- and local-part-safe (base64url without padding)."""
    return secrets.token_urlsafe(24)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def reply_key_for(session: Session, tenant_id: int, key: str) -> ReplyKey | None:
    """The reply key with this secret, only within the tenant it was minted for."""
    return session.scalar(
        select(ReplyKey).where(ReplyKey.key_hash == hash_key(key), ReplyKey.tenant_id == tenant_id)
    )
