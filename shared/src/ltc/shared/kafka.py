"""Kafka clients configured the one way every service uses them, and topic creation."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError, for_code
from aiokafka.helpers import create_ssl_context

from ltc.shared.settings import ServiceSettings


def kafka_options(settings: ServiceSettings) -> dict[str, Any]:
    """Security options for every client: PLAINTEXT locally, SASL (SCRAM) over TLS on a secured cluster."""
    options: dict[str, Any] = {"security_protocol": settings.kafka_security_protocol}
    if settings.kafka_security_protocol in ("SSL", "SASL_SSL"):
        options["ssl_context"] = create_ssl_context(cafile=settings.kafka_ssl_cafile)
    if settings.kafka_security_protocol.startswith("SASL"):
        options.update(sasl_mechanism=settings.kafka_sasl_mechanism,
                       sasl_plain_username=settings.kafka_sasl_username,
                       sasl_plain_password=settings.kafka_sasl_password)
    return options


def make_producer(bootstrap_servers: str, *, linger_ms: int = 0, **options: Any) -> AIOKafkaProducer:
    # Idempotent with acks=all: a retried send after a broker hiccup cannot duplicate or reorder
    # records within a partition.
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        enable_idempotence=True,
        acks="all",
        linger_ms=linger_ms,
        **options,
    )


def make_consumer(bootstrap_servers: str, group_id: str, *topics: str, **options: Any) -> AIOKafkaConsumer:
    # Offsets are committed by hand only after the database transaction commits.
    return AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap_servers,
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        **options,
    )


async def ensure_topics(bootstrap: str, topics: Iterable[str], partitions: int = 3, replication: int = 1,
                        timeout: float = 30, **options: Any) -> None:
    """Create the missing `topics`, then wait until every partition of each one has a leader."""
    topics = list(topics)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **options)
    await admin.start()
    try:
        missing = sorted(set(topics) - set(await admin.list_topics()))
        if missing:
            response = await admin.create_topics([NewTopic(name, partitions, replication) for name in missing])
            for topic, code, *message in response.topic_errors:
                if code not in (0, TopicAlreadyExistsError.errno):
                    raise for_code(code)(f"creating topic {topic}: {message}")
        deadline = asyncio.get_running_loop().time() + timeout
        while not _all_led(await admin.describe_topics(list(topics))):
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"not every partition of {topics} has a leader after {timeout:g}s")
            await asyncio.sleep(0.1)
    finally:
        await admin.close()


def _all_led(described: list[dict]) -> bool:
    return all(
        topic["error_code"] == 0 and topic["partitions"] and all(p["leader"] >= 0 for p in topic["partitions"])
        for topic in described
    )
