"""Mail transports: an SMTP relay in production, the outbox (stores/outbox.py) otherwise.

Both are idempotent per name: the outbox replaces a mail of the same name; the relay is only called
by the delivery step, which has claimed the notification first. Inside `batch()` the relay keeps
one SMTP connection (per thread) for all the mails of a delivery job instead of a handshake,
STARTTLS and login for each.
"""

from __future__ import annotations

import contextlib
import smtplib
import threading
from collections.abc import Iterator
from typing import Protocol

from mailhub.errors import MailhubError


class TransportError(MailhubError):
    """The mail was not handed over; `permanent` when retrying cannot help (a 5xx)."""

    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class Transport(Protocol):
    """Hands over finished bytes (signed, folded): a transport never re-serializes a message."""

    def send(self, name: str, data: bytes, mail_from: str, rcpt_to: list[str]) -> None: ...


class SmtpRelayTransport:
    def __init__(
        self, host: str, port: int, user: str = "", password: str = "", timeout: float = 30
    ) -> None:
        self.host, self.port, self.user, self.password, self.timeout = (
            host,
            port,
            user,
            password,
            timeout,
        )
        self._local = threading.local()  # worker threads share one transport
        self.connections = 0  # opened so far (for tests and the log)

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Reuse one connection for every send inside the block (this thread only)."""
        self._local.batching = True
        try:
            yield
        finally:
            self._local.batching = False
            self._drop(polite=True)

    def send(self, name: str, data: bytes, mail_from: str, rcpt_to: list[str]) -> None:
        reused = getattr(self._local, "conn", None) is not None
        try:
            self._sendmail(data, mail_from, rcpt_to)
        except smtplib.SMTPServerDisconnected:
            if not reused:
                raise self._error(smtplib.SMTPServerDisconnected("closed")) from None
            # The relay closed a connection that sat idle: one fresh try, then the usual rules.
            try:
                self._sendmail(data, mail_from, rcpt_to)
            except (OSError, smtplib.SMTPException) as exc:
                raise self._error(exc) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise self._error(exc) from exc

    def _sendmail(self, data: bytes, mail_from: str, rcpt_to: list[str]) -> None:
        conn = self._connection()
        try:
            refused = conn.sendmail(mail_from, rcpt_to, data)
        except smtplib.SMTPServerDisconnected:
            self._drop()
            raise
        except (OSError, smtplib.SMTPException):
            self._drop()  # whatever state the session is in, the next mail starts afresh
            raise
        finally:
            if not getattr(self._local, "batching", False):
                self._drop(polite=True)
        if refused:
            raise TransportError(f"relay refused {sorted(refused)}", permanent=True)

    def _connection(self) -> smtplib.SMTP:
        conn: smtplib.SMTP | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            self.connections += 1
            conn.ehlo()
            if conn.has_extn("starttls"):
                conn.starttls()
                conn.ehlo()
            if self.user:
                conn.login(self.user, self.password)
            self._local.conn = conn
        return conn

    def _drop(self, polite: bool = False) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                conn.quit() if polite else conn.close()

    def _error(self, exc: Exception) -> TransportError:
        if isinstance(exc, TransportError):
            return exc
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            codes = [code for code, _ in exc.recipients.values()]
            return TransportError(
                f"relay refused {list(exc.recipients)}: {codes}",
                permanent=all(c >= 500 for c in codes),
            )
        if isinstance(exc, smtplib.SMTPResponseException):
            return TransportError(
                f"relay answered {exc.smtp_code} {exc.smtp_error!r}", permanent=exc.smtp_code >= 500
            )
        return TransportError(f"relay {self.host}:{self.port} unreachable: {exc}")
