"""The route table: which mailbox handles mail to which address.

Ordered patterns over the local part, first match wins, with a backstop, as in Rails Action
Mailbox. Pure: it knows grammar, not the database, so it is tested without one.
"""

from __future__ import annotations

import enum
import hashlib
import re
from dataclasses import dataclass


class Mailbox(enum.StrEnum):
    COMMENTS = "comments"  # reply+KEY@
    BOUNCES = "bounces"  # bounce+KEY@ (VERP)
    UNSUBSCRIBE = "unsubscribe"  # unsubscribe+TOKEN@ (the mailto: of List-Unsubscribe)
    FORMS = "forms"  # SPACE+form@, and form@ for the tenant's default space
    PAGES = "pages"  # SPACE@
    BACKSTOP = "backstop"  # nothing matched: the rejection mailbox answers


@dataclass(frozen=True)
class Route:
    mailbox: Mailbox
    local: str  # the whole local part, lower-cased
    domain: str  # lower-cased
    arg: str = ""  # the space slug or the key


# The local part notifications come from; mail to it is answered with where to send instead.
NOTIFICATIONS = "notifications"

_KEY = r"[A-Za-z0-9_-]{16,64}"
_SLUG = r"[a-z0-9][a-z0-9._-]{0,63}"
# A secret as ingress stores it: "=" and the SHA-256 of the key, which is all that finds its row
# (keys and tokens are stored only as hashes). Never accepted from outside (ingress.accept).
SEALED = "="
_SEALED = rf"{SEALED}[0-9a-f]{{64}}"

ROUTES: tuple[tuple[re.Pattern[str], Mailbox], ...] = (
    (re.compile(rf"^reply\+(?P<arg>{_KEY}|{_SEALED})$", re.IGNORECASE), Mailbox.COMMENTS),
    (re.compile(rf"^bounce\+(?P<arg>{_KEY})$", re.IGNORECASE), Mailbox.BOUNCES),
    (
        re.compile(rf"^unsubscribe\+(?P<arg>{_KEY}|{_SEALED})$", re.IGNORECASE),
        Mailbox.UNSUBSCRIBE,
    ),
    (re.compile(rf"^(?P<arg>{_SLUG})\+form$"), Mailbox.FORMS),
    (re.compile(r"^form(?P<arg>)$"), Mailbox.FORMS),  # the tenant's default space
    (re.compile(rf"^(?P<arg>{_SLUG})$"), Mailbox.PAGES),
)


def split_address(address: str) -> tuple[str, str] | None:
    """('local', 'domain') of a plain addr-spec, or None when it is not one."""
    address = address.strip().strip("<>").strip()
    local, sep, domain = address.rpartition("@")
    if not sep or not local or not domain or " " in address or "@" in local:
        return None
    if not re.fullmatch(r"[A-Za-z0-9.-]+", domain) or ".." in domain:
        return None
    return local, domain.lower().rstrip(".")


def route(address: str) -> Route:
    parts = split_address(address)
    if parts is None:
        return Route(Mailbox.BACKSTOP, address.lower(), "")
    local, domain = parts
    for pattern, mailbox in ROUTES:
        # Keys are case-sensitive (base64url); slugs are matched lower-cased.
        keyed = mailbox in (Mailbox.COMMENTS, Mailbox.BOUNCES, Mailbox.UNSUBSCRIBE)
        candidate = local if keyed else local.lower()
        m = pattern.match(candidate)
        if m:
            return Route(mailbox, local.lower(), domain, m.group("arg"))
    return Route(Mailbox.BACKSTOP, local.lower(), domain)


_SECRET_LOCAL = re.compile(r"^(reply|unsubscribe)\+(.*)$", re.IGNORECASE)


def seal(address: str) -> str:
    """A recipient as ingress stores it: a reply key or an unsubscribe token replaced by its
    SHA-256 (what processing needs to find its row), so the stored envelope holds no secret
    that would let anyone who reads it post or act as its owner. An address that arrives
    already in that form did not come from mailhub and is cut, so it can never act."""
    parts = split_address(address)
    if parts is None:
        return address
    local, domain = parts
    secret = _SECRET_LOCAL.match(local)
    if secret is None:
        return address
    kind, key = secret.group(1).lower(), secret.group(2)
    if re.fullmatch(_KEY, key):
        return f"{kind}+{SEALED}{hashlib.sha256(key.encode()).hexdigest()}@{domain}"
    return f"{kind}+\u2026@{domain}"


def shown(address: str) -> str:
    """A recipient as people and logs see it: reply+…@domain, the key (or its hash) cut."""
    parts = split_address(address)
    if parts is None or _SECRET_LOCAL.match(parts[0]) is None:
        return address
    kind = parts[0].split("+", 1)[0].lower()
    return f"{kind}+\u2026@{parts[1]}"
