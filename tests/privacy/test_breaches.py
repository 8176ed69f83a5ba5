"""Breach notices (GDPR Art. 33 and 34), over real SMTP: the register entry and its 72-hour
deadline; the people affected chosen by tenant, window and data category; the notice sent
despite preferences and objections, never to a hard-bouncing address, and once per person."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from mailhub.db import unit_of_work
from mailhub.domain import directory, editing, objections, preferences
from mailhub.errors import InvalidInput
from mailhub.models import Breach, Page, Revision, Suppression, User, utcnow
from mailhub.privacy import breaches

from conftest import relayed_runtime, wait_until


def test_the_people_affected_are_told_once_whatever_their_settings(tmp_path: Path) -> None:
    with relayed_runtime(tmp_path) as (rt, sink, _):
        with unit_of_work(rt.sessions) as s:
            t = directory.get_tenant(s, "acme")
            sales = directory.get_space(s, t, "sales")
            ann, bob = (
                directory.get_user(s, t, e) for e in ("ann@acme.example", "bob@acme.example")
            )
            cat = directory.add_user(s, t, "cat@acme.example", "Cat")
            dan = directory.add_user(s, t, "dan@acme.example", "Dan")
            for author in (ann, bob, cat, dan):
                editing.create(s, t, sales, author, f"Notes of {author.name}", "text")
            # Dan wrote long before the window; Bob objected and muted everything; Cat bounces
            long_ago = utcnow() - timedelta(days=40)
            s.execute(update(Page).where(Page.author_id == dan.id).values(created_at=long_ago))
            s.execute(
                update(Revision).where(Revision.author_id == dan.id).values(created_at=long_ago)
            )
            objections.object_to_processing(s, t, bob)
            preferences.mute_all(s, t, bob)
            s.add(
                Suppression(
                    tenant_id=t.id, address="cat@acme.example", suppressed=True, last_status="5.1.1"
                )
            )
        sink.handler.received.clear()  # the pages' own notifications are not what is tested

        with unit_of_work(rt.sessions) as s:
            t = directory.get_tenant(s, "acme")
            with pytest.raises(InvalidInput, match="categories must be among"):
                breaches.record(s, t, utcnow(), utcnow(), utcnow(), ["passwords"], "x")
            aware = datetime(2026, 11, 27, 9, 0)
            b = breaches.record(
                s,
                t,
                aware,
                utcnow() - timedelta(days=1),
                utcnow() + timedelta(minutes=1),
                ["content"],
                "A backup of page texts was readable by anyone with its link for a day.",
            )
            assert b.deadline_at == aware + timedelta(hours=72)
            assert breaches.affected(s, t, b) == {
                u.id
                for u in s.scalars(
                    select(User).where(
                        User.email.in_(["ann@acme.example", "bob@acme.example", "cat@acme.example"])
                    )
                )
            }
            ids = breaches.notify(s, t, b.id)
            breach_id = b.id
        rt.enqueue_notifications(ids)
        # Ann and Bob (objection and mutes notwithstanding) are told; Cat's address bounces
        wait_until(lambda: len(sink.received) == 2)
        told = sorted(r.rcpt_tos[0] for r in sink.received)
        assert told == ["ann@acme.example", "bob@acme.example"]
        body = sink.received[0].message.get_body(preferencelist=("plain",)).get_content()
        assert "readable by anyone with its link" in body and "The data concerned: content." in body
        assert "because the law requires it" in body
        # Notifying again tells nobody twice
        with unit_of_work(rt.sessions) as s:
            assert breaches.notify(s, directory.get_tenant(s, "acme"), breach_id) == []
            row = s.get_one(Breach, breach_id)
            assert (row.affected, row.notified_at is not None) == (3, True)
