"""What operators watch: Prometheus metrics of each process (`MAILHUB_METRICS_PORT`).

Counters and histograms count what this process did (Prometheus sums the processes); the
queue lag and the stored bytes are read from the database when scraped, so every process
reports the cluster's (take the max, not the sum). No label holds an address, a tenant's name
or anything else a person sent: reply codes, statuses and job names only.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from mailhub.db import SessionFactory
from mailhub.models import (
    Attachment,
    InboundMessage,
    InboundStatus,
    Notification,
    NotificationStatus,
    utcnow,
)

log = logging.getLogger(__name__)

REGISTRY = CollectorRegistry(auto_describe=True)

SMTP_REPLIES = Counter(
    "mailhub_smtp_replies",
    "Messages accepted and refused at the SMTP door, by reply code (RCPT, DATA, connection)",
    ["code"],
    registry=REGISTRY,
)
INBOUND_FINAL = Counter(
    "mailhub_inbound_final",
    "Inbound messages this process brought to a final status, by status",
    ["status"],
    registry=REGISTRY,
)
PROCESSING_SECONDS = Histogram(
    "mailhub_processing_seconds",
    "Time to process one inbound message (parse, route, store, notify)",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
    registry=REGISTRY,
)
DELIVERY_SECONDS = Histogram(
    "mailhub_delivery_seconds",
    "Time to render and hand one batch of notifications to the relay (or the outbox)",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
    registry=REGISTRY,
)
SWEEPER_RUNS = Counter(
    "mailhub_sweeper_runs",
    "Sweeper passes and the scheduled jobs this process ran (housekeeping, digests)",
    ["job"],
    registry=REGISTRY,
)


class ClusterState(Collector):
    """Read at each scrape: how far behind the queues are, and what the stores hold."""

    def __init__(self, sessions: SessionFactory) -> None:
        self.sessions = sessions

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            with self.sessions() as session:
                oldest_inbound = session.scalar(
                    select(func.min(InboundMessage.received_at)).where(
                        InboundMessage.status.in_([InboundStatus.PENDING, InboundStatus.PROCESSING])
                    )
                )
                oldest_notification = session.scalar(
                    select(func.min(Notification.created_at)).where(
                        Notification.status.in_(
                            [NotificationStatus.QUEUED, NotificationStatus.SENDING]
                        )
                    )
                )
                raw_bytes = session.scalar(
                    select(func.coalesce(func.sum(InboundMessage.size), 0)).where(
                        InboundMessage.incinerated_at.is_(None)
                    )
                )
                file_bytes = session.scalar(select(func.coalesce(func.sum(Attachment.size), 0)))
        except Exception:  # a scrape never fails for a database that is away for a moment
            log.warning("could not read the queue lag for metrics", exc_info=True)
            return
        lag = GaugeMetricFamily(
            "mailhub_queue_lag_seconds",
            "Age of the oldest message still waiting (inbound: received, not final; "
            "notifications: queued or being sent); 0 when none waits",
            labels=["queue"],
        )
        lag.add_metric(["inbound"], _age(oldest_inbound))
        lag.add_metric(["notifications"], _age(oldest_notification))
        yield lag
        stored = GaugeMetricFamily(
            "mailhub_blob_store_bytes",
            "Bytes the stores hold: raw mail not yet incinerated, attached files",
            labels=["store"],
        )
        stored.add_metric(["raw"], float(raw_bytes or 0))
        stored.add_metric(["files"], float(file_bytes or 0))
        yield stored


_cluster: ClusterState | None = None


def _age(since: datetime | None) -> float:
    return max(0.0, (utcnow() - since).total_seconds()) if since is not None else 0.0


def serve_metrics(host: str, port: int, sessions: SessionFactory) -> None:
    """Expose /metrics on host:port (a thread of this process); port 0: not at all."""
    global _cluster
    if not port:
        return
    if _cluster is not None:  # a second server in the same process (the tests): one collector
        REGISTRY.unregister(_cluster)
    _cluster = ClusterState(sessions)
    REGISTRY.register(_cluster)
    start_http_server(port, addr=host, registry=REGISTRY)
    log.info("metrics on http://%s:%d/metrics", host, port)
