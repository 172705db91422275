"""The leads service on the real broker: its conversion is relayed, and the later stages' events
(delivered twice, as Kafka may) record the lead's outcome once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from ltc.leads.bootstrap import SPEC
from ltc.shared.db import inbox, outbox
from ltc.shared.kafka import make_producer
from ltc.shared.messages import Lineage
from ltc.shared.messages.envelope import Envelope
from ltc.shared.messages.opportunities_events import OpportunityCreated, OpportunityLost
from ltc.shared.testing.apps import auth, runtime_of, service_client

pytestmark = pytest.mark.integration

AR = auth("ar-kafka", "ar")
EVIDENCE = [{"criterion": c, "source": "workshop", "who": "CTO", "when": "2026-10-30"}
            for c in ("customer_identified", "purchase_intent", "matching_solution")]


async def test_conversion_is_relayed_and_a_redelivered_loss_is_recorded_once(make_database, kafka_bootstrap):
    async with service_client(SPEC, await make_database("leads_kafka"), kafka_bootstrap, run_workers=True) as client:
        account = (await client.post("/api/v1/accounts", json={"name": "Kafka Telecom"}, headers=AR)).json()
        lead = (await client.post("/api/v1/leads", headers=AR, json={
            "account_id": account["id"], "title": "Edge", "need": "latency", "channel": "tender"})).json()
        answer = await client.post(f"/api/v1/leads/{lead['id']}/grade", headers={**AR, "If-Match": lead["etag"]},
                                   json={"to": "credible", "evidence": EVIDENCE})
        answer = await client.post(f"/api/v1/leads/{lead['id']}/grade", headers={**AR, "If-Match": answer.headers["etag"]},
                                   json={"to": "opportunity", "budget": {"amount": "10.00", "currency": "EUR"},
                                         "start_date": "2027-01-01"})
        converted = await client.post(f"/api/v1/leads/{lead['id']}/convert",
                                      headers={**AR, "If-Match": answer.headers["etag"]})
        assert converted.status_code == 200, converted.text

        opportunity_id = uuid.uuid4()
        event = OpportunityLost(lineage=Lineage(lead_id=lead["id"], opportunity_id=opportunity_id),
                                opportunity_id=opportunity_id, reason="budget frozen", competitor=None,
                                lost_at=datetime.now(UTC))
        envelope = Envelope(id=str(uuid.uuid4()), type=event.ce_type(), source="opportunities",
                            subject=str(opportunity_id), time=datetime.now(UTC), data=event.model_dump(mode="json"))
        # Same key, so the same partition: once the marker is handled, both deliveries before it were too.
        created = OpportunityCreated(lineage=Lineage(opportunity_id=opportunity_id), opportunity_id=opportunity_id,
                                     lead_id=None, account_id=None, title="direct", budget=None, owner="ar-kafka",
                                     created_at=datetime.now(UTC))
        marker = Envelope(id=str(uuid.uuid4()), type=created.ce_type(), source="opportunities",
                          subject=str(opportunity_id), time=datetime.now(UTC), data=created.model_dump(mode="json"))
        producer = make_producer(kafka_bootstrap)
        await producer.start()
        try:
            for message in (envelope, envelope, marker):
                key, value, headers = message.to_kafka()
                await producer.send_and_wait("ltc.opportunities", value, key=key, headers=headers)
        finally:
            await producer.stop()

        async with asyncio.timeout(60):
            while True:
                async with runtime_of(client).engine.connect() as conn:
                    handled = set((await conn.execute(select(inbox.c.message_id))).scalars())
                if marker.id in handled:
                    break
                await asyncio.sleep(0.2)
            while True:
                async with runtime_of(client).engine.connect() as conn:
                    unsent = (await conn.execute(select(outbox.c.type).where(
                        outbox.c.key == lead["id"], outbox.c.sent_at.is_(None)))).scalars().all()
                if not unsent:
                    break
                await asyncio.sleep(0.2)
        history = (await client.get(f"/api/v1/leads/{lead['id']}/history", headers=AR)).json()
        # Other services running on the same broker may react to the relayed conversion; count only the loss.
        losses = [h for h in history if h["actor"] == "event:ltc.opportunity.lost.v1"]
        assert [h["changes"]["reason"] for h in losses] == ["budget frozen"]
        assert (await client.get(f"/api/v1/leads/{lead['id']}", headers=AR)).json()["lost_reason"] == "budget frozen"
