"""OpenTelemetry tracing across the hand-overs: HTTP → outbox row → Kafka header → consumer → its outbox.

Off unless `LTC_TRACES_EXPORTER` is `otlp` (standard `OTEL_EXPORTER_OTLP_*` variables choose the
collector) or `console` (spans printed to stdout, for a look at one flow).
"""

from __future__ import annotations

import os

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor

_configured = False


def configure_tracing(service: str) -> None:
    global _configured
    exporter = os.environ.get("LTC_TRACES_EXPORTER", "none").lower()
    if _configured or exporter == "none":
        return
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
