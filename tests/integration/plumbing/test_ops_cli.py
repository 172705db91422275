"""The operator command line against the real broker and database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from ltc.shared.db import UnitOfWork
from ltc.shared.errors import DomainError
from ltc.shared.messages.envelope import Envelope
from ltc.shared.messages.leads_events import LeadDisqualified
from ltc.shared.ops import cli

pytestmark = pytest.mark.integration

EVENT_TYPE = LeadDisqualified.ce_type()


async def test_dead_letters_are_listed_and_replayed_after_a_fix(harness, consume, monkeypatch, capsys):
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", harness.bootstrap)
    fixed = {"yet": False}

    async def handler(uow: UnitOfWork, payload: LeadDisqualified, envelope: Envelope) -> None:
        if not fixed["yet"]:
            raise DomainError("reason-unknown", "this build cannot handle the reason")
        await uow.session.execute(text("INSERT INTO effects VALUES (:id, 'replayed')"), {"id": payload.lead_id})

    event = harness.event()
    envelope = Envelope(id=str(uuid.uuid4()), type=EVENT_TYPE, source="test", subject=str(event.lead_id),
                        time=datetime.now(UTC), data=event.model_dump(mode="json"))
    await harness.produce(envelope.to_kafka())
    group = f"g-{uuid.uuid4().hex[:8]}"
    await consume(harness, group, until=lambda: _dead_lettered(harness), handler=handler)
    assert await harness.effects() == 0

    await cli.dlq_list(harness.topic)
    listed = capsys.readouterr().out
    assert '"reason": "reason-unknown"' in listed and envelope.id in listed

    fixed["yet"] = True  # the fix is deployed
    await cli.dlq_replay(harness.topic, offset=None)
    assert "replayed 1 record(s)" in capsys.readouterr().out

    async def applied() -> bool:
        return await harness.effects() == 1

    await consume(harness, group, until=applied, handler=handler)


async def _dead_lettered(harness) -> bool:
    return len(await harness.dead_letters(1, timeout=0.5)) == 1
