"""The mailboxes an inbound message is routed to (routing.py's table): pages, forms,
comments, bounces, unsubscribe, rejections; and the lifecycle that runs them once per message
(lifecycle.py), after the screening checks (screening.py)."""

from __future__ import annotations

from mailhub.mailboxes.lifecycle import Outcome, process_inbound
from mailhub.mailboxes.mail import Stores

__all__ = ["Outcome", "Stores", "process_inbound"]
