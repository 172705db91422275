"""The idempotent event consumer: Kafka → inbox check → handler → one database commit → offset commit.

- The message id (CloudEvents `id`) is recorded in the inbox in the same transaction as the
  effect, so a redelivered message (a crash before the offset commit, a relay re-send) has no
  second effect.
- A message that can never be processed (not a CloudEvent, a type nobody defined, a payload that
  fails its schema, a rule the handler refuses) goes to `<topic>.dlq` with the reason in its
  headers, and the consumer moves on.
- A transient failure (`ltc.shared.transient`: database or network unreachable, out of
  connections, shutting down, a lost serialization or deadlock) is retried with back-off, never
  dead-lettered: the data is fine, the world is not.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from opentelemetry.trace import SpanKind
from pydantic import ValidationError
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ltc.shared import metrics
from ltc.shared.db import UnitOfWork, inbox
from ltc.shared.messages import EVENT_TYPES, EventPayload, dlq_topic
from ltc.shared.messages.envelope import Envelope, InvalidMessage
from ltc.shared.observability import set_correlation_id
from ltc.shared.rules import ConcurrencyConflict, DomainError
from ltc.shared.tracing import context_from, tracer
from ltc.shared.transient import is_transient, sqlstate_of

log = structlog.get_logger()

Handler = Callable[[UnitOfWork, EventPayload, Envelope], Awaitable[None]]


class Poison(Exception):
    """This message can never be processed; it belongs on the dead-letter topic."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Subscription:
    topics: tuple[str, ...]
    handlers: dict[str, Handler]  # keyed by CloudEvents type, e.g. "ltc.lead.converted.v1"


