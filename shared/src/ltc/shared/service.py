"""One way to build, migrate and run a service: app factory, background workers, health, CLI.

A service describes itself with a `ServiceSpec`; everything else (settings, engine, problem
handlers, auth, outbox relay, consumer, /healthz and /readyz, `serve`/`migrate`/`worker`
commands) is the same for all four.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import structlog
import uvicorn
from aiokafka import AIOKafkaClient
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from ltc.shared import openapi
from ltc.shared.auth import TokenVerifier
from ltc.shared.consumer import EventConsumer, Subscription
from ltc.shared.db import UnitOfWork, make_engine, make_session_factory
from ltc.shared.errors import install_problem_handlers
from ltc.shared.kafka import kafka_options, make_consumer, make_producer
from ltc.shared.limits import HeaderLimitsMiddleware, request_head_bytes
from ltc.shared.metrics import MetricsMiddleware, metrics_response, refresh_outbox_gauges, watch_loop_lag
from ltc.shared.migrations import current_revision, head_revision, upgrade_to_head
from ltc.shared.observability import CorrelationIdMiddleware, configure_logging, current_correlation_id
from ltc.shared.outbox import OutboxRelay
from ltc.shared.settings import ServiceSettings, settings_for
from ltc.shared.tracing import TraceContextMiddleware, configure_tracing

log = structlog.get_logger()


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    default_port: int
    service_dir: Path  # holds alembic.ini and migrations/
    routers: list[APIRouter]
    description: str
    subscription: Subscription | None = None
    start_mappers: Callable[[], None] = lambda: None
    extra_workers: list[Callable[[Runtime], Awaitable[None]]] = field(default_factory=list)

    def settings(self) -> ServiceSettings:
        return settings_for(self.name, self.default_port)


@dataclass
class Runtime:
    """What a running service holds: shared by the API, the relay and the consumer."""

    spec: ServiceSpec
    settings: ServiceSettings

    def __post_init__(self) -> None:
        self.engine = make_engine(self.settings.database_url, pool_size=self.settings.db_pool_size,
                                  pre_ping=self.settings.db_pre_ping)
        self.session_factory = make_session_factory(self.engine)

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self.session_factory, self.spec.name, correlation_id=current_correlation_id())


async def _supervise(name: str, make: Callable[[], Awaitable[None]]) -> None:
    """Keep a background worker alive: a crash is logged and the worker restarted."""
    while True:
        try:
            await make()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("worker crashed; restarting", worker=name)
            await asyncio.sleep(1.0)


@contextlib.asynccontextmanager
async def _worker_engine(runtime: Runtime, own_pool: bool) -> AsyncIterator[AsyncEngine]:
    """The consumer's engine: its own small pool when it shares the process with the API.

    Under load the API's requests hold and queue for every connection of the main pool; a
    consumer queued behind them turns each hand-over into a wait for the whole request backlog
    (bench/suite.py measured hops of 1.5 s at 500 offered conversions/s). Its own small pool keeps
    the hand-over path free. A worker-only process has no API to queue behind.
    (The relay works on its own dedicated connection, the one holding its leader lock.)
    """
    if not own_pool:
        yield runtime.engine
        return
    # One connection per partition it may be processing at once (EventConsumer works on the
    # partitions of a batch side by side).
    engine = make_engine(runtime.settings.database_url, pool_size=runtime.settings.kafka_partitions,
                         pre_ping=runtime.settings.db_pre_ping)
    try:
        yield engine
    finally:
        await engine.dispose()


async def _relay(runtime: Runtime) -> None:
    producer = make_producer(runtime.settings.kafka_bootstrap_servers, **kafka_options(runtime.settings))
    await producer.start()
    try:
        await OutboxRelay(runtime.engine, producer, source=runtime.spec.name,
                          poll_seconds=runtime.settings.relay_poll_seconds).run()
    finally:
        await producer.stop()


async def _consume(runtime: Runtime, own_pool: bool = False) -> None:
    subscription = runtime.spec.subscription
    assert subscription is not None
    group = runtime.settings.consumer_group or f"ltc-{runtime.spec.name}"
    options = kafka_options(runtime.settings)
    consumer = make_consumer(runtime.settings.kafka_bootstrap_servers, group, *subscription.topics, **options)
    dlq = make_producer(runtime.settings.kafka_bootstrap_servers, **options)
    await dlq.start()
    await consumer.start()
    try:
        async with _worker_engine(runtime, own_pool) as engine:
            session_factory = runtime.session_factory if engine is runtime.engine else make_session_factory(engine)
            await EventConsumer(consumer=consumer, dlq_producer=dlq, session_factory=session_factory,
                                subscription=subscription, name=group, source=runtime.spec.name,
                                max_parallel=engine.pool.size()).run()
    finally:
        await consumer.stop()
        await dlq.stop()


@contextlib.asynccontextmanager
async def run_workers(runtime: Runtime, *, own_pools: bool = False) -> AsyncIterator[None]:
    """The relay, the consumer and any extra workers; `own_pools` when the API shares the process."""
    workers: dict[str, Callable[[], Awaitable[None]]] = {"outbox-relay": lambda: _relay(runtime)}
    if runtime.spec.subscription is not None:
        workers["consumer"] = lambda: _consume(runtime, own_pools)
    for index, extra in enumerate(runtime.spec.extra_workers):
        workers[f"worker-{index}"] = lambda extra=extra: extra(runtime)
    tasks = [asyncio.create_task(_supervise(name, make), name=name) for name, make in workers.items()]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


async def get_uow(request: Request) -> UnitOfWork:  # async: a plain def would run in a worker thread
    return get_runtime(request).unit_of_work()


async def get_read_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with get_runtime(request).session_factory() as session:
        yield session


Uow = Annotated[UnitOfWork, Depends(get_uow)]
ReadSession = Annotated[AsyncSession, Depends(get_read_session)]


async def _kafka_reachable(settings: ServiceSettings) -> None:
    client = AIOKafkaClient(bootstrap_servers=settings.kafka_bootstrap_servers, request_timeout_ms=3000,
                            **kafka_options(settings))
    try:
        await client.bootstrap()
    finally:
        await client.close()


def _health_router(runtime: Runtime) -> APIRouter:
    router = APIRouter(tags=["health"])
    head = head_revision(runtime.spec.service_dir)

    @router.get("/healthz", summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", summary="Database and Kafka reachable, migrations at head")
    async def readyz() -> JSONResponse:
        checks: dict[str, str] = {}
        try:
            async with runtime.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            revision = await current_revision(runtime.engine)
            checks["database"] = "ok"
            checks["migrations"] = "ok" if revision == head else f"at {revision}, head is {head}"
        except Exception as exc:
            checks["database"] = f"unreachable: {type(exc).__name__}"
        try:
            await asyncio.wait_for(_kafka_reachable(runtime.settings), 5)
            checks["kafka"] = "ok"
        except Exception as exc:
            checks["kafka"] = f"unreachable: {type(exc).__name__}"
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse({"status": "ready" if ready else "not-ready", "checks": checks},
                            status_code=200 if ready else 503)

    @router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
    async def metrics() -> Response:
        with contextlib.suppress(Exception):  # a database outage must not hide the other metrics
            await refresh_outbox_gauges(runtime.spec.name, runtime.engine)
        return metrics_response()

    return router


_UNTRACED = frozenset({"/healthz", "/readyz", "/metrics"})


def _settle_garbage_collector() -> None:
    """Keep the collector off the request path's tail.

    Everything built at start-up (modules, routes, mappers, schemas: hundreds of thousands of
    objects) lives as long as the process; frozen, the collector stops re-scanning it in every
    full collection. The young generation is collected every 50 000 allocations instead of 700:
    a request allocates thousands of short-lived objects, and each collection is a pause that
    every other request and the relay wait behind.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def create_app(spec: ServiceSpec, settings: ServiceSettings | None = None, *, api: bool = True) -> FastAPI:
    """The service's app; with `api=False` only /healthz, /readyz and /metrics (a worker's port)."""
    settings = settings or spec.settings()
    configure_logging(spec.name, json_logs=settings.log_json)
    tracing = configure_tracing(spec.name)
    spec.start_mappers()
    runtime = Runtime(spec, settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            if settings.run_workers:
                await stack.enter_async_context(run_workers(runtime, own_pools=api))
            lag = asyncio.create_task(watch_loop_lag(spec.name), name="loop-lag")
            stack.callback(lag.cancel)
            _settle_garbage_collector()
            yield
        await runtime.engine.dispose()

    # FastAPI's native OpenTelemetry support records a server span per request (continuing an
    # incoming `traceparent`) once configure_tracing() installed a tracer provider, and is off
    # otherwise; probes and scrapes are not traced.
    app = FastAPI(title=f"LTC {spec.name}", description=spec.description, version="1.0.0", lifespan=lifespan,
                  telemetry={"exclude": lambda scope: scope.get("path") in _UNTRACED, "metrics": False,
                             "logs": False},
                  dependencies=[Depends(openapi.reject_unknown_query)])
    openapi.install(app, spec.routers if api else [], prefix="/api/v1", title=f"LTC {spec.name}",
                    description=spec.description, version="1.0.0")
    app.state.runtime = runtime
    app.state.token_verifier = TokenVerifier(settings)
    # Innermost of these: a 431 is still counted and carries its correlation id, and the bound
    # holds before any route or dependency (the bearer token's verification) runs.
    app.add_middleware(HeaderLimitsMiddleware, max_count=settings.max_header_count,
                       max_field_bytes=settings.max_header_field_bytes,
                       max_total_bytes=settings.max_header_total_bytes)
    app.add_middleware(CorrelationIdMiddleware)
    app.add_middleware(MetricsMiddleware, service=spec.name)
    if not tracing:  # with tracing on, FastAPI's own telemetry makes the server spans (see telemetry= above)
        app.add_middleware(TraceContextMiddleware)
    install_problem_handlers(app)
    app.include_router(_health_router(runtime))
    if api:
        for router in spec.routers:
            app.include_router(router, prefix="/api/v1")
    return app


def main(spec: ServiceSpec, argv: list[str] | None = None) -> None:
    """`ltc-<service> serve|migrate|worker`."""
    parser = argparse.ArgumentParser(prog=f"ltc-{spec.name}")
    parser.add_argument("command", choices=["serve", "migrate", "worker"],
                        help="serve: migrate then run the API (and workers unless LTC_RUN_WORKERS=false); "
                             "migrate: alembic upgrade head; worker: outbox relay and consumer, with only "
                             "/healthz, /readyz and /metrics on the port")
    args = parser.parse_args(argv)
    settings = spec.settings()
    # httptools (uvicorn's parser when installed) has no header bound; h11, the fallback, bounds
    # what it buffers, by default below what HeaderLimitsMiddleware accepts.
    server = {"host": settings.host, "port": settings.port, "log_level": "warning", "access_log": False,
              "h11_max_incomplete_event_size": request_head_bytes(settings.max_header_count,
                                                                  settings.max_header_total_bytes)}
    if args.command in ("serve", "migrate"):
        upgrade_to_head(spec.service_dir, settings.database_url)
    if args.command == "serve":
        uvicorn.run(create_app(spec, settings), **server)
    elif args.command == "worker":
        worker_settings = settings.model_copy(update={"run_workers": True})
        uvicorn.run(create_app(spec, worker_settings, api=False), **server)
