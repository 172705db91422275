"""The four services as real processes on the real broker and database."""

from __future__ import annotations

import httpx
import pytest

from ltc.shared.devstack.services import DEFAULT_PORTS, free_ports, running_services


# Package scope: once the e2e tests are done their services stop, instead of consuming the shared
# topics (under the services' own consumer groups) while later tests run workers of their own.
@pytest.fixture(scope="package")
async def system(make_database, kafka_bootstrap, tmp_path_factory):
    """Base URL per service; each process migrated its own database before serving."""
    urls = {name: await make_database(f"e2e_{name}") for name in DEFAULT_PORTS}
    ports = dict(zip(DEFAULT_PORTS, free_ports(len(DEFAULT_PORTS)), strict=True))
    async with running_services(bootstrap_servers=kafka_bootstrap, database_urls=urls, ports=ports,
                                log_dir=tmp_path_factory.mktemp("service-logs"),
                                env={"LTC_RELAY_POLL_SECONDS": "0.5", "LTC_ENV": "development"}) as services:
        yield {name: service.url for name, service in services.items()}


@pytest.fixture
async def http():
    async with httpx.AsyncClient(timeout=10) as client:
        yield client
