"""Mail about a person's account: the sign-in link they asked for."""

from __future__ import annotations

from urllib.parse import urlencode

from sqlalchemy.orm import Session

from mailhub import i18n
from mailhub.models import (
    Notification,
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
