"""A database connection lost under a running service: a 503 to retry, never a 500 or a half-write."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from ltc.leads.bootstrap import SPEC
from ltc.shared.errors import PROBLEM_JSON
from ltc.shared.testing.apps import auth, service_client

pytestmark = pytest.mark.integration

AR = auth("ar-restart", "ar")


async def test_requests_on_connections_the_database_dropped_get_a_503_and_a_retry_succeeds(
        make_database, postgres_admin_dsn, kafka_bootstrap):
    url = await make_database("restart")
    database = url.rsplit("/", 1)[1]
    async with service_client(SPEC, url, kafka_bootstrap) as client:
        accounts = [(await client.post("/api/v1/accounts", json={"name": f"Before {i}"}, headers=AR)).status_code
                    for i in range(3)]
        assert accounts == [201, 201, 201]
        admin = await asyncpg.connect(postgres_admin_dsn)
        try:  # what a database restart does to the pooled connections
            killed = await admin.fetchval("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                          "WHERE datname = $1 AND pid <> pg_backend_pid()", database)
        finally:
            await admin.close()
        assert killed >= 1

        key = str(uuid.uuid4())
        statuses = []
        for _ in range(3):
            response = await client.post("/api/v1/accounts", json={"name": "After the restart"},
                                         headers={**AR, "Idempotency-Key": key})
            statuses.append(response.status_code)
            if response.status_code == 503:
                assert response.headers["content-type"] == PROBLEM_JSON
                assert response.json()["type"].endswith("/database-unavailable")
                assert response.headers["Retry-After"] == "1"
            else:
                break
        # No pre-ping (LTC_DB_PRE_PING): the first request finds its connection dead; that failure
        # invalidates the whole pool, so the retry reconnects.
        assert statuses == [503, 201]
        listed = (await client.get("/api/v1/accounts", params={"limit": 200}, headers=AR)).json()["items"]
        assert [a["name"] for a in listed].count("After the restart") == 1
