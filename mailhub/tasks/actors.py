"""The dramatiq actors, which only take ids: each loads by id and calls one use case. The queue
is never the only copy of anything, so enqueueing is best effort: the sweeper finds whatever
was not enqueued, and every use case is safe to run twice.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

import dramatiq

from mailhub.config import Settings
from mailhub.db import SessionFactory
from mailhub.mailboxes import Stores, process_inbound
from mailhub.metrics import DELIVERY_SECONDS, INBOUND_FINAL, PROCESSING_SECONDS
from mailhub.outbound.deliver import BATCH, deliver_batch
from mailhub.outbound.files import link_key
from mailhub.outbound.render import Renderer
from mailhub.outbound.signing import DkimSigner
from mailhub.outbound.transport import Transport

log = logging.getLogger(__name__)


class Actors:
    """The two actors on one broker: process an inbound message, deliver a batch of
    notifications; and the best-effort enqueueing of their ids."""

    def __init__(
        self,
        broker: dramatiq.Broker,
        settings: Settings,
        sessions: SessionFactory,
        stores: Stores,
        renderer: Renderer,
        transport: Transport,
        signer: DkimSigner | None,
    ) -> None:
        self.sessions, self.stores = sessions, stores
        self.renderer, self.transport, self.signer = renderer, transport, signer
        self.base_url = settings.base_url
        self.file_key = link_key(settings.secret_key)
        self.lease = timedelta(seconds=settings.send_lease)
        self.inbound_queue = f"{settings.queue_prefix}.inbound"
        self.outbound_queue = f"{settings.queue_prefix}.outbound"
        self.process_actor: Any = dramatiq.actor(
            broker=broker,
            actor_name="process_inbound",
            queue_name=self.inbound_queue,
            # A message taking longer is interrupted; its attempt counts (lifecycle's
            # MAX_ATTEMPTS then ends it failed, its sender told).
            time_limit=int(settings.process_timeout * 1000),
            max_retries=10,
            min_backoff=500,
            max_backoff=300_000,
        )(self._process)
        self.deliver_actor: Any = dramatiq.actor(
            broker=broker,
            actor_name="deliver_notification",
            queue_name=self.outbound_queue,
            max_retries=10,
            min_backoff=1000,
            max_backoff=600_000,
        )(self._deliver)

    def _process(self, inbound_id: int) -> None:
        with PROCESSING_SECONDS.time():
            outcome = process_inbound(self.sessions, self.stores, inbound_id)
        if outcome is not None:
            INBOUND_FINAL.labels(outcome.status).inc()
            log.info("inbound %s %s: %s", inbound_id, outcome.status, outcome.reason)
            self.enqueue_notifications(outcome.notification_ids)

    def _deliver(self, ids: list[int] | int) -> None:
        batch = [ids] if isinstance(ids, int) else list(ids)
        with DELIVERY_SECONDS.time():
            results = self._deliver_now(batch)
        for notification_id, status in results.items():
            log.info("notification %s %s", notification_id, status)

    def _deliver_now(self, batch: list[int]) -> dict[int, str]:
        return deliver_batch(
            self.sessions,
            self.renderer,
            self.transport,
            self.base_url,
            batch,
            lease=self.lease,
            signer=self.signer,
            files=self.stores.files,
            file_key=self.file_key,
        )

    def enqueue_inbound(self, ids: Iterable[int]) -> None:
        self._send(self.process_actor, ids)

    def enqueue_notifications(self, ids: Iterable[int]) -> None:
        """In jobs of up to BATCH ids, so a fan-out commits once per batch, not per mail."""
        ordered = list(ids)
        self._send(
            self.deliver_actor, [ordered[i : i + BATCH] for i in range(0, len(ordered), BATCH)]
        )

    def _send(self, actor: Any, ids: Iterable[Any]) -> None:
        for id_ in ids:
            try:
                actor.send(id_)
            except Exception:  # broker down: the row is committed, the sweeper will retry
                log.warning(
                    "could not enqueue %s(%s); the sweeper will",
                    actor.actor_name,
                    id_,
                    exc_info=True,
                )
