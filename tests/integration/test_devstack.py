"""The infrastructure fixtures give a working Kafka broker and isolated PostgreSQL databases."""

import asyncio
import os
import uuid

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from ltc.shared.messages import ALL_TOPICS as TOPICS

pytestmark = pytest.mark.integration


async def test_broker_round_trips_a_message_with_headers(kafka_bootstrap: str) -> None:
    marker = uuid.uuid4().hex.encode()
    headers = [("ce_type", b"ltc.lead.created"), ("ce_id", marker)]
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait("ltc.leads", b'{"lead": 1}', key=marker, headers=headers)
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer("ltc.leads", bootstrap_servers=kafka_bootstrap, group_id=f"test-{marker.decode()}",
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    try:
        async with asyncio.timeout(30):
            async for record in consumer:
                if record.key == marker:
                    break
        await consumer.commit()
    finally:
        await consumer.stop()
    assert record.value == b'{"lead": 1}'
    assert list(record.headers) == headers


async def test_topics_exist_with_configured_partitions(kafka_bootstrap: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(TOPICS)
    finally:
        await admin.close()
    expected = int(os.environ.get("LTC_KAFKA_PARTITIONS", 3))
    assert {t["topic"]: (t["error_code"], len(t["partitions"])) for t in described} == {
        topic: (0, expected) for topic in TOPICS
    }


async def test_service_role_owns_its_database_and_nothing_else(make_database) -> None:
    own_url = await make_database("svc_own")
    other_url = await make_database("svc_other")

    engine = create_async_engine(own_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE lead (id int PRIMARY KEY)"))
            await conn.execute(text("INSERT INTO lead VALUES (1)"))
            assert (await conn.execute(text("SELECT count(*) FROM lead"))).scalar_one() == 1
    finally:
        await engine.dispose()

    own, other = make_url(own_url), make_url(other_url)
    trespass = own.set(drivername="postgresql", database=other.database).render_as_string(hide_password=False)
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="CONNECT"):
        await asyncpg.connect(trespass)
