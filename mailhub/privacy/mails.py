"""Privacy's mail, made for outbound's kind table (registered by the runtime): a request's
steps and outcome (the access report itself), a breach notice (Art. 34), and the warnings
before an unused account is deleted.
"""

from __future__ import annotations

from email.utils import make_msgid
from typing import Any

from sqlalchemy.orm import Session

from mailhub import i18n
from mailhub.models import (
    Breach,
    Notification,
    NotificationKind,
    PrivacyRequest,
    Tenant,
    User,
    utcnow,
)
from mailhub.outbound.compose import Draft
from mailhub.outbound.contexts import AccountExpiry, BreachNotice, PrivacyRequestMail, context_of
from mailhub.outbound.keys import mint_token
from mailhub.outbound.mails.parts import (
    Links,
    Maker,
    Prepared,
    from_intranet,
)
from mailhub.privacy.report import access_report
from mailhub.routing import NOTIFICATIONS


def account_expiry(
    session: Session, n: Notification, tenant: Tenant, user: User, links: Links, locale: str
) -> Prepared:
    """Retention of unused accounts: the exact day this one is deleted, and how to keep it."""
    _ = i18n.translator(locale)
    due = str(context_of(n, AccountExpiry)["due"])
    subject = _("Your account at {tenant} will be deleted on {date}", tenant=tenant.name, date=due)
    return privacy_notice(
        _,
        n,
        tenant,
        user,
        locale,
        subject,
        [
            _(
                "Nobody has signed in or sent mail with your account at {tenant} since {date}. Its rules delete accounts that are not used for {days} days.",
                tenant=tenant.name,
                date=_.when(user.last_active_at.date()),
                days=str(tenant.inactive_days or 0),
            ),
            _(
                "On {date} your account will be erased, with your settings and the data only you had; you get one last mail when it is done.",
                date=due,
            ),
            _("To keep it, sign in or send any mail to the intranet before then."),
        ],
        _("your account is about to be deleted for not being used"),
        buttons=[(_("Keep my account"), f"{links.base}/t/{tenant.slug}/signin", True)],
    )


def breach_notice(
    session: Session, n: Notification, tenant: Tenant, user: User, _links: Links, locale: str
) -> Prepared:
    """Art. 34: what happened, to which data, when, and what the person can do."""
    _ = i18n.translator(locale)
    breach = session.get_one(Breach, context_of(n, BreachNotice)["breach_id"])
    if breach.tenant_id != tenant.id:
        raise ValueError(f"notification {n.id} crosses tenants")
    subject = _("Important: a security incident affected your data at {tenant}", tenant=tenant.name)
    return privacy_notice(
        _,
        n,
        tenant,
        user,
        locale,
        subject,
        [
            breach.description,
            _("The data concerned: {categories}.", categories=", ".join(breach.categories)),
            _(
                "When: from {start} to {end} (UTC). {tenant} learned of it on {aware}.",
                start=_.when(breach.window_from, "short"),
                end=_.when(breach.window_to, "short"),
                tenant=tenant.name,
                aware=_.when(breach.aware_at.date()),
            ),
            _(
                "You get this notice whatever your mail settings say, because the law requires it. Questions go to the administrators of {tenant}.",
                tenant=tenant.name,
            ),
        ],
        _("the law requires telling you about a breach that affected your data"),
    )


