"""Mail transports: an SMTP relay in production, .eml files in an outbox for the embedded default.

Both are idempotent per name: the outbox overwrites the same file; the relay is only called
by the delivery step, which has claimed the notification first.
"""

from __future__ import annotations

import os
import smtplib
from pathlib import Path
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


class OutboxTransport:
    def __init__(self, root: Path) -> None:
        self.root = root

    def send(self, name: str, data: bytes, mail_from: str, rcpt_to: list[str]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / f"{name}.eml"
        tmp = path.with_suffix(".tmp")
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)


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

    def send(self, name: str, data: bytes, mail_from: str, rcpt_to: list[str]) -> None:
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                smtp.ehlo()
                if smtp.has_extn("starttls"):
                    smtp.starttls()
                    smtp.ehlo()
                if self.user:
                    smtp.login(self.user, self.password)
                refused = smtp.sendmail(mail_from, rcpt_to, data)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise TransportError(
                f"relay refused {rcpt_to}: {codes}", permanent=all(c >= 500 for c in codes)
            ) from exc
        except smtplib.SMTPResponseException as exc:
            raise TransportError(
                f"relay answered {exc.smtp_code} {exc.smtp_error!r}", permanent=exc.smtp_code >= 500
            ) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise TransportError(f"relay {self.host}:{self.port} unreachable: {exc}") from exc
        if refused:
            raise TransportError(f"relay refused {sorted(refused)}", permanent=True)
