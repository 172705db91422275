"""A PostgreSQL that refuses new connections for a while: the consumer waits, the API answers 503.

Two ways a real server says "not now" for a while: every connection slot of the database is held (53300
too_many_connections), and a smart shutdown waiting for its last client (57P03
cannot_connect_now). The consumer must retry the event until the server serves again and
apply it once, never dead-letter it; the API must answer 503 `database-unavailable` with
`Retry-After`, never a 500. The smart shutdown runs on a throwaway server of this module, not
on the session's server the other tests share.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

import asyncpg
import pytest
from aiokafka import ConsumerRecord
from sqlalchemy import text
from sqlalchemy.engine import make_url

from ltc.finance.bootstrap import SPEC as FINANCE_SPEC
from ltc.leads.bootstrap import SPEC as LEADS_SPEC
from ltc.shared.consumer import EventConsumer, Subscription
from ltc.shared.db import UnitOfWork, make_engine, make_session_factory, plumbing_metadata
from ltc.shared.devstack.postgres import LocalPostgres
from ltc.shared.devstack.services import free_ports
from ltc.shared.errors import PROBLEM_JSON
from ltc.shared.messages.envelope import Envelope
from ltc.shared.messages.leads_events import LeadDisqualified
from ltc.shared.testing.apps import auth, runtime_of, service_client
from ltc.shared.transient import is_transient, sqlstate_of

pytestmark = pytest.mark.integration

EVENT_TYPE = LeadDisqualified.ce_type()
TOPIC = "test.transient"
# The apps run without workers, so nothing dials the broker.
NO_BROKER = "127.0.0.1:9"
AR = auth("ar-transient", "ar")
CASHIER = auth("clerk-transient", "finance")


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class RecordingProducer:
    """Stands in for the dead-letter producer: keeps what was sent."""

    def __init__(self) -> None:
        self.sent: list[dict[str, bytes]] = []

    async def send_and_wait(self, topic: str, *, value: bytes | None, key: bytes | None,
                            headers: list[tuple[str, bytes]]) -> None:
        self.sent.append(dict(headers))


class Subject:
    """An EventConsumer on `url` whose every failed attempt is kept in `failures`."""

    def __init__(self, url: str) -> None:
        self.engine = make_engine(url, pool_size=1)
        self.dlq = RecordingProducer()
        self.failures: list[BaseException] = []

        async def record_effect(uow: UnitOfWork, payload: LeadDisqualified, envelope: Envelope) -> None:
            await uow.session.execute(text("INSERT INTO effects VALUES (:id)"), {"id": payload.lead_id})

        self.consumer = EventConsumer(consumer=None, dlq_producer=self.dlq,  # type: ignore[arg-type]
                                      session_factory=make_session_factory(self.engine),
                                      subscription=Subscription((TOPIC,), {EVENT_TYPE: record_effect}),
                                      name="transient-test", source="test", min_backoff=0.05, max_backoff=0.2)
        apply = self.consumer._apply

        async def watched(record: ConsumerRecord) -> str:
            try:
                return await apply(record)
            except Exception as exc:
                self.failures.append(exc)
                raise

        self.consumer._apply = watched  # type: ignore[method-assign]

    @staticmethod
    async def prepare(url: str) -> None:
        engine = make_engine(url, pool_size=1)
        try:
            async with engine.begin() as conn:
                await conn.run_sync(plumbing_metadata.create_all)
                await conn.execute(text("CREATE TABLE effects (lead_id uuid NOT NULL)"))
        finally:
            await engine.dispose()

    async def failed_at_least(self, count: int) -> bool:
        return len(self.failures) >= count

    async def effects(self) -> int:
        # On the consumer's own pool: with the slots capped, its connection may be the only one.
        async with self.engine.connect() as conn:
            return (await conn.execute(text("SELECT count(*) FROM effects"))).scalar_one()


def _record() -> ConsumerRecord:
    event = LeadDisqualified(lead_id=uuid.uuid4(), reason="no budget", disqualified_by="ar-1",
                             disqualified_at=datetime.now(UTC))
    envelope = Envelope(id=str(uuid.uuid4()), type=EVENT_TYPE, source="test", subject=str(event.lead_id),
                        time=datetime.now(UTC), data=event.model_dump(mode="json"))
    key, value, headers = envelope.to_kafka()
    return ConsumerRecord(topic=TOPIC, partition=0, offset=0, timestamp=0, timestamp_type=0, key=key, value=value,
                          checksum=None, serialized_key_size=len(key), serialized_value_size=len(value),
                          headers=headers)


async def _consume_through(subject: Subject, expected_sqlstate: str, outage_ends: Callable[[], Awaitable[None]],
                           eventually) -> None:
    """Process one record while the server refuses connections; `outage_ends()` lets it serve again."""
    record = _record()
    task = asyncio.create_task(subject.consumer.process(record))
    try:
        await eventually(lambda: subject.failed_at_least(2))
        assert {sqlstate_of(failure) for failure in subject.failures} == {expected_sqlstate}
        assert not task.done() and subject.dlq.sent == []
        await outage_ends()
        await asyncio.wait_for(task, timeout=30)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert subject.dlq.sent == []
    assert await subject.effects() == 1
    await subject.consumer.process(record)  # a redelivery after the outage: the inbox skips it
    assert await subject.effects() == 1 and subject.dlq.sent == []


def _assert_unavailable(response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["type"].endswith("/database-unavailable")
    assert response.headers["Retry-After"] == "1"


# --- (a) every connection slot of the database held: 53300 too_many_connections ------------------------------


@contextlib.asynccontextmanager
async def _slots_held(admin_dsn: str, url: str) -> AsyncIterator[Callable[[], Awaitable[None]]]:
    """Hold a connection and cap the database at the connections it has; yields the release."""
    database = make_url(url).database
    holder = await asyncpg.connect(_dsn(url))
    admin = await asyncpg.connect(admin_dsn)
    try:
        held = await admin.fetchval("SELECT count(*) FROM pg_stat_activity "
                                    "WHERE datname = $1 AND backend_type = 'client backend'", database)
        await admin.execute(f'ALTER DATABASE "{database}" CONNECTION LIMIT {held}')
        with pytest.raises(asyncpg.TooManyConnectionsError):
            await asyncpg.connect(_dsn(url))
        yield holder.close
    finally:
        await admin.execute(f'ALTER DATABASE "{database}" CONNECTION LIMIT -1')
        await admin.close()
        if not holder.is_closed():
            await holder.close()


async def test_the_consumer_waits_for_a_free_connection_slot_and_applies_the_event_once(
        make_database, postgres_admin_dsn, eventually):
    url = await make_database("slots")
    await Subject.prepare(url)
    subject = Subject(url)
    try:
        async with _slots_held(postgres_admin_dsn, url) as release:
            await _consume_through(subject, "53300", release, eventually)
    finally:
        await subject.engine.dispose()


async def test_the_api_answers_503_while_no_connection_slot_is_free(make_database, postgres_admin_dsn):
    url = await make_database("slots_api")
    async with service_client(LEADS_SPEC, url, NO_BROKER) as client:
        await runtime_of(client).engine.dispose()  # no pooled connection: each request must connect
        key = str(uuid.uuid4())
        headers = {**AR, "Idempotency-Key": key}
        async with _slots_held(postgres_admin_dsn, url) as release:
            _assert_unavailable(await client.post("/api/v1/accounts", json={"name": "Slots"}, headers=headers))
            _assert_unavailable(await client.get("/api/v1/accounts", headers=AR))
            await release()
            # The released backend leaves the server's count a moment after the socket closes.
            for _ in range(50):
                response = await client.post("/api/v1/accounts", json={"name": "Slots"}, headers=headers)
                if response.status_code != 503:
                    break
                _assert_unavailable(response)
                await asyncio.sleep(0.1)
        assert response.status_code == 201, response.text
        listed = (await client.get("/api/v1/accounts", params={"limit": 200}, headers=AR)).json()["items"]
        assert [a["name"] for a in listed] == ["Slots"]


# --- (b) a smart shutdown waiting for its last client: 57P03 cannot_connect_now ------------------------------


@pytest.fixture(scope="module")
def throwaway_postgres(tmp_path_factory: pytest.TempPathFactory):
    """A server of this module's own, to shut down and restart."""
    server = LocalPostgres(tmp_path_factory.mktemp("throwaway-postgres"), *free_ports(1), fast=True)
    server.start()
    yield server
    server.stop()


