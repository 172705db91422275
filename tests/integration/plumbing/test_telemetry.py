"""Metrics on /metrics and trace context carried across the hand-overs."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text

from ltc.leads.bootstrap import SPEC
from ltc.shared.db import UnitOfWork, outbox
from ltc.shared.messages.envelope import Envelope
from ltc.shared.messages.leads_events import LeadDisqualified
from ltc.shared.testing.apps import auth, runtime_of, service_client

pytestmark = pytest.mark.integration

EVENT_TYPE = LeadDisqualified.ce_type()

AR = auth("ar-telemetry", "ar")
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
INCOMING = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


async def test_metrics_count_requests_by_route_template_and_show_the_outbox_backlog(make_database, kafka_bootstrap):
    async with service_client(SPEC, await make_database("telemetry"), kafka_bootstrap) as client:
        assert (await client.get(f"/api/v1/leads/{uuid.uuid4()}", headers=AR)).status_code == 404
        account = (await client.post("/api/v1/accounts", json={"name": "Metrics Co"}, headers=AR)).json()
        await client.post("/api/v1/leads", headers=AR, json={
            "account_id": account["id"], "title": "t", "need": "n", "channel": "tender"})
        body = (await client.get("/metrics")).text
    assert 'ltc_http_requests_total{method="GET",route="/api/v1/leads/{lead_id}",service="leads",status="404"}' in body
    # Workers off: account.created and lead.created wait.
    assert 'ltc_outbox_backlog{service="leads"} 2.0' in body
    [oldest] = [line for line in body.splitlines() if line.startswith('ltc_outbox_oldest_age_seconds{service="leads"}')]
    assert float(oldest.rsplit(" ", 1)[1]) > 0  # the waiting lead.created has an age


async def test_an_incoming_traceparent_is_stored_with_the_outbox_rows(make_database, kafka_bootstrap):
    async with service_client(SPEC, await make_database("tracing"), kafka_bootstrap) as client:
        account = (await client.post("/api/v1/accounts", json={"name": "Trace Co"}, headers=AR)).json()
        response = await client.post("/api/v1/leads", json={
            "account_id": account["id"], "title": "t", "need": "n", "channel": "tender"},
            headers={**AR, "traceparent": INCOMING})
        assert response.status_code == 201
        async with runtime_of(client).engine.connect() as conn:
            stored = (await conn.execute(select(outbox.c.traceparent).where(outbox.c.key == response.json()["id"]))).scalar_one()
    assert stored.split("-")[1] == TRACE_ID


async def test_a_consumer_continues_the_trace_of_the_event_it_handles(harness, consume):
    async def relay_on(uow: UnitOfWork, payload: LeadDisqualified, envelope: Envelope) -> None:
        await uow.session.execute(text("INSERT INTO effects VALUES (:id, 'traced')"), {"id": payload.lead_id})
        uow.publish(harness.event())

    event = harness.event()
    envelope = Envelope(id=str(uuid.uuid4()), type=EVENT_TYPE, source="test", subject=str(event.lead_id),
                        time=datetime.now(UTC), data=event.model_dump(mode="json"), traceparent=INCOMING)
    await harness.produce(envelope.to_kafka())

    async def handled() -> bool:
        return await harness.effects() == 1

    await consume(harness, f"g-{uuid.uuid4().hex[:8]}", until=handled, handler=relay_on)
    async with harness.engine.connect() as conn:
        stored = (await conn.execute(select(outbox.c.traceparent))).scalar_one()
    assert stored.split("-")[1] == TRACE_ID


def test_with_an_exporter_configured_requests_get_server_spans_that_continue_the_callers_trace():
    # A subprocess: the tracer provider is process-global, and the rest of the suite runs without one.
    script = """
import asyncio, os, httpx
from ltc.leads.bootstrap import SPEC
from ltc.shared.service import create_app
from ltc.shared.settings import ServiceSettings

TRACEPARENT = os.environ["TRACEPARENT"]

async def main():
    app = create_app(SPEC, ServiceSettings(service_name="leads", run_workers=False, log_json=False))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://leads") as client:
        assert (await client.get("/no-such-route", headers={"traceparent": TRACEPARENT})).status_code == 404

asyncio.run(main())
"""
    env = {**os.environ, "LTC_TRACES_EXPORTER": "console", "TRACEPARENT": INCOMING}
    done = subprocess.run([sys.executable, "-c", script], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert '"kind": "SpanKind.SERVER"' in done.stdout
    assert f'"trace_id": "0x{TRACE_ID}"' in done.stdout
