"""`mailhub serve`'s worker, in a child process: the work of one message runs where it cannot
stall SMTP acceptance or the web, which keep the parent's interpreter to themselves.

The child is `mailhub worker --embedded`: the in-process broker, its own worker threads, and a
sweeper that looks every EMBEDDED_SWEEP seconds for what the parent stored (the parent marks
each message and notification due as it commits it). A watchdog restarts the child whenever it
dies; a message that kills it again and again ends failed by the attempt count, and one that
takes longer than MAILHUB_PROCESS_TIMEOUT is interrupted.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading

log = logging.getLogger(__name__)

EMBEDDED_SWEEP = 1.0  # seconds between the embedded worker's looks for new work
RESTART_AFTER = 1.0  # seconds a dead child is left before the next one starts


class ChildWorker:
    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._watchdog = threading.Thread(target=self._watch, name="mailhub-watchdog", daemon=True)
        self.restarts = 0

    def start(self) -> None:
        self._process = self._spawn()
        self._watchdog.start()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def _spawn(self) -> subprocess.Popen[bytes]:
        # The environment carries the settings, as it did to this process.
        command = [sys.executable, "-m", "mailhub.cli.main", "worker", "--embedded"]
        return subprocess.Popen(command)

    def _watch(self) -> None:
        while not self._stopping.is_set():
            assert self._process is not None
            code = self._process.wait()
            if self._stopping.wait(RESTART_AFTER):
                return
            self.restarts += 1
            log.warning("the worker stopped (exit code %s); starting it again", code)
            self._process = self._spawn()

    def stop(self, timeout: float = 30.0) -> None:
        self._stopping.set()
        if self._process is None or self._process.poll() is not None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
