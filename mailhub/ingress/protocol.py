"""The SMTP conversation: aiosmtpd's protocol object, lean where its generic code costs, with
DATA streamed to a spool file. What to accept is the handler's (smtp.py)."""

from __future__ import annotations

import asyncio
import collections
import logging
import re
from collections.abc import Callable, Coroutine
from typing import Any, Protocol, cast

from aiosmtpd.smtp import BOGUS_LIMIT, SMTP, login_always_fail, syntax

from mailhub.metrics import SMTP_REPLIES
from mailhub.stores.rawstore import RawStore, Spool

log = logging.getLogger(__name__)


class Door(Protocol):
    """What the protocol asks of its handler (smtp.Door): where to spool, whom to
    let in, and the hooks that decide."""

    raw_store: RawStore
    hooks: dict[str, Callable[..., Coroutine[Any, Any, str]]]
    max_connections: int
    max_per_client: int
    open_connections: int
    per_client: dict[str, int]


REPLY_STORAGE_FAILED = "451 4.3.0 Could not store the message right now; please try again later"
REPLY_TOO_BIG = "552 5.3.4 Message too big for this system"
REPLY_TOO_MANY_CONNECTIONS = "421 4.7.0 mailhub Too many connections; please try again later"


def counted(reply: str) -> str:
    """A reply that decides a message's fate (accepted, or refused and why), counted by code."""
    SMTP_REPLIES.labels(reply[:3]).inc()
    return reply


CHUNK = 65536
FLUSH_AT = 262144  # write whole lines to the spool once this much is buffered


# A plain address in angle brackets, as nearly every client sends it: a dot-atom local part
# and a domain of letters, digits and hyphens (RFC 5321 §4.1.2). Anything else goes to
# aiosmtpd's full parser. One pass, no nested ambiguity: linear in the line.
_PLAIN_PATH = re.compile(
    r"\s*<([A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)>"
)


