"""Mail to the author of a page made by mail (published, and who hears of it) and to
administrators (mail waits for moderation).
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailhub import i18n
from mailhub.models import (
    InboundMessage,
    InboundStatus,
    Notification,
    Page,
    Space,
    SubjectKind,
    Tenant,
    User,
)
from mailhub.outbound import actions
from mailhub.outbound.contexts import Audience, Moderation, context_of
from mailhub.outbound.events import thread_id
from mailhub.outbound.keys import mint_token
from mailhub.outbound.mails.parts import (
    Links,
    Prepared,
    audience_lines,
    from_intranet,
    new_reply_address,
)
from mailhub.routing import shown


def receipt(
    session: Session, n: Notification, tenant: Tenant, user: User, links: Links, locale: str
) -> Prepared:
    """To the author of a page made by mail: it is published, and who hears of it when."""
    assert n.page_id is not None
    _ = i18n.translator(locale)
    page = session.get_one(Page, n.page_id)
    space = session.get_one(Space, page.space_id)
    if page.tenant_id != tenant.id:
        raise ValueError(f"notification {n.id} crosses tenants")
    lines = audience_lines(_, context_of(n, Audience))
    url = links.page(page.id)
    view = _("View page")
    subject = _("Published: {title}", title=page.title)
    context = {
        "subject": subject,
        "json_ld": actions.to_script(
            actions.view_action(url, view, subject, tenant.name, links.base)
        ),
        "headline": _(
            "Your page “{title}” is published in {space}.", title=page.title, space=space.name
        ),
        "audience": lines,
        "buttons": [(view, url, True)],
        "reason": _("you published this page by email"),
        "tenant_name": tenant.name,
    }
    draft = from_intranet(
        _,
        n,
        tenant,
        user.name,
        user.email,
        subject,
        auto_submitted="auto-replied",
        reply_to=new_reply_address(session, n, tenant, user, page),
        thread_root=thread_id(tenant, page.id),
    )
    return Prepared("receipt", context, draft, locale)


def moderation(
    session: Session, n: Notification, tenant: Tenant, user: User, links: Links, locale: str
) -> Prepared:
    """To an administrator: mail waits for approval. Approve is one click (a ConfirmAction in
    Gmail, a button elsewhere); both links confirm on a page before anything happens."""
    assert n.inbound_id is not None
    _ = i18n.translator(locale)
    inbound = session.get_one(InboundMessage, n.inbound_id)
    if inbound.tenant_id != tenant.id:
        raise ValueError(f"notification {n.id} crosses tenants")
    approve = links.action(
        mint_token(session, tenant.id, user.id, "approve", SubjectKind.INBOUND, inbound.id)
    )
    reject = links.action(
        mint_token(session, tenant.id, user.id, "reject", SubjectKind.INBOUND, inbound.id)
    )
    held = context_of(n, Moderation)
    original = held.get("subject") or _("(no subject)")
    subject = _("Waiting for approval: {subject}", subject=original)
    approve_name, reject_name = _("Approve and publish"), _("Reject")
    description = _("Mail to {to} waits for a moderator", to=", ".join(map(shown, inbound.rcpt_to)))
    markup = (
        actions.confirm_action(f"{approve}/gmail", approve_name, description)
        if links.secure  # Gmail calls action handlers over https only
        else actions.view_action(approve, approve_name, description, tenant.name, links.base)
    )
    # Notices are capped per hour, so a flood is summed up in the ones that do go out.
    others = session.scalar(
        select(func.count())
        .select_from(InboundMessage)
        .where(
            InboundMessage.tenant_id == tenant.id,
            InboundMessage.status == InboundStatus.HELD,
            InboundMessage.id != inbound.id,
        )
    )
    waiting = (
        [
            (
                _("Also waiting"),
                _.n("{count} other message", "{count} other messages", others),
            )
        ]
        if others
        else []
    )
    context = {
        "subject": subject,
        "json_ld": actions.to_script(markup),
        "headline": description,
        "facts": [
            (_("From"), inbound.mail_from or "<>"),
            (_("Subject"), original),
            (_("Why it waits"), str(held.get("why", ""))),
            *waiting,
        ],
        "buttons": [(approve_name, approve, True), (reject_name, reject, False)],
        "reason": _("you moderate mail for {tenant}", tenant=tenant.name),
        "tenant_name": tenant.name,
    }
    draft = from_intranet(_, n, tenant, user.name, user.email, subject)
    return Prepared("moderation", context, draft, locale)
