"""The SMTP edge: aiosmtpd hooks that check recipients and store mail, deciding nothing else.

RCPT is answered from the directory (unknown domain, space or key: 550 at once, so the sending
server bounces with a clear reason). DATA answers 250 only after the raw bytes are fsynced and
their row committed; if storage fails the answer is 451 and the sender retries. SIZE is
advertised and enforced by aiosmtpd (552).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP
from aiosmtpd.smtp import Envelope as SmtpEnvelope
from aiosmtpd.smtp import Session as SmtpSession

from mailhub.db import SessionFactory
from mailhub.ingress.accept import Envelope, RecipientCache, UnknownRecipient, store_inbound
from mailhub.ingress.rawstore import RawStore

log = logging.getLogger(__name__)

REPLY_RCPT_OK = "250 2.1.5 Recipient ok"
REPLY_UNKNOWN_MAILBOX = "550 5.1.1 {reason}"
REPLY_QUEUED = "250 2.0.0 Ok: stored as {ids}"
REPLY_DUPLICATE = "250 2.0.0 Ok: already have this message"
REPLY_STORAGE_FAILED = "451 4.3.0 Could not store the message right now; please try again later"
REPLY_LOOKUP_FAILED = "451 4.3.0 Could not check this recipient right now; please try again later"
REPLY_NO_RECIPIENTS = "554 5.5.1 No valid recipients"


class MailhubHandler:
    def __init__(
        self,
        sessions: SessionFactory,
        raw_store: RawStore,
        enqueue: Callable[[list[int]], None],
        threads: int = 8,
    ) -> None:
        self.sessions = sessions
        self.raw_store = raw_store
        self.enqueue = enqueue
        self.recipients = RecipientCache(sessions)
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
        try:
            tenant_id = await self._run(self.recipients.tenant_of, address)
        except UnknownRecipient as exc:
            return REPLY_UNKNOWN_MAILBOX.format(reason=exc)
        except Exception:
            log.exception("recipient check failed")
            return REPLY_LOOKUP_FAILED
        envelope.rcpt_tos.append(address)
        tenants(envelope)[address] = tenant_id
        return REPLY_RCPT_OK

    async def handle_DATA(self, server: SMTP, session: SmtpSession, envelope: SmtpEnvelope) -> str:
        if not envelope.rcpt_tos:
            return REPLY_NO_RECIPIENTS
        raw = envelope.original_content or envelope.content
        assert isinstance(raw, bytes)
        peer = session.peer[0] if isinstance(session.peer, tuple) else str(session.peer or "")
        # aiosmtpd reports the null reverse-path (bounces, RFC 5321 §4.5.5) as "<>".
        mail_from = (envelope.mail_from or "").strip().strip("<>")
        facts = Envelope(mail_from=mail_from, rcpt_to=tuple(envelope.rcpt_tos), peer=peer)
        try:
            accepted = await self._run(
                store_inbound, self.sessions, self.raw_store, raw, facts, tenants(envelope)
            )
        except Exception:
            log.exception("could not store inbound message")
            return REPLY_STORAGE_FAILED
        fresh = [a.inbound_id for a in accepted if not a.duplicate]
        if not fresh:
            return REPLY_DUPLICATE
        await self._run(self.enqueue, fresh)
        return REPLY_QUEUED.format(ids=",".join(str(i) for i in fresh))


def tenants(envelope: SmtpEnvelope) -> dict[str, int]:
    """The tenant of each accepted recipient, kept on the envelope from RCPT to DATA."""
    found: dict[str, int] | None = getattr(envelope, "mailhub_tenants", None)
    if found is None:
        found = {}
        setattr(envelope, "mailhub_tenants", found)  # noqa: B010 - aiosmtpd's Envelope is untyped
    return found


class SmtpServer:
    """aiosmtpd in its own thread, as `mailhub serve` and `mailhub smtp` run it."""

    def __init__(self, handler: MailhubHandler, host: str, port: int, max_size: int) -> None:
        self.controller = Controller(
            handler,
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

    @property
    def port(self) -> int:
        return int(self.controller.port)
