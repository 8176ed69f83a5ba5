"""A person's data as a ZIP (GDPR Art. 20): JSON documents that validate against
schema/export.schema.json, and the original files they uploaded.

    manifest.json     what is inside, when it was made, for whom, and the schema's version
    profile.json      the account
    preferences.json  subscriptions
    pages.json        pages they wrote, with the current text
    revisions.json    every revision they wrote
    comments.json     their comments
    forms.json        forms they made, with every version
    answers.json      their answers to forms
    inbound.json      metadata of the mail they sent in (no bodies: those are in pages)
    deliveries.json   the mail mailhub sent them
    attachments/      the files they uploaded, under their ids

Written to a temporary name and renamed, so a half-written archive is never offered.
"""

from __future__ import annotations

import json
import os
import secrets
import zipfile
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailhub.models import (
    Attachment,
    Base,
    Comment,
    Form,
    FormResponse,
    FormVersion,
    InboundMessage,
    Notification,
    Page,
    Revision,
    Space,
    Subscription,
    Tenant,
    User,
    utcnow,
)
from mailhub.progress import Tick, quiet
from mailhub.routing import shown
from mailhub.stores.files import FileStore

FORMAT = 1


def _t(value: Any) -> str | None:
    return value.isoformat() + "Z" if value is not None else None


def documents(session: Session, tenant: Tenant, user: User) -> dict[str, Any]:
    """Every JSON document of the archive, by file name."""
    spaces = {
        s.id: s.slug for s in session.scalars(select(Space).where(Space.tenant_id == tenant.id))
    }
    mine = (Page.tenant_id == tenant.id) & (Page.author_id == user.id)
    pages = []
    for page in session.scalars(select(Page).where(mine).order_by(Page.id)):
        latest = session.scalar(
            select(Revision)
            .where(Revision.page_id == page.id)
            .order_by(Revision.number.desc())
            .limit(1)
        )
        pages.append(
            {
                "id": page.id,
                "space": spaces.get(page.space_id, ""),
                "title": page.title,
                "created_at": _t(page.created_at),
                "text": latest.body_text if latest else "",
            }
        )
    return {
        "profile.json": {
            "tenant": tenant.slug,
            "email": user.email,
            "name": user.name,
            "locale": user.locale,
            "administrator": user.is_admin,
            "active": user.active,
            "created_at": _t(user.created_at),
        },
        "preferences.json": [
            {
                "subject": s.subject_kind,
                "subject_id": s.subject_id,
                "level": s.level,
                "frequency": s.frequency,
            }
            for s in session.scalars(
                select(Subscription)
                .where(Subscription.user_id == user.id)
                .order_by(Subscription.id)
            )
        ],
        "pages.json": pages,
        "revisions.json": [
            {
                "page_id": r.page_id,
                "number": r.number,
                "created_at": _t(r.created_at),
                "text": r.body_text,
            }
            for r in session.scalars(
                select(Revision)
                .where(Revision.tenant_id == tenant.id, Revision.author_id == user.id)
                .order_by(Revision.id)
            )
        ],
        "comments.json": [
            {"id": c.id, "page_id": c.page_id, "created_at": _t(c.created_at), "text": c.body_text}
            for c in session.scalars(
                select(Comment)
                .where(Comment.tenant_id == tenant.id, Comment.author_id == user.id)
                .order_by(Comment.id)
            )
        ],
        "forms.json": [
            {
                "id": f.id,
                "title": f.title,
                "status": f.status,
                "created_at": _t(f.created_at),
                "versions": [
                    v.definition
                    for v in session.scalars(
                        select(FormVersion)
                        .where(FormVersion.form_id == f.id)
                        .order_by(FormVersion.number)
                    )
                ],
            }
            for f in session.scalars(
                select(Form)
                .where(Form.tenant_id == tenant.id, Form.creator_id == user.id)
                .order_by(Form.id)
            )
        ],
        "answers.json": [
            {
                "form_id": r.form_id,
                "answered_at": _t(r.updated_at),
                "via": r.via,
                "answers": r.answers,
            }
            for r in session.scalars(
                select(FormResponse)
                .where(FormResponse.tenant_id == tenant.id, FormResponse.respondent_id == user.id)
                .order_by(FormResponse.id)
            )
        ],
        "inbound.json": [
            {
                "id": m.id,
                "received_at": _t(m.received_at),
                "to": [shown(r) for r in m.rcpt_to],
                "status": m.status,
                "size": m.size,
            }
            for m in session.scalars(
                select(InboundMessage)
                .where(
                    InboundMessage.tenant_id == tenant.id, InboundMessage.mail_from == user.email
                )
                .order_by(InboundMessage.id)
            )
        ],
        "deliveries.json": [
            {"kind": n.kind, "created_at": _t(n.created_at), "status": n.status, "reason": n.reason}
            for n in session.scalars(
                select(Notification)
                .where(Notification.tenant_id == tenant.id, Notification.user_id == user.id)
                .order_by(Notification.id)
            )
        ],
    }


