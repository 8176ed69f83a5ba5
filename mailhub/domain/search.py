"""Full-text search over a tenant's pages, comments, forms and attachments (their names,
and the words inside them once the worker has read them: domain/attachment_text.py).

Indexing: every flush that adds or changes a page, revision, comment, form, form version or
attachment writes its search entry in the same transaction (an ORM `after_flush` hook that
`session_factory` wires into the factory every edge uses, so no code path that writes content
can forget it); deleting the content deletes the entry by
ON DELETE CASCADE. The database's own engine does the rest: FTS5 with bm25 ranking on
SQLite, a GIN-indexed tsvector with ts_rank on PostgreSQL.

Queries are words, each matched as a prefix ("pipel rev" finds "Pipeline review"), so the
page can search as the person types.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from sqlalchemy import DateTime, Engine, String, cast, delete, func, insert, literal, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, UOWTransaction

from mailhub.db import SessionFactory, make_session_factory
from mailhub.domain.directory import hidden_space_ids
from mailhub.i18n import DEFAULT, Translator, translator
from mailhub.models import (
    Attachment,
    Comment,
    Form,
    FormVersion,
    Page,
    Revision,
    SearchEntry,
    Space,
    Tenant,
    User,
    utcnow,
)

LIMIT = 20
ENGLISH = translator(DEFAULT)
# What of an item is searched: its first 200,000 characters (a 12 MB page stays findable by
# its beginning, and within PostgreSQL's 1 MB limit of a tsvector); a snippet is looked for
# in the first SNIPPET_SCAN of them.
MAX_BODY = 200_000
SNIPPET_SCAN = 20_000
_WORD = re.compile(r"\w+", re.UNICODE)
_MARK = re.compile(r"^(\W*)(\w+)")  # a word without the punctuation around it


@dataclass(frozen=True)
class Hit:
    kind: str  # page, comment, form, attachment
    title: str
    snippet: str
    url: str
    where: str  # "comment on Budget in Sales", "file on Budget in Sales, inside the file"


def words(query: str) -> list[str]:
    """The words of a query, at most 8, each at most 40 characters (longer is not a word)."""
    return [w[:40] for w in _WORD.findall(query.lower())][:8]


def find(
    session: Session,
    tenant: Tenant,
    query: str,
    limit: int = LIMIT,
    viewer: User | None = None,
    _: Translator = ENGLISH,
) -> list[Hit]:
    """The entries of `tenant` whose text has every word of `query` as a prefix: those whose
    title does first, then the rest, newest first within each. Ordering by id lets both
    engines stop after `limit` matches instead of ranking every match of a common prefix,
    which keeps find-as-you-type fast at any size (bench/search.py)."""
    terms = words(query)
    if not terms:
        return []
    # Restricted spaces the viewer is not a member of are left out (fetch more to fill up).
    hidden = hidden_space_ids(session, tenant, viewer) if viewer is not None else set()
    wanted = limit
    if hidden:
        limit = limit * 5
    if session.get_bind().dialect.name == "sqlite":
        phrase = " ".join('"' + t + '"*' for t in terms)
        sql = (
            "SELECT rowid FROM search_fts WHERE search_fts MATCH :match "
            "ORDER BY rowid DESC LIMIT :limit"
        )
        tenant_filter = f'tenant_id : "{tenant.id}" AND '
        titled = session.scalars(
            text(sql), {"match": f"{tenant_filter}title : ({phrase})", "limit": limit}
        ).all()
        rest = session.scalars(
            text(sql), {"match": f"{tenant_filter}({phrase})", "limit": limit}
        ).all()
    else:
        # mailhub_fold (migration 0027) makes "Zoë" and "Zoe" one word, in the index and here
        tsquery = " & ".join(t + ":*" for t in terms)
        sql = (
            "SELECT id FROM search_entries WHERE tenant_id = :tenant AND {} "
            "@@ to_tsquery('simple', mailhub_fold(:q)) ORDER BY id DESC LIMIT :limit"
        )
        params = {"tenant": tenant.id, "q": tsquery, "limit": limit}
        titled = session.scalars(text(sql.format("title_vector")), params).all()
        rest = session.scalars(text(sql.format("search_vector")), params).all()
    ids = list(dict.fromkeys([*titled, *rest]))
    if not ids:
        return []
    rows = {
        r.id: r
        for r in session.execute(
            select(
                SearchEntry.id,
                SearchEntry.kind,
                SearchEntry.space_id,
                SearchEntry.page_id,
                SearchEntry.comment_id,
                SearchEntry.form_id,
                SearchEntry.attachment_id,
                SearchEntry.title,
                SearchEntry.label,
                func.substr(SearchEntry.body, 1, SNIPPET_SCAN).label("body"),
                Space.name.label("space"),
                Page.title.label("page_title"),  # a file's page, named where the hit is
            )
            .join(Space, Space.id == SearchEntry.space_id)
            .outerjoin(Page, Page.id == SearchEntry.page_id)
            .where(SearchEntry.id.in_(ids), SearchEntry.tenant_id == tenant.id)
        )
    }
    base = f"/t/{tenant.slug}"
    hits: list[Hit] = []
    for entry_id in ids:
        e = rows.get(entry_id)
        if e is None or e.space_id in hidden:
            continue
        if len(hits) == wanted:
            break
        if e.kind == "form":
            url, where = f"{base}/forms/{e.form_id}", _("form in {space}", space=e.space)
        elif e.kind == "comment":
            url = f"{base}/pages/{e.page_id}#comment-{e.comment_id}"
            where = _("comment on {page} in {space}", page=e.label, space=e.space)
        elif e.kind == "attachment":
            url = f"{base}/attachments/{e.attachment_id}"
            on = {"page": e.page_title or "", "space": e.space}
            where = (
                _("file on {page} in {space}", **on)
                if _names_all(e.title, terms)
                else _("file on {page} in {space}, inside the file", **on)
            )
        else:
            url, where = f"{base}/pages/{e.page_id}", _("page in {space}", space=e.space)
        hits.append(Hit(e.kind, e.label or e.title, snippet(e.body, terms), url, where))
    return hits


def fold(value: str) -> str:
    """Lower case without diacritics ("Zoë" → "zoe"), as both engines index words."""
    decomposed = unicodedata.normalize("NFKD", value.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _names_all(title: str, terms: list[str]) -> bool:
    found = [fold(w) for w in _WORD.findall(title)]
    return all(any(w.startswith(fold(t)) for w in found) for t in terms)


def snippet(body: str, terms: list[str], width: int = 12) -> str:
    """About `width` words of `body` around the first word a term begins, matches in [ ]."""
    found = body.split()
    if not found:
        return ""
    folded = [fold(t) for t in terms]

    def hit(word: str) -> bool:
        low = fold("".join(_WORD.findall(word)))
        return any(low.startswith(t) for t in folded)

    first = next((i for i, w in enumerate(found) if hit(w)), 0)
    start = max(0, first - width // 3)
    shown = [
        _MARK.sub(r"\1[\2]", w, count=1) if hit(w) else w for w in found[start : start + width]
    ]
    return ("… " if start else "") + " ".join(shown) + (" …" if start + width < len(found) else "")


# Indexing -------------------------------------------------------------------------------------


def _put(conn: Connection, key: str, values: dict[str, Any]) -> None:
    values["body"] = values["body"][:MAX_BODY]
    conn.execute(delete(SearchEntry).where(SearchEntry.item_key == key))
    conn.execute(insert(SearchEntry).values(item_key=key, updated_at=utcnow(), **values))


def _page(conn: Connection, page_id: int) -> None:
    page = conn.execute(
        select(Page.tenant_id, Page.space_id, Page.title).where(Page.id == page_id)
    ).first()
    if page is None:
        return
    body = conn.scalar(
        select(Revision.body_text)
        .where(Revision.page_id == page_id)
        .order_by(Revision.number.desc())
        .limit(1)
    )
    _put(
        conn,
        f"page:{page_id}",
        {
            "tenant_id": page.tenant_id,
            "space_id": page.space_id,
            "kind": "page",
            "page_id": page_id,
            "title": page.title[:300],
            "label": page.title[:300],
            "body": body or "",
        },
    )


def _form(conn: Connection, form_id: int) -> None:
    form = conn.execute(
        select(Form.tenant_id, Form.space_id, Form.title, Form.current_version).where(
            Form.id == form_id
        )
    ).first()
    if form is None:
        return
    definition = conn.scalar(
        select(FormVersion.definition).where(
            FormVersion.form_id == form_id, FormVersion.number == form.current_version
        )
    )
    questions = (definition or {}).get("questions", [])
    body = "\n".join([(definition or {}).get("description", "")] + [q["text"] for q in questions])
    _put(
        conn,
        f"form:{form_id}",
        {
            "tenant_id": form.tenant_id,
            "space_id": form.space_id,
            "kind": "form",
            "form_id": form_id,
            "title": form.title[:300],
            "label": form.title[:300],
            "body": body,
        },
    )


def _comment(conn: Connection, c: Comment) -> None:
    page = conn.execute(select(Page.space_id, Page.title).where(Page.id == c.page_id)).first()
    if page is None:
        return
    _put(
        conn,
        f"comment:{c.id}",
        {
            "tenant_id": c.tenant_id,
            "space_id": page.space_id,
            "kind": "comment",
            "page_id": c.page_id,
            "comment_id": c.id,
            "title": "",
            "label": page.title[:300],
            "body": c.body_text,
        },
    )


def _attachment(conn: Connection, a: Attachment) -> None:
    if a.inline:
        return  # an image inside the text, not a file people look for by name
    space_id = conn.scalar(select(Page.space_id).where(Page.id == a.page_id))
    if space_id is None:
        return
    _put(
        conn,
        f"attachment:{a.id}",
        {
            "tenant_id": a.tenant_id,
            "space_id": space_id,
            "kind": "attachment",
            "page_id": a.page_id,
            "attachment_id": a.id,
            "title": a.filename[:300],
            "label": a.filename[:300],
            "body": a.extracted_text or "",
        },
    )


def session_factory(engine: Engine) -> SessionFactory:
    """The session factory every edge uses: whatever a flush writes to a page, revision,
    comment, form or attachment is indexed in the same transaction."""
    return make_session_factory(engine, on_flush=[_index])


def _index(session: Session, _flush: UOWTransaction) -> None:
    changed = [o for o in (*session.new, *session.dirty) if not _deleted(session, o)]
    if not any(isinstance(o, _INDEXED) for o in changed):
        return
    conn = session.connection()
    pages: set[int] = set()
    forms: set[int] = set()
    for obj in changed:
        if isinstance(obj, Page):
            pages.add(obj.id)
        elif isinstance(obj, Revision):
            pages.add(obj.page_id)
        elif isinstance(obj, Form):
            forms.add(obj.id)
        elif isinstance(obj, FormVersion):
            forms.add(obj.form_id)
        elif isinstance(obj, Comment):
            _comment(conn, obj)
        elif isinstance(obj, Attachment):
            _attachment(conn, obj)
    for page_id in pages:
        _page(conn, page_id)
    for form_id in forms:
        _form(conn, form_id)


_INDEXED = (Page, Revision, Form, FormVersion, Comment, Attachment)


def _deleted(session: Session, obj: object) -> bool:
    return obj in session.deleted


def reindex_tenant(session: Session, tenant_id: int) -> int:
    """Rebuild a tenant's search entries from its items (after a backup is restored): one
    INSERT … SELECT each for pages (with their newest revision), comments and attachments,
    and forms one by one (their text is in the JSON definition). Returns the entries."""
    conn = session.connection()
    conn.execute(delete(SearchEntry).where(SearchEntry.tenant_id == tenant_id))
    now = literal(utcnow(), DateTime)

    def key(kind: str, column: Any) -> Any:
        return literal(f"{kind}:") + cast(column, String)

    newest = (
        select(Revision.page_id, func.max(Revision.number).label("number"))
        .where(Revision.tenant_id == tenant_id)
        .group_by(Revision.page_id)
        .subquery()
    )
    title = func.substr(Page.title, 1, 300)
    columns = ["tenant_id", "space_id", "kind", "item_key", "page_id", "title", "label", "body"]
    conn.execute(
        insert(SearchEntry).from_select(
            [*columns, "updated_at"],
            select(
                Page.tenant_id,
                Page.space_id,
                literal("page"),
                key("page", Page.id),
                Page.id,
                title,
                title,
                func.substr(func.coalesce(Revision.body_text, ""), 1, MAX_BODY),
                now,
            )
            .select_from(Page)
            .outerjoin(newest, newest.c.page_id == Page.id)
            .outerjoin(
                Revision, (Revision.page_id == Page.id) & (Revision.number == newest.c.number)
            )
            .where(Page.tenant_id == tenant_id),
        )
    )
    conn.execute(
        insert(SearchEntry).from_select(
            [*columns, "comment_id", "updated_at"],
            select(
                Comment.tenant_id,
                Page.space_id,
                literal("comment"),
                key("comment", Comment.id),
                Comment.page_id,
                literal(""),
                title,
                func.substr(Comment.body_text, 1, MAX_BODY),
                Comment.id,
                now,
            )
            .join(Page, Page.id == Comment.page_id)
            .where(Comment.tenant_id == tenant_id),
        )
    )
    name = func.substr(Attachment.filename, 1, 300)
    conn.execute(
        insert(SearchEntry).from_select(
            [*columns, "attachment_id", "updated_at"],
            select(
                Attachment.tenant_id,
                Page.space_id,
                literal("attachment"),
                key("attachment", Attachment.id),
                Attachment.page_id,
                name,
                name,
                func.substr(func.coalesce(Attachment.extracted_text, ""), 1, MAX_BODY),
                Attachment.id,
                now,
            )
            .join(Page, Page.id == Attachment.page_id)
            .where(Attachment.tenant_id == tenant_id, ~Attachment.inline),
        )
    )
    for form_id in session.scalars(select(Form.id).where(Form.tenant_id == tenant_id)):
        _form(conn, form_id)
    return int(
        session.scalar(
            select(func.count()).select_from(SearchEntry).where(SearchEntry.tenant_id == tenant_id)
        )
        or 0
    )
