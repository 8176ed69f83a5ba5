"""What every mail is made of: the prepared mail (template, context, draft), the links into
the intranet, who it is from, its return path, reply address, unsubscribe headers and the
reason it came.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailhub import i18n
from mailhub.db import once_per_transaction
from mailhub.models import (
    Notification,
    Page,
    ReplyKey,
    Revision,
    Space,
    Tenant,
    User,
)
from mailhub.outbound.compose import Draft
from mailhub.outbound.contexts import Audience, Subscribed, context_of
from mailhub.outbound.keys import hash_key, mint_token, new_key
from mailhub.outbound.recipients import REASONS
from mailhub.routing import NOTIFICATIONS


@dataclass(frozen=True)
class Prepared:
    template: str
    context: dict[str, Any]
    draft: Draft
    locale: str = i18n.DEFAULT


@dataclass(frozen=True)
class Links:
    base: str
    tenant: Tenant
    file_key: bytes = b""  # signs the file links of mails (outbound.files)

    @property
    def secure(self) -> bool:
        return self.base.startswith("https://")

    def page(self, page_id: int) -> str:
        return f"{self.base}/t/{self.tenant.slug}/pages/{page_id}"

    def unsubscribe(self, token: str) -> str:
        return f"{self.base}/t/{self.tenant.slug}/unsubscribe/{token}"

    def form(self, form_id: int) -> str:
        return f"{self.base}/t/{self.tenant.slug}/forms/{form_id}"

    def answer(self, form_id: int, token: str) -> str:
        return f"{self.form(form_id)}/answer/{token}"

    def results(self, form_id: int, token: str) -> str:
        return f"{self.form(form_id)}/results/{token}"

    def action(self, token: str) -> str:
        return f"{self.base}/t/{self.tenant.slug}/actions/{token}"


@dataclass
class Extras:
    headers: dict[str, str] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)


def sender_of(tenant: Tenant) -> str:
    return f"{NOTIFICATIONS}@{tenant.domain}"


def return_path_of(n: Notification, tenant: Tenant) -> str:
    """The notification's own VERP address: a bounce to it names this notification."""
    return f"bounce+{n.bounce_key}@{tenant.domain}"


def from_intranet(
    _: i18n.Translator,
    n: Notification,
    tenant: Tenant,
    to_name: str,
    to_addr: str,
    subject: str,
    **headers: Any,
) -> Draft:
    """A mail the intranet itself sends (a receipt, digest, notice or answer), not a person."""
    return Draft(
        from_name=_("{tenant} intranet", tenant=tenant.name),
        from_addr=sender_of(tenant),
        to_name=to_name,
        to_addr=to_addr,
        subject=subject,
        message_id=n.message_id,
        reason=n.reason,
        return_path=return_path_of(n, tenant),
        **headers,
    )


def unsubscribe_links(
    session: Session,
    n: Notification,
    tenant: Tenant,
    user: User,
    links: Links,
    setting: tuple[str, int],
) -> Extras:
    """The footer's setting link and the List-Unsubscribe headers, for one subject."""
    token = mint_token(session, tenant.id, user.id, "unsubscribe", setting[0], setting[1])
    url = links.unsubscribe(token)
    return Extras(
        headers={
            "List-Unsubscribe": f"<{url}>, <mailto:unsubscribe+{token}@{tenant.domain}"
            "?subject=unsubscribe>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
        context={"manage_url": url},
    )


def from_member(
    n: Notification,
    tenant: Tenant,
    actor_name: str,
    user: User,
    space: Space,
    subject: str,
    reply_to: str,
    thread_root: str,
    unsubscribe: Extras,
) -> Draft:
    """A mail about what a member did in a space (a page, a comment, a form to answer): in
    their name, reply-able, threaded, listed under the space, unsubscribable."""
    return Draft(
        from_name=f"{actor_name} ({tenant.name})",
        from_addr=sender_of(tenant),
        to_name=user.name,
        to_addr=user.email,
        subject=subject,
        message_id=n.message_id,
        reason=n.reason,
        reply_to=reply_to,
        thread_root=thread_root,
        list_id=f'"{space.name}" <{space.slug}.{tenant.domain}>',
        return_path=return_path_of(n, tenant),
        extra_headers=unsubscribe.headers,
    )


def reason_for(_: i18n.Translator, n: Notification) -> str:
    """Why the person got it, in their language (the resolver's rule and its values)."""
    ctx = context_of(n, Subscribed)
    code = ctx.get("reason_code", "")
    return _(REASONS[code], **ctx.get("params", {})) if code in REASONS else n.reason


def new_reply_address(
    session: Session, n: Notification, tenant: Tenant, user: User, page: Page
) -> str:
    """A fresh reply+KEY address for this mail; only the key's hash is stored."""
    key = new_key()
    row = ReplyKey(tenant_id=tenant.id, user_id=user.id, page_id=page.id, key_hash=hash_key(key))
    session.add(row)
    n.reply_key = row  # the id is filled in when the batch is flushed
    return f"reply+{key}@{tenant.domain}"


def audience_lines(_: i18n.Translator, audience: Audience) -> list[str]:
    """Who heard of something now, and who will in which digest (events.Fanout's counts)."""
    now = int(audience.get("now", 0))
    later = {str(k): int(v) for k, v in audience.get("later", {}).items()}
    lines = [
        _("Nobody was notified now.")
        if now == 0
        else _.n("{count} person was notified now.", "{count} people were notified now.", now)
    ]
    hourly, daily, weekly = (later.get(f, 0) for f in ("hourly", "daily", "weekly"))
    digests = (
        (
            "hourly",
            _.n(
                "{count} person will see it in their hourly digest.",
                "{count} people will see it in their hourly digest.",
                hourly,
            ),
        ),
        (
            "daily",
            _.n(
                "{count} person will see it in their daily digest.",
                "{count} people will see it in their daily digest.",
                daily,
            ),
        ),
        (
            "weekly",
            _.n(
                "{count} person will see it in their weekly digest.",
                "{count} people will see it in their weekly digest.",
                weekly,
            ),
        ),
    )
    return lines + [line for frequency, line in digests if later.get(frequency)]


def latest_revision(session: Session, page_id: int) -> Revision | None:
    """The page's newest revision, looked up once per transaction (a batch of a fan-out is
    mostly one page)."""
    return once_per_transaction(
        session,
        "latest_revision",
        page_id,
        lambda: session.scalar(
            select(Revision)
            .where(Revision.page_id == page_id)
            .order_by(Revision.number.desc())
            .limit(1)
        ),
    )


Maker = Callable[[Session, Notification, Tenant, User, Links, str], Prepared]
