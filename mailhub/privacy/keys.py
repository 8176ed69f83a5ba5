"""The key store that opens backups: one key per tenant and one data key per user.

Each key is a random Fernet key (AES-128-CBC with HMAC-SHA256), stored wrapped — encrypted
under a key-encryption key derived from MAILHUB_SECRET_KEY — one file per key:

    KEYS/TENANT_ID/tenant.key
    KEYS/TENANT_ID/users/USER_ID.key

The store lives outside the backups (MAILHUB_KEY_DIR, by default data_dir/keys) and is never
copied into one. Destroying a key is crypto-shredding: every backup sealed with it becomes
unreadable at once, without finding or rewriting any backup file. A file is overwritten
before it is unlinked and its directory fsynced, so the unlink survives a crash.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from mailhub.errors import ConfigError
from mailhub.stores.files import fsync_dir


class KeyStore:
    def __init__(self, root: Path, secret_key: str) -> None:
        self.root = root
        digest = hashlib.sha256(b"mailhub keystore v1\x00" + secret_key.encode()).digest()
        self._kek = Fernet(base64.urlsafe_b64encode(digest))

    def _tenant_path(self, tenant_id: int) -> Path:
        return self.root / str(tenant_id) / "tenant.key"

    def _user_path(self, tenant_id: int, user_id: int) -> Path:
        return self.root / str(tenant_id) / "users" / f"{user_id}.key"

    def tenant_key(self, tenant_id: int, create: bool = False) -> Fernet | None:
        return self._key(self._tenant_path(tenant_id), create)

    def user_key(self, tenant_id: int, user_id: int, create: bool = False) -> Fernet | None:
        return self._key(self._user_path(tenant_id, user_id), create)

    def has_user_key(self, tenant_id: int, user_id: int) -> bool:
        return self._user_path(tenant_id, user_id).exists()

    def has_tenant(self, tenant_id: int) -> bool:
        return (self.root / str(tenant_id)).exists()

    def _key(self, path: Path, create: bool) -> Fernet | None:
        if path.exists():
            try:
                return Fernet(self._kek.decrypt(path.read_bytes()))
            except InvalidToken:
                raise ConfigError(
                    f"backup key {path.name} cannot be opened: MAILHUB_SECRET_KEY changed"
                ) from None
        if not create:
            return None
        key = Fernet.generate_key()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with open(tmp, "wb") as fh:
            fh.write(self._kek.encrypt(key))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)
        return Fernet(key)

    def destroy_user(self, tenant_id: int, user_id: int) -> bool:
        """Shred one person's data key; True if there was one."""
        return _shred(self._user_path(tenant_id, user_id))

    def destroy_tenant(self, tenant_id: int) -> int:
        """Shred every key of a tenant; how many there were."""
        folder = self.root / str(tenant_id)
        if not folder.exists():
            return 0
        count = sum(_shred(p) for p in sorted(folder.rglob("*.key")))
        shutil.rmtree(folder, ignore_errors=True)
        fsync_dir(self.root)
        return count


def _shred(path: Path) -> bool:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return False
    with open(path, "r+b") as fh:
        fh.write(os.urandom(size))
        fh.flush()
        os.fsync(fh.fileno())
    path.unlink()
    fsync_dir(path.parent)
    return True
