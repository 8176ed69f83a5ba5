"""`mailhub send`: a tiny mail client for trying mailhub out, speaking real SMTP to it.

With --reply-to-file (a file, or a name `mailhub outbox` lists) it answers a notification
from the outbox the way a mail client would:
to its Reply-To, "Re:" subject, In-Reply-To/References, and the original quoted below.
"""

from __future__ import annotations

import os
import smtplib
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses, make_msgid
from pathlib import Path

from mailhub.config import Settings
from mailhub.errors import InvalidInput, MailhubError


def send_mail(
    settings: Settings,
    sender: str,
    to: str | None,
    subject: str,
    body: str,
    reply_to_file: str | None,
) -> str:
    msg = EmailMessage()
    msg["From"] = sender
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "localhost")
    if reply_to_file:
        original = _read(settings, reply_to_file)
        to = to or str(original.get("Reply-To") or original.get("From") or "")
        orig_subject = str(original.get("Subject", ""))
        subject = subject or (
            orig_subject if orig_subject.lower().startswith("re:") else f"Re: {orig_subject}"
        )
        refs = " ".join(
            filter(None, [str(original.get("References", "")), str(original.get("Message-ID", ""))])
        )
        msg["In-Reply-To"] = str(original.get("Message-ID", ""))
        msg["References"] = refs
        text_part = original.get_body(preferencelist=("plain",))
        quoted = "\n".join(
            "> " + line for line in (text_part.get_content() if text_part else "").splitlines()
        )
        body = f"{body}\n\nOn {original.get('Date', 'an earlier day')}, {original.get('From', 'mailhub')} wrote:\n{quoted}\n"
    if not to:
        raise InvalidInput("--to is required (or --reply-to-file with a Reply-To header)")
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content(body)
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=30) as smtp:
            # As it was typed: smtplib's send_message would write a body line "From …" as
            # ">From …" (mbox quoting, which mail on the wire does not need).
            recipients = [addr for _, addr in getaddresses([to]) if addr]
            smtp.sendmail(_address(sender), recipients, msg.as_bytes(policy=_WIRE))
    except smtplib.SMTPRecipientsRefused as exc:
        reasons = "; ".join(
            f"{addr}: {code} {text.decode(errors='replace')}"
            for addr, (code, text) in exc.recipients.items()
        )
        raise MailhubError(f"refused: {reasons}") from None
    except smtplib.SMTPResponseException as exc:
        raise MailhubError(f"refused: {exc.smtp_code} {_text(exc.smtp_error)}") from None
    except OSError as exc:
        raise MailhubError(
            f"cannot reach mailhub at {settings.smtp_host}:{settings.smtp_port} ({exc}); is `mailhub serve` running?"
        ) from None
    return f"sent to {to}"


_WIRE = policy.SMTP.clone(mangle_from_=False)


def _address(header: str) -> str:
    pairs = getaddresses([header])
    return pairs[0][1] if pairs and pairs[0][1] else header


def _read(settings: Settings, path: str) -> EmailMessage:
    """A file, or the name of a mail in the outbox (`mailhub outbox` lists them)."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        if os.sep in path:
            raise InvalidInput(f"cannot read {path}: no such file") from None
        from mailhub.stores import outbox

        data = outbox(settings).read(path)  # NotFound says which
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None
    msg = BytesParser(policy=policy.default).parsebytes(data)
    assert isinstance(msg, EmailMessage)
    return msg


def _text(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else reply