async def _refuses_connections(server: LocalPostgres) -> bool:
    try:
        conn = await asyncpg.connect(server.admin_dsn, timeout=5)
    except asyncpg.CannotConnectNowError:
        return True
    await conn.close()
    return False


async def _restart(server: LocalPostgres) -> None:
    # Fast mode ends the client a smart shutdown waits for, as an operator would.
    await asyncio.to_thread(server.stop)
    await asyncio.to_thread(server.start)


@contextlib.asynccontextmanager
async def _smart_shutdown(server: LocalPostgres, url: str, eventually) -> AsyncIterator[Callable[[], Awaitable[None]]]:
    """A client holds on while the server shuts down in smart mode; yields the restart."""
    holder = await asyncpg.connect(_dsn(url))
    restarted = False

    async def restart() -> None:
        nonlocal restarted
        await _restart(server)
        restarted = True

    try:
        # LocalPostgres stops in fast mode only; without -W pg_ctl would wait for the holder to leave.
        await asyncio.to_thread(server._run, "pg_ctl", "stop", "-D", str(server.pgdata), "-m", "smart", "-W")
        await eventually(lambda: _refuses_connections(server))  # pg_ctl only signalled the postmaster
        yield restart
    finally:
        if not restarted:  # the test failed midway: leave a serving server to the next test
            await _restart(server)
        holder.terminate()


