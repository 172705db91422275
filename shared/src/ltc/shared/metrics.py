"""Prometheus metrics every service exposes on `/metrics` (names are what deploy/ dashboards use)."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ltc.shared.db import outbox

HTTP_REQUESTS = Counter("ltc_http_requests_total", "HTTP requests answered", ["service", "method", "route", "status"])
HTTP_DURATION = Histogram("ltc_http_request_duration_seconds", "HTTP request latency", ["service", "method", "route"],
                          buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
CONSUMED = Counter("ltc_consumer_messages_total", "Kafka records handled, by outcome",
                   ["service", "topic", "outcome"])
PROCESSING = Histogram("ltc_consumer_processing_seconds", "Time to handle one Kafka record", ["service", "topic"],
                       buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5))
LAG = Gauge("ltc_consumer_lag", "Records behind the partition's end", ["service", "topic", "partition"])
DEAD_LETTERS = Counter("ltc_dead_letters_total", "Records sent to a dead-letter topic", ["service", "topic", "reason"])
OUTBOX_BACKLOG = Gauge("ltc_outbox_backlog", "Outbox rows not yet published", ["service"])
OUTBOX_OLDEST = Gauge("ltc_outbox_oldest_age_seconds", "Age of the oldest unpublished outbox row", ["service"])
PUBLISHED = Counter("ltc_events_published_total", "Events published by the outbox relay", ["service", "type"])
LOOP_LAG = Histogram("ltc_event_loop_lag_seconds",
                     "How late the event loop runs a timer: what every request, relay send and consumed record "
                     "waits behind", ["service"], buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1))
CASH_COLLECTED = Counter("ltc_cash_collected_total", "Cash received, in the payment's currency", ["currency"])


def record_published(service: str, event_type: str, payload: dict[str, Any]) -> None:
    """Business counters derive from the events themselves, so they count what really happened."""
    PUBLISHED.labels(service, event_type).inc()
    if event_type == "ltc.payment.received.v1":
        amount = payload.get("amount") or {}
        CASH_COLLECTED.labels(amount.get("currency", "?")).inc(float(Decimal(amount.get("amount", "0"))))


async def refresh_outbox_gauges(service: str, engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        backlog, oldest = (await conn.execute(
            select(func.count(), func.min(outbox.c.created_at)).where(outbox.c.sent_at.is_(None))
        )).one()
    OUTBOX_BACKLOG.labels(service).set(backlog)
    OUTBOX_OLDEST.labels(service).set(0 if oldest is None else max(0.0, time.time() - oldest.timestamp()))


async def watch_loop_lag(service: str, interval: float = 0.05) -> None:
    """Sample the event loop's lateness until cancelled (the API, relay and consumer share one loop)."""
    loop = asyncio.get_running_loop()
    histogram = LOOP_LAG.labels(service)
    while True:
        due = loop.time() + interval
        await asyncio.sleep(interval)
        histogram.observe(max(0.0, loop.time() - due))


def metrics_response() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def _route_template(scope: Scope) -> str:
    """The full path with each path parameter's value put back as `{name}`."""
    if scope.get("route") is None:
        return "unmatched"
    segments = scope["path"].split("/")
    names = {str(value): name for name, value in scope.get("path_params", {}).items()}
    return "/".join(f"{{{names[s]}}}" if s in names else s for s in segments)


class MetricsMiddleware:
    """Counts and times every request by its route template (`/leads/{lead_id}`), not its raw path,
    so the label set stays bounded."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            route = _route_template(scope)
            HTTP_REQUESTS.labels(self.service, scope["method"], route, str(status)).inc()
            HTTP_DURATION.labels(self.service, scope["method"], route).observe(time.perf_counter() - started)
