"""Preferences and the recipient resolver: resolution order, mandatory floors, the rules of the
levels, mentions, edits, who is always left out, and the hourly cap."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from mailhub.db import make_engine, migrate, unit_of_work
from mailhub.domain import directory, editing, preferences
from mailhub.domain.objections import object_to_processing
from mailhub.domain.preferences import Choice, PreferenceRefused, resolve
from mailhub.domain.search import session_factory
from mailhub.errors import InvalidInput
from mailhub.models import (
    Comment,
    DigestItem,
    InboundMessage,
    Notification,
    Page,
    Revision,
    SubjectKind,
    Suppression,
    User,
)
from mailhub.outbound import events, recipients

W, N, M = "watching", "normal", "muted"
NOW, H, D, WK, NV = "immediately", "hourly", "daily", "weekly", "never"

# (user page, user space, space default, tenant default) → (level, frequency, source, mandatory)
CASES = [
    ((None, None, None, None), (N, NOW, "system", False)),
    ((None, None, None, Choice(W, D)), (W, D, "tenant-default", False)),
    ((None, None, Choice(W), Choice(M, WK)), (W, WK, "space-default", False)),
    ((None, Choice(M), Choice(W, D), None), (M, D, "space", False)),
    ((Choice(W), Choice(M, H), None, None), (W, H, "page", False)),
    ((Choice(None, NV), Choice(W), None, None), (W, NV, "space", False)),
    # A mandatory default is a floor: no mute, no "never", but more is allowed
    ((None, Choice(M, NV), Choice(W, D, True), None), (W, D, "space-default", True)),
    ((Choice(M), None, None, Choice(N, None, True)), (N, NOW, "tenant-default", True)),
    ((None, Choice(W, WK), Choice(N, D, True), None), (W, WK, "space", True)),
    ((None, Choice(None, NV), Choice(W, None, True), None), (W, NOW, "space-default", True)),
]


@pytest.mark.parametrize(("chain", "expected"), CASES)
def test_resolution_user_then_space_then_tenant_then_system(
    chain: tuple[Choice | None, ...], expected: tuple[str, str, str, bool]
) -> None:
    got = resolve(*chain)
    assert (got.level, got.frequency, got.source, got.mandatory) == expected


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Session]:
    url = f"sqlite:///{tmp_path / 'p.sqlite3'}"
    migrate(url)
    factory = session_factory(make_engine(url))
    with unit_of_work(factory) as session:
        yield session


class Acme:
    def __init__(self, s: Session) -> None:
        self.s = s
        self.t = directory.add_tenant(s, "acme", "acme.example", "Acme")
        self.users = {
            n: directory.add_user(s, self.t, f"{n}@acme.example", n.title())
            for n in ("ann", "bob", "cat", "dan", "eve")
        }
        self.sales = directory.add_space(s, self.t, "sales", "Sales")
        self.news = directory.add_space(s, self.t, "news", "News")

    def page(self, author: str = "ann", text: str = "Hello", space: str = "sales") -> Page:
        sp = self.sales if space == "sales" else self.news
        page = Page(tenant_id=self.t.id, space_id=sp.id, author_id=self.users[author].id, title="P")
        self.s.add(page)
        self.s.flush()
        self.s.add(
            Revision(
                tenant_id=self.t.id,
                page_id=page.id,
                author_id=page.author_id,
                number=1,
                body_html=f"<p>{text}</p>",
                body_text=text,
            )
        )
        self.s.flush()
        return page

    def created(self, page: Page, text: str = "Hello") -> dict[str, str]:
        """Who is mailed now about a new page, and why."""
        sp = self.s.get_one(type(self.sales), page.space_id)
        ids = events.page_created(
            self.s, self.t, page, sp, self.s.get_one(User, page.author_id), text
        )
        return self._who(ids.ids)

    def commented(self, page: Page, author: str, text: str) -> dict[str, str]:
        c = Comment(
            tenant_id=self.t.id,
            page_id=page.id,
            author_id=self.users[author].id,
            body_html=text,
            body_text=text,
        )
        self.s.add(c)
        self.s.flush()
        sp = self.s.get_one(type(self.sales), page.space_id)
        return self._who(events.comment_added(self.s, self.t, page, sp, c, self.users[author]).ids)

    def _who(self, ids: list[int]) -> dict[str, str]:
        rows = self.s.scalars(select(Notification).where(Notification.id.in_(ids)))
        return {r.to_addr.split("@")[0]: r.reason for r in rows}

    def set(
        self, user: str, level: str | None, frequency: str | None = None, page: Page | None = None
    ) -> None:
        kind, sid = (SubjectKind.PAGE, page.id) if page else (SubjectKind.SPACE, self.sales.id)
        preferences.subscribe(
            self.s,
            self.t,
            self.users[user],
            kind,
            sid,
            preferences.parse_level(level),
            preferences.parse_frequency(frequency),
        )


def test_levels_decide_who_hears_of_new_pages_comments_and_edits(db: Session) -> None:
    a = Acme(db)
    a.set("bob", "watching")
    a.set("cat", "normal")
    a.set("dan", "muted")
    page = a.page()
    # A new page: watchers only; never the author
    assert a.created(page) == {"bob": "you watch the Sales space"}
    # Cat comments: the author hears (normal: what I wrote), Bob watches, Cat herself does not
    assert a.commented(page, "cat", "Looks good") == {
        "ann": "you wrote this page",
        "bob": "you watch the Sales space",
    }
    # Bob comments: Cat took part, so a normal level now hears of the thread
    assert a.commented(page, "bob", "Agreed") == {
        "ann": "you wrote this page",
        "cat": "you commented on this page",
    }
    # An edit by Ann: the participants and watchers hear of it, Dan (muted) never does
    rev, ids = editing.revise(db, a.t, page.id, a.users["ann"], "<p>Now with numbers</p>")
    assert rev.number == 2
    assert a._who(ids) == {"bob": "you commented on this page", "cat": "you commented on this page"}
    # Muting one page silences a space watcher for that page only
    a.set("bob", "muted", page=page)
    assert "bob" not in a.commented(page, "cat", "More")
    assert a.created(a.page()) == {"bob": "you watch the Sales space"}


def test_mentions_reach_normal_members_but_not_muted_ones(db: Session) -> None:
    a = Acme(db)
    a.set("dan", "muted")
    page = a.page()
    who = a.created(
        page, "Thoughts, @cat? Also cc eve@acme.example, @dan and @nobody; mail@ann.example"
    )
    assert who == {"cat": "Ann mentioned you", "eve": "Ann mentioned you"}
    # An address inside a word is no mention, nor is someone else's domain
    assert a.created(a.page(), "write to xcat@acme.example.org or bob@other.example") == {}


def test_admin_defaults_and_mandatory_subjects(db: Session) -> None:
    a = Acme(db)
    # Everyone watches News, mandatory; Sales defaults to a daily digest
    preferences.set_default(
        db, a.t, a.news, preferences.parse_level("watching"), None, mandatory=True
    )
    preferences.set_default(db, a.t, a.sales, None, preferences.parse_frequency("daily"))
    news_page = a.page(space="news")
    who = a.created(news_page)
    assert set(who) == {"bob", "cat", "dan", "eve"}
    assert who["bob"] == "an administrator set everyone to watch the News space"
    # An opt-out of a mandatory subject is refused with a clear message, a page mute too
    with pytest.raises(PreferenceRefused, match="mandatory"):
        preferences.subscribe(
            db,
            a.t,
            a.users["bob"],
            SubjectKind.SPACE,
            a.news.id,
            preferences.parse_level("muted"),
            None,
        )
    with pytest.raises(PreferenceRefused, match="cannot be muted"):
        preferences.subscribe(
            db,
            a.t,
            a.users["bob"],
            SubjectKind.PAGE,
            news_page.id,
            None,
            preferences.parse_frequency("never"),
        )
    # A lower frequency is still the user's choice
    preferences.subscribe(
        db,
        a.t,
        a.users["bob"],
        SubjectKind.SPACE,
        a.news.id,
        None,
        preferences.parse_frequency("weekly"),
    )
    who = a.created(a.page(space="news"))
    assert "bob" not in who  # now waiting for his weekly digest
    item = db.scalars(select(DigestItem).where(DigestItem.user_id == a.users["bob"].id)).one()
    assert item.frequency == "weekly"
    # A mandatory default cannot itself be "muted"
    with pytest.raises(InvalidInput):
        preferences.set_default(
            db, a.t, a.sales, preferences.parse_level("muted"), None, mandatory=True
        )
    # The overview says where each setting comes from
    rows = {r.space: r for r in preferences.overview(db, a.t, a.users["bob"])}
    assert (rows["news"].level, rows["news"].frequency, rows["news"].mandatory) == (
        "watching",
        "weekly",
        True,
    )
    assert (rows["sales"].frequency, rows["sales"].source) == ("daily", "system")


def test_objectors_guests_inactive_suppressed_and_other_tenants_are_left_out(db: Session) -> None:
    a = Acme(db)
    preferences.set_default(db, a.t, None, preferences.parse_level("watching"), None)
    other = directory.add_tenant(db, "globex", "globex.example", "Globex")
    directory.add_user(db, other, "bob@globex.example", "Other Bob")
    object_to_processing(db, a.t, a.users["bob"])
    a.users["cat"].active = False
    db.add(Suppression(tenant_id=a.t.id, address="dan@acme.example", suppressed=True))
    directory.guest_author(db, a.t, "gus@outside.example", "Gus")
    db.flush()
    assert set(a.created(a.page())) == {"eve"}


def test_the_hourly_cap_folds_the_rest_into_the_next_hourly_digest(db: Session) -> None:
    a = Acme(db)
    a.t.hourly_cap = 3
    a.set("bob", "watching")
    sent = [a.created(a.page()) for _ in range(5)]
    assert [("bob" in s) for s in sent] == [True, True, True, False, False]
    folded = db.scalars(select(DigestItem).where(DigestItem.user_id == a.users["bob"].id)).all()
    assert [i.frequency for i in folded] == ["hourly", "hourly"]


def test_csv_import_is_all_or_nothing_and_names_the_bad_line(db: Session) -> None:
    a = Acme(db)
    good = "email,space,level,frequency\nbob@acme.example,sales,watching,daily\ncat@acme.example,news,muted,\n"
    assert preferences.import_csv(db, a.t, good) == 2
    assert preferences.effective_for(db, a.users["bob"], a.sales).frequency == "daily"
    with pytest.raises(InvalidInput, match="line 2: .*level must be"):
        preferences.import_csv(
            db, a.t, "bob@acme.example,sales,normal,\nbob@acme.example,sales,loud,\n"
        )
    with pytest.raises(InvalidInput, match="line 1: no user"):
        preferences.import_csv(db, a.t, "zed@acme.example,sales,normal,\n")


def test_an_author_sees_who_a_page_would_reach_before_publishing(db: Session) -> None:
    a = Acme(db)
    a.set("bob", "watching")
    a.set("cat", "watching", "daily")
    a.set("dan", "watching", "weekly")
    a.set("eve", "muted")
    ann = a.users["ann"]
    before = recipients.preview(db, a.t, a.sales, ann, "cc @eve")
    assert before == {"immediately": 1, "daily": 1, "weekly": 1}
    assert db.scalars(select(Notification)).all() == []  # a preview writes nothing
    fanout = events.page_created(db, a.t, a.page(), a.sales, ann, "cc @eve")
    assert len(fanout.ids) == before["immediately"]
    assert dict(fanout.later) == {"daily": 1, "weekly": 1}


def test_notices_of_held_mail_stop_at_the_hourly_cap(db: Session) -> None:
    a = Acme(db)
    a.t.hourly_cap = 2
    a.users["ann"].is_admin = True
    a.users["bob"].is_admin = True
    db.flush()
    held = [
        InboundMessage(
            tenant_id=a.t.id,
            mail_from="eve@partner.example",
            rcpt_to=["sales@acme.example"],
            message_id=f"<{i}@x>",
            sha256=f"{i}",
            raw_path=f"{i}.eml",
            size=1,
        )
        for i in range(3)
    ]
    db.add_all(held)
    db.flush()
    told = [len(events.held(db, a.t, m.id, "not a member", "Offer")) for m in held]
    assert told == [2, 2, 0]  # both admins twice, then the rest stays held quietly