class EventConsumer:
    def __init__(self, *, consumer: AIOKafkaConsumer, dlq_producer: AIOKafkaProducer,
                 session_factory: async_sessionmaker[AsyncSession], subscription: Subscription,
                 name: str, source: str, min_backoff: float = 0.2, max_backoff: float = 10.0,
                 commit_interval: float = 1.0, max_parallel: int = 3) -> None:
        self._consumer = consumer
        self._dlq = dlq_producer
        self._session_factory = session_factory
        self._subscription = subscription
        self._name = name
        self._source = source
        self._min_backoff = min_backoff
        self._max_backoff = max_backoff
        self._commit_interval = commit_interval
        # Partitions worked on at once: no more than the connections its pool holds.
        self._parallel = asyncio.Semaphore(max(1, max_parallel))

    async def run(self) -> None:
        """Consume until cancelled.

        The partitions of a fetched batch are processed side by side, each in order. Offsets are
        committed only for records already in the database, at most once per
        `commit_interval` while busy and as soon as the topic goes quiet, in the background (one
        commit in flight at a time, in order; a failed commit surfaces at the next batch). Each
        commit is a write on the broker: committing after every record cost the broker more CPU
        than the records themselves. A crash before a commit lands redelivers records that the
        inbox already holds, which are skipped.
        """
        loop = asyncio.get_running_loop()
        uncommitted: dict[TopicPartition, int] = {}
        in_flight: asyncio.Task[None] | None = None
        last_commit = loop.time()
        try:
            while True:
                batches = await self._consumer.getmany(timeout_ms=500, max_records=200)
                await self._process_partitions(batches)
                for tp, records in batches.items():
                    uncommitted[tp] = records[-1].offset + 1
                if batches:
                    self._record_lag({tp: uncommitted[tp] for tp in batches})
                if in_flight is not None and in_flight.done():
                    await in_flight  # re-raises a failed commit
                    in_flight = None
                due = not batches or loop.time() - last_commit >= self._commit_interval
                if uncommitted and due and in_flight is None:
                    in_flight = asyncio.create_task(self._commit_offsets(uncommitted))
                    uncommitted, last_commit = {}, loop.time()
        finally:
            with contextlib.suppress(Exception):
                if in_flight is not None:
                    await in_flight
                if uncommitted:
                    await self._commit_offsets(uncommitted)

    async def _process_partitions(self, batches: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        """Each partition's records in order, the partitions side by side.

        Order only matters within a partition (an aggregate's events share its key, so its
        partition); while one record waits on the database, another partition's can go ahead.
        """
        if len(batches) == 1:
            (records,) = batches.values()
            await self._process_in_order(records)
            return
        async with asyncio.TaskGroup() as group:
            for records in batches.values():
                group.create_task(self._process_in_order(records))

    async def _process_in_order(self, records: list[ConsumerRecord]) -> None:
        async with self._parallel:
            for record in records:
                await self.process(record)

    def _record_lag(self, offsets: dict[TopicPartition, int]) -> None:
        for tp, next_offset in offsets.items():
            highwater = self._consumer.highwater(tp)
            if highwater is not None:
                metrics.LAG.labels(self._source, tp.topic, str(tp.partition)).set(max(0, highwater - next_offset))

    async def _commit_offsets(self, offsets: dict[TopicPartition, int]) -> None:
        # A partition taken away by a rebalance is its new owner's to commit (it re-reads from
        # the last commit, and its inbox skips what this instance already applied).
        assigned = self._consumer.assignment()
        offsets = {tp: offset for tp, offset in offsets.items() if tp in assigned}
        if offsets:
            await self._consumer.commit(offsets)

    async def process(self, record: ConsumerRecord) -> None:
        """Apply one record exactly once, dead-letter it, or skip it; retry while the world is down."""
        started = time.perf_counter()
        try:
            outcome = await self._process(record)
        finally:
            metrics.PROCESSING.labels(self._source, record.topic).observe(time.perf_counter() - started)
        metrics.CONSUMED.labels(self._source, record.topic, outcome).inc()

    async def _process(self, record: ConsumerRecord) -> str:
        backoff = self._min_backoff
        conflicts = 0
        while True:
            try:
                return await self._apply(record)
            except Poison as poison:
                await self._dead_letter(record, poison.reason, poison.detail)
                return "dead_lettered"
            except asyncio.CancelledError:
                raise
            except IntegrityError as exc:
                # Usually a concurrent twin won a unique constraint: a retry finds its row and
                # does nothing. A conflict that persists is a real defect: dead-letter it.
                conflicts += 1
                if conflicts > 3:
                    await self._dead_letter(record, "constraint-violation", str(exc.orig))
                    return "dead_lettered"
                await asyncio.sleep(backoff)
            except Exception as exc:
                # A lost optimistic lock is retried too: the next attempt re-reads the winner.
                if not (is_transient(exc) or isinstance(exc, ConcurrencyConflict)):
                    log.exception("handler failed; dead-lettering", topic=record.topic, offset=record.offset)
                    await self._dead_letter(record, "handler-error", f"{type(exc).__name__}: {exc}")
                    return "dead_lettered"
                log.warning("transient failure; retrying", error=str(exc), sqlstate=sqlstate_of(exc), backoff=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff)

    async def _apply(self, record: ConsumerRecord) -> str:
        try:
            envelope = Envelope.from_kafka(record.key, record.value, record.headers)
        except InvalidMessage as exc:
            raise Poison("invalid-envelope", str(exc)) from None
        payload_type = EVENT_TYPES.get(envelope.type)
        if payload_type is None:
            raise Poison("unknown-event-type", f"no event type {envelope.type!r} is defined")
        handler = self._subscription.handlers.get(envelope.type)
        if handler is None:
            return "skipped"  # a known event this service does not react to
        try:
            payload = payload_type.model_validate(envelope.data)
        except ValidationError as exc:
            raise Poison("invalid-payload", str(exc)) from None
        set_correlation_id(envelope.correlation_id)
        # A child of the span that wrote the event upstream: the new outbox rows carry this
        # span, so one trace follows the flow from service to service.
        with tracer.start_as_current_span(f"consume {envelope.type}", context=context_from(envelope.traceparent),
                                          kind=SpanKind.CONSUMER,
                                          attributes={"messaging.system": "kafka",
                                                      "messaging.destination.name": record.topic,
                                                      "messaging.message.id": envelope.id}):
            return await self._apply_once(record, envelope, handler, payload)

    async def _apply_once(self, record: ConsumerRecord, envelope: Envelope, handler: Handler,
                          payload: EventPayload) -> str:
        uow = UnitOfWork(self._session_factory, self._source, correlation_id=envelope.correlation_id)
        async with uow:
            first_delivery = (
                await uow.session.execute(
                    insert(inbox)
                    .values(consumer=self._name, message_id=envelope.id, type=envelope.type,
                            topic=record.topic, partition=record.partition, offset=record.offset)
                    .on_conflict_do_nothing()
                    .returning(inbox.c.message_id)
                )
            ).first()
            if first_delivery is None:
                log.info("duplicate delivery ignored", message_id=envelope.id, type=envelope.type)
                return "duplicate"
            try:
                await handler(uow, payload, envelope)
            except DomainError as exc:
                raise Poison(exc.rule, exc.detail) from None
            await uow.commit()
            return "processed"

    async def _dead_letter(self, record: ConsumerRecord, reason: str, detail: str) -> None:
        headers = list(record.headers or ()) + [
            ("dlq_reason", reason.encode()),
            ("dlq_detail", detail[:2000].encode()),
            ("dlq_consumer", self._name.encode()),
            ("dlq_original_topic", record.topic.encode()),
            ("dlq_original_partition", str(record.partition).encode()),
            ("dlq_original_offset", str(record.offset).encode()),
        ]
        await self._dlq.send_and_wait(dlq_topic(record.topic), value=record.value, key=record.key, headers=headers)
        metrics.DEAD_LETTERS.labels(self._source, record.topic, reason).inc()
        log.warning("message dead-lettered", topic=record.topic, offset=record.offset, reason=reason)