def build(
    session: Session, tenant: Tenant, user: User, files: FileStore, exports: Path
) -> tuple[str, dict[str, int]]:
    """Write the archive; (its path relative to `exports`, item counts per document)."""
    docs = documents(session, tenant, user)
    uploads = list(
        session.scalars(
            select(Attachment)
            .where(Attachment.tenant_id == tenant.id, Attachment.uploader_id == user.id)
            .order_by(Attachment.id)
        )
    )
    counts = {name: len(doc) if isinstance(doc, list) else 1 for name, doc in docs.items()}
    counts["attachments"] = len(uploads)
    manifest = {
        "format": FORMAT,
        "made_at": _t(utcnow()),
        "tenant": tenant.slug,
        "documents": sorted(docs),
        "counts": counts,
    }
    rel = f"{tenant.id}/export-{secrets.token_urlsafe(16)}.zip"
    target = exports / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2))
        for name, doc in docs.items():
            z.writestr(name, json.dumps(doc, ensure_ascii=False, indent=2))
        for a in uploads:
            try:
                source = files.path(a.path)
            except FileNotFoundError:
                continue
            if source.exists():
                z.write(source, f"attachments/{a.id}-{Path(a.filename).name or 'file'}")
    with open(partial, "rb") as fh:
        os.fsync(fh.fileno())
    partial.rename(target)
    return rel, counts


def build_tenant(
    session: Session, tenant: Tenant, files: FileStore, target: Path, tick: Tick = quiet
) -> dict[str, int]:
    """The customer's own copy of everything: every row of every table of the tenant as
    JSON (tables/NAME.json), and every file of its store (files/…), in one ZIP at `target`.
    Returns the rows per table."""
    from sqlalchemy import DateTime

    counts: dict[str, int] = {}
    partial = target.with_name(target.name + ".part")
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for table in Base.metadata.sorted_tables:
            if table.name == "backup_keys":  # what opens backups stays with mailhub
                continue
            if table.name == "tenants":
                where = table.c.id == tenant.id
            elif "tenant_id" in table.c:
                where = table.c.tenant_id == tenant.id
            else:
                continue
            dated = [c.name for c in table.c if isinstance(c.type, DateTime)]
            rows = []
            for row in session.execute(select(table).where(where).order_by(table.c.id)).mappings():
                item = dict(row)
                for name in dated:
                    item[name] = _t(item[name])
                rows.append(item)
            z.writestr(f"tables/{table.name}.json", json.dumps(rows, ensure_ascii=False, indent=1))
            counts[table.name] = len(rows)
            tick(len(rows))
        stored = 0
        for rel, path in files.tenant_files(tenant.id):
            z.write(path, f"files/{rel}")
            stored += 1
            tick(1)
        z.writestr(
            "manifest.json",
            json.dumps(
                {
                    "format": FORMAT,
                    "tenant": tenant.slug,
                    "made_at": _t(utcnow()),
                    "rows": counts,
                    "files": stored,
                },
                indent=1,
            ),
        )
    with open(partial, "rb") as fh:
        os.fsync(fh.fileno())
    partial.rename(target)
    return counts
