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
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP
from aiosmtpd.smtp import Envelope as SmtpEnvelope
from aiosmtpd.smtp import Session as SmtpSession

from mailhub.db import SessionFactory
from mailhub.ingress.accept import Envelope, RecipientCache, UnknownRecipient, store_inbound
from mailhub.ingress.commit import GroupCommitter
from mailhub.ingress.ratelimit import SenderRateLimiter
from mailhub.stores.rawstore import RawStore, Spool

log = logging.getLogger(__name__)

REPLY_RCPT_OK = "250 2.1.5 Recipient ok"
REPLY_UNKNOWN_MAILBOX = "550 5.1.1 {reason}"
REPLY_QUEUED = "250 2.0.0 Ok: stored as {ids}"
REPLY_DUPLICATE = "250 2.0.0 Ok: already have this message"
REPLY_STORAGE_FAILED = "451 4.3.0 Could not store the message right now; please try again later"
REPLY_LOOKUP_FAILED = "451 4.3.0 Could not check this recipient right now; please try again later"
REPLY_NO_RECIPIENTS = "554 5.5.1 No valid recipients"
REPLY_RATE_LIMITED = "450 4.7.1 Too many messages from this sender; please try again later"
REPLY_TOO_BIG = "552 5.3.4 Message too big for this system"
REPLY_TOO_MANY_RECIPIENTS = "452 4.5.3 Too many recipients"
REPLY_TOO_MANY_CONNECTIONS = "421 4.7.0 mailhub Too many connections; please try again later"

CHUNK = 65536
FLUSH_AT = 262144  # write whole lines to the spool once this much is buffered


class MailhubHandler:
    def __init__(
        self,
        sessions: SessionFactory,
        raw_store: RawStore,
        enqueue: Callable[[list[int]], None],
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
        self.enqueue = enqueue
        self.recipients = RecipientCache(sessions)
        self.rate_limiter = SenderRateLimiter(sender_rate_limit)
        engine = sessions.kw["bind"]
        self.committer = GroupCommitter(engine)
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="mailhub-smtp")

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
            return REPLY_TOO_MANY_RECIPIENTS
        try:
            tenant_id = await self._run(self.recipients.tenant_of, address)
        except UnknownRecipient as exc:
            return REPLY_UNKNOWN_MAILBOX.format(reason=exc)
        except Exception:
            log.exception("recipient check failed")
            return REPLY_LOOKUP_FAILED
        known = tenants(envelope)
        if tenant_id not in known.values():  # one count per message and tenant
            sender = (envelope.mail_from or "").strip().strip("<>")
            if not self.rate_limiter.allow(tenant_id, sender, _peer(session)):
                return REPLY_RATE_LIMITED
        envelope.rcpt_tos.append(address)
        known[address] = tenant_id
        return REPLY_RCPT_OK

    async def handle_DATA(self, server: SMTP, session: SmtpSession, envelope: SmtpEnvelope) -> str:
        spool: Spool | None = getattr(envelope, "mailhub_spool", None)
        if spool is None:  # a plain aiosmtpd SMTP object kept the content in memory
            raw = envelope.original_content or envelope.content
            assert isinstance(raw, bytes)
            spool = self.raw_store.spool_bytes(raw)
        if not envelope.rcpt_tos:
            spool.discard()
            return REPLY_NO_RECIPIENTS
        peer = _peer(session)
        # aiosmtpd reports the null reverse-path (bounces, RFC 5321 §4.5.5) as "<>".
        mail_from = (envelope.mail_from or "").strip().strip("<>")
        facts = Envelope(mail_from=mail_from, rcpt_to=tuple(envelope.rcpt_tos), peer=peer)
        try:
            accepted = await self._run(
                store_inbound,
                self.sessions,
                self.raw_store,
                spool,
                facts,
                tenants(envelope),
                self.committer,
            )
        except Exception:
            log.exception("could not store inbound message")
            return REPLY_STORAGE_FAILED
        fresh = [a.inbound_id for a in accepted if not a.duplicate]
        if not fresh:
            return REPLY_DUPLICATE
        await self._run(self.enqueue, fresh)
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


