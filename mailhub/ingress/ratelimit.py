"""Per-sender rate limits at the SMTP door: a runaway script or a mail loop is slowed, not lost.

Over the limit, RCPT is answered 450 (RFC 5321 §4.2.2: try again later), so the sending server
keeps the mail and retries; nothing accepted is ever dropped. Counted per process in a sliding
window (each `mailhub smtp` process keeps its own count), keyed by tenant and envelope sender,
by tenant and client address with PEER_FACTOR times the limit, so changing MAIL FROM from one
machine does not reset the count (an organisation's outbound relay sends for many people,
hence the larger allowance), and by tenant alone with TENANT_FACTOR times it.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque

PEER_FACTOR = 10
TENANT_FACTOR = 100  # and every sender to one tenant together, so a botnet is slowed too


class SenderRateLimiter:
    def __init__(self, limit: int, window: float = 3600.0) -> None:
        self.limit = limit
        self.window = window
        self._seen: dict[tuple[int, str, str], deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def allow(self, tenant_id: int, sender: str, peer: str = "", now: float | None = None) -> bool:
        """Count one message from this sender and client; False when either is over."""
        if self.limit <= 0:
            return True
        now = time.monotonic() if now is None else now
        keys = [
            ((tenant_id, "sender", sender.lower()), self.limit),
            ((tenant_id, "tenant", ""), self.limit * TENANT_FACTOR),
        ]
        if peer:
            keys.append(((tenant_id, "peer", peer), self.limit * PEER_FACTOR))
        with self._lock:
            for key, limit in keys:
                stamps = self._seen[key]
                while stamps and stamps[0] <= now - self.window:
                    stamps.popleft()
                if len(stamps) >= limit:
                    return False
            for key, _ in keys:
                self._seen[key].append(now)
            if len(self._seen) > 100_000:  # forget idle senders rather than grow without bound
                for k in [k for k, v in self._seen.items() if not v]:
                    del self._seen[k]
            return True
