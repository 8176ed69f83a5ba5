"""The key store that opens backups: one key per tenant and one data key per user.

Each key is a random Fernet key (AES-128-CBC with HMAC-SHA256), stored wrapped — encrypted
under a key-encryption key derived from MAILHUB_SECRET_KEY — one file per key:

    KEYS/TENANT_ID/tenant.key
    KEYS/TENANT_ID/users/USER_ID.key

The store lives outside the backups (MAILHUB_KEY_DIR, by default data_dir/keys) and is never
copied into one. Destroying a key is crypto-shredding: every backup sealed with it becomes
unreadable at once, without finding or rewriting any backup file. A file is overwritten
before it is unlinked and its directory fsynced, so the unlink survives a crash.

With MAILHUB_BLOB_STORE=postgres (hosts that share no disk) the keys are rows of
`backup_keys` instead, so an erasure run by any worker host shreds the key every host's
backups were sealed with; the erasure's rewrite of the tables then leaves no old copy.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import shutil
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import Engine, delete, func, insert, select
from sqlalchemy.exc import IntegrityError

from mailhub.errors import ConfigError
from mailhub.models import BackupKey, utcnow
from mailhub.stores.files import fsync_dir

TENANT = 0  # backup_keys.user_id of the tenant's own key


class KeyStore:
    def __init__(self, root: Path, secret_key: str, engine: Engine | None = None) -> None:
        """`engine`: keep the keys in the database (backup_keys), not under `root`."""
        self.root = root
        self.engine = engine
        digest = hashlib.sha256(b"mailhub keystore v1\x00" + secret_key.encode()).digest()
        self._kek = Fernet(base64.urlsafe_b64encode(digest))

    def _tenant_path(self, tenant_id: int) -> Path:
        return self.root / str(tenant_id) / "tenant.key"

    def _user_path(self, tenant_id: int, user_id: int) -> Path:
        return self.root / str(tenant_id) / "users" / f"{user_id}.key"

    def tenant_key(self, tenant_id: int, create: bool = False) -> Fernet | None:
        if self.engine is not None:
            return self._row_key(tenant_id, TENANT, create)
        return self._key(self._tenant_path(tenant_id), create)

    def user_key(self, tenant_id: int, user_id: int, create: bool = False) -> Fernet | None:
        if self.engine is not None:
            return self._row_key(tenant_id, user_id, create)
        return self._key(self._user_path(tenant_id, user_id), create)

    def has_user_key(self, tenant_id: int, user_id: int) -> bool:
        if self.engine is not None:
            return self._wrapped(tenant_id, user_id) is not None
        return self._user_path(tenant_id, user_id).exists()

    def has_tenant(self, tenant_id: int) -> bool:
        if self.engine is not None:
            with self.engine.connect() as conn:
                query = select(func.count()).where(BackupKey.tenant_id == tenant_id)
                return bool(conn.scalar(query))
        return (self.root / str(tenant_id)).exists()

    def _wrapped(self, tenant_id: int, user_id: int) -> bytes | None:
        assert self.engine is not None
        with self.engine.connect() as conn:
            found = conn.scalar(
                select(BackupKey.wrapped).where(
                    BackupKey.tenant_id == tenant_id, BackupKey.user_id == user_id
                )
            )
        return bytes(found) if found is not None else None

    def _row_key(self, tenant_id: int, user_id: int, create: bool) -> Fernet | None:
        assert self.engine is not None
        wrapped = self._wrapped(tenant_id, user_id)
        if wrapped is None and create:
            key = Fernet.generate_key()
            try:
                with self.engine.begin() as conn:
                    conn.execute(
                        insert(BackupKey).values(
                            tenant_id=tenant_id,
                            user_id=user_id,
                            wrapped=self._kek.encrypt(key),
                            created_at=utcnow(),
                        )
                    )
                return Fernet(key)
            except IntegrityError:  # another host made it a moment ago: that one counts
                wrapped = self._wrapped(tenant_id, user_id)
        if wrapped is None:
            return None
        try:
            return Fernet(self._kek.decrypt(wrapped))
        except InvalidToken:
            raise ConfigError("a backup key cannot be opened: MAILHUB_SECRET_KEY changed") from None

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
        if self.engine is not None:
            with self.engine.begin() as conn:
                gone = conn.execute(
                    delete(BackupKey).where(
                        BackupKey.tenant_id == tenant_id, BackupKey.user_id == user_id
                    )
                ).rowcount
            return bool(gone)
        return _shred(self._user_path(tenant_id, user_id))

    def destroy_tenant(self, tenant_id: int) -> int:
        """Shred every key of a tenant; how many there were."""
        if self.engine is not None:
            with self.engine.begin() as conn:
                return int(
                    conn.execute(delete(BackupKey).where(BackupKey.tenant_id == tenant_id)).rowcount
                )
        folder = self.root / str(tenant_id)
        if not folder.exists():
            return 0
        count = sum(_shred(p) for p in sorted(folder.rglob("*.key")))
        shutil.rmtree(folder, ignore_errors=True)
        fsync_dir(self.root)
        return count


def move_keys(root: Path, store: KeyStore) -> tuple[int, list[str]]:
    """The key files under `root` into `store`'s database rows (MAILHUB_BLOB_STORE=postgres),
    each file shredded once its row holds the same wrapped key: (moved, left here). A key
    whose row already holds a different key is left, for the operator to look at."""
    assert store.engine is not None
    moved, left = 0, []
    for path in sorted(root.glob("*/tenant.key")) + sorted(root.glob("*/users/*.key")):
        tenant, _, rest = path.relative_to(root).as_posix().partition("/")
        user = TENANT if rest == "tenant.key" else rest.removeprefix("users/").removesuffix(".key")
        if not tenant.isdigit() or not str(user).isdigit():
            left.append(path.relative_to(root).as_posix())
            continue
        wrapped = path.read_bytes()
        try:
            store._kek.decrypt(wrapped)
        except InvalidToken:
            raise ConfigError(f"key {path} cannot be opened: MAILHUB_SECRET_KEY differs") from None
        with contextlib.suppress(IntegrityError), store.engine.begin() as conn:
            conn.execute(
                insert(BackupKey).values(
                    tenant_id=int(tenant), user_id=int(user), wrapped=wrapped, created_at=utcnow()
                )
            )
        if store._wrapped(int(tenant), int(user)) != wrapped:
            left.append(path.relative_to(root).as_posix())
            continue
        _shred(path)
        moved += 1
    return moved, left


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
