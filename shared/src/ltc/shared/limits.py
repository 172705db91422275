"""Bounds on a request's header fields, applied before anything else reads them.

The ASGI server hands over every header it received: uvicorn's httptools parser has no size
bound, and h11's only bounds what it buffers while a request is incomplete. Without this, a
validly signed token of megabytes is base64-decoded, parsed and verified on every request.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

from ltc.shared.errors import problem

PROBLEM_TYPE = "request-header-fields-too-large"

# Longer names are not echoed back: the answer stays small whatever the request sent.
_NAMED_UP_TO = 64


class HeaderLimitsMiddleware:
    """Answers 431 (RFC 6585) as problem+json when the header fields exceed their bounds.

    A field is measured as its name plus its value, in bytes (the `: ` and line ending aside).
    """

    def __init__(self, app: ASGIApp, *, max_count: int, max_field_bytes: int, max_total_bytes: int) -> None:
        self.app = app
        self.max_count = max_count
        self.max_field_bytes = max_field_bytes
        self.max_total_bytes = max_total_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            exceeded = self.exceeded(scope["headers"])
            if exceeded is not None:
                response = problem(431, PROBLEM_TYPE, "Request header fields too large", exceeded)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def exceeded(self, headers: Iterable[tuple[bytes, bytes]]) -> str | None:
        """The bound the headers break, as a sentence for the client; None within all of them."""
        total = 0
        for count, (name, value) in enumerate(headers, start=1):
            if count > self.max_count:
                return f"a request may carry at most {self.max_count} header fields"
            size = len(name) + len(value)
            if size > self.max_field_bytes:
                field = f"the {name.decode('latin-1')} header" if len(name) <= _NAMED_UP_TO else "a header"
                return (f"{field} is {size} bytes; a header field (name and value) may be at most "
                        f"{self.max_field_bytes} bytes")
            total += size
            if total > self.max_total_bytes:
                return f"the header fields may be at most {self.max_total_bytes} bytes together"
        return None


def request_head_bytes(max_count: int, max_total_bytes: int) -> int:
    """The largest request head (request line and header block) the bounds let through.

    For h11's buffer bound: below it, h11 would refuse with a bare 400 requests the header bounds
    accept. 8 KiB for the request line, 4 bytes of framing (`: `, CRLF) per field.
    """
    return 8 * 1024 + max_total_bytes + 4 * max_count + 2
