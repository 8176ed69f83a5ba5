"""Everything one notification's mail needs, read and minted inside the claiming transaction:
template, context, headers, and the secrets the mail carries (reply key, unsubscribe token,
action token, bounce key) — each stored only as a hash except the bounce key, which names a
notification and grants nothing.

Every mail says why it came (footer and X-Mailhub-Reason), links to exactly the setting that
sent it, and carries List-Unsubscribe with RFC 8058 one-click POST, which Gmail and Yahoo
require of bulk senders since 2024.

Each kind of notification has one maker (outbound/mails/, one module per family of mail);
the privacy package's makers join the table through `register`, called where the runtime is
wired, so outbound never imports privacy. A kind without a maker is an error.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.orm import Session

from mailhub import i18n
from mailhub.models import Notification, NotificationKind, Tenant, User
from mailhub.outbound.keys import new_key
from mailhub.outbound.mails import account, digest, forms, pages, receipts, rejection
from mailhub.outbound.mails.parts import Links, Maker, Prepared

__all__ = ["Links", "Prepared", "prepare", "register"]

_BY_KIND: dict[NotificationKind, Maker] = {
    NotificationKind.PAGE_CREATED: pages.page_event,
    NotificationKind.PAGE_EDITED: pages.page_event,
    NotificationKind.COMMENT_ADDED: pages.page_event,
    NotificationKind.MENTION: pages.page_event,
    NotificationKind.DIGEST: digest.digest,
    NotificationKind.RECEIPT: receipts.receipt,
    NotificationKind.MODERATION: receipts.moderation,
    NotificationKind.FORM_CREATED: forms.form_created,
    NotificationKind.FORM_INVITATION: forms.form_invitation,
    NotificationKind.FORM_ANSWERED: forms.form_answered,
    NotificationKind.FORM_RECEIPT: forms.form_receipt,
    NotificationKind.SIGN_IN: account.sign_in,
    NotificationKind.WELCOME: account.welcome,
}


class UnknownKind(ValueError):
    """A notification of a kind no maker was registered for: it fails alone, visibly."""


def register(makers: Mapping[NotificationKind, Maker]) -> None:
    """Add the makers of another package's mail (privacy's) to the table."""
    _BY_KIND.update(makers)


def prepare(session: Session, n: Notification, base_url: str, file_key: bytes = b"") -> Prepared:
    tenant = session.get_one(Tenant, n.tenant_id)
    if n.bounce_key is None:
        n.bounce_key = new_key()
    if n.kind == NotificationKind.REJECTION:
        return rejection.rejection(session, n, tenant)
    make = _BY_KIND.get(NotificationKind(n.kind))
    if make is None:
        raise UnknownKind(f"no mail is made for notifications of kind {n.kind!r}")
    links = Links(base_url.rstrip("/"), tenant, file_key)
    assert n.user_id is not None
    user = session.get_one(User, n.user_id)
    if user.tenant_id != tenant.id:
        raise ValueError(f"notification {n.id} crosses tenants")  # never mix tenants' data
    locale = i18n.negotiate(user.locale, tenant.locale)
    return make(session, n, tenant, user, links, locale)
