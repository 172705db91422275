"""The outbox and the idempotent consumer on the real broker and database.

Each test uses its own database, topic and consumer group, so tests do not see each other's
records.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaConsumer
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError

from ltc.shared.db import UnitOfWork, outbox
from ltc.shared.kafka import ensure_topics, make_producer
from ltc.shared.messages import dlq_topic
from ltc.shared.messages.envelope import Envelope
from ltc.shared.messages.leads_events import LeadDisqualified
from ltc.shared.outbox import OutboxRelay

pytestmark = pytest.mark.integration

EVENT_TYPE = LeadDisqualified.ce_type()

async def _topic_records(bootstrap: str, topic: str, wait: float = 3.0) -> list:
    reader = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None)
    await reader.start()
    records: list = []
    try:
        deadline = asyncio.get_running_loop().time() + wait
        while asyncio.get_running_loop().time() < deadline:
            batch = await reader.getmany(timeout_ms=300)
            records.extend(r for rs in batch.values() for r in rs)
    finally:
        await reader.stop()
    return records


async def test_an_aborted_transaction_publishes_nothing_and_a_committed_one_exactly_once(harness):
    producer = make_producer(harness.bootstrap)
    await producer.start()
    relay = OutboxRelay(harness.engine, producer, source="test")
    try:
        aborted = harness.event()
        async with UnitOfWork(harness.sessions, "test") as uow:
            uow.publish(aborted)
            await uow.session.execute(text("INSERT INTO effects VALUES (:id, 'aborted')"), {"id": aborted.lead_id})
            # leaving without commit: the state change and its event go together
        committed = harness.event()
        async with UnitOfWork(harness.sessions, "test", correlation_id="corr-42") as uow:
            uow.publish(committed)
            await uow.commit()

        assert await relay.publish_pending() == 1
        assert await relay.publish_pending() == 0  # marked sent: a second pass re-sends nothing
    finally:
        await producer.stop()

    records = await _topic_records(harness.bootstrap, harness.topic)
    assert [r.key for r in records] == [str(committed.lead_id).encode()]
    envelope = Envelope.from_kafka(records[0].key, records[0].value, records[0].headers)
    assert envelope.type == EVENT_TYPE and envelope.correlation_id == "corr-42" and envelope.source == "test"
    assert await harness.effects() == 0
    async with harness.engine.connect() as conn:
        unsent = (await conn.execute(select(func.count()).select_from(outbox).where(outbox.c.sent_at.is_(None)))).scalar_one()
    assert unsent == 0


async def test_the_relay_is_woken_by_the_commit_not_by_its_poll(harness, eventually):
    producer = make_producer(harness.bootstrap)
    await producer.start()
    relay = OutboxRelay(harness.engine, producer, source="test", poll_seconds=30)
    task = asyncio.create_task(relay.run())
    try:
        await asyncio.sleep(1.0)  # let it take the leader lock and LISTEN
        event = harness.event()
        started = asyncio.get_running_loop().time()
        async with UnitOfWork(harness.sessions, "test") as uow:
            uow.publish(event)
            await uow.commit()

        async def sent() -> bool:
            async with harness.engine.connect() as conn:
                return (await conn.execute(select(func.count()).select_from(outbox)
                                           .where(outbox.c.sent_at.is_not(None)))).scalar_one() == 1

        await eventually(sent, timeout=10)
        assert asyncio.get_running_loop().time() - started < 10  # far below the 30 s poll
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await producer.stop()


async def test_the_same_event_delivered_twice_has_one_effect(harness, consume):
    event = harness.event()
    envelope = Envelope(id=str(uuid.uuid4()), type=EVENT_TYPE, source="test", subject=str(event.lead_id),
                        time=datetime.now(UTC), data=event.model_dump(mode="json"))
    await harness.produce(envelope.to_kafka(), envelope.to_kafka())
    marker = harness.event()
    marker_envelope = Envelope(id=str(uuid.uuid4()), type=EVENT_TYPE, source="test", subject=str(marker.lead_id),
                               time=datetime.now(UTC), data=marker.model_dump(mode="json"))
    await harness.produce(marker_envelope.to_kafka())

    # Until the marker, produced after both copies, is applied: by then both copies were seen.
    await consume(harness, f"g-{uuid.uuid4().hex[:8]}", until=lambda: _effects_of(harness, marker.lead_id))
    assert await _effects_of(harness, event.lead_id) == 1
    assert await harness.effects() == 2  # the event once, the marker once


async def _effects_of(harness, lead_id: uuid.UUID) -> int:
    async with harness.engine.connect() as conn:
        return (await conn.execute(text("SELECT count(*) FROM effects WHERE lead_id = :id"),
                                   {"id": lead_id})).scalar_one()


async def _at_least(harness, count: int) -> bool:
    return await harness.effects() >= count


async def test_a_malformed_message_is_dead_lettered_and_the_next_good_one_processed(harness, consume):
    good = harness.event()
    good_envelope = Envelope(id=str(uuid.uuid4()), type=EVENT_TYPE, source="test", subject=str(good.lead_id),
                             time=datetime.now(UTC), data=good.model_dump(mode="json"))
    bad_payload = Envelope(id=str(uuid.uuid4()), type=EVENT_TYPE, source="test", subject="x",
                           time=datetime.now(UTC), data={"lead_id": "not-a-uuid"})
    unknown_type = Envelope(id=str(uuid.uuid4()), type="ltc.nonsense.v9", source="test", subject="x",
                            time=datetime.now(UTC), data={})
    await harness.produce((b"x", b"\x00not json at all", []), bad_payload.to_kafka(), unknown_type.to_kafka(),
                          good_envelope.to_kafka())

    await consume(harness, f"g-{uuid.uuid4().hex[:8]}", until=lambda: _at_least(harness, 1))
    assert await harness.effects() == 1
    dead = await harness.dead_letters(3)
    reasons = [dict(r.headers)["dlq_reason"] for r in dead]
    assert reasons == [b"invalid-envelope", b"invalid-payload", b"unknown-event-type"]
    assert dead[0].value == b"\x00not json at all"  # the original record, untouched, for replay
    assert dict(dead[0].headers)["dlq_original_topic"] == harness.topic.encode()


async def test_a_transient_failure_is_retried_not_dead_lettered(harness, consume):
    failures = {"left": 2}

    async def flaky(uow: UnitOfWork, payload: LeadDisqualified, envelope: Envelope) -> None:
        if failures["left"]:
            failures["left"] -= 1
            raise OperationalError("INSERT", {}, ConnectionRefusedError("database restarting"))
        await uow.session.execute(text("INSERT INTO effects VALUES (:id, 'after retry')"), {"id": payload.lead_id})

    event = harness.event()
    envelope = Envelope(id=str(uuid.uuid4()), type=EVENT_TYPE, source="test", subject=str(event.lead_id),
                        time=datetime.now(UTC), data=event.model_dump(mode="json"))
    await harness.produce(envelope.to_kafka())
    await consume(harness, f"g-{uuid.uuid4().hex[:8]}", until=lambda: _at_least(harness, 1), handler=flaky)
    assert failures["left"] == 0 and await harness.effects() == 1
    assert await harness.dead_letters(1, timeout=3) == []


class Crash(Exception):
    """Stands in for the process dying between the database commit and the offset commit."""


async def test_a_consumer_killed_after_its_db_commit_but_before_its_offset_commit_causes_no_duplicate(harness):
    event = harness.event()
    envelope = Envelope(id=str(uuid.uuid4()), type=EVENT_TYPE, source="test", subject=str(event.lead_id),
                        time=datetime.now(UTC), data=event.model_dump(mode="json"))
    await harness.produce(envelope.to_kafka())
    group = f"g-{uuid.uuid4().hex[:8]}"

    consumer, kafka_consumer, dlq = harness.consumer(group)

    async def die(offsets) -> None:
        raise Crash()

    consumer._commit_offsets = die  # the process "dies" right after the database commit
    await kafka_consumer.start()
    await dlq.start()
    try:
        with pytest.raises(Crash):
            await asyncio.wait_for(consumer.run(), 30)
    finally:
        await kafka_consumer.stop()  # auto-commit is off: stopping commits nothing
        await dlq.stop()
    assert await harness.effects() == 1

    # The restarted consumer gets the same record again (its offset was never committed) ...
    redelivered = asyncio.Event()
    restarted, kafka_consumer, dlq = harness.consumer(group)
    original_process = restarted.process

    async def watch(record) -> None:
        await original_process(record)
        redelivered.set()

    restarted.process = watch
    await kafka_consumer.start()
    await dlq.start()
    task = asyncio.create_task(restarted.run())
    try:
        await asyncio.wait_for(redelivered.wait(), 30)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await kafka_consumer.stop()
        await dlq.stop()
    # ... and the inbox makes the second delivery a no-op.
    assert await harness.effects() == 1


async def test_offsets_of_applied_records_are_committed_once_the_topic_goes_quiet(harness):
    records = []
    for _ in range(5):
        event = harness.event()
        records.append(Envelope(id=str(uuid.uuid4()), type=EVENT_TYPE, source="test", subject=str(event.lead_id),
                                time=datetime.now(UTC), data=event.model_dump(mode="json")).to_kafka())
    await harness.produce(*records)
    group = f"g-{uuid.uuid4().hex[:8]}"
    consumer, kafka_consumer, dlq = harness.consumer(group)
    await kafka_consumer.start()
    await dlq.start()
    task = asyncio.create_task(consumer.run())
    try:
        deadline = asyncio.get_running_loop().time() + 30
        while await harness.effects() < 5:
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.05)
        (tp,) = kafka_consumer.assignment()
        # Not committed record by record, but without waiting for the next busy interval either.
        while await kafka_consumer.committed(tp) != 5:
            assert asyncio.get_running_loop().time() < deadline, "offsets never committed"
            await asyncio.sleep(0.1)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await kafka_consumer.stop()
        await dlq.stop()


async def test_partitions_of_a_batch_are_processed_side_by_side_each_in_order(harness, consume):
    harness.topic = f"{harness.topic}.two"
    await ensure_topics(harness.bootstrap, [harness.topic, dlq_topic(harness.topic)], partitions=2)
    seen: list[str] = []
    p0_started, p1_done = asyncio.Event(), asyncio.Event()

    async def handler(uow: UnitOfWork, payload: LeadDisqualified, envelope: Envelope) -> None:
        # Each of the two waits for the other to be under way: only possible side by side (one
        # after the other, whichever goes first times out and is dead-lettered).
        if payload.reason == "p0-first":
            p0_started.set()
            await asyncio.wait_for(p1_done.wait(), 10)
        if payload.reason == "p1":
            await asyncio.wait_for(p0_started.wait(), 10)
        seen.append(payload.reason)
        await uow.session.execute(text("INSERT INTO effects VALUES (:id, :reason)"),
                                  {"id": payload.lead_id, "reason": payload.reason})
        if payload.reason == "p1":
            p1_done.set()

    producer = make_producer(harness.bootstrap)
    await producer.start()
    try:
        for partition, reason in ((0, "p0-first"), (0, "p0-second"), (0, "p0-third"), (1, "p1")):
            event = harness.event()
            event = event.model_copy(update={"reason": reason})
            key, value, headers = Envelope(id=str(uuid.uuid4()), type=EVENT_TYPE, source="test",
                                           subject=str(event.lead_id), time=datetime.now(UTC),
                                           data=event.model_dump(mode="json")).to_kafka()
            await producer.send_and_wait(harness.topic, value=value, key=key, headers=headers, partition=partition)
    finally:
        await producer.stop()

    async def all_applied() -> bool:
        return await harness.effects() == 4

    await consume(harness, f"g-{uuid.uuid4().hex[:8]}", until=all_applied, handler=handler)
    assert seen == ["p1", "p0-first", "p0-second", "p0-third"]
    assert await harness.dead_letters(1, timeout=3) == []
