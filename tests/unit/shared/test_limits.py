"""Oversized request headers are a 431 problem before anything reads them; tokens are bounded too."""

from __future__ import annotations

import asyncio
import contextlib
import socket

import httpx
import pytest
import uvicorn

from ltc.shared.auth import TokenVerifier, mint_token
from ltc.shared.errors import PROBLEM_JSON, ProblemError
from ltc.shared.limits import HeaderLimitsMiddleware, request_head_bytes
from ltc.shared.settings import ServiceSettings

SETTINGS = ServiceSettings()
BIG_TOKEN = {"authorization": "Bearer " + "a" * 2_600_000}
MANY_HEADERS = [(f"x-filler-{i}", "a" * 8192) for i in range(1000)]


class Inner:
    """The app behind the bound: records whether a request reached it."""

    def __init__(self) -> None:
        self.reached = 0

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        self.reached += 1
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"ok"})


def bounded(inner: Inner) -> HeaderLimitsMiddleware:
    return HeaderLimitsMiddleware(inner, max_count=SETTINGS.max_header_count,
                                  max_field_bytes=SETTINGS.max_header_field_bytes,
                                  max_total_bytes=SETTINGS.max_header_total_bytes)


@contextlib.asynccontextmanager
async def client_of(app):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        yield client


def test_the_defaults_leave_room_for_a_normal_token_and_stop_abuse():
    assert (SETTINGS.max_header_count, SETTINGS.max_header_field_bytes, SETTINGS.max_header_total_bytes) == \
        (100, 8192, 32768)


def assert_431(response: httpx.Response, bound: str) -> None:
    assert response.status_code == 431
    assert response.headers["content-type"] == PROBLEM_JSON
    problem = response.json()
    assert problem["type"].endswith("/request-header-fields-too-large")
    assert problem["status"] == 431 and problem["title"]
    assert bound in problem["detail"]


@pytest.mark.parametrize(("headers", "bound"), [
    (BIG_TOKEN, "the authorization header is 2600020 bytes; a header field (name and value) may be at most 8192"),
    (MANY_HEADERS, "the x-filler-0 header is 8202 bytes"),
    ([(f"x-filler-{i}", "a") for i in range(101)], "at most 100 header fields"),
    ({"x-" + "n" * 9000: "a"}, "a header is 9003 bytes"),
    ([(f"x-filler-{i}", "a" * 7000) for i in range(5)], "at most 32768 bytes together"),
])
async def test_headers_past_a_bound_are_a_431_problem_that_never_reaches_the_app(headers, bound):
    inner = Inner()
    async with client_of(bounded(inner)) as client:
        for path in ("/api/v1/leads", "/healthz"):
            assert_431(await client.get(path, headers=headers), bound)
    assert inner.reached == 0


async def test_headers_within_the_bounds_pass():
    inner = Inner()
    token = mint_token("alice", ["ar", "sr", "approver_l1", "reviewer_finance"])
    within = {"authorization": f"Bearer {token}", "x-field": "a" * (8192 - len("x-field")),
              **{f"x-filler-{i}": "a" * 200 for i in range(90)}}
    async with client_of(bounded(inner)) as client:
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.post("/api/v1/leads", headers=within, json={"title": "x"})).status_code == 200
    assert inner.reached == 2


async def test_a_validly_signed_token_longer_than_a_header_field_is_refused_before_it_is_decoded():
    token = mint_token("alice", [f"role-{i}" for i in range(2000)])
    assert len(token) > SETTINGS.max_header_field_bytes
    with pytest.raises(ProblemError) as refused:
        TokenVerifier(SETTINGS).verify(token)
    assert refused.value.status == 401 and "longer than 8192" in refused.value.detail
    assert TokenVerifier(SETTINGS).verify(mint_token("alice", ["ar"])).sub == "alice"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.asynccontextmanager
async def real_server(app, http: str, **options):
    config = uvicorn.Config(app, host="127.0.0.1", port=_free_port(), http=http, lifespan="off",
                            log_level="error", **options)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield config.port
    finally:
        server.should_exit = True
        await task


async def _send(port: int, *parts: bytes) -> bytes:
    """The status line answering `parts`, sent one after the other: a request head arriving over
    several reads is what h11 bounds (one it reads at once it parses whole)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for part in parts:
            writer.write(part)
            await writer.drain()
            await asyncio.sleep(0.1)
        return await reader.readline()
    finally:
        writer.close()


def _halves(head: bytes) -> tuple[bytes, bytes]:
    return head[:len(head) // 2], head[len(head) // 2:]


def _head(headers: dict[str, str]) -> bytes:
    lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return f"GET /healthz HTTP/1.1\r\nhost: localhost\r\n{lines}\r\n".encode()


async def test_a_real_server_answers_431_before_the_app():
    inner = Inner()
    async with real_server(bounded(inner), "httptools") as port:  # uvicorn's parser in the services
        assert (await _send(port, *_halves(_head(BIG_TOKEN)))).startswith(b"HTTP/1.1 431 ")
    assert inner.reached == 0


async def test_h11_bounded_as_the_services_run_it_accepts_every_head_the_middleware_does():
    # Four fields of 7 KiB: within the bounds, beyond h11's default 16 KiB buffer.
    within = {f"x-filler-{i}": "a" * 7000 for i in range(4)}
    limit = request_head_bytes(SETTINGS.max_header_count, SETTINGS.max_header_total_bytes)
    async with real_server(bounded(Inner()), "h11", h11_max_incomplete_event_size=limit) as port:
        head = _head(within)
        assert (await _send(port, head[:20_000], head[20_000:])).startswith(b"HTTP/1.1 200 ")
        # Past its buffer bound h11 refuses (a bare 400) before the whole head is even read.
        assert (await _send(port, _head(BIG_TOKEN)[:limit + 1])).startswith(b"HTTP/1.1 400 ")