async def test_the_consumer_retries_through_a_smart_shutdown_and_applies_the_event_once_after_the_restart(
        throwaway_postgres, eventually):
    url = await throwaway_postgres.ensure_service_database(f"smart_{uuid.uuid4().hex[:8]}", "smart-pw")
    await Subject.prepare(url)
    subject = Subject(url)
    try:
        async with _smart_shutdown(throwaway_postgres, url, eventually) as restart:
            await _consume_through(subject, "57P03", restart, eventually)
    finally:
        await subject.engine.dispose()


async def test_the_api_answers_503_during_a_smart_shutdown_and_serves_again_after_the_restart(
        throwaway_postgres, eventually):
    url = await throwaway_postgres.ensure_service_database(f"smart_api_{uuid.uuid4().hex[:8]}", "smart-pw")
    body = {"bank_reference": f"BANK-{uuid.uuid4().hex[:10]}", "payer": "ACME",
            "amount": {"amount": "10.00", "currency": "EUR"}, "value_date": "2026-12-01",
            "account_id": str(uuid.uuid4())}
    headers = {**CASHIER, "Idempotency-Key": str(uuid.uuid4())}
    async with service_client(FINANCE_SPEC, url, NO_BROKER) as client:
        await runtime_of(client).engine.dispose()  # no pooled connection: each request must connect
        async with _smart_shutdown(throwaway_postgres, url, eventually) as restart:
            _assert_unavailable(await client.post("/api/v1/payments", json=body, headers=headers))
            _assert_unavailable(await client.get("/api/v1/payments", headers=CASHIER))
            await restart()
            response = await client.post("/api/v1/payments", json=body, headers=headers)
        # Served again: the unknown account is the answer now, not the database.
        assert response.status_code == 404, response.text


# --- the errors a live server raises mid-transaction, as SQLAlchemy hands them on ---------------------------


async def _failure(conn, statement: str, **params) -> BaseException:
    try:
        await conn.execute(text(statement), params)
    except Exception as exc:
        return exc
    raise AssertionError(f"{statement} did not fail")


async def test_errors_of_a_live_server_are_classified_by_their_sqlstate(make_database):
    url = await make_database("live_errors")
    engine = make_engine(url, pool_size=2)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE items (id int PRIMARY KEY, n int NOT NULL)"))
            await conn.execute(text("INSERT INTO items VALUES (1, 0), (2, 0)"))
        found: dict[str, BaseException] = {}
        async with engine.connect() as a, engine.connect() as b:
            await a.execute(text("SELECT * FROM items WHERE id = 1 FOR UPDATE"))
            await b.execute(text("SET LOCAL lock_timeout = '20ms'"))
            found["55P03"] = await _failure(b, "SELECT * FROM items WHERE id = 1 FOR UPDATE")
            await a.rollback()
            await b.rollback()

            for conn in (a, b):
                await conn.execute(text("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE"))
                await conn.execute(text("SELECT n FROM items WHERE id = 1"))
            await a.execute(text("UPDATE items SET n = n + 1 WHERE id = 1"))
            await a.commit()
            found["40001"] = await _failure(b, "UPDATE items SET n = n + 1 WHERE id = 1")
            await b.rollback()

            await a.execute(text("UPDATE items SET n = n + 1 WHERE id = 1"))
            await b.execute(text("UPDATE items SET n = n + 1 WHERE id = 2"))
            # Each waits for the other's row; the server breaks the cycle by failing one of them.
            results = await asyncio.gather(_failure(a, "UPDATE items SET n = n + 1 WHERE id = 2"),
                                           _failure(b, "UPDATE items SET n = n + 1 WHERE id = 1"),
                                           return_exceptions=True)
            found["40P01"] = next(r for r in results if sqlstate_of(r) == "40P01")
            await a.rollback()
            await b.rollback()

            found["23505"] = await _failure(a, "INSERT INTO items VALUES (1, 0)")
            await a.rollback()
            found["22003"] = await _failure(a, "SELECT CAST(3000000000 AS int4)")
            await a.rollback()
            found["22000"] = await _failure(a, "SELECT CAST(:v AS int4)", v=3_000_000_000)  # asyncpg cannot encode it
            await a.rollback()
            found["42P01"] = await _failure(a, "SELECT * FROM nowhere")
            await a.rollback()
    finally:
        await engine.dispose()
    assert {code: sqlstate_of(exc) for code, exc in found.items()} == {code: code for code in found}
    assert {code: is_transient(exc) for code, exc in found.items()} == {
        "55P03": True, "40001": True, "40P01": True, "23505": False, "22003": False, "22000": False, "42P01": False}
