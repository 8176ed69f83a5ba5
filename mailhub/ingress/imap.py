"""IMAP ingress: read a tenant's mailbox, store each message as SMTP ingress would, move it on.

For each new UID (above the last one read, under the same UIDVALIDITY) the message is fetched
without marking it seen, stored durably (raw file fsynced, row committed, deduplicated), then
the account's last_uid is committed, then the message is moved to the processed folder. A
crash anywhere in between re-reads at most that one message, which the dedupe recognises. A
changed UIDVALIDITY (the mailbox was recreated) starts over from the first UID, again safe
because of the dedupe. IDLE (RFC 2177) is used where the server offers it, polling otherwise.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from email import policy
from email.parser import BytesHeaderParser
from email.utils import getaddresses

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError
from sqlalchemy import select
from sqlalchemy.orm import Session

from mailhub.db import SessionFactory, unit_of_work
from mailhub.domain.directory import get_tenant
from mailhub.errors import InvalidInput, NotFound
from mailhub.ingress.accept import Envelope, UnknownRecipient, check_recipient, store_inbound
from mailhub.models import ImapAccount, Tenant, utcnow
from mailhub.routing import split_address
from mailhub.stores.rawstore import RawStore
from mailhub.stores.secretbox import open_sealed, seal

log = logging.getLogger(__name__)

_HEADERS = BytesHeaderParser(policy=policy.compat32)
# Headers an MDA adds with the envelope recipient (Postfix, Exim, Dovecot LDA, Gmail), then
# the visible ones; a BCC'd address is only in the first kind.
_RECIPIENT_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To", "Cc")


@dataclass(frozen=True)
class AccountView:
    id: int
    tenant: str
    host: str
    port: int
    username: str
    folder: str
    processed_folder: str
    last_uid: int
    last_error: str


def add_account(
    session: Session,
    tenant_slug: str,
    host: str,
    port: int,
    username: str,
    password: str,
    secret_key: str,
    use_ssl: bool = True,
    folder: str = "INBOX",
    processed_folder: str = "mailhub-processed",
) -> ImapAccount:
    tenant = get_tenant(session, tenant_slug)
    if not host or not 0 < port < 65536:
        raise InvalidInput("an IMAP account needs a host and a port (1-65535)")
    if folder == processed_folder:
        raise InvalidInput("the processed folder must differ from the folder that is read")
    account = ImapAccount(
        tenant_id=tenant.id,
        host=host,
        port=port,
        use_ssl=use_ssl,
        username=username,
        password_enc=seal(secret_key, password),
        folder=folder,
        processed_folder=processed_folder,
    )
    session.add(account)
    session.flush()
    return account


def list_accounts(session: Session) -> list[AccountView]:
    rows = session.execute(
        select(ImapAccount, Tenant.slug).join(Tenant, Tenant.id == ImapAccount.tenant_id)
    )
    return [
        AccountView(
            a.id,
            slug,
            a.host,
            a.port,
            a.username,
            a.folder,
            a.processed_folder,
            a.last_uid,
            a.last_error,
        )
        for a, slug in rows
    ]


def recipients_of(raw: bytes, domain: str, fallback: str) -> tuple[str, ...]:
    """The addresses at the tenant's domain this message was delivered to, in header order."""
    headers = _HEADERS.parsebytes(raw[:65536])
    found: list[str] = []
    for name in _RECIPIENT_HEADERS:
        for _, addr in getaddresses([str(v) for v in headers.get_all(name, [])]):
            parts = split_address(addr)
            if parts is None or parts[1] != domain:
                continue
            addr = f"{parts[0]}@{parts[1]}"  # reply keys are case-sensitive: keep the local part
            if addr.lower() not in (f.lower() for f in found):
                found.append(addr)
    return tuple(found) or (fallback,)


