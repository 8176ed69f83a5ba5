"""No mail ever carries another tenant's data: two tenants with look-alike spaces and people
are busy at once (pages, replies, digests, receipts, rejections), and every mail the relay
gets is searched for the other tenant's names, titles, addresses and links."""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import select

from mailhub.db import unit_of_work
from mailhub.domain import directory, preferences
from mailhub.models import Notification, SubjectKind, utcnow

from conftest import relayed_runtime, wait_until
from helpers import reply_like_gmail, settled, smtp_send

TENANTS = {
    "acme": {
        "domain": "acme.example",
        "name": "Acme",
        "people": ("Ann Acme", "Bob Acme"),
        "titles": ("Acme roadmap", "Acme pricing"),
    },
    "globex": {
        "domain": "globex.example",
        "name": "Globex",
        "people": ("Ann Globex", "Bob Globex"),
        "titles": ("Globex roadmap", "Globex pricing"),
    },
}


def _page(domain: str, author: str, title: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"{author} <ann@{domain}>"
    msg["To"] = f"sales@{domain}"
    msg["Subject"] = title
    msg["Message-ID"] = f"<{title.replace(' ', '.')}@{domain}>"
    msg.set_content(f"{title}: details for @bob and everyone.")
    return msg.as_bytes()


def test_no_mail_carries_another_tenants_data(tmp_path: Path) -> None:
    with relayed_runtime(tmp_path) as (rt, sink, server):
        with unit_of_work(rt.sessions) as s:
            acme = directory.get_tenant(s, "acme")
            acme.name, acme.publish_receipts = "Acme", True
            directory.get_user(s, acme, "ann@acme.example").name = "Ann Acme"
            directory.get_user(s, acme, "bob@acme.example").name = "Bob Acme"
            g = directory.add_tenant(s, "globex", "globex.example", "Globex")
            directory.add_user(s, g, "ann@globex.example", "Ann Globex")
            gbob = directory.add_user(s, g, "bob@globex.example", "Bob Globex")
            gsales = directory.add_space(s, g, "sales", "Sales")
            preferences.subscribe(
                s,
                g,
                gbob,
                SubjectKind.SPACE,
                gsales.id,
                preferences.parse_level("watching"),
                preferences.parse_frequency("daily"),
            )
            cal = directory.add_user(s, acme, "cal@acme.example", "Cal Acme")
            preferences.subscribe(
                s,
                acme,
                cal,
                SubjectKind.SPACE,
                directory.get_space(s, acme, "sales").id,
                preferences.parse_level("watching"),
                preferences.parse_frequency("daily"),
            )

        # Both tenants publish, interleaved; a stranger writes to both; Bob of Acme replies
        for i in range(2):
            for t in TENANTS.values():
                smtp_send(
                    server.port,
                    f"ann@{t['domain']}",
                    [f"sales@{t['domain']}"],
                    _page(t["domain"], t["people"][0], t["titles"][i]),
                )
        for t in TENANTS.values():
            smtp_send(
                server.port,
                "eve@outside.example",
                [f"sales@{t['domain']}"],
                _page("outside.example", "Eve", f"Hello {t['name']}"),
            )
        wait_until(lambda: settled(rt))
        bob_mail = next(r.message for r in sink.received if r.rcpt_tos == ["bob@acme.example"])
        reply = reply_like_gmail(bob_mail, "Bob Acme <bob@acme.example>", "Noted, @ann.")
        smtp_send(server.port, "bob@acme.example", [str(bob_mail["Reply-To"])], reply)
        wait_until(lambda: settled(rt))
        rt.enqueue_notifications(rt.collect_digests(utcnow() + timedelta(days=2)))
        wait_until(lambda: settled(rt))
        received = list(sink.received)

    kinds = set()
    with rt.sessions() as s:
        kinds = {n.kind for n in s.scalars(select(Notification))}
    assert kinds == {"page_created", "comment_added", "digest", "receipt", "rejection"}
    assert len(received) >= 10
    for r in received:
        (rcpt,) = r.rcpt_tos
        domain = rcpt.split("@")[1]
        own = (
            "acme"
            if domain in ("acme.example",)
            else "globex"
            if domain == "globex.example"
            else None
        )
        msg = r.message
        parts = [str(v) for _, v in msg.items()]
        parts += [p.get_content() for p in msg.walk() if p.get_content_maintype() == "text"]
        # The deployment's own web address is shared by all tenants, and not tenant data
        whole = "\n".join(parts).replace(rt.settings.base_url, "https://intranet.invalid")
        if own is None:  # the stranger's rejections: the tenant's own name only
            others = [t for t in TENANTS.values() if t["domain"] not in whole]
            assert len(others) == 1, whole[:300]
            continue
        other = TENANTS["globex" if own == "acme" else "acme"]
        for marker in (
            other["domain"],
            other["name"],
            *other["people"],
            *other["titles"],
            f"/t/{'globex' if own == 'acme' else 'acme'}/",
        ):
            assert marker not in whole, (rcpt, marker)
