"""The four services as real processes on the real broker and database."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.support import four_services


# Package scope: once the e2e tests are done their services stop, instead of consuming the shared
# topics (under the services' own consumer groups) while later tests run workers of their own.
@pytest.fixture(scope="package")
async def system(make_database, kafka_bootstrap, tmp_path_factory):
    """Base URL per service; each process migrated its own database before serving."""
    async with four_services(make_database, kafka_bootstrap, tmp_path_factory, "e2e",
                             {"LTC_RELAY_POLL_SECONDS": "0.5"}) as urls:
        yield urls


@pytest.fixture
async def http():
    async with httpx.AsyncClient(timeout=10) as client:
        yield client
