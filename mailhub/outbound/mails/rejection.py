"""The polite answer to mail that could not be used: what was wrong and what to do, in the
sender's language.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from mailhub import i18n
from mailhub.domain.directory import user_by_email
from mailhub.models import (
    InboundMessage,
    Notification,
    Tenant,
)
from mailhub.outbound import rejection_texts
from mailhub.outbound.contexts import Rejection, context_of
from mailhub.outbound.mails.parts import (
    Prepared,
    from_intranet,
)
from mailhub.routing import shown


def rejection(session: Session, n: Notification, tenant: Tenant) -> Prepared:
    assert n.inbound_id is not None
    inbound = session.get_one(InboundMessage, n.inbound_id)
    # A member's own language if they chose one, else the tenant's: strangers get the latter.
    known = user_by_email(session, tenant.id, n.to_addr)
    locale = i18n.negotiate(known.locale if known else None, tenant.locale)
    _ = i18n.translator(locale)
    rejected = context_of(n, Rejection)
    code = rejected["code"]
    what, todo = rejection_texts.explain(_, code, rejected.get("params", {}), tenant.name)
    published = code in rejection_texts.PUBLISHED_ANYWAY
    subject = (
        _("Your message was published without some files")
        if published
        else _("Your message could not be used")
    )
    context = {
        "subject": subject,
        "json_ld": "",
        "original_subject": rejected.get("subject", ""),
        "published": published,
        "original_to": ", ".join(map(shown, inbound.rcpt_to)),
        "what": what,
        "todo": todo,
        "tenant_name": tenant.name,
    }
    draft = from_intranet(
        _,
        n,
        tenant,
        "",
        n.to_addr,
        subject,
        auto_submitted="auto-replied",
        thread_root=inbound.message_id,
    )
    return Prepared("rejection", context, draft, locale)
