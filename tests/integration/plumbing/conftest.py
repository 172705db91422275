"""Support for the plumbing tests: a private database, topic and consumer group per test."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaConsumer
from sqlalchemy import text

from ltc.shared.consumer import EventConsumer, Subscription
from ltc.shared.db import OUTBOX_NOTIFY_DDL, UnitOfWork, make_engine, make_session_factory, plumbing_metadata
from ltc.shared.kafka import ensure_topics, make_consumer, make_producer
from ltc.shared.messages import dlq_topic
from ltc.shared.messages.envelope import Envelope
from ltc.shared.messages.leads_events import LeadDisqualified

EVENT_TYPE = LeadDisqualified.ce_type()


class Harness:
    """A database with the plumbing tables and an `effects` table, plus a private topic."""

    def __init__(self, url: str, bootstrap: str, topic: str) -> None:
        self.url, self.bootstrap, self.topic = url, bootstrap, topic
        self.engine = make_engine(url, pool_size=2)
        self.sessions = make_session_factory(self.engine)

    async def setup(self) -> None:
        async with self.engine.begin() as conn:
            await conn.run_sync(plumbing_metadata.create_all)
            for statement in OUTBOX_NOTIFY_DDL:
                await conn.execute(text(statement))
            await conn.execute(text("CREATE TABLE effects (lead_id uuid NOT NULL, reason text NOT NULL)"))
        await ensure_topics(self.bootstrap, [self.topic, dlq_topic(self.topic)], partitions=1)

    async def effects(self) -> int:
        async with self.engine.connect() as conn:
            return (await conn.execute(text("SELECT count(*) FROM effects"))).scalar_one()

    def event(self) -> LeadDisqualified:
        lead_id = uuid.uuid4()
        event = LeadDisqualified(lead_id=lead_id, reason="no budget", disqualified_by="ar-1",
                                 disqualified_at=datetime.now(UTC))
        event.__class__ = type("TestEvent", (LeadDisqualified,), {"topic": self.topic})
        return event

    async def produce(self, *records: tuple[bytes | None, bytes | None, list]) -> None:
        producer = make_producer(self.bootstrap)
        await producer.start()
        try:
            for key, value, headers in records:
                await producer.send_and_wait(self.topic, value=value, key=key, headers=headers)
        finally:
            await producer.stop()

    def consumer(self, group: str, handler=None) -> tuple[EventConsumer, AIOKafkaConsumer, object]:
        async def record_effect(uow: UnitOfWork, payload: LeadDisqualified, envelope: Envelope) -> None:
            await uow.session.execute(text("INSERT INTO effects VALUES (:id, :reason)"),
                                      {"id": payload.lead_id, "reason": payload.reason})

        kafka_consumer = make_consumer(self.bootstrap, group, self.topic)
        dlq = make_producer(self.bootstrap)
        consumer = EventConsumer(consumer=kafka_consumer, dlq_producer=dlq, session_factory=self.sessions,
                                 subscription=Subscription((self.topic,), {EVENT_TYPE: handler or record_effect}),
                                 name=group, source="test")
        return consumer, kafka_consumer, dlq

    async def dead_letters(self, expected: int, timeout: float = 30) -> list:
        reader = AIOKafkaConsumer(dlq_topic(self.topic), bootstrap_servers=self.bootstrap,
                                  auto_offset_reset="earliest", group_id=None)
        await reader.start()
        found: list = []
        try:
            deadline = asyncio.get_running_loop().time() + timeout
            while len(found) < expected and asyncio.get_running_loop().time() < deadline:
                batch = await reader.getmany(timeout_ms=500)
                found.extend(r for records in batch.values() for r in records)
        finally:
            await reader.stop()
        return found


async def _eventually(check, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.1)


async def run_consumer(harness: Harness, group: str, until, handler=None) -> None:
    consumer, kafka_consumer, dlq = harness.consumer(group, handler)
    await kafka_consumer.start()
    await dlq.start()
    task = asyncio.create_task(consumer.run())
    try:
        await _eventually(until)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await kafka_consumer.stop()
        await dlq.stop()


@pytest.fixture
async def harness(make_database, kafka_bootstrap):
    h = Harness(await make_database("plumbing"), kafka_bootstrap, f"test.{uuid.uuid4().hex[:10]}")
    await h.setup()
    yield h
    await h.engine.dispose()




@pytest.fixture
def consume():
    """`await consume(harness, group, until=..., handler=...)` runs a consumer until `until()` holds."""
    return run_consumer


@pytest.fixture
def eventually():
    """`await eventually(check)` polls the async `check()` until it holds (30 s at most)."""
    return _eventually
