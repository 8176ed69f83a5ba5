"""The processes' runtime: wiring (runtime.py), the dramatiq actors, which only take ids
(actors.py), and the sweeper (sweeper.py).

Each actor loads by id and calls one use case. The queue is never the only copy of anything:
the sweeper re-enqueues work whose job was lost (broker restart, worker killed), and every use
case is safe to run twice.
"""

from __future__ import annotations

from mailhub.tasks.runtime import Runtime, make_transport

__all__ = ["Runtime", "make_transport"]
