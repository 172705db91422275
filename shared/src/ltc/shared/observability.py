"""Structured JSON logs (structlog) carrying the service name, the correlation id and the trace id."""

from __future__ import annotations

import logging
import sys
import uuid
from contextvars import ContextVar
from typing import TYPE_CHECKING

import structlog

from ltc.shared.tracing import current_trace_id

if TYPE_CHECKING:  # the ASGI types only: the unit of work reads these context variables without a web framework
    from starlette.types import ASGIApp, Receive, Scope, Send

CORRELATION_HEADER = "x-correlation-id"

_correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)


def current_correlation_id() -> str | None:
    return _correlation_id.get()


def set_correlation_id(value: str | None) -> None:
    _correlation_id.set(value)
    structlog.contextvars.bind_contextvars(correlation_id=value)


def _add_trace_id(_logger: object, _method: str, event_dict: dict) -> dict:
    trace_id = current_trace_id()
    if trace_id:
        event_dict["trace_id"] = trace_id
    return event_dict


def configure_logging(service: str, *, json_logs: bool = True, level: int = logging.INFO) -> None:
    renderer = structlog.processors.JSONRenderer() if json_logs else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            _add_trace_id,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)


class CorrelationIdMiddleware:
    """Takes `X-Correlation-ID` from the request (or makes one) and returns it on the response.

    Plain ASGI rather than BaseHTTPMiddleware so it adds no per-request task overhead.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(CORRELATION_HEADER.encode())
        correlation_id = incoming.decode("latin-1")[:128] if incoming else str(uuid.uuid4())
        set_correlation_id(correlation_id)

        async def send_with_header(message: dict) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"].append((CORRELATION_HEADER.encode(), correlation_id.encode()))
            await send(message)

        await self.app(scope, receive, send_with_header)
