"""The leads REST API on the real database: the thin flow's first stage and its bad-input answers."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from ltc.leads.bootstrap import SPEC
from ltc.shared.db import outbox
from ltc.shared.testing.apps import auth, runtime_of, service_client

pytestmark = pytest.mark.integration

AR = auth("ar-li", "ar")
OTHER_AR = auth("ar-wang", "ar")
EVIDENCE = [{"criterion": c, "source": "workshop minutes", "who": "CTO", "when": "2026-10-30"}
            for c in ("customer_identified", "purchase_intent", "matching_solution")]


@pytest.fixture(scope="module")
async def client(make_database, kafka_bootstrap):
    async with service_client(SPEC, await make_database("leads"), kafka_bootstrap) as client:
        yield client


async def _account(client) -> str:
    response = await client.post("/api/v1/accounts", json={"name": "ACME Telecom", "industry": "telecom"}, headers=AR)
    assert response.status_code == 201
    return response.json()["id"]


async def _lead(client, account_id: str, title: str = "Core upgrade", need: str = "5G capacity") -> dict:
    response = await client.post("/api/v1/leads", headers=AR, json={
        "account_id": account_id, "title": title, "need": need, "channel": "technical_exchange",
        "tier": "key"})
    assert response.status_code == 201, response.text
    assert response.headers["location"] == f"/api/v1/leads/{response.json()['id']}"
    return response.json()


def _at(headers: dict, answer) -> dict:
    """`headers` with If-Match naming the version `answer` (a response or a read body) carries."""
    tag = answer["etag"] if isinstance(answer, dict) else answer.headers["etag"]
    return {**headers, "If-Match": tag}


async def _events(client, lead_id: str) -> list[str]:
    async with runtime_of(client).engine.connect() as conn:
        rows = await conn.execute(select(outbox.c.type).where(outbox.c.key == lead_id).order_by(outbox.c.seq))
        return [r.type for r in rows]


async def test_a_lead_is_graded_step_by_step_and_converted_with_its_events(client):
    lead = await _lead(client, await _account(client))
    lead_id = lead["id"]
    assert lead["grade"] == "initial" and lead["self_generated"] is True and lead["owner"] == "ar-li"

    response = await client.post(f"/api/v1/leads/{lead_id}/grade", headers=_at(AR, lead),
                                 json={"to": "credible", "evidence": EVIDENCE})
    assert response.status_code == 200 and response.json()["grade"] == "credible"
    response = await client.post(f"/api/v1/leads/{lead_id}/grade", headers=_at(AR, response),
                                 json={"to": "opportunity", "budget": {"amount": "1200000.00", "currency": "EUR"},
                                       "start_date": "2027-01-15"})
    assert response.status_code == 200 and response.json()["budget"] == {"amount": "1200000.00", "currency": "EUR"}
    response = await client.post(f"/api/v1/leads/{lead_id}/convert", headers=_at(AR, response))
    assert response.status_code == 200 and response.json()["grade"] == "converted"

    assert await _events(client, lead_id) == [
        "ltc.lead.created.v1", "ltc.lead.graded.v1", "ltc.lead.graded.v1", "ltc.lead.graded.v1",
        "ltc.lead.converted.v1"]


async def test_unmet_criteria_are_named(client):
    lead = await _lead(client, await _account(client))
    response = await client.post(f"/api/v1/leads/{lead['id']}/grade", headers=_at(AR, lead),
                                 json={"to": "credible", "evidence": EVIDENCE[:1]})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["rule"] == "lead-criteria-unmet"
    assert {e["criterion"] for e in body["errors"]} == {"purchase_intent", "matching_solution"}


async def test_converting_too_early_is_a_conflict_naming_the_rule(client):
    lead = await _lead(client, await _account(client))
    response = await client.post(f"/api/v1/leads/{lead['id']}/convert", headers=_at(AR, lead))
    assert response.status_code == 409 and response.json()["rule"] == "lead-not-opportunity-grade"
    assert await _events(client, lead["id"]) == ["ltc.lead.created.v1"]  # nothing half-written


async def test_a_stale_etag_is_refused(client):
    lead = await _lead(client, await _account(client))
    response = await client.post(f"/api/v1/leads/{lead['id']}/grade", headers={**AR, "If-Match": '"99"'},
                                 json={"to": "credible", "evidence": EVIDENCE})
    assert response.status_code == 412


async def test_idempotency_key_replays_and_refuses_reuse(client):
    account_id = await _account(client)
    body = {"account_id": account_id, "title": "Edge cloud", "need": "latency", "channel": "tender"}
    headers = {**AR, "Idempotency-Key": str(uuid.uuid4())}
    first = await client.post("/api/v1/leads", json=body, headers=headers)
    second = await client.post("/api/v1/leads", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    listed = await client.get(f"/api/v1/leads?account_id={account_id}", headers=AR)
    assert len(listed.json()["items"]) == 1
    other = await client.post("/api/v1/leads", json={**body, "title": "Something else"}, headers=headers)
    assert other.status_code == 422 and other.json()["type"].endswith("idempotency-key-reused")


async def test_list_is_paginated_with_an_opaque_cursor(client):
    account_id = await _account(client)
    # Three different needs: the same one three times would be refused as duplicates.
    created = [(await _lead(client, account_id, title, need))["id"]
               for title, need in (("Core upgrade", "5G capacity"), ("Billing migration", "legacy billing"),
                                   ("Data centre cooling", "energy cost"))]
    page = await client.get(f"/api/v1/leads?account_id={account_id}&limit=2", headers=AR)
    assert page.status_code == 200 and len(page.json()["items"]) == 2 and page.json()["next_cursor"]
    rest = await client.get(f"/api/v1/leads?account_id={account_id}&limit=2&cursor={page.json()['next_cursor']}",
                            headers=AR)
    assert [i["id"] for i in page.json()["items"] + rest.json()["items"]] == created
    assert rest.json()["next_cursor"] is None
    bad = await client.get("/api/v1/leads?cursor=garbage", headers=AR)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "cursor"


@pytest.mark.parametrize(("content", "status", "field"), [
    (b"{not json", 400, None),
    (b'{"title": "x", "need": "y", "channel": "tender"}', 422, "account_id"),
    (b'{"account_id": "7", "title": "x", "need": "y", "channel": "tender"}', 422, "account_id"),
    (b'{"account_id": "3f2e1d0c-b9a8-4765-8432-10fedcba9876", "title": 5, "need": "y", "channel": "tender"}', 422, "title"),
    (b'{"account_id": "3f2e1d0c-b9a8-4765-8432-10fedcba9876", "title": "x", "need": "y", "channel": "fax"}', 422, "channel"),
])
async def test_bad_input_is_a_problem_naming_the_field(client, content, status, field):
    response = await client.post("/api/v1/leads", content=content,
                                 headers={**AR, "content-type": "application/json"})
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    if field:
        assert field in [e["field"] for e in response.json()["errors"]]


async def test_bad_money_is_a_problem_naming_the_field(client):
    lead = await _lead(client, await _account(client))
    credible = await client.post(f"/api/v1/leads/{lead['id']}/grade", headers=_at(AR, lead),
                                 json={"to": "credible", "evidence": EVIDENCE})
    assert credible.status_code == 200, credible.text
    for budget, field in (({"amount": 12.5, "currency": "EUR"}, "budget.amount"),
                          ({"amount": "12.50", "currency": "XXQ"}, "budget.currency"),
                          ({"amount": "abc", "currency": "EUR"}, "budget.amount")):
        response = await client.post(f"/api/v1/leads/{lead['id']}/grade", headers=_at(AR, credible),
                                     json={"to": "opportunity", "budget": budget, "start_date": "2027-01-01"})
        assert response.status_code == 422, response.text
        assert field in [e["field"] for e in response.json()["errors"]]


async def test_unknown_ids_are_not_found_and_other_peoples_leads_are_readable_but_not_changeable(client):
    response = await client.get(f"/api/v1/leads/{uuid.uuid4()}", headers=AR)
    assert response.status_code == 404 and response.headers["content-type"] == "application/problem+json"
    lead = await _lead(client, await _account(client))
    assert (await client.get(f"/api/v1/leads/{lead['id']}", headers=OTHER_AR)).status_code == 200
    response = await client.post(f"/api/v1/leads/{lead['id']}/convert", headers=_at(OTHER_AR, lead))
    assert response.status_code == 403 and response.headers["content-type"] == "application/problem+json"
    response = await client.post("/api/v1/leads", headers=AR, json={
        "account_id": str(uuid.uuid4()), "title": "x", "need": "y", "channel": "tender"})
    assert response.status_code == 404


async def test_missing_or_bad_token_is_401_and_wrong_role_is_403(client):
    assert (await client.get("/api/v1/leads")).status_code == 401
    response = await client.get("/api/v1/leads", headers={"Authorization": "Bearer not-a-jwt"})
    assert response.status_code == 401 and response.headers["content-type"] == "application/problem+json"
    response = await client.post("/api/v1/accounts", json={"name": "x"}, headers=auth("fin-1", "finance"))
    assert response.status_code == 403 and response.headers["content-type"] == "application/problem+json"


async def test_health_and_readiness(client):
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"database": "ok", "migrations": "ok", "kafka": "ok"}
