"""Mail about a person's account: the sign-in link they asked for, and the welcome a member
an administrator added gets."""

from __future__ import annotations

from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailhub import i18n
from mailhub.models import (
    Notification,
    Space,
    SpaceMember,
    SubjectKind,
    Tenant,
    User,
)
from mailhub.outbound.contexts import SignIn, context_of
from mailhub.outbound.keys import mint_token
from mailhub.outbound.mails.parts import (
    Links,
    Prepared,
    from_intranet,
)


def sign_in(
    session: Session, n: Notification, tenant: Tenant, user: User, links: Links, locale: str
) -> Prepared:
    """The magic link someone asked for: minted here, so the secret exists only in the mail.
    The link opens a page whose button signs in (a scanner's GET does nothing)."""
    _ = i18n.translator(locale)
    token = mint_token(session, tenant.id, user.id, "signin", SubjectKind.TENANT, tenant.id)
    url = f"{links.base}/t/{tenant.slug}/signin/{token}"
    next_path = str(context_of(n, SignIn).get("next") or "")
    if next_path:
        url += "?" + urlencode({"next": next_path})
    subject = _("Sign in to {tenant}", tenant=tenant.name)
    label = _("Sign in")
    context = {
        "subject": subject,
        "json_ld": "",
        "headline": subject,
        "facts": [],
        "lines": [
            _(
                "Someone, probably you, asked to sign in to {tenant} as {email}.",
                tenant=tenant.name,
                email=user.email,
            ),
            _(
                "The link works once, for 15 minutes. If you did not ask for it, ignore this mail: nobody can sign in without it."
            ),
        ],
        "buttons": [(label, url, True)],
        "reason": _("you asked to sign in"),
        "tenant_name": tenant.name,
    }
    draft = from_intranet(_, n, tenant, user.name, user.email, subject)
    return Prepared("sign_in", context, draft, locale)


def welcome(
    session: Session, n: Notification, tenant: Tenant, user: User, links: Links, locale: str
) -> Prepared:
    """What the intranet is, the addresses of the spaces they may post to, how replying works,
    a one-time sign-in link (a week long) and where to choose what they hear of."""
    _ = i18n.translator(locale)
    token = mint_token(session, tenant.id, user.id, "welcome", SubjectKind.TENANT, tenant.id)
    url = f"{links.base}/t/{tenant.slug}/signin/{token}"
    hidden = set(
        session.scalars(
            select(Space.id)
            .where(Space.tenant_id == tenant.id, Space.restricted)
            .except_(select(SpaceMember.space_id).where(SpaceMember.user_id == user.id))
        )
    )
    spaces = [
        (s.name, f"{s.slug}@{tenant.domain}", f"{links.base}/t/{tenant.slug}/s/{s.slug}")
        for s in session.scalars(
            select(Space).where(Space.tenant_id == tenant.id).order_by(Space.name)
        )
        if s.id not in hidden or user.is_admin
    ]
    subject = _("Welcome to the {tenant} intranet", tenant=tenant.name)
    context = {
        "subject": subject,
        "json_ld": "",
        "headline": subject,
        "lines": [
            _(
                "{tenant}'s intranet lives in your mail: a mail to a space's address becomes a page there, with its attachments, and you hear of what you follow.",
                tenant=tenant.name,
            ),
            _(
                "Reply to any notification to comment; mail a list of questions to a space's +form address to make a form."
            ),
        ],
        "addresses": spaces,
        "buttons": [
            (_("Sign in"), url, True),
            (_("Choose what you receive"), f"{links.base}/t/{tenant.slug}/preferences", False),
        ],
        "note": _(
            "The sign-in link works once, for 7 days. Later, ask for a new one on the sign-in page."
        ),
        "reason": _("an administrator added you to the intranet"),
        "tenant_name": tenant.name,
    }
    draft = from_intranet(_, n, tenant, user.name, user.email, subject)
    return Prepared("welcome", context, draft, locale)