class MailhubSMTP(SMTP):
    """aiosmtpd's protocol with DATA streamed to the raw store in large reads.

    aiosmtpd reads DATA a line at a time and keeps every line in memory; a 50 MB message
    would cost several times its size, and a 32 KB one some 400 awaits. Here the stream is
    read in 64 KB chunks, un-dot-stuffed (RFC 5321 §4.5.2) and written to a spool file.
    """

    _counted = ""  # the client address this connection is counted under, once counted

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        handler: MailhubHandler = self.event_handler
        if self.transport is None:  # a new connection (not STARTTLS over an open one)
            peer = transport.get_extra_info("peername")
            client = str(peer[0]) if isinstance(peer, tuple) else str(peer)
            if (
                handler.open_connections >= handler.max_connections
                or handler.per_client.get(client, 0) >= handler.max_per_client
            ):
                assert isinstance(transport, asyncio.WriteTransport)
                transport.write(REPLY_TOO_MANY_CONNECTIONS.encode() + b"\r\n")
                transport.close()
                return
            handler.open_connections += 1
            handler.per_client[client] = handler.per_client.get(client, 0) + 1
            self._counted = client
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        if self.session is None:  # refused at the door: nothing was started
            return
        if self._counted:
            handler: MailhubHandler = self.event_handler
            handler.open_connections -= 1
            left = handler.per_client.get(self._counted, 1) - 1
            if left > 0:
                handler.per_client[self._counted] = left
            else:
                handler.per_client.pop(self._counted, None)
            self._counted = ""
        super().connection_lost(error)

    async def smtp_DATA(self, arg: str) -> None:
        if await self.check_helo_needed():
            return
        if await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        handler: MailhubHandler = self.event_handler
        try:
            spool: Spool | None = handler.raw_store.spool()
        except OSError:
            log.exception("cannot open a spool file for inbound mail")
            await self.push(REPLY_STORAGE_FAILED)
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        try:
            spool, refused = await self._receive(spool)
        except BaseException:
            if spool is not None:
                spool.discard()
            raise
        if spool is None or refused:
            self._set_post_data_state()  # type: ignore[no-untyped-call]
            await self.push(refused or REPLY_STORAGE_FAILED)
            return
        setattr(self.envelope, "mailhub_spool", spool)  # noqa: B010
        try:
            status = await self._call_handler_hook("DATA")
        finally:
            spool.discard()  # a no-op once the handler has placed it
        self._set_post_data_state()  # type: ignore[no-untyped-call]
        await self.push(status)

    async def _receive(self, spool: Spool | None) -> tuple[Spool | None, str]:
        """Read up to the lone "." line into the spool.

        Returns the spool (None when writing failed and it was dropped) and the reply that
        refuses the message ("" when it is acceptable: it is over the size limit). Either way
        the whole message is read, so the answer comes after it (RFC 5321 §4.2.5); once
        refused, only the last bytes are kept, to find the terminator.
        """
        limit = self.data_size_limit
        buf = bytearray(b"\r\n")  # as if after a line end, so a first "." line is seen
        first, received, refused, scan_from = True, 0, "", 0
        while True:
            chunk = await self._reader.read(CHUNK)
            if not chunk:
                raise ConnectionResetError("connection closed during DATA")
            buf += chunk
            end = buf.find(b"\r\n.\r\n", scan_from)
            received += len(chunk) if end < 0 else len(chunk) - (len(buf) - end)
            if limit and received > limit and not refused:
                refused = REPLY_TOO_BIG
            if refused and spool is not None:
                spool.discard()
                spool = None
            if end >= 0:
                spool = _write_lines(spool, buf[:end], first, final=True)
                self._unread(bytes(buf[end + 5 :]))
                return spool, refused
            if refused:
                del buf[:-4]  # what may begin the terminator; the rest is thrown away
            elif len(buf) > FLUSH_AT:
                cut = buf.rfind(b"\r\n")  # keep the last line: it may begin the terminator
                if cut > 0:
                    spool = _write_lines(spool, buf[:cut], first, final=False)
                    first = False
                    del buf[:cut]
                else:  # one line longer than FLUSH_AT: written as it comes (Postfix accepts
                    # such lines too), keeping the tail that may begin the terminator, and never
                    # cutting between a CR and its LF
                    cut = len(buf) - 4
                    while cut > 0 and buf[cut - 1] in b"\r\n":
                        cut -= 1
                    spool = _write_lines(spool, buf[:cut], first, final=False)
                    first = False
                    del buf[:cut]
            scan_from = max(0, len(buf) - 4)

    def _unread(self, data: bytes) -> None:
        """Give back what a client sent after the final "." (it pipelined its next command)."""
        if not data:
            return
        buffer = getattr(self._reader, "_buffer", None)
        if isinstance(buffer, bytearray):
            buffer[0:0] = data


def _write_lines(spool: Spool | None, lines: bytearray, first: bool, final: bool) -> Spool | None:
    """Write lines that start with a CRLF (the previous line's end), dot-unstuffed.

    Returns the spool, or None once it is dropped (nothing to write to, or a write failed).
    """
    if spool is None:
        return None
    data = bytes(lines).replace(b"\r\n.", b"\r\n")
    if first:
        data = data[2:]  # the CRLF we put in front of the first line
    if final and (not first or lines[2:]):
        data += b"\r\n"  # the last line's end, which is the start of "\r\n.\r\n"
    try:
        spool.write(data)
    except OSError:
        log.exception("cannot write inbound mail to the spool")
        spool.discard()
        return None
    return spool


class _Controller(Controller):
    def __init__(self, handler: MailhubHandler, reuse_port: bool, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.reuse_port = reuse_port

    def factory(self) -> SMTP:
        return MailhubSMTP(self.handler, **self.SMTP_kwargs)

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
