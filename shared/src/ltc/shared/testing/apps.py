"""Run a service in-process against the real database and broker, for integration tests."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import httpx

from ltc.shared.auth import mint_token
from ltc.shared.migrations import upgrade_to_head
from ltc.shared.service import Runtime, ServiceSpec, create_app
from ltc.shared.settings import ServiceSettings


def settings_for_tests(spec: ServiceSpec, database_url: str, kafka_bootstrap: str, *, run_workers: bool) -> ServiceSettings:
    return ServiceSettings(service_name=spec.name, database_url=database_url, kafka_bootstrap_servers=kafka_bootstrap,
                           run_workers=run_workers, log_json=False, relay_poll_seconds=0.5,
                           # Its own group: the suite's other consumers of the same topics must
                           # not take this app's messages.
                           consumer_group=f"test-{spec.name}-{uuid.uuid4().hex[:8]}")


@contextlib.asynccontextmanager
async def service_client(spec: ServiceSpec, database_url: str, kafka_bootstrap: str, *,
                         run_workers: bool = False) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client on the service's ASGI app, migrated to head, lifespan (and workers) running.

    The app's `Runtime` is reachable as `client.runtime` for tests that drive handlers directly.
    """
    # env.py runs its own event loop, so migrations go to a worker thread.
    await asyncio.to_thread(upgrade_to_head, spec.service_dir, database_url)
    app = create_app(spec, settings_for_tests(spec, database_url, kafka_bootstrap, run_workers=run_workers))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
            client.runtime = app.state.runtime  # type: ignore[attr-defined]
            yield client


def runtime_of(client: httpx.AsyncClient) -> Runtime:
    return client.runtime  # type: ignore[attr-defined]


def auth(sub: str, *roles: str) -> dict[str, str]:
    """Headers carrying a development token for `sub` with `roles`."""
    return {"Authorization": f"Bearer {mint_token(sub, list(roles))}"}
