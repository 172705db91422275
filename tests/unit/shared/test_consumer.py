"""Which handler failures the consumer retries (the world is down) and which it dead-letters."""

from __future__ import annotations

import pytest
from aiokafka import ConsumerRecord
from asyncpg import exceptions as pg
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from ltc.shared.consumer import EventConsumer, Subscription
from ltc.shared.errors import ConcurrencyConflict


class RecordingProducer:
    """Stands in for the dead-letter producer: keeps what was sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, bytes]]] = []

    async def send_and_wait(self, topic: str, *, value: bytes | None, key: bytes | None,
                            headers: list[tuple[str, bytes]]) -> None:
        self.sent.append((topic, dict(headers)))


class FailingConsumer(EventConsumer):
    """A consumer whose database work raises `failures`, one per attempt, then succeeds."""

    def __init__(self, *failures: BaseException) -> None:
        self.dlq = RecordingProducer()
        super().__init__(consumer=None, dlq_producer=self.dlq, session_factory=None,  # type: ignore[arg-type]
                         subscription=Subscription(("t",), {}), name="test", source="test",
                         min_backoff=0, max_backoff=0)
        self.failures = list(failures)
        self.attempts = 0

    async def _apply(self, record: ConsumerRecord) -> str:
        self.attempts += 1
        if self.failures:
            raise self.failures.pop(0)
        return "processed"


RECORD = ConsumerRecord(topic="t", partition=0, offset=7, timestamp=0, timestamp_type=0, key=b"k", value=b"{}",
                        checksum=None, serialized_key_size=1, serialized_value_size=2, headers=[])

WAITING = [
    PoolTimeout("QueuePool limit of size 3 overflow 3 reached, connection timed out, timeout 30.00"),
    OperationalError("SELECT 1", {}, Exception("the database system is starting up")),
    ConnectionRefusedError(111, "Connection refused"),
    TimeoutError(),
    ConcurrencyConflict("the object was changed by someone else"),
    pg.CannotConnectNowError("the database system is starting up"),
    pg.TooManyConnectionsError('too many connections for database "x"'),
    pg.AdminShutdownError("terminating connection due to administrator command"),
    pg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
    pg.SerializationError("could not serialize access due to concurrent update"),
    pg.DeadlockDetectedError("deadlock detected"),
    pg.LockNotAvailableError("canceling statement due to lock timeout"),
]

DEFECTS = [
    ValueError("a defect in the handler"),
    KeyError("missing"),
    pg.UndefinedTableError('relation "nope" does not exist'),
    pg.NumericValueOutOfRangeError("numeric field overflow"),
]


@pytest.mark.parametrize("failure", WAITING, ids=lambda failure: type(failure).__name__)
async def test_waiting_for_the_database_is_retried_not_dead_lettered(failure):
    consumer = FailingConsumer(failure, failure)
    await consumer.process(RECORD)
    assert consumer.attempts == 3
    assert consumer.dlq.sent == []


@pytest.mark.parametrize("failure", DEFECTS, ids=lambda failure: type(failure).__name__)
async def test_a_defect_is_not_retried_forever(failure):
    consumer = FailingConsumer(failure)
    await consumer.process(RECORD)
    assert consumer.attempts == 1
    [(topic, headers)] = consumer.dlq.sent
    assert topic == "t.dlq" and headers["dlq_reason"] == b"handler-error"


async def test_a_constraint_violation_that_persists_is_dead_lettered_as_such():
    violation = IntegrityError("INSERT", {}, Exception("violates check constraint"))
    consumer = FailingConsumer(*[violation] * 10)
    await consumer.process(RECORD)
    assert consumer.attempts == 4
    [(_, headers)] = consumer.dlq.sent
    assert headers["dlq_reason"] == b"constraint-violation"