class ImapPoller:
    """Reads one account. `run_once` for a single pass; `run` until stopped."""

    def __init__(
        self,
        sessions: SessionFactory,
        raw_store: RawStore,
        enqueue: Callable[[list[int]], None],
        account_id: int,
        secret_key: str,
        poll_interval: float = 30.0,
        idle_timeout: float = 240.0,  # under the 29 minutes of RFC 2177, and NAT-friendly
        max_message_size: int = 25 * 1024 * 1024,
    ) -> None:
        self.max_message_size = max_message_size
        self.sessions = sessions
        self.raw_store = raw_store
        self.enqueue = enqueue
        self.account_id = account_id
        self.secret_key = secret_key
        self.poll_interval = poll_interval
        self.idle_timeout = idle_timeout

    def _account(self) -> tuple[ImapAccount, Tenant]:
        with self.sessions() as session:
            account = session.get(ImapAccount, self.account_id)
            if account is None:
                raise NotFound(f"no IMAP account {self.account_id}")
            return account, session.get_one(Tenant, account.tenant_id)

    def connect(self) -> IMAPClient:
        account, _ = self._account()
        client = IMAPClient(account.host, port=account.port, ssl=account.use_ssl, timeout=60)
        client.login(account.username, open_sealed(self.secret_key, account.password_enc))
        return client

    def run_once(self, client: IMAPClient | None = None) -> int:
        """Store every message not read yet; return how many were new."""
        own = client is None
        client = client or self.connect()
        try:
            return self._drain(client)
        finally:
            if own:
                _logout(client)

    def _drain(self, client: IMAPClient) -> int:
        account, tenant = self._account()
        selected = client.select_folder(account.folder)
        uidvalidity = int(selected[b"UIDVALIDITY"])
        last_uid = account.last_uid
        if account.uidvalidity != uidvalidity:
            if account.uidvalidity is not None:
                log.warning(
                    "IMAP account %s: UIDVALIDITY changed, reading the folder again", account.id
                )
            last_uid = 0
            self._save(uidvalidity=uidvalidity, last_uid=0)
        uids = sorted(u for u in client.search(["UID", f"{last_uid + 1}:*"]) if u > last_uid)
        if uids and not client.folder_exists(account.processed_folder):
            client.create_folder(account.processed_folder)
        fresh_total = 0
        # One round trip for every size, so each message costs only the fetch of its content.
        sizes = {
            uid: data.get(b"RFC822.SIZE")
            for uid, data in (client.fetch(uids, ["RFC822.SIZE"]).items() if uids else ())
        }
        for uid in uids:
            size = sizes.get(uid)
            raw = self._fetch(client, uid, size)
            if raw is None:
                continue  # expunged meanwhile
            rcpts = self._routable(
                recipients_of(raw, tenant.domain, fallback=account.username), tenant
            )
            accepted = store_inbound(
                self.sessions,
                self.raw_store,
                raw,
                Envelope(
                    mail_from=_return_path(raw),
                    rcpt_to=rcpts,
                    peer=f"imap:{account.host}",
                    oversize=(
                        (size, self.max_message_size)
                        if isinstance(size, int) and size > self.max_message_size
                        else None
                    ),
                ),
                tenants={r: tenant.id for r in rcpts},
            )
            self._save(last_uid=uid)  # after the rows commit, before the move
            fresh = [a.inbound_id for a in accepted if not a.duplicate]
            fresh_total += len(fresh)
            self.enqueue(fresh)
            _move(client, uid, account.processed_folder)
        self._save(last_error="")
        return fresh_total

    def _fetch(self, client: IMAPClient, uid: int, size: object) -> bytes | None:
        """The message; for one over the size limit only its header (its row records the size,
        so the worker answers its sender with the too-large rejection, as SMTP's 552 would).
        The message itself stays in the mailbox, moved to the processed folder like any other."""
        if not isinstance(size, int):
            return None
        if size <= self.max_message_size:
            raw = client.fetch([uid], ["BODY.PEEK[]"]).get(uid, {}).get(b"BODY[]")
            return raw if isinstance(raw, bytes) else None
        head = client.fetch([uid], ["BODY.PEEK[HEADER]"]).get(uid, {}).get(b"BODY[HEADER]")
        if not isinstance(head, bytes):
            return None
        return head

    def _routable(self, candidates: tuple[str, ...], tenant: Tenant) -> tuple[str, ...]:
        """The candidates mailhub answers at. Headers also name people (a colleague in Cc) and
        the mailbox itself; those are not mailboxes of mailhub. With none left, the first
        candidate stays, so the message is still stored and its sender told what happened."""
        routable = []
        with self.sessions() as session:
            for address in candidates:
                try:
                    if check_recipient(session, address) == tenant.id:
                        routable.append(address)
                except UnknownRecipient:
                    continue
        return tuple(routable) or candidates[:1]

    def _save(self, **values: object) -> None:
        with unit_of_work(self.sessions) as session:
            account = session.get_one(ImapAccount, self.account_id)
            for key, value in values.items():
                setattr(account, key, value)
            account.last_checked_at = utcnow()

    def run(self, stop: threading.Event) -> None:
        """Read, then wait for news (IDLE) or the poll interval, until `stop` is set."""
        backoff = 1.0
        while not stop.is_set():
            client: IMAPClient | None = None
            try:
                client = self.connect()
                while not stop.is_set():
                    self.run_once(client)
                    backoff = 1.0
                    if client.has_capability("IDLE"):
                        client.idle()
                        client.idle_check(timeout=min(self.idle_timeout, self.poll_interval))
                        client.idle_done()
                    else:
                        stop.wait(self.poll_interval)
            except (OSError, IMAPClientError) as exc:
                log.warning(
                    "IMAP account %s: %s; reconnecting in %.0fs", self.account_id, exc, backoff
                )
                try:
                    self._save(last_error=str(exc)[:2000])
                except Exception:
                    log.exception("could not record the IMAP error")
                stop.wait(backoff)
                backoff = min(backoff * 2, 300)
            finally:
                if client is not None:
                    _logout(client)


def _return_path(raw: bytes) -> str:
    headers = _HEADERS.parsebytes(raw[:65536])
    value = str(headers.get("Return-Path", "")).strip().strip("<>")
    if value or "Return-Path" in headers:
        return value  # "<>" is a bounce
    addrs = getaddresses([str(headers.get("From", ""))])
    return addrs[0][1] if addrs else ""


def _move(client: IMAPClient, uid: int, folder: str) -> None:
    if client.has_capability("MOVE"):
        client.move([uid], folder)
        return
    client.copy([uid], folder)
    client.delete_messages([uid])
    if client.has_capability("UIDPLUS"):
        client.uid_expunge([uid])
    else:
        client.expunge()


def _logout(client: IMAPClient) -> None:
    with contextlib.suppress(OSError, IMAPClientError):
        client.logout()