def privacy_request(
    session: Session, n: Notification, tenant: Tenant, user: User, links: Links, locale: str
) -> Prepared:
    """A privacy request's mails: the link that confirms it, its outcome (the access report
    itself, or what was recorded), and the administrators' notice that one is due soon."""
    _ = i18n.translator(locale)
    req = session.get_one(PrivacyRequest, context_of(n, PrivacyRequestMail)["request_id"])
    if req.tenant_id != tenant.id:
        raise ValueError(f"notification {n.id} crosses tenants")
    what = {
        "access": _("a report of the data {tenant} holds about you", tenant=tenant.name),
        "export": _("a copy of your data to take elsewhere"),
        "erase": _("the erasure of your account and everything it holds"),
        "object": _("an objection to processing of your data"),
        "restrict": _("a restriction of processing of your data"),
    }.get(req.kind, req.kind)
    buttons: list[tuple[str, str, bool]] = []
    report = None
    lines: list[str] = []
    if n.kind == NotificationKind.PRIVACY_VERIFY:
        token = mint_token(session, tenant.id, user.id, "verify", "privacy", req.id)
        subject = _("Please confirm your request to {tenant}", tenant=tenant.name)
        lines = [
            _(
                "A request for {what} was made in your name on {date}.",
                what=what,
                date=_.when(req.received_at.date()),
            ),
            _("Nothing happens until you confirm it. If it was not you, ignore this mail."),
        ]
        buttons = [
            (_("Confirm the request"), f"{links.base}/t/{tenant.slug}/privacy/{token}", True)
        ]
    elif n.kind == NotificationKind.PRIVACY_DUE:
        subject = _("A privacy request is due on {date}", date=_.when(req.due_at.date()))
        lines = [
            _(
                "Request {id} ({kind}) was received on {received} and must be answered by {due}.",
                id=str(req.id),
                kind=req.kind,
                received=_.when(req.received_at.date()),
                due=_.when(req.due_at.date()),
            ),
            _("Its state is {state}.", state=req.state),
        ]
    elif req.kind == "access":
        subject = _("The data {tenant} holds about you", tenant=tenant.name)
        report = access_report(session, tenant, user)
        lines = [
            _(
                "This is everything {tenant} holds about you, as of {date}: each kind of data with why it is kept, for how long, how many items there are, and the most recent of them.",
                tenant=tenant.name,
                date=_.when(utcnow().date()),
            ),
            _(
                "Members of {tenant} see the pages, comments and forms you write; administrators also see the log of mail you sent in. Nobody outside {tenant} receives your data.",
                tenant=tenant.name,
            ),
        ]
    elif req.kind == "export":
        subject = _("Your data from {tenant} is ready", tenant=tenant.name)
        token = mint_token(session, tenant.id, user.id, "download", "privacy", req.id)
        expires = req.archive_expires_at or utcnow()
        lines = [
            _(
                "A ZIP of your profile, settings, pages, comments, forms, answers, the log of your mail and your files is ready."
            ),
            _(
                "The link works until {date}; then the archive is deleted.",
                date=_.when(expires, "short") + " UTC",
            ),
        ]
        buttons = [(_("Download my data"), f"{links.base}/t/{tenant.slug}/exports/{token}", True)]
    else:
        subject = _("Your request to {tenant} is done", tenant=tenant.name)
        lines = [
            _(
                "Recorded: {what}. From now on {tenant} sends you no notifications and does not process mail you send in.",
                what=what,
                tenant=tenant.name,
            ),
            _("You can withdraw it at any time from your mail settings."),
        ]
    reason = (
        _("a request about your data was made in your name")
        if n.kind == NotificationKind.PRIVACY_VERIFY
        else _("you administer privacy requests")
        if n.kind == NotificationKind.PRIVACY_DUE
        else _("you made a request about your data")
    )
    return privacy_notice(
        _, n, tenant, user, locale, subject, lines, reason, buttons=buttons, report=report
    )


def privacy_notice(
    _: i18n.Translator,
    n: Notification,
    tenant: Tenant,
    user: User,
    locale: str,
    subject: str,
    lines: list[str],
    reason: str,
    buttons: list[tuple[str, str, bool]] | None = None,
    report: Any = None,
) -> Prepared:
    """A mail about a person's rights and data (the "privacy" template): a request's steps,
    a breach notice, an unused account's warning. Lines of text, buttons, and why it came."""
    context = {
        "subject": subject,
        "json_ld": "",
        "headline": subject,
        "lines": lines,
        "report": report,
        "buttons": buttons or [],
        "reason": reason,
        "tenant_name": tenant.name,
    }
    draft = from_intranet(_, n, tenant, user.name, user.email, subject)
    return Prepared("privacy", context, draft, locale)


def erased_notice(tenant_name: str, domain: str, email: str, locale: str, stores: int) -> Prepared:
    """The confirmation that the account is gone, rendered and signed like every other mail
    but never stored as a row: held in memory and sent once (a stored copy would be the
    person's data, left behind)."""
    locale = i18n.negotiate(locale)
    _ = i18n.translator(locale)
    subject = _("Your account at {tenant} is erased", tenant=tenant_name)
    context = {
        "subject": subject,
        "json_ld": "",
        "headline": subject,
        "lines": [
            _(
                "Your account at {tenant} was erased on {date}, as you asked or as its rules for unused accounts say.",
                tenant=tenant_name,
                date=_.when(utcnow().date()),
            ),
            _(
                "Every place where mailhub keeps data ({count} in all) was checked afterwards, and none still holds your name or address. Backups made before today can no longer be read for you: their key is destroyed.",
                count=str(stores),
            ),
            _("This is the last mail you get from {tenant}.", tenant=tenant_name),
        ],
        "report": None,
        "buttons": [],
        "reason": _("your account was erased"),
        "tenant_name": tenant_name,
    }
    draft = Draft(
        from_name=_("{tenant} intranet", tenant=tenant_name),
        from_addr=f"{NOTIFICATIONS}@{domain}",
        to_name="",
        to_addr=email,
        subject=subject,
        message_id=make_msgid(domain=domain),
        reason="your account was erased",
    )
    return Prepared("privacy", context, draft, locale)


MAKERS: dict[NotificationKind, Maker] = {
    NotificationKind.BREACH_NOTICE: breach_notice,
    NotificationKind.ACCOUNT_EXPIRY: account_expiry,
    NotificationKind.PRIVACY_VERIFY: privacy_request,
    NotificationKind.PRIVACY_REPORT: privacy_request,
    NotificationKind.PRIVACY_DUE: privacy_request,
}
