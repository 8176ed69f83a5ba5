"""`mailhub demo`: a tenant with people and spaces, so a newcomer can mail something at once."""

from __future__ import annotations

import shlex

from sqlalchemy.orm import Session

from mailhub.config import Settings
from mailhub.domain import directory, preferences

DEMO_SLUG = "acme"


def create_demo(
    session: Session, settings: Settings, command: str = "mailhub", domain: str = "acme.example"
) -> str:
    """Create the demo tenant (once) and return instructions with a ready-to-paste command.

    `command` is how the person ran mailhub (".venv/bin/mailhub" before the venv is active),
    so the printed commands work when pasted as they are.
    """
    tenant = directory.tenant_by_domain(session, domain)
    if tenant is None:
        tenant = directory.add_tenant(session, DEMO_SLUG, domain, "Acme")
        ann = directory.add_user(session, tenant, f"ann@{domain}", "Ann Example", admin=True)
        bob = directory.add_user(session, tenant, f"bob@{domain}", "Bob Example")
        sales = directory.add_space(session, tenant, "sales", "Sales")
        directory.add_space(session, tenant, "announcements", "Announcements")
        preferences.follow(session, tenant, bob, sales)
        preferences.follow(session, tenant, ann, sales)
    send = (
        f"{command} send --from ann@{domain} --to sales@{domain} "
        f"--subject {shlex.quote('Q3 pipeline review')} "
        f"--body {shlex.quote('Hi all, the Q3 review is on Thursday. Bring your numbers.')}"
    )
    reply = (
        f"{command} send --from bob@{domain} --reply-to-file "
        f'"$(grep -l "^To: Bob" {settings.outbox_dir}/*.eml | head -1)" '
        f"--body {shlex.quote('Count me in.')}"
    )
    return "\n".join(
        [
            f"Demo tenant {tenant.slug!r} is ready at @{domain}:",
            f"  users:  ann@{domain} (admin), bob@{domain}",
            f"  spaces: sales@{domain} (ann and bob watch it), announcements@{domain}",
            "",
            "With `mailhub serve` running in another terminal, send a first email:",
            f"  {send}",
            "",
            f"Then see the page at {settings.base_url}/t/{tenant.slug}/pages: sign in there with",
            f"ann@{domain} (the link arrives in {settings.outbox_dir}/), or open the link",
            f"  {command} user signin-link {tenant.slug} ann@{domain}",
            f"prints. In {settings.outbox_dir}/ are also bob's notification and ann's receipt.",
            "Reply to bob's notification as bob, which adds a comment:",
            f"  {reply}",
            "",
            "Mail in a member's name is held for a moderator when it fails DKIM, or when it is",
            "not authenticated and the member's domain publishes DMARC p=quarantine or",
            f"p=reject. Change it with `{command} tenant set {tenant.slug} --dmarc no` or",
            "`--require-authenticated yes`.",
        ]
    )
