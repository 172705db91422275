"""Kafka clients configured the one way every service uses them."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer


def make_producer(bootstrap_servers: str, *, linger_ms: int = 2) -> AIOKafkaProducer:
    # Idempotent with acks=all: a retried send after a broker hiccup cannot duplicate or reorder
    # records within a partition.
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        enable_idempotence=True,
        acks="all",
        linger_ms=linger_ms,
    )


def make_consumer(bootstrap_servers: str, group_id: str, *topics: str) -> AIOKafkaConsumer:
    # Offsets are committed by hand only after the database transaction commits.
    return AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap_servers,
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
