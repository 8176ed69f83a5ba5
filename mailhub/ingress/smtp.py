"""The SMTP edge: aiosmtpd hooks that check recipients and store mail, deciding nothing else.

RCPT is answered from the directory (unknown domain, space or key: 550 at once, so the sending
server bounces with a clear reason). DATA is streamed to a spool file as it arrives (aiosmtpd
would hold it in memory line by line) and answered 250 only after the bytes are fsynced and
their row committed; if storage fails the answer is 451 and the sender retries. SIZE is
advertised; larger mail gets 552.

Limits as a real MTA keeps them (Postfix's defaults are the reference): a recipient named twice
is one recipient; past MAX_RECIPIENTS, 452 4.5.3; past MAX_CONNECTIONS at once, or
MAX_CONNECTIONS_PER_CLIENT from one address, 421 4.7.0;
DATA past the size limit is discarded as it streams (552), and a line longer than FLUSH_AT is
written to the spool as it comes, so no client can make the server hold more than FLUSH_AT and
one chunk per connection.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import uvloop
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP
from aiosmtpd.smtp import Envelope as SmtpEnvelope
from aiosmtpd.smtp import Session as SmtpSession

from mailhub.db import SessionFactory
from mailhub.ingress.accept import (
    Envelope,
    RecipientCache,
    UnknownRecipient,
    forget_delivery,
    place_delivery,
    settle_delivery,
)
from mailhub.ingress.commit import GroupCommitter
from mailhub.ingress.protocol import REPLY_STORAGE_FAILED, MailhubSMTP, counted
from mailhub.ingress.ratelimit import SenderRateLimiter
from mailhub.stores.rawstore import RawStore, Spool

log = logging.getLogger(__name__)

REPLY_RCPT_OK = "250 2.1.5 Recipient ok"
REPLY_UNKNOWN_MAILBOX = "550 5.1.1 {reason}"
REPLY_QUEUED = "250 2.0.0 Ok: stored as {ids}"
REPLY_DUPLICATE = "250 2.0.0 Ok: already have this message"
REPLY_LOOKUP_FAILED = "451 4.3.0 Could not check this recipient right now; please try again later"
REPLY_NO_RECIPIENTS = "554 5.5.1 No valid recipients"
REPLY_RATE_LIMITED = "450 4.7.1 Too many messages from this sender; please try again later"
REPLY_TOO_MANY_RECIPIENTS = "452 4.5.3 Too many recipients"


class MailhubHandler:
    def __init__(
        self,
        sessions: SessionFactory,
        raw_store: RawStore,
        enqueue: Callable[[list[int]], None] | None,
        threads: int = 8,
        sender_rate_limit: int = 0,
        max_recipients: int = 100,
        max_connections: int = 100,
        max_per_client: int = 50,
    ) -> None:
        self.max_recipients = max_recipients
        self.max_connections = max_connections
        self.open_connections = 0  # counted on the server's event loop
        # What one client address may hold of them (Postfix: 50 of 100), so no single
        # machine can take the door from everybody else.
        self.max_per_client = max_per_client
        self.per_client: dict[str, int] = {}
        self.sessions = sessions
        self.raw_store = raw_store
        # With no broker (`enqueue` None), rows are committed due for the worker's next sweep.
        self.enqueue = enqueue
        self.recipients = RecipientCache(sessions)
        self.rate_limiter = SenderRateLimiter(sender_rate_limit)
        engine = sessions.kw["bind"]
        self.committer = GroupCommitter(engine, due=enqueue is None, after_commit=enqueue)
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="mailhub-smtp")
        # aiosmtpd looks these up with dir() for every connection; here they are found once.
        self.hooks: dict[str, Callable[..., Coroutine[Any, Any, str]]] = {
            "RCPT": self.handle_RCPT,
            "DATA": self.handle_DATA,
        }

    async def _run(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    async def handle_RCPT(
        self,
        server: SMTP,
        session: SmtpSession,
        envelope: SmtpEnvelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if address.lower() in {a.lower() for a in envelope.rcpt_tos}:
            return REPLY_RCPT_OK  # the same recipient twice is one recipient
        if len(envelope.rcpt_tos) >= self.max_recipients:
            return counted(REPLY_TOO_MANY_RECIPIENTS)
        try:
            tenant_id = self.recipients.cached(address)  # a busy space: no thread, no query
            if tenant_id is None:
                tenant_id = await self._run(self.recipients.tenant_of, address)
        except UnknownRecipient as exc:
            return counted(REPLY_UNKNOWN_MAILBOX.format(reason=exc))
        except Exception:
            log.exception("recipient check failed")
            return counted(REPLY_LOOKUP_FAILED)
        known = tenants(envelope)
        if tenant_id not in known.values():  # one count per message and tenant
            sender = (envelope.mail_from or "").strip().strip("<>")
            if not self.rate_limiter.allow(tenant_id, sender, _peer(session)):
                return counted(REPLY_RATE_LIMITED)
        envelope.rcpt_tos.append(address)
        known[address] = tenant_id
        return REPLY_RCPT_OK

    async def handle_DATA(self, server: SMTP, session: SmtpSession, envelope: SmtpEnvelope) -> str:
        # The spool is the handler's from here: it is placed or discarded by `_store`.
        spool: Spool | None = envelope.__dict__.pop("mailhub_spool", None)
        if spool is None:  # a plain aiosmtpd SMTP object kept the content in memory
            raw = envelope.original_content or envelope.content
            assert isinstance(raw, bytes)
            spool = self.raw_store.spool_bytes(raw)
        if not envelope.rcpt_tos:
            spool.discard()
            return counted(REPLY_NO_RECIPIENTS)
        peer = _peer(session)
        # aiosmtpd reports the null reverse-path (bounces, RFC 5321 §4.5.5) as "<>".
        mail_from = (envelope.mail_from or "").strip().strip("<>")
        facts = Envelope(mail_from=mail_from, rcpt_to=tuple(envelope.rcpt_tos), peer=peer)
        # Shielded: a client that hangs up now does not leave a file without its row, nor a
        # spool closed under the thread that is writing it.
        return counted(await asyncio.shield(self._store(spool, facts, dict(tenants(envelope)))))

    async def _store(self, spool: Spool, facts: Envelope, by_rcpt: dict[str, int]) -> str:
        """Files in a thread (fsyncs run in parallel), then the rows with the group commit,
        which enqueues them and wakes this coroutine itself."""
        try:
            rows = await self._run(place_delivery, self.raw_store, spool, facts, by_rcpt, False)
        except Exception:
            log.exception("could not store inbound message")
            return REPLY_STORAGE_FAILED
        finally:
            spool.discard()  # the spool's own name; the placed names stay
        try:
            accepted = await self.committer.stored(
                rows, {self.raw_store.directory_of(r.raw_path) for r in rows}
            )
        except Exception:  # logged by the committer
            forget_delivery(self.raw_store, rows)
            return REPLY_STORAGE_FAILED
        settle_delivery(self.raw_store, rows, accepted)
        fresh = [a.inbound_id for a in accepted if not a.duplicate]
        if not fresh:
            return REPLY_DUPLICATE
        return REPLY_QUEUED.format(ids=",".join(str(i) for i in fresh))


def _peer(session: SmtpSession) -> str:
    return session.peer[0] if isinstance(session.peer, tuple) else str(session.peer or "")


def tenants(envelope: SmtpEnvelope) -> dict[str, int]:
    """The tenant of each accepted recipient, kept on the envelope from RCPT to DATA."""
    found: dict[str, int] | None = getattr(envelope, "mailhub_tenants", None)
    if found is None:
        found = {}
        setattr(envelope, "mailhub_tenants", found)  # noqa: B010 - aiosmtpd's Envelope is untyped
    return found


class _Controller(Controller):
    def __init__(self, handler: MailhubHandler, reuse_port: bool, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.reuse_port = reuse_port

    def factory(self) -> SMTP:
        return MailhubSMTP(self.handler, **self.SMTP_kwargs)

    def _trigger_server(self) -> None:
        """Check that a protocol object can be made, in the server's loop.

        aiosmtpd connects to its own port for this; with SO_REUSEPORT the kernel may hand that
        connection to a sibling process on the same port, and the start fails.
        """
        self.loop.call_soon_threadsafe(self._factory_invoker)

    def _create_server(self) -> Awaitable[asyncio.AbstractServer]:
        return self.loop.create_server(
            self._factory_invoker,
            host=self.hostname,
            port=self.port,
            ssl=self.ssl_context,
            reuse_port=self.reuse_port,
        )


class SmtpServer:
    """aiosmtpd in its own thread, as `mailhub serve` and `mailhub smtp` run it.

    With `reuse_port`, several `mailhub smtp` processes listen on the same port and the kernel
    spreads connections across them (SO_REUSEPORT), one per core.
    """

    def __init__(
        self, handler: MailhubHandler, host: str, port: int, max_size: int, reuse_port: bool = False
    ) -> None:
        self.controller = _Controller(
            handler,
            reuse_port,
            # libuv's event loop: a sixth less CPU per message than asyncio's own, and
            # 15 % more mail per second (bench/README.md).
            loop=uvloop.new_event_loop(),
            hostname=host,
            port=port,
            ready_timeout=10,
            data_size_limit=max_size,
            enable_SMTPUTF8=True,
            server_hostname="mailhub",
            ident="mailhub ESMTP",
        )

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()
        self.controller.handler.committer.close()

    @property
    def port(self) -> int:
        return int(self.controller.port)
