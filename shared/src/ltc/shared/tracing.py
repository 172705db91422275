"""OpenTelemetry tracing across the hand-overs: HTTP → outbox row → Kafka header → consumer → its outbox.

Off unless `LTC_TRACES_EXPORTER` is `otlp` (standard `OTEL_EXPORTER_OTLP_*` variables choose the
collector) or `console` (spans printed to stdout, for a look at one flow).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor

if TYPE_CHECKING:  # the ASGI types only: the unit of work reads these context variables without a web framework
    from starlette.types import ASGIApp, Receive, Scope, Send

_configured = False


def configure_tracing(service: str) -> bool:
    """Install the exporter `LTC_TRACES_EXPORTER` names; whether spans are recorded at all."""
    global _configured
    exporter = os.environ.get("LTC_TRACES_EXPORTER", "none").lower()
    if _configured or exporter == "none":
        return _configured
    provider = TracerProvider(resource=Resource.create({"service.name": f"ltc-{service}"}))
    if exporter == "console":
        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    elif exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    else:
        raise ValueError(f"LTC_TRACES_EXPORTER must be none, console or otlp, not {exporter!r}")
    trace.set_tracer_provider(provider)
    _configured = True
    return True


class TraceContextMiddleware:
    """With tracing off: an incoming `traceparent` still reaches the outbox rows, without spans.

    The OpenTelemetry ASGI instrumentation builds a (non-recording) span, its attributes and
    wrapped send/receive for every request even with nothing to export: 15-20 % of a lead
    capture's throughput (bench/suite.py). Downstream services that do record spans still join
    the caller's trace through the id this carries into the events.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            carrier = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]
                       if name in (b"traceparent", b"tracestate")}
            if carrier:
                token = otel_context.attach(propagate.extract(carrier))
                try:
                    return await self.app(scope, receive, send)
                finally:
                    otel_context.detach(token)
        await self.app(scope, receive, send)


tracer = trace.get_tracer("ltc")


def current_traceparent() -> str | None:
    """The W3C `traceparent` of the active span, to store with an outbox row."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent")


def context_from(traceparent: str | None) -> Context | None:
    return propagate.extract({"traceparent": traceparent}) if traceparent else None


def current_trace_id() -> str | None:
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None
