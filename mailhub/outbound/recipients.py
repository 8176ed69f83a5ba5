"""Who hears about an event, each with the reason they will be shown.

For now: followers of the space, and for comments the page's author, never the person who acted.
The notifications issue grows this into the full preference resolver.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailhub.models import Follow, Page, Space, User
from mailhub.privacy.objections import has_objected, objected


@dataclass(frozen=True)
class Recipient:
    user: User
    reason: str


def followers(session: Session, space: Space) -> list[User]:
    return list(
        session.scalars(
            select(User)
            .join(Follow, Follow.user_id == User.id)
            .where(
                Follow.space_id == space.id,
                Follow.tenant_id == space.tenant_id,
                User.active,
                ~User.guest,
                ~objected(User.id),
            )
            .order_by(User.id)
        )
    )


def for_new_page(session: Session, page: Page, space: Space) -> list[Recipient]:
    reason = f"you follow the {space.name} space"
    return [Recipient(u, reason) for u in followers(session, space) if u.id != page.author_id]


def for_new_comment(session: Session, page: Page, space: Space, actor_id: int) -> list[Recipient]:
    chosen: dict[int, Recipient] = {}
    author = session.get(User, page.author_id)
    if (
        author is not None
        and author.active
        and not author.guest  # guests are never notified
        and author.tenant_id == page.tenant_id
        and not has_objected(session, author.id)
    ):
        chosen[author.id] = Recipient(author, "you wrote this page")
    for user in followers(session, space):
        chosen.setdefault(user.id, Recipient(user, f"you follow the {space.name} space"))
    chosen.pop(actor_id, None)
    return list(chosen.values())
