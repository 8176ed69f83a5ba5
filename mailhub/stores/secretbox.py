"""Secrets mailhub must be able to read back (IMAP passwords), encrypted at rest.

Fernet (AES-128-CBC with HMAC-SHA256) under a key derived from MAILHUB_SECRET_KEY, so a copy
of the database alone does not give away mailbox passwords.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken

from mailhub.errors import ConfigError


def _fernet(secret_key: str) -> Fernet:
    digest = hashlib.sha256(b"mailhub secretbox v1\x00" + secret_key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def seal(secret_key: str, plaintext: str) -> str:
    return _fernet(secret_key).encrypt(plaintext.encode()).decode()


def open_sealed(secret_key: str, token: str) -> str:
    try:
        return _fernet(secret_key).decrypt(token.encode()).decode()
    except InvalidToken:
        raise ConfigError(
            "a stored secret cannot be decrypted: MAILHUB_SECRET_KEY changed since it was saved"
        ) from None
