"""What the end-to-end tests share besides their fixtures."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from ltc.shared.devstack.services import DEFAULT_PORTS, free_ports, running_services


async def eventually(fetch: Callable[[], Awaitable[Any]], check: Callable[[Any], bool], timeout: float = 60.0) -> Any:
    """Poll `fetch()` until `check(result)` holds: hand-overs are asynchronous."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await fetch()
        if check(result):
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not reached within {timeout} s; last seen: {result}")
        await asyncio.sleep(0.2)


@contextlib.asynccontextmanager
async def four_services(make_database, kafka_bootstrap, tmp_path_factory, prefix: str,
                        env: dict[str, str]) -> AsyncIterator[dict[str, str]]:
    """The four services as processes, each on a fresh database of its own named `<prefix>_<service>`."""
    urls = {name: await make_database(f"{prefix}_{name}") for name in DEFAULT_PORTS}
    ports = dict(zip(DEFAULT_PORTS, free_ports(len(DEFAULT_PORTS)), strict=True))
    async with running_services(bootstrap_servers=kafka_bootstrap, database_urls=urls, ports=ports,
                                log_dir=tmp_path_factory.mktemp(f"{prefix}-logs"),
                                env={"LTC_ENV": "development", **env}) as services:
        yield {name: service.url for name, service in services.items()}
