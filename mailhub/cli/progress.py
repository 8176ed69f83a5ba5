"""Progress of a long command (backup, restore, export, erasure, reindex, CSV import) on a
terminal: a line on stderr with what is done so far, the time taken and the rate, redrawn
twice a second even between items (tqdm); nothing at all when stderr is a file or a pipe,
so scripts and logs read only the command's result."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from mailhub.progress import Tick, quiet


@contextmanager
def progress(label: str, unit: str = "it", total: int | None = None) -> Iterator[Tick]:
    """A Tick that draws `label` and the count on a terminal; the line is cleared at the end."""
    if not sys.stderr.isatty():
        yield quiet
        return
    from tqdm import tqdm  # only a command on a terminal pays for importing it

    stop = threading.Event()
    with tqdm(total=total, desc=label, unit=f" {unit}", file=sys.stderr, leave=False) as bar:
        lock = threading.Lock()

        def tick(done: int) -> None:
            with lock:
                bar.update(done)

        def redraw() -> None:  # the elapsed time moves while one long item is worked on
            while not stop.wait(0.5):
                with lock:
                    bar.refresh()

        drawer = threading.Thread(target=redraw, name="mailhub-progress", daemon=True)
        drawer.start()
        try:
            yield tick
        finally:
            stop.set()
            drawer.join()