class MailhubSMTP(SMTP):
    """aiosmtpd's protocol, lean where its generic code costs, with DATA streamed to the raw
    store in large reads.

    aiosmtpd builds its command and hook tables for every connection by introspection
    (`inspect.getmembers`, `dir`), makes a new timer for every command, parses every address
    with the email package's full grammar and logs every line; here the tables are built once,
    one timer per connection is moved only when it fires, plain addresses are read with one
    regular expression, and the command loop does only what mailhub's server offers (no
    PROXY, STARTTLS, AUTH or command budgets). aiosmtpd also reads DATA a line at a time
    and keeps every line in memory; a 50 MB message would cost several times its size, and a
    32 KB one some 400 awaits. Here the stream is read in 64 KB chunks, un-dot-stuffed
    (RFC 5321 §4.5.2) and written to a spool file.
    """

    _counted = ""  # the client address this connection is counted under, once counted
    _deadline = 0.0  # when the connection times out, unless a command comes first
    # The commands, found once per class instead of with dir() per connection.
    _COMMANDS: dict[str, Callable[..., Coroutine[Any, Any, None]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._COMMANDS = _commands_of(cls)

    def __init__(
        self,
        handler: Door,
        *,
        data_size_limit: int | None,
        hostname: str,
        ident: str,
        enable_SMTPUTF8: bool = True,
        timeout: float = 300,
    ) -> None:
        # What SMTP.__init__ sets, for a server without TLS, AUTH or PROXY.
        self.__ident__ = ident
        self.loop = asyncio.get_running_loop()
        asyncio.StreamReaderProtocol.__init__(
            self,
            asyncio.StreamReader(loop=self.loop, limit=self.line_length_limit),
            client_connected_cb=self._cb_client_connected,
            loop=self.loop,
        )
        self.event_handler = handler
        self.data_size_limit = data_size_limit
        self.enable_SMTPUTF8 = enable_SMTPUTF8
        self._decode_data = False
        # aiosmtpd shares one such table among all connections of the class (EHLO raises
        # MAIL's limit in it); each connection has its own here.
        self.command_size_limits = collections.defaultdict(lambda: SMTP.command_size_limit)
        self.hostname = hostname
        self.tls_context = None
        self.require_starttls = False
        self._timeout_duration = timeout
        self._timeout_handle: asyncio.TimerHandle | None = None
        self._tls_handshake_okay = True
        self._tls_protocol = None
        self._original_transport = None
        self.session = None
        self.envelope = None
        self.transport = None
        self._handler_coroutine = None
        self._auth_require_tls = True
        self._proxy_timeout = None
        self._authenticator = None
        self._auth_callback = login_always_fail
        self._auth_required = False
        self._auth_methods = {}  # no AUTH: nobody logs in to deliver mail here
        self._handle_hooks = handler.hooks
        self._ehlo_hook_ver = None
        self._smtp_methods = self._COMMANDS  # HELP reads their syntax from here
        self._enforce_call_limit = False

    def _reset_timeout(self, duration: float | None = None) -> None:
        self._deadline = self.loop.time() + (duration or self._timeout_duration)
        if self._timeout_handle is None:
            self._timeout_handle = self.loop.call_at(self._deadline, self._timeout_due)

    def _timeout_due(self) -> None:
        if self.loop.time() < self._deadline:  # a command came meanwhile: wait on
            self._timeout_handle = self.loop.call_at(self._deadline, self._timeout_due)
        else:
            self._timeout_cb()  # type: ignore[no-untyped-call]

    async def push(self, status: str | bytes) -> None:
        response = status.encode() if isinstance(status, str) else status
        self._writer.write(response + b"\r\n")
        await self._writer.drain()

    @syntax("EHLO hostname")
    async def smtp_EHLO(self, hostname: str) -> None:
        """aiosmtpd's EHLO for this server (no STARTTLS, no AUTH), its lines in one write: as
        five writes they were five packets, and a client woken five times."""
        if not hostname:
            await self.push("501 Syntax: EHLO hostname")
            return
        self._set_rset_state()  # type: ignore[no-untyped-call]
        assert self.session is not None
        self.session.extended_smtp = True
        lines = [f"250-{self.hostname}"]
        if self.data_size_limit:
            lines.append(f"250-SIZE {self.data_size_limit}")
            self.command_size_limits["MAIL"] += 26
        lines.append("250-8BITMIME")
        if self.enable_SMTPUTF8:
            lines.append("250-SMTPUTF8")
            self.command_size_limits["MAIL"] += 10
        lines.append("250 HELP")
        self.session.host_name = hostname
        await self.push("\r\n".join(lines))

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        plain = _PLAIN_PATH.match(arg)
        if plain is None:
            return super()._getaddr(arg)
        return plain[1], arg[plain.end() :]

    async def _handle_client(self) -> None:
        """aiosmtpd's command loop, less what this server does not offer (see the class)."""
        assert self.session is not None
        await self.push(f"220 {self.hostname} {self.__ident__}")
        bogus_budget = BOGUS_LIMIT
        while self.transport is not None:
            try:
                try:
                    line: bytes = await self._reader.readuntil()
                except asyncio.LimitOverrunError as error:  # read to the line's end, then 500
                    await self._reader.read(error.consumed)
                    while True:
                        try:
                            await self._reader.readuntil()
                            break
                        except asyncio.LimitOverrunError as more:
                            await self._reader.read(more.consumed)
                    await self.push("500 Command line too long")
                    continue
                line = line.rstrip(b"\r\n")
                if not line:
                    await self.push("500 Error: bad syntax")
                    continue
                command_bytes, _, arg_bytes = line.partition(b" ")
                try:
                    command = command_bytes.upper().decode("ascii")
                except UnicodeDecodeError:
                    await self.push("500 Error: bad syntax")
                    continue
                arg: str | None = None
                if arg_bytes:
                    # UTF-8 with surrogate escapes, so 8-bit bytes come back intact.
                    arg = str(arg_bytes.strip(), "utf-8", "surrogateescape")
                max_size = (
                    self.command_size_limits[command]
                    if self.session.extended_smtp
                    else self.command_size_limit
                )
                if len(line) > max_size:
                    await self.push("500 Command line too long")
                    continue
                method = self._COMMANDS.get(command)
                if method is None:
                    bogus_budget -= 1
                    if bogus_budget < 1:
                        await self.push("502 5.5.1 Too many unrecognized commands, goodbye.")
                        self.transport.close()
                        continue
                    await self.push(f'500 Error: command "{command}" not recognized')
                    continue
                self._reset_timeout()
                await method(self, arg)
            except (asyncio.CancelledError, ConnectionResetError):
                self._writer.close()  # the connection went away, during DATA or between commands
                raise
            except Exception as error:
                try:
                    status = await self.handle_exception(error)
                except Exception as inner:
                    log.exception("%r exception in handle_exception()", self.session.peer)
                    status = f"500 Error: ({inner.__class__.__name__}) {inner}"
                await self.push(status)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        handler: Door = self.event_handler
        if self.transport is None:  # a new connection (not STARTTLS over an open one)
            peer = transport.get_extra_info("peername")
            client = str(peer[0]) if isinstance(peer, tuple) else str(peer)
            if (
                handler.open_connections >= handler.max_connections
                or handler.per_client.get(client, 0) >= handler.max_per_client
            ):
                writer = cast(asyncio.WriteTransport, transport)  # libuv's is not a subclass
                writer.write(counted(REPLY_TOO_MANY_CONNECTIONS).encode() + b"\r\n")
                writer.close()
                return
            handler.open_connections += 1
            handler.per_client[client] = handler.per_client.get(client, 0) + 1
            self._counted = client
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        if self.session is None:  # refused at the door: nothing was started
            return
        if self._counted:
            handler: Door = self.event_handler
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
        handler: Door = self.event_handler
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
            await self.push(counted(refused or REPLY_STORAGE_FAILED))
            return
        setattr(self.envelope, "mailhub_spool", spool)  # noqa: B010 - the handler takes it
        try:
            status = await self._call_handler_hook("DATA")
        finally:
            if self.envelope.__dict__.pop("mailhub_spool", None) is not None:
                spool.discard()  # the handler never took it
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
    if final and (not first or len(lines) > 2):
        lines += b"\r\n"  # the last line's end, which is the start of "\r\n.\r\n"
    if lines.find(b"\r\n.") >= 0:  # most mail has no line that starts with a dot
        lines = lines.replace(b"\r\n.", b"\r\n")
    try:
        spool.write(memoryview(lines)[2:] if first else lines)  # [2:]: the CRLF put in front
    except OSError:
        log.exception("cannot write inbound mail to the spool")
        spool.discard()
        return None
    return spool


def _commands_of(cls: type) -> dict[str, Callable[..., Coroutine[Any, Any, None]]]:
    return {
        name.removeprefix("smtp_"): getattr(cls, name)
        for name in dir(cls)
        if name.startswith("smtp_")
    }


MailhubSMTP._COMMANDS = _commands_of(MailhubSMTP)
