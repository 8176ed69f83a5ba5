"""How long work says how far it has got: a `Tick` is told how many more items are done
(rows copied, files written, attachments read). The CLI shows it on a terminal; everyone
else passes `quiet`."""

from __future__ import annotations

from collections.abc import Callable

Tick = Callable[[int], None]


def quiet(_done: int) -> None:
    """A Tick that tells no one."""
