"""Images and attachments in notifications, so that they survive the trip out.

A page's HTML points its images at the intranet (`/t/acme/attachments/12`), which a mail client
can neither resolve (relative) nor open (behind a sign-in). In a notification:

- a small image travels inside the mail as a multipart/related part, its `<img>` pointing at it
  by `cid:` (RFC 2392), while the mail's images stay within a size budget;
- any other image, and every attachment listed under the text, gets an absolute link that
  carries a capability: an HMAC (keyed from the secret key) over the tenant, the recipient, the
  file and an expiry. It opens that one file and nothing else, needs no sign-in, and stops
  working when it expires, when the file is erased, or when the person is erased, deactivated
  or no longer sees the space (checked on every request, by the web route).

Only files of the page the mail is about are ever put in or linked: a body naming another
page's file (typed into a mail's HTML) gets neither.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from dataclasses import dataclass
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailhub.db import once_per_transaction
from mailhub.models import Attachment, Tenant, User

INLINE_EACH = 150 * 1024  # an image up to this size travels inside the mail
INLINE_BUDGET = 600 * 1024  # all the images inside one mail together
LINK_DAYS = 60  # a file link in a mail works this long
INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
_DAY = 86_400
# An <img> tag as nh3 writes it: attribute values double-quoted (and a ">" may sit inside one).
_IMG = re.compile(r'<img\b(?:[^>"]|"[^"]{0,8000}"){0,8000}>', re.IGNORECASE)
_OUR_SRC = re.compile(r'\bsrc="/t/[a-z0-9-]{1,64}/attachments/(\d{1,18})(/thumb/\d{1,5})?"')


@dataclass(frozen=True)
class Related:
    """An image that travels inside the mail; its bytes are read when the mail is built."""

    cid: str
    content_type: str
    filename: str
    path: str  # in the file store


@dataclass(frozen=True)
class Listed:
    """An attachment named under the text, with its size and a link that opens it."""

    filename: str
    size: str
    url: str


@dataclass(frozen=True)
class MailFiles:
    body_html: str
    related: tuple[Related, ...]
    listed: tuple[Listed, ...]


def link_key(secret_key: str) -> bytes:
    """The key of file links, derived from the secret key (and useless for anything else)."""
    return hmac.new(secret_key.encode(), b"mailhub file links v1", hashlib.sha256).digest()


def _signature(key: bytes, tenant_id: int, user_id: int, attachment_id: int, expires: int) -> str:
    message = f"{tenant_id}.{user_id}.{attachment_id}.{expires}".encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()[:18]
    return base64.urlsafe_b64encode(digest).decode()


def file_url(
    base: str, key: bytes, tenant: Tenant, user: User, attachment: Attachment, now: float
) -> str:
    """The recipient's own link to one file. The expiry is rounded to the day, so the links of
    one mail are stable while it is retried. Without a key (a tool that sends no real mail),
    the plain link, which needs a sign-in."""
    if not key:
        return f"{base}/t/{tenant.slug}/attachments/{attachment.id}"
    expires = (int(now) // _DAY + LINK_DAYS + 1) * _DAY
    sig = _signature(key, tenant.id, user.id, attachment.id, expires)
    name = quote(attachment.filename or "file", safe="")
    return f"{base}/t/{tenant.slug}/files/{attachment.id}/{user.id}.{expires}.{sig}/{name}"


def recipient_of(
    key: bytes, tenant_id: int, attachment_id: int, credential: str, now: float
) -> int | None:
    """The user a file link was made for, when it is genuine and unexpired; else None."""
    user, _, rest = credential.partition(".")
    expires, _, sig = rest.partition(".")
    if not (user.isdigit() and expires.isdigit() and len(user) < 19 and len(expires) < 13):
        return None
    if int(expires) <= now:
        return None
    expected = _signature(key, tenant_id, int(user), attachment_id, int(expires))
    return int(user) if hmac.compare_digest(expected, sig) else None


def human_size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def mail_files(
    session: Session,
    tenant: Tenant,
    user: User,
    base: str,
    key: bytes,
    body_html: str,
    page_id: int,
    comment_id: int | None,
) -> MailFiles:
    """The body with its images made to travel, and the attachments to list (those of the
    comment, or the page's own)."""
    rows: list[Attachment] = once_per_transaction(  # every recipient of a batch asks alike
        session,
        "page_files",
        page_id,
        lambda: list(
            session.scalars(
                select(Attachment)
                .where(Attachment.tenant_id == tenant.id, Attachment.page_id == page_id)
                .order_by(Attachment.id)
            )
        ),
    )
    by_id = {a.id: a for a in rows}
    now = time.time()
    related: dict[int, Related] = {}
    shown: set[int] = set()
    budget = INLINE_BUDGET

    def travel(img: re.Match[str]) -> str:
        nonlocal budget
        tag = img.group(0)
        src = _OUR_SRC.search(tag)
        if src is None:
            return tag  # an allowed remote image: already absolute
        a = by_id.get(int(src.group(1)))
        if a is None:
            return ""  # not a file of this page: neither put in nor linked
        shown.add(a.id)
        small = a.content_type in INLINE_TYPES and a.size <= min(INLINE_EACH, budget)
        if a.id not in related and small:
            budget -= a.size
            cid = f"file{a.id}.{user.id}@{tenant.domain}"
            related[a.id] = Related(cid, a.content_type, a.filename or "image", a.path)
        target = (
            f"cid:{related[a.id].cid}"
            if a.id in related
            else file_url(base, key, tenant, user, a, now)
        )
        return tag[: src.start()] + f'src="{target}"' + tag[src.end() :]

    html = _IMG.sub(travel, body_html)
    listed = tuple(
        Listed(a.filename or "file", human_size(a.size), file_url(base, key, tenant, user, a, now))
        for a in rows
        if a.comment_id == comment_id and a.id not in shown
    )
    return MailFiles(html, tuple(related.values()), listed)
