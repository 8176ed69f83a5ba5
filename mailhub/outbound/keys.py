"""Secrets that travel in mail (reply keys): random, shown once, stored only as a hash."""

from __future__ import annotations

import hashlib
import secrets


def new_key() -> str:
    """192 random bits, URL- and local-part-safe (base64url without padding)."""
    return secrets.token_urlsafe(24)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()
