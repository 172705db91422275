"""The opportunities REST API and its lead.converted handler on the real database."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import uuid
from datetime import UTC, date, datetime

import httpx
import pytest
from fastapi.routing import APIRoute
from sqlalchemy import select

from ltc.opportunities import handlers
from ltc.opportunities.api.routes import router
from ltc.opportunities.api.schemas import StakeholderIn
from ltc.opportunities.bootstrap import SPEC
from ltc.shared.api import request_hash
from ltc.shared.db import idempotency_keys, inbox, outbox
from ltc.shared.kafka import make_producer
from ltc.shared.messages import Lineage, MoneyPayload
from ltc.shared.messages.envelope import Envelope
from ltc.shared.messages.leads_events import LeadConverted
from ltc.shared.openapi import if_match_required
from ltc.shared.testing.apps import auth, runtime_of, service_client

pytestmark = pytest.mark.integration

AR = auth("ar-zhang", "ar")
OTHER_AR = auth("ar-wang", "ar")
ADMIN = auth("admin-1", "admin")
SR = auth("sr-chen", "sr")
FR = auth("fr-sun", "fr")
SR_AND_AR = auth("sr-liu", "sr", "ar")
FINANCE = auth("fin-zhao", "finance")
L1 = auth("approver-l1", "approver_l1")
L2 = auth("approver-l2", "approver_l2")
L3 = auth("approver-l3", "approver_l3")

TENDER = {"title": "Metro line 4 signalling", "account_name": "City Metro", "need": "CBTC for line 4",
          "budget": {"amount": "2500000.00", "currency": "EUR"}, "start_date": "2027-03-01"}
TERMS = {
    "value": {"amount": "2400000.00", "currency": "EUR"},
    "line_items": [
        {"description": "interlocking", "quantity": "2", "unit_price": {"amount": "900000.00", "currency": "EUR"}},
        {"description": "installation", "quantity": "1", "unit_price": {"amount": "600000.00", "currency": "EUR"}},
    ],
    "payment_terms": [
        {"name": "advance", "percent": "30", "trigger": "signing", "milestone": None, "due_days": 30},
        {"name": "on installation", "percent": "60", "trigger": "milestone", "milestone": "installation",
         "due_days": 45},
        {"name": "retention", "percent": "10", "trigger": "milestone", "milestone": "handover", "due_days": 60},
    ],
    "milestones": [
        {"name": "installation", "planned_date": "2027-09-01", "acceptance_type": "preliminary"},
        {"name": "handover", "planned_date": "2028-01-15", "acceptance_type": "final"},
    ],
}


@pytest.fixture(scope="module")
async def client(make_database, kafka_bootstrap):
    async with service_client(SPEC, await make_database("opportunities"), kafka_bootstrap) as client:
        yield client


async def _create(client, headers=AR, **changes) -> dict:
    response = await client.post("/api/v1/opportunities", headers=headers, json={**TENDER, **changes})
    assert response.status_code == 201, response.text
    return response.json()


async def _events(client, opportunity_id: str) -> list[tuple[str, dict]]:
    async with runtime_of(client).engine.connect() as conn:
        rows = await conn.execute(select(outbox.c.type, outbox.c.payload)
                                  .where(outbox.c.key == opportunity_id).order_by(outbox.c.seq))
        return [(r.type, r.payload) for r in rows]


def _etag(opportunity: dict) -> str:
    return f'"{opportunity["version"]}"'


async def _send(client, opportunity: dict, method: str, path: str, body=None, headers=AR, status: int = 200) -> dict:
    """A change with the opportunity's current ETag; returns the opportunity as it now is."""
    response = await client.request(method, f"/api/v1/opportunities/{opportunity['id']}{path}", json=body,
                                    headers={**headers, "If-Match": _etag(opportunity)})
    assert response.status_code == status, response.text
    assert response.headers["etag"] != _etag(opportunity)
    return (await client.get(f"/api/v1/opportunities/{opportunity['id']}", headers=ADMIN)).json()


async def _team(client, opportunity: dict, sr: str = "sr-chen", fr: str = "fr-sun") -> dict:
    return await _send(client, opportunity, "PUT", "/team", {"sr": sr, "fr": fr})


INSIGHT = {
    "market": {"situation": "value_breakthrough", "notes": "first CBTC line in the region"},
    "customer": {"segment": "urban rail", "region_value": "capital region, flagship", "strategy": "driverless by 2030",
                 "pains": "headways too long"},
    "product": {"phase": "growth", "notes": "CBTC 3rd generation"},
    "competition": {"industry_situation": "three global vendors", "customer_competitors": "regional bus operators",
                    "our_goals": "win the reference line", "our_strategy": "total cost of ownership",
                    "our_strengths": "availability record", "our_weaknesses": "no local plant"},
}
VALUE_PROPOSITION = {"unique_advantages": "99.99% availability", "unique_value": "shorter headways without new track",
                     "need_met": "largely", "need_met_notes": "depot automation comes later",
                     "differentiation": "only vendor with a running driverless line"}


def _stakeholder(role: str, name: str, **changes) -> dict:
    return {"name": name, "title": "director", "decision_role": role, "influence": 5, "attitude": "supporter",
            "relationship": "good", **changes}


async def _ready_for_atb(client, opportunity: dict, owner=AR) -> dict:
    """Everything ATB asks for: the iron triangle, insight, value proposition, decision maker and buyer."""
    opportunity = await _send(client, opportunity, "PUT", "/team", {"sr": "sr-chen", "fr": "fr-sun"}, headers=owner)
    opportunity = await _send(client, opportunity, "PUT", "/insight", INSIGHT, headers=owner)
    opportunity = await _send(client, opportunity, "PUT", "/value-proposition", VALUE_PROPOSITION, headers=SR)
    opportunity = await _send(client, opportunity, "POST", "/stakeholders", _stakeholder("decision_maker", "Ms Li"),
                              headers=owner, status=201)
    return await _send(client, opportunity, "POST", "/stakeholders", _stakeholder("economic_buyer", "Mr Wu"),
                       headers=owner, status=201)


async def _current(client, opportunity: dict) -> str:
    """The opportunity's ETag now, as a caller reads it before acting (e.g. from the to-do list)."""
    response = await client.get(f"/api/v1/opportunities/{opportunity['id']}", headers=ADMIN)
    assert response.json()["etag"] == response.headers["etag"]
    return response.headers["etag"]


async def _gate(client, opportunity: dict, gate: str, headers=AR) -> httpx.Response:
    return await client.post(f"/api/v1/opportunities/{opportunity['id']}/gates",
                             headers={**headers, "If-Match": await _current(client, opportunity)}, json={"gate": gate})


async def _decide(client, opportunity: dict, gate: str, outcome: str, headers, **extra) -> httpx.Response:
    return await client.post(f"/api/v1/opportunities/{opportunity['id']}/decisions",
                             headers={**headers, "If-Match": await _current(client, opportunity)},
                             json={"gate": gate, "outcome": outcome, **extra})


async def _through_atb(client, ready: dict | None = None) -> dict:
    """An opportunity in bidding, its ATB (routed to L2 by its 2.5 M EUR budget) approved."""
    opportunity = ready or await _ready_for_atb(client, await _create(client))
    assert (await _gate(client, opportunity, "ATB")).status_code == 201
    assert (await _decide(client, opportunity, "ATB", "approved", L2)).status_code == 201
    opportunity = (await client.get(f"/api/v1/opportunities/{opportunity['id']}", headers=AR)).json()
    opportunity = await _send(client, opportunity, "POST", "/stage", {"to": "strategizing"})
    return await _send(client, opportunity, "POST", "/stage", {"to": "bidding"})


def _problem(response, status: int, rule: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body.get("rule", body["type"].rsplit("/", 1)[-1]) == rule
    return body


async def test_a_tender_opens_an_opportunity_owned_by_the_caller(client):
    response = await client.post("/api/v1/opportunities", headers=AR, json=TENDER)

    assert response.status_code == 201, response.text
    opportunity = response.json()
    assert response.headers["location"] == f"/api/v1/opportunities/{opportunity['id']}"
    assert response.headers["etag"] == f'"{opportunity["version"]}"'
    assert opportunity["stage"] == "validating" and opportunity["owner"] == "ar-zhang"
    assert opportunity["lead_id"] is None and opportunity["account_id"] is None
    assert opportunity["budget"] == {"amount": "2500000.00", "currency": "EUR"}
    assert opportunity["lineage"] == {"lead_id": None, "opportunity_id": opportunity["id"], "contract_id": None}
    [(event_type, payload)] = await _events(client, opportunity["id"])
    assert event_type == "ltc.opportunity.created.v1"
    assert payload["lead_id"] is None and payload["owner"] == "ar-zhang"

    read = await client.get(f"/api/v1/opportunities/{opportunity['id']}", headers=AR)
    assert read.status_code == 200 and read.json() == opportunity


async def test_budget_and_start_date_are_optional_and_an_account_may_be_named(client):
    account_id = str(uuid.uuid4())
    opportunity = await _create(client, budget=None, start_date=None, account_id=account_id)
    assert opportunity["budget"] is None and opportunity["start_date"] is None
    assert opportunity["account_id"] == account_id


async def test_losing_records_reason_and_competitor_and_publishes_it(client):
    opportunity = await _create(client)
    response = await client.post(f"/api/v1/opportunities/{opportunity['id']}/lose",
                                 headers={**AR, "If-Match": _etag(opportunity)},
                                 json={"reason": "price 15% above the winner", "competitor": "Rival Rail"})

    assert response.status_code == 200, response.text
    lost = response.json()
    assert lost["stage"] == "lost" and lost["closed_reason"] == "price 15% above the winner"
    assert lost["competitor"] == "Rival Rail"
    event_type, payload = (await _events(client, opportunity["id"]))[-1]
    assert event_type == "ltc.opportunity.lost.v1"
    assert payload["reason"] == "price 15% above the winner" and payload["competitor"] == "Rival Rail"


async def test_abandoning_records_the_reason_and_announces_only_the_stage_change(client):
    opportunity = await _create(client)
    response = await client.post(f"/api/v1/opportunities/{opportunity['id']}/abandon",
                                 headers={**ADMIN, "If-Match": _etag(opportunity)},
                                 json={"reason": "customer froze the budget"})

    assert response.status_code == 200, response.text
    assert response.json()["stage"] == "abandoned" and response.json()["closed_by"] == "admin-1"
    events = await _events(client, opportunity["id"])
    assert [t for t, _ in events] == ["ltc.opportunity.created.v1", "ltc.opportunity.stage_changed.v1"]
    assert events[-1][1]["to_stage"] == "abandoned" and events[-1][1]["probability"] == "0"


@pytest.mark.parametrize("action, body", [
    ("win", None), ("lose", {"reason": "late"}), ("abandon", {"reason": "no budget"})])
async def test_a_closed_opportunity_refuses_every_action(client, action, body):
    opportunity = await _create(client)
    lost = await client.post(f"/api/v1/opportunities/{opportunity['id']}/lose",
                             headers={**AR, "If-Match": _etag(opportunity)}, json={"reason": "lost on price"})
    assert lost.status_code == 200

    response = await client.post(f"/api/v1/opportunities/{opportunity['id']}/{action}",
                                 headers={**AR, "If-Match": lost.headers["etag"]}, json=body)

    _problem(response, 409, "opportunity-closed")


@pytest.mark.parametrize("action", ["lose", "abandon"])
async def test_a_blank_reason_is_refused(client, action):
    opportunity = await _create(client)
    response = await client.post(f"/api/v1/opportunities/{opportunity['id']}/{action}",
                                 headers={**AR, "If-Match": _etag(opportunity)}, json={"reason": "   "})
    body = _problem(response, 422, "validation-error")
    assert [e["field"] for e in body["errors"]] == ["reason"]


async def test_a_stale_if_match_is_refused(client):
    opportunity = await _create(client)
    response = await client.post(f"/api/v1/opportunities/{opportunity['id']}/lose",
                                 headers={**AR, "If-Match": '"999"'}, json={"reason": "late"})
    _problem(response, 412, "stale-etag")


async def test_malformed_json_is_a_400(client):
    response = await client.post("/api/v1/opportunities", headers={**AR, "Content-Type": "application/json"},
                                 content=b'{"title": ')
    _problem(response, 400, "malformed-json")


@pytest.mark.parametrize("body, field", [
    ({k: v for k, v in TENDER.items() if k != "title"}, "title"),
    ({**TENDER, "budget": {"amount": 2500000.5, "currency": "EUR"}}, "budget.amount"),
    ({**TENDER, "budget": {"amount": "NaN", "currency": "EUR"}}, "budget.amount"),
    ({**TENDER, "budget": {"amount": "10.001", "currency": "EUR"}}, "budget"),
    ({**TENDER, "budget": {"amount": "10.00", "currency": "EURO"}}, "budget.currency"),
    ({**TENDER, "owner": "someone-else"}, "owner"),
])
async def test_bad_creation_input_names_the_field(client, body, field):
    response = await client.post("/api/v1/opportunities", headers=AR, json=body)
    problem = _problem(response, 422, "validation-error")
    assert field in [e["field"] for e in problem["errors"]]


async def test_a_non_positive_budget_is_refused(client):
    response = await client.post("/api/v1/opportunities", headers=AR,
                                 json={**TENDER, "budget": {"amount": "0", "currency": "EUR"}})
    _problem(response, 422, "budget-not-positive")


@pytest.mark.parametrize("terms, field", [
    ({**TERMS, "value": {"amount": "1.001", "currency": "EUR"}}, "value"),
    ({**TERMS, "payment_terms": [{**TERMS["payment_terms"][0], "trigger": "delivery"}]}, "payment_terms.0.trigger"),
    ({**TERMS, "payment_terms": [{**TERMS["payment_terms"][0], "percent": 100.0}]}, "payment_terms.0.percent"),
    ({**TERMS, "milestones": [{**TERMS["milestones"][0], "acceptance_type": "partial"}]},
     "milestones.0.acceptance_type"),
    ({**TERMS, "line_items": [{**TERMS["line_items"][0], "quantity": 1.5}]}, "line_items.0.quantity"),
    ({**TERMS, "line_items": [{**TERMS["line_items"][0], "unit": "hour"}]}, "line_items.0.unit"),
    ({**TERMS, "line_items": [{**TERMS["line_items"][0], "supply": "software"}]}, "line_items.0.supply"),
    ({**TERMS, "line_items": [{**TERMS["line_items"][0], "vat": {"category": "X", "rate": "0"}}]},
     "line_items.0.vat.category"),
    ({**TERMS, "line_items": [{**TERMS["line_items"][0], "position": 0}]}, "line_items.0.position"),
    ({**TERMS, "penalties": []}, "penalties"),
])
async def test_malformed_terms_name_the_field(client, terms, field):
    opportunity = await _create(client)
    response = await client.patch(f"/api/v1/opportunities/{opportunity['id']}/terms",
                                  headers={**AR, "If-Match": _etag(opportunity)}, json=terms)
    problem = _problem(response, 422, "validation-error")
    assert field in [e["field"] for e in problem["errors"]]


async def test_unknown_ids_are_404(client):
    unknown = uuid.uuid4()
    _problem(await client.get(f"/api/v1/opportunities/{unknown}", headers=AR), 404, "not-found")
    _problem(await client.post(f"/api/v1/opportunities/{unknown}/lose", headers={**AR, "If-Match": '"1"'},
                               json={"reason": "x"}), 404, "not-found")


async def test_a_token_is_required(client):
    response = await client.get("/api/v1/opportunities")
    _problem(response, 401, "missing-token")


async def test_roles_are_checked_per_endpoint(client):
    opportunity = await _create(client)
    _problem(await client.post("/api/v1/opportunities", headers=FINANCE, json=TENDER), 403, "forbidden-role")
    _problem(await client.post("/api/v1/opportunities", headers=SR, json=TENDER), 403, "forbidden-role")
    _problem(await client.get(f"/api/v1/opportunities/{opportunity['id']}", headers=FINANCE), 403, "forbidden-role")
    _problem(await client.post(f"/api/v1/opportunities/{opportunity['id']}/win",
                               headers={**SR, "If-Match": _etag(opportunity)}), 403, "forbidden-role")


async def test_another_account_manager_cannot_see_or_change_the_opportunity(client):
    opportunity = await _create(client)
    _problem(await client.get(f"/api/v1/opportunities/{opportunity['id']}", headers=OTHER_AR), 404, "not-found")
    _problem(await client.post(f"/api/v1/opportunities/{opportunity['id']}/lose",
                               headers={**OTHER_AR, "If-Match": _etag(opportunity)}, json={"reason": "x"}),
             404, "not-found")
    listed = await client.get("/api/v1/opportunities", headers=OTHER_AR, params={"owner": "ar-zhang"})
    assert listed.status_code == 200 and listed.json()["items"] == []


@pytest.mark.parametrize("roles", [("approver_l1",), ("approver_l2",), ("approver_l3",), ("integration",), ("admin",)])
async def test_the_deciders_and_operators_may_read_every_opportunity(client, roles):
    opportunity = await _create(client)
    response = await client.get(f"/api/v1/opportunities/{opportunity['id']}", headers=auth("reader", *roles))
    assert response.status_code == 200


async def test_solution_and_fulfilment_managers_see_only_the_opportunities_they_are_on(client):
    opportunity = await _create(client)
    for headers in (SR, FR, SR_AND_AR):
        _problem(await client.get(f"/api/v1/opportunities/{opportunity['id']}", headers=headers), 404, "not-found")
    await _team(client, opportunity)
    for headers in (SR, FR):
        assert (await client.get(f"/api/v1/opportunities/{opportunity['id']}", headers=headers)).status_code == 200
        listed = await client.get("/api/v1/opportunities", headers=headers, params={"owner": "ar-zhang"})
        assert opportunity["id"] in [o["id"] for o in listed.json()["items"]]
    listed = await client.get("/api/v1/opportunities", headers=SR_AND_AR, params={"owner": "ar-zhang"})
    assert listed.json()["items"] == []


async def test_a_team_member_who_does_not_own_gets_403_on_the_owners_actions(client):
    opportunity = await _team(client, await _create(client), sr="sr-liu")
    response = await client.post(f"/api/v1/opportunities/{opportunity['id']}/abandon",
                                 headers={**SR_AND_AR, "If-Match": _etag(opportunity)},
                                 json={"reason": "not mine to drop"})
    _problem(response, 403, "not-opportunity-owner")


async def test_the_list_filters_and_pages(client):
    owner = f"ar-{uuid.uuid4().hex[:8]}"
    headers = auth(owner, "ar")
    created = [await _create(client, headers=headers, title=f"Tender {n}") for n in range(3)]
    await _send(client, created[0], "POST", "/lose", {"reason": "price"}, headers=headers)

    first = await client.get("/api/v1/opportunities", headers=headers, params={"limit": 2})
    assert first.status_code == 200
    # Every item carries its ETag: a client acts on it without reading it again.
    assert [o["etag"] for o in first.json()["items"]] == [f'"{o["version"]}"' for o in first.json()["items"]]
    assert [o["id"] for o in first.json()["items"]] == [o["id"] for o in created[:2]]
    second = await client.get("/api/v1/opportunities", headers=headers,
                              params={"limit": 2, "cursor": first.json()["next_cursor"]})
    assert [o["id"] for o in second.json()["items"]] == [created[2]["id"]]
    assert second.json()["next_cursor"] is None

    lost = await client.get("/api/v1/opportunities", headers=L1, params={"owner": owner, "stage": "lost"})
    assert [o["id"] for o in lost.json()["items"]] == [created[0]["id"]]
    bad = await client.get("/api/v1/opportunities", headers=L1, params={"stage": "closed"})
    assert "stage" in [e["field"] for e in _problem(bad, 422, "validation-error")["errors"]]
    bad = await client.get("/api/v1/opportunities", headers=L1, params={"cursor": "not-a-cursor"})
    _problem(bad, 422, "validation-error")


async def test_an_idempotency_key_replays_the_first_creation(client):
    owner = f"ar-{uuid.uuid4().hex[:8]}"
    headers = {**auth(owner, "ar"), "Idempotency-Key": "tender-2026-114"}
    first = await client.post("/api/v1/opportunities", headers=headers, json=TENDER)
    again = await client.post("/api/v1/opportunities", headers=headers, json=TENDER)

    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    listed = await client.get("/api/v1/opportunities", headers=headers, params={"owner": owner})
    assert len(listed.json()["items"]) == 1
    assert len(await _events(client, first.json()["id"])) == 1

    other = await client.post("/api/v1/opportunities", headers=headers, json={**TENDER, "title": "Another"})
    _problem(other, 422, "idempotency-key-reused")


def _lead_converted(lead_id: uuid.UUID) -> tuple[LeadConverted, Envelope]:
    now = datetime.now(UTC)
    event = LeadConverted(
        lineage=Lineage(lead_id=lead_id), lead_id=lead_id, account_id=uuid.uuid4(), account_name="Harbour Authority",
        title="Port automation", need="crane scheduling", channel="technical_exchange", self_generated=True,
        tier="key", owner="ar-lead-owner", budget=MoneyPayload(amount="800000.00", currency="USD"),
        start_date=date(2027, 2, 1), converted_at=now)
    envelope = Envelope(id=str(uuid.uuid4()), type=LeadConverted.ce_type(), source="leads", subject=str(lead_id),
                        time=now, data=event.model_dump(mode="json"))
    return event, envelope


async def test_a_converted_lead_opens_exactly_one_opportunity(client):
    lead_id = uuid.uuid4()
    event, envelope = _lead_converted(lead_id)
    for _ in range(2):
        async with runtime_of(client).unit_of_work() as uow:
            await handlers.on_lead_converted(uow, event, envelope)
            await uow.commit()

    listed = await client.get("/api/v1/opportunities", headers=ADMIN, params={"lead_id": str(lead_id)})
    [opportunity] = listed.json()["items"]
    assert opportunity["owner"] == "ar-lead-owner" and opportunity["stage"] == "validating"
    assert opportunity["account_id"] == str(event.account_id) and opportunity["account_name"] == "Harbour Authority"
    assert opportunity["budget"] == {"amount": "800000.00", "currency": "USD"}
    assert opportunity["start_date"] == "2027-02-01" and opportunity["need"] == "crane scheduling"
    assert opportunity["lineage"]["lead_id"] == str(lead_id)
    [(event_type, payload)] = await _events(client, opportunity["id"])
    assert event_type == "ltc.opportunity.created.v1" and payload["lead_id"] == str(lead_id)

    owner_view = await client.get(f"/api/v1/opportunities/{opportunity['id']}", headers=auth("ar-lead-owner", "ar"))
    assert owner_view.status_code == 200


async def test_a_lead_converted_delivered_twice_on_kafka_becomes_one_announced_opportunity(make_database,
                                                                                           kafka_bootstrap):
    lead_id = uuid.uuid4()
    _, envelope = _lead_converted(lead_id)
    # The same message redelivered, and the same conversion re-sent under a new message id.
    resent = dataclasses.replace(envelope, id=str(uuid.uuid4()))
    async with service_client(SPEC, await make_database("opportunities"), kafka_bootstrap, run_workers=True) as client:
        producer = make_producer(kafka_bootstrap)
        await producer.start()
        try:
            for message in (envelope, envelope, resent):
                key, value, headers = message.to_kafka()
                await producer.send_and_wait("ltc.leads", value, key=key, headers=headers)
        finally:
            await producer.stop()

        async with asyncio.timeout(60):
            while not (items := (await client.get("/api/v1/opportunities", headers=ADMIN,
                                                  params={"lead_id": str(lead_id)})).json()["items"]):
                await asyncio.sleep(0.2)
            [opportunity] = items
            assert opportunity["owner"] == "ar-lead-owner"
            while True:
                async with runtime_of(client).engine.connect() as conn:
                    sent_at = (await conn.execute(select(outbox.c.sent_at)
                                                  .where(outbox.c.key == opportunity["id"]))).scalar_one()
                if sent_at is not None:
                    break
                await asyncio.sleep(0.2)
            while True:
                async with runtime_of(client).engine.connect() as conn:
                    handled = set((await conn.execute(select(inbox.c.message_id))).scalars())
                if {envelope.id, resent.id} <= handled:
                    break
                await asyncio.sleep(0.2)
        listed = await client.get("/api/v1/opportunities", headers=ADMIN, params={"lead_id": str(lead_id)})
        assert [o["id"] for o in listed.json()["items"]] == [opportunity["id"]]
        assert [t for t, _ in await _events(client, opportunity["id"])] == ["ltc.opportunity.created.v1"]


# -- gates, tiers, decisions ----------------------------------------------------------------------

async def test_atb_on_a_bare_opportunity_lists_every_missing_prerequisite(client):
    opportunity = await _create(client)
    high = {"description": "civil works late", "category": "delivery", "probability": "high", "impact": "high",
            "owner": "ar-zhang"}
    opportunity = await _send(client, opportunity, "POST", "/risks", high, status=201)

    body = _problem(await _gate(client, opportunity, "ATB"), 422, "gate-prerequisites-missing")

    risk_id = opportunity["risks"][0]["id"]
    assert [e["field"] for e in body["errors"]] == [
        "team.sr", "team.fr", "insight.market", "insight.customer", "insight.product", "insight.competition",
        "value_proposition", "power_map.decision_maker", "power_map.economic_buyer", f"risks.{risk_id}.mitigation"]
    read = (await client.get(f"/api/v1/opportunities/{opportunity['id']}", headers=AR)).json()
    assert read["gates"] == [] and read["gate_prerequisites_missing"]["ATB"] == body["errors"]


async def test_atc_before_bidding_and_without_terms_is_refused(client):
    opportunity = await _ready_for_atb(client, await _create(client))
    _problem(await _gate(client, opportunity, "ATC"), 409, "gate-not-in-this-stage")
    opportunity = await _through_atb(client, opportunity)

    body = _problem(await _gate(client, opportunity, "ATC"), 422, "gate-prerequisites-missing")

    assert [e["field"] for e in body["errors"]] == [
        "terms.value", "terms.line_items", "terms.milestones", "terms.payment_terms"]


async def test_atc_names_each_line_that_cannot_be_contracted_on_and_keeps_the_terms(client):
    """A line is agreed at ATC: an unknown unit, a VAT without what its category needs, a milestone
    the terms lack and lines off the value are each named, and nothing is approved or lost."""
    opportunity = await _through_atb(client)
    bad = [{**TERMS["line_items"][0], "unit": "ZZZ", "vat": {"category": "E", "rate": "0"}},
           {**TERMS["line_items"][1], "milestone": "go-live", "quantity": "2"}]
    changed = await _send(client, opportunity, "PATCH", "/terms", {**TERMS, "line_items": bad})
    assert [line["net"]["amount"] for line in changed["draft_terms"]["line_items"]] == ["1800000.00", "1200000.00"]

    body = _problem(await _gate(client, changed, "ATC"), 422, "gate-prerequisites-missing")

    assert [e["field"] for e in body["errors"]] == [
        "terms.line_items.0.unit", "terms.line_items.0.vat.exemption_reason", "terms.line_items.1.milestone",
        "terms.line_items"]
    read = (await client.get(f"/api/v1/opportunities/{opportunity['id']}", headers=AR)).json()
    assert read["draft_terms"]["line_items"][0]["unit"] == "ZZZ" and read["gates"][-1]["gate"] == "ATB"


async def test_atb_is_routed_by_value_decided_at_its_tier_and_announced(client):
    opportunity = await _ready_for_atb(client, await _create(client))

    response = await _gate(client, opportunity, "ATB")

    assert response.status_code == 201, response.text
    request = response.json()
    assert response.headers["location"] == f"/api/v1/opportunities/{opportunity['id']}/gates/{request['id']}"
    assert request["tier"] == request["routed_tier"] == "L2" and request["status"] == "pending"
    assert request["value"] == {"amount": "2500000.00", "currency": "EUR"} and not request["high_risk"]
    listed = await client.get("/api/v1/opportunities", headers=L2, params={"pending_tier": "L2"})
    assert opportunity["id"] in [o["id"] for o in listed.json()["items"]]
    _problem(await _decide(client, opportunity, "ATB", "approved", L1), 403, "decision-beyond-authority")
    _problem(await _gate(client, opportunity, "ATB"), 409, "gate-request-pending")

    decided = await _decide(client, opportunity, "ATB", "approved", L3, conditions="margin above 18%",
                            comment="strong coach")

    assert decided.status_code == 201, decided.text
    assert decided.json()["request_status"] == "approved"
    assert decided.json()["decision"]["decider"] == "approver-l3" and decided.json()["decision"]["tier"] == "L2"
    _problem(await _decide(client, opportunity, "ATB", "approved", L3), 409, "no-pending-gate-request")
    _problem(await _gate(client, opportunity, "ATB"), 409, "gate-approved")
    event_type, payload = (await _events(client, opportunity["id"]))[-1]
    assert event_type == "ltc.opportunity.decision_made.v1"
    assert (payload["gate"], payload["tier"], payload["outcome"], payload["decider"]) == (
        "ATB", "L2", "approved", "approver-l3")
    assert payload["conditions"] == "margin above 18%" and payload["comment"] == "strong coach"
    read = (await client.get(f"/api/v1/opportunities/{opportunity['id']}", headers=AR)).json()
    assert read["gates"][0]["decisions"][0]["id"] == decided.json()["decision"]["id"]


async def test_a_high_risk_raises_the_tier_and_a_tier_may_escalate(client):
    opportunity = await _create(client, budget={"amount": "50000.00", "currency": "EUR"})
    opportunity = await _ready_for_atb(client, opportunity)
    opportunity = await _send(client, opportunity, "POST", "/risks", {
        "description": "new signalling standard", "category": "technical", "probability": "high",
        "impact": "medium", "mitigation": "certify in the lab first", "owner": "sr-chen"}, headers=SR, status=201)
    assert opportunity["risks"][0]["level"] == "high"

    request = (await _gate(client, opportunity, "ATB")).json()
    assert (request["routed_tier"], request["high_risk"]) == ("L2", True)
    assert "raised from L1" in request["routing_reason"]

    escalated = await _decide(client, opportunity, "ATB", "escalated", L2, comment="strategic account")
    assert escalated.status_code == 201 and escalated.json()["request_status"] == "pending"
    _problem(await _decide(client, opportunity, "ATB", "approved", L2), 403, "decision-beyond-authority")
    _problem(await _decide(client, opportunity, "ATB", "escalated", L3), 409, "no-higher-tier")
    sent_back = await _decide(client, opportunity, "ATB", "sent_back", L3, comment="name the coach")
    assert sent_back.json()["request_status"] == "sent_back"
    outcomes = [(p["tier"], p["outcome"]) for t, p in await _events(client, opportunity["id"])
                if t == "ltc.opportunity.decision_made.v1"]
    assert outcomes == [("L2", "escalated"), ("L3", "sent_back")]
    again = await _gate(client, opportunity, "ATB")
    assert again.status_code == 201 and again.json()["tier"] == "L2"


async def test_a_rejected_bid_stays_rejected(client):
    opportunity = await _ready_for_atb(client, await _create(client))
    await _gate(client, opportunity, "ATB")
    assert (await _decide(client, opportunity, "ATB", "rejected", L2, comment="no margin")).status_code == 201
    _problem(await _gate(client, opportunity, "ATB"), 409, "gate-rejected")
    _problem(await _send_raw(client, opportunity, "POST", "/stage", {"to": "strategizing"}, L1), 403,
             "forbidden-role")


async def _send_raw(client, opportunity: dict, method: str, path: str, body, headers) -> httpx.Response:
    """A change as sent, by default with the ETag of `opportunity` (the caller's last answer)."""
    return await client.request(method, f"/api/v1/opportunities/{opportunity['id']}{path}", json=body,
                                headers={"If-Match": _etag(opportunity), **headers})


async def test_nobody_decides_on_their_own_request(client):
    boss = auth("ar-boss", "ar", "approver_l3")
    opportunity = await _ready_for_atb(client, await _create(client, headers=boss), owner=boss)
    assert (await _gate(client, opportunity, "ATB", headers=boss)).status_code == 201
    _problem(await _decide(client, opportunity, "ATB", "approved", boss), 403, "decider-is-requester")


async def test_only_deciders_decide(client):
    opportunity = await _ready_for_atb(client, await _create(client))
    await _gate(client, opportunity, "ATB")
    for headers in (AR, ADMIN):
        _problem(await _decide(client, opportunity, "ATB", "approved", headers), 403, "forbidden-role")


async def test_bidding_needs_an_approved_atb_and_stages_move_one_step(client):
    opportunity = await _create(client)
    _problem(await _send_raw(client, opportunity, "POST", "/stage", {"to": "bidding"}, AR), 409,
             "stage-transition-not-allowed")
    opportunity = await _send(client, opportunity, "POST", "/stage", {"to": "strategizing"})
    assert (opportunity["stage"], opportunity["probability"]) == ("strategizing", "25")
    _problem(await _send_raw(client, opportunity, "POST", "/stage", {"to": "bidding"}, AR), 409, "atb-not-approved")
    _problem(await _send_raw(client, opportunity, "POST", "/stage", {"to": "won"}, AR), 409,
             "closing-needs-its-action")
    _problem(await _send_raw(client, opportunity, "POST", "/win", None, AR), 409, "atc-not-approved")
    event_type, payload = (await _events(client, opportunity["id"]))[-1]
    assert event_type == "ltc.opportunity.stage_changed.v1"
    assert (payload["from_stage"], payload["to_stage"], payload["changed_by"]) == ("validating", "strategizing",
                                                                                   "ar-zhang")


async def test_won_on_the_terms_approved_at_atc(client):
    opportunity = await _through_atb(client)
    assert opportunity["stage"] == "bidding" and opportunity["probability"] == "50"
    pricing = {k: TERMS[k] for k in ("value", "line_items", "payment_terms")}
    opportunity = await _send(client, opportunity, "PATCH", "/terms", pricing, headers=SR)
    opportunity = await _send(client, opportunity, "PATCH", "/terms", {"milestones": TERMS["milestones"]},
                              headers=FR)
    assert opportunity["deal_value"] == TERMS["value"]
    _problem(await _send_raw(client, opportunity, "PATCH", "/terms", pricing,
                             {**FR, "If-Match": _etag(opportunity)}), 403, "not-permitted-on-opportunity")
    opportunity = await _send(client, opportunity, "POST", "/stage", {"to": "negotiating"})

    request = (await _gate(client, opportunity, "ATC")).json()
    assert request["tier"] == "L2" and request["terms"]["value"] == TERMS["value"]
    opportunity = (await client.get(f"/api/v1/opportunities/{opportunity['id']}", headers=AR)).json()
    _problem(await _send_raw(client, opportunity, "PATCH", "/terms", pricing,
                             {**SR, "If-Match": _etag(opportunity)}), 409, "gate-request-pending")
    decided = await _decide(client, opportunity, "ATC", "approved", L2)
    assert decided.status_code == 201
    keyed = {**AR, "Idempotency-Key": str(uuid.uuid4()), "If-Match": decided.headers["etag"]}
    response = await client.post(f"/api/v1/opportunities/{opportunity['id']}/win", headers=keyed)

    assert response.status_code == 200, response.text
    won = response.json()
    # The answer was lost and the win retried (with the If-Match the win made stale): the same
    # answer, one hand-over to contracts.
    retried = await client.post(f"/api/v1/opportunities/{opportunity['id']}/win", headers=keyed)
    assert retried.status_code == 200 and retried.json() == won
    _problem(await client.post(f"/api/v1/opportunities/{opportunity['id']}/win",
                               headers={**AR, "If-Match": _etag(won)}), 409, "opportunity-closed")
    assert won["stage"] == "won" and won["probability"] == "100" and won["closed_by"] == "ar-zhang"
    assert won["terms"]["value"] == TERMS["value"]
    assert [(t["percent"], t["milestone"]) for t in won["terms"]["payment_terms"]] == [
        ("30", None), ("60", "installation"), ("10", "handover")]
    events = await _events(client, opportunity["id"])
    assert [t for t, _ in events][-3:] == ["ltc.opportunity.decision_made.v1", "ltc.opportunity.stage_changed.v1",
                                           "ltc.opportunity.won.v1"]
    assert [t for t, _ in events].count("ltc.opportunity.won.v1") == 1
    payload = events[-1][1]
    assert payload["lineage"] == {"lead_id": None, "opportunity_id": opportunity["id"], "contract_id": None}
    assert payload["terms"] == {"value": TERMS["value"], "payment_terms": TERMS["payment_terms"],
                                "milestones": TERMS["milestones"], "lines": [
        {"position": 1, "code": None, "description": "interlocking", "quantity": "2", "unit": "C62",
         "unit_price": {"amount": "900000.00", "currency": "EUR"}, "discount": None,
         "net": {"amount": "1800000.00", "currency": "EUR"}, "supply": "services", "vat": None, "milestone": None},
        {"position": 2, "code": None, "description": "installation", "quantity": "1", "unit": "C62",
         "unit_price": {"amount": "600000.00", "currency": "EUR"}, "discount": None,
         "net": {"amount": "600000.00", "currency": "EUR"}, "supply": "services", "vat": None, "milestone": None}]}


# -- the team's records ---------------------------------------------------------------------------

async def test_the_iron_triangle_keeps_its_history_and_the_ar_becomes_owner(client):
    opportunity = await _team(client, await _create(client))
    opportunity = await _send(client, opportunity, "PUT", "/team", {"sr": "sr-chen", "fr": "fr-ma"})
    assert opportunity["team"] == {"ar": "ar-zhang", "sr": "sr-chen", "fr": "fr-ma"}
    assert [(c["role"], c["previous"], c["assigned"]) for c in opportunity["team_history"]] == [
        ("sr", None, "sr-chen"), ("fr", None, "fr-sun"), ("fr", "fr-sun", "fr-ma")]

    opportunity = await _send(client, opportunity, "PUT", "/team", {"ar": "ar-wang"})

    assert opportunity["owner"] == "ar-wang"
    _problem(await client.get(f"/api/v1/opportunities/{opportunity['id']}", headers=AR), 404, "not-found")
    assert (await client.get(f"/api/v1/opportunities/{opportunity['id']}", headers=OTHER_AR)).status_code == 200
    body = _problem(await client.put(f"/api/v1/opportunities/{opportunity['id']}/team",
                                     headers={**OTHER_AR, "If-Match": _etag(opportunity)}, json={}),
                    422, "validation-error")
    assert body["errors"][0]["field"] == "body"


async def test_updates_need_a_current_if_match(client):
    opportunity = await _create(client)
    url = f"/api/v1/opportunities/{opportunity['id']}"
    _problem(await client.patch(url, headers=AR, json={"title": "Line 4"}), 428, "if-match-required")
    _problem(await client.put(f"{url}/insight", headers=AR, json=INSIGHT), 428, "if-match-required")
    _problem(await client.patch(url, headers={**AR, "If-Match": '"999"'}, json={"title": "Line 4"}), 412,
             "stale-etag")

    changed = await _send(client, opportunity, "PATCH", "", {"title": "Line 4", "expected_close_date": "2027-06-30"})

    assert changed["title"] == "Line 4" and changed["expected_close_date"] == "2027-06-30"
    _problem(await client.patch(url, headers={**AR, "If-Match": _etag(opportunity)}, json={"title": "x"}), 412,
             "stale-etag")
    _problem(await client.patch(url, headers={**AR, "If-Match": _etag(changed)}, json={"title": None}), 422,
             "validation-error")


async def test_insight_is_structured_and_kept_per_dimension(client):
    opportunity = await _create(client)
    opportunity = await _send(client, opportunity, "PUT", "/insight", {"market": INSIGHT["market"]})
    opportunity = await _send(client, opportunity, "PUT", "/insight", {"product": INSIGHT["product"]})
    assert opportunity["insight"]["market"] == INSIGHT["market"]
    assert opportunity["insight"]["product"] == INSIGHT["product"] and opportunity["insight"]["customer"] is None
    bad = await client.put(f"/api/v1/opportunities/{opportunity['id']}/insight",
                           headers={**AR, "If-Match": _etag(opportunity)},
                           json={"product": {"phase": "twilight", "notes": "x"}})
    assert "product.phase" in [e["field"] for e in _problem(bad, 422, "validation-error")["errors"]]


async def test_the_sr_owns_the_value_proposition_but_not_the_insight(client):
    opportunity = await _team(client, await _create(client))
    opportunity = await _send(client, opportunity, "PUT", "/value-proposition", VALUE_PROPOSITION, headers=SR)
    assert opportunity["value_proposition"] == VALUE_PROPOSITION
    _problem(await _send_raw(client, opportunity, "PUT", "/value-proposition", VALUE_PROPOSITION,
                             {**FR, "If-Match": _etag(opportunity)}), 403, "not-permitted-on-opportunity")
    _problem(await _send_raw(client, opportunity, "PUT", "/insight", INSIGHT,
                             {**SR, "If-Match": _etag(opportunity)}), 403, "forbidden-role")


async def test_the_power_map_computes_its_coverage(client):
    opportunity = await _create(client)
    assert opportunity["coverage"]["decision_chain_covered"] is False
    opportunity = await _send(client, opportunity, "POST", "/stakeholders", _stakeholder("decision_maker", "Ms Li"),
                              status=201)
    boss = opportunity["stakeholders"][0]["id"]
    opportunity = await _send(client, opportunity, "POST", "/stakeholders",
                              _stakeholder("economic_buyer", "Mr Wu", attitude="opponent", reports_to=boss),
                              status=201)
    opportunity = await _send(client, opportunity, "POST", "/stakeholders",
                              _stakeholder("user", "Ms Ma", influence=2, reports_to=boss), status=201)

    assert opportunity["coverage"] == {
        "decision_maker_known": True, "economic_buyer_known": True, "decision_chain_covered": True,
        "roles_covered": ["decision_maker", "economic_buyer", "user"], "influential": 2,
        "influential_supporters": 1, "influential_opponents": 1}
    url = f"/api/v1/opportunities/{opportunity['id']}/stakeholders"
    _problem(await client.put(f"{url}/{boss}", headers={**AR, "If-Match": _etag(opportunity)},
                              json=_stakeholder("decision_maker", "Ms Li",
                                                reports_to=opportunity["stakeholders"][1]["id"])),
             422, "reports-to-cycle")
    current = {**AR, "If-Match": _etag(opportunity)}
    _problem(await client.post(url, headers=current,
                               json=_stakeholder("coach", "Mr X", reports_to=str(uuid.uuid4()))),
             422, "reports-to-unknown")
    bad = await client.post(url, headers=current, json=_stakeholder("coach", "Mr X", influence=6))
    assert "influence" in [e["field"] for e in _problem(bad, 422, "validation-error")["errors"]]

    opportunity = await _send(client, opportunity, "DELETE", f"/stakeholders/{boss}")
    assert opportunity["coverage"]["decision_maker_known"] is False
    assert [s["reports_to"] for s in opportunity["stakeholders"]] == [None, None]
    _problem(await client.delete(f"{url}/{boss}", headers={**AR, "If-Match": _etag(opportunity)}), 404,
             "not-found")


async def test_competitors_are_recorded_changed_and_removed(client):
    opportunity = await _create(client)
    rival = {"name": "Rival Rail", "strengths": "price", "weaknesses": "no references", "likely_offer": "-15%"}
    opportunity = await _send(client, opportunity, "POST", "/competitors", rival, status=201)
    competitor_id = opportunity["competitors"][0]["id"]
    opportunity = await _send(client, opportunity, "PUT", f"/competitors/{competitor_id}",
                              {**rival, "likely_offer": "-20%"})
    assert opportunity["competitors"] == [{"id": competitor_id, **rival, "likely_offer": "-20%"}]
    opportunity = await _send(client, opportunity, "DELETE", f"/competitors/{competitor_id}")
    assert opportunity["competitors"] == []


async def test_the_fr_keeps_delivery_risks_only(client):
    opportunity = await _team(client, await _create(client))
    delivery = {"description": "site access", "category": "delivery", "probability": "medium", "impact": "high",
                "owner": "fr-sun"}
    response = await client.post(f"/api/v1/opportunities/{opportunity['id']}/risks",
                                 headers={**FR, "If-Match": _etag(opportunity)}, json=delivery)
    assert response.status_code == 201, response.text
    risk = response.json()["risks"][0]
    assert risk["level"] == "high" and risk["status"] == "open"
    _problem(await client.post(f"/api/v1/opportunities/{opportunity['id']}/risks",
                               headers={**FR, "If-Match": response.headers["etag"]},
                               json={**delivery, "category": "commercial"}), 403, "not-permitted-on-opportunity")
    opportunity = (await client.get(f"/api/v1/opportunities/{opportunity['id']}", headers=FR)).json()
    _problem(await _send_raw(client, opportunity, "PUT", f"/risks/{risk['id']}", {**delivery, "category": "legal"},
                             {**FR, "If-Match": _etag(opportunity)}), 403, "not-permitted-on-opportunity")
    opportunity = await _send(client, opportunity, "PUT", f"/risks/{risk['id']}",
                              {**delivery, "mitigation": "permits early", "status": "mitigating"}, headers=FR)
    assert opportunity["risks"][0]["mitigation"] == "permits early"
    _problem(await _send_raw(client, opportunity, "PUT", f"/risks/{uuid.uuid4()}", delivery,
                             {**FR, "If-Match": _etag(opportunity)}), 404, "not-found")


async def test_a_requirement_we_cannot_meet_is_handed_to_product_development(client):
    opportunity = await _team(client, await _create(client))
    keyed = {**SR, "Idempotency-Key": "req-1", "If-Match": _etag(opportunity)}
    response = await client.post(f"/api/v1/opportunities/{opportunity['id']}/requirements", headers=keyed,
                                 json={"title": "GoA4 depot", "description": "driverless depot moves",
                                       "priority": "high"})
    assert response.headers["etag"] != _etag(opportunity)
    again = await client.post(f"/api/v1/opportunities/{opportunity['id']}/requirements", headers=keyed,
                              json={"title": "GoA4 depot", "description": "driverless depot moves",
                                    "priority": "high"})

    assert response.status_code == again.status_code == 201, response.text
    requirement = response.json()
    assert again.json()["id"] == requirement["id"] and requirement["raised_by"] == "sr-chen"
    raised = [p for t, p in await _events(client, opportunity["id"]) if t == "ltc.requirement.raised.v1"]
    assert len(raised) == 1
    assert raised[0]["requirement_id"] == requirement["id"] and raised[0]["priority"] == "high"
    assert raised[0]["lineage"]["opportunity_id"] == opportunity["id"]


async def test_every_change_is_audited(client):
    opportunity = await _team(client, await _create(client))
    await _send(client, opportunity, "PATCH", "", {"title": "Line 4"})

    response = await client.get(f"/api/v1/opportunities/{opportunity['id']}/audit", headers=AR)

    assert [(e["actor"], e["action"]) for e in response.json()] == [
        ("ar-zhang", "create"), ("ar-zhang", "assign-team"), ("ar-zhang", "update-details")]
    assert response.json()[-1]["detail"] == {"title": "Line 4"}


# -- configuration, pipeline ----------------------------------------------------------------------

async def test_an_admin_sets_the_thresholds_that_route_the_gates(make_database, kafka_bootstrap):
    async with service_client(SPEC, await make_database("opportunities"), kafka_bootstrap) as client:
        url = "/api/v1/config/decision-thresholds"
        current = await client.get(url, headers=L1)
        assert current.json()["thresholds"]["EUR"] == {"l2_from": "1000000", "l3_from": "10000000"}
        assert (current.json()["version"], current.json()["etag"]) == (0, current.headers["etag"])
        new = {"thresholds": {"EUR": {"l2_from": "100000", "l3_from": "2000000"}}}
        _problem(await client.put(url, headers=AR, json=new), 403, "forbidden-role")
        _problem(await client.put(url, headers=ADMIN, json=new), 428, "if-match-required")
        bad = await client.put(url, headers={**ADMIN, "If-Match": current.headers["etag"]},
                               json={"thresholds": {"EUR": {"l2_from": "5", "l3_from": "1"}}})
        assert [e["field"] for e in _problem(bad, 422, "decision-thresholds-invalid")["errors"]] == ["thresholds.EUR"]

        saved = await client.put(url, headers={**ADMIN, "If-Match": current.headers["etag"]}, json=new)

        assert saved.status_code == 200 and saved.headers["etag"] == '"1"'
        assert saved.json() == {**new, "version": 1, "etag": '"1"'}
        _problem(await client.put(url, headers={**ADMIN, "If-Match": current.headers["etag"]}, json=new), 412,
                 "stale-etag")
        opportunity = await _ready_for_atb(client, await _create(client))
        assert (await _gate(client, opportunity, "ATB")).json()["tier"] == "L3"
        other = await _create(client, budget={"amount": "2500000.00", "currency": "CHF"})
        other = await _ready_for_atb(client, other)
        request = (await _gate(client, other, "ATB")).json()
        assert request["tier"] == "L3" and "no thresholds" in request["routing_reason"]


async def test_the_weighted_pipeline_uses_the_configured_probabilities(make_database, kafka_bootstrap):
    async with service_client(SPEC, await make_database("opportunities"), kafka_bootstrap) as client:
        url = "/api/v1/config/stage-probabilities"
        current = await client.get(url, headers=AR)
        probabilities = {"validating": "10", "strategizing": "25", "bidding": "50", "negotiating": "75"}
        assert current.json() == {**probabilities, "version": 0, "etag": '"0"'}
        assert current.headers["etag"] == '"0"'
        _problem(await client.put(url, headers={**ADMIN, "If-Match": current.headers["etag"]},
                                  json={**probabilities, "bidding": "101"}), 422, "stage-probabilities-invalid")
        saved = await client.put(url, headers={**ADMIN, "If-Match": current.headers["etag"]},
                                 json={**probabilities, "validating": "20"})
        assert saved.status_code == 200, saved.text
        assert saved.json() == {**probabilities, "validating": "20", "version": 1, "etag": '"1"'}

        await _create(client, budget={"amount": "100.01", "currency": "EUR"}, expected_close_date="2027-03-10")
        await _create(client, budget={"amount": "200.00", "currency": "EUR"}, expected_close_date="2027-03-20")
        await _create(client, budget={"amount": "1000.00", "currency": "USD"}, expected_close_date="2027-04-01")
        await _create(client, budget=None, expected_close_date="2027-04-01")
        moved = await _create(client, budget={"amount": "400.00", "currency": "EUR"}, expected_close_date="2027-04-02")
        await _send(client, moved, "POST", "/stage", {"to": "strategizing"})
        lost = await _create(client, budget={"amount": "999.00", "currency": "EUR"})
        await _send(client, lost, "POST", "/lose", {"reason": "price"})

        by_stage = (await client.get("/api/v1/pipeline", headers=AR)).json()
        assert by_stage["rows"] == [
            {"key": "strategizing", "currency": "EUR", "count": 1, "value": {"amount": "400.00", "currency": "EUR"},
             "weighted": {"amount": "100.00", "currency": "EUR"}},
            {"key": "validating", "currency": "EUR", "count": 2, "value": {"amount": "300.01", "currency": "EUR"},
             "weighted": {"amount": "60.00", "currency": "EUR"}},
            {"key": "validating", "currency": "USD", "count": 1, "value": {"amount": "1000.00", "currency": "USD"},
             "weighted": {"amount": "200.00", "currency": "USD"}},
            {"key": "validating", "currency": None, "count": 1, "value": None, "weighted": None},
        ]
        by_month = (await client.get("/api/v1/pipeline", headers=AR, params={"group_by": "close_month"})).json()
        assert [(r["key"], r["currency"], r["count"]) for r in by_month["rows"]] == [
            ("2027-03", "EUR", 2), ("2027-04", "EUR", 1), ("2027-04", "USD", 1), ("2027-04", None, 1)]
        with_closed = (await client.get("/api/v1/pipeline", headers=AR,
                                        params={"group_by": "owner", "include_closed": "true"})).json()
        assert [(r["key"], r["currency"], r["count"]) for r in with_closed["rows"]] == [
            ("ar-zhang", "EUR", 4), ("ar-zhang", "USD", 1), ("ar-zhang", None, 1)]
        assert (await client.get("/api/v1/pipeline", headers=OTHER_AR)).json()["rows"] == []


async def test_added_items_and_decisions_replay_under_their_idempotency_key(client):
    opportunity = await _ready_for_atb(client, await _create(client))
    url = f"/api/v1/opportunities/{opportunity['id']}"
    rival = {"name": "Rival Rail", "strengths": "price", "weaknesses": "none", "likely_offer": "-10%"}
    # Each retry carries the If-Match its first run made stale: the replay answers, not a 412.
    key = {"Idempotency-Key": str(uuid.uuid4()), "If-Match": _etag(opportunity)}
    first = await client.post(f"{url}/competitors", headers={**AR, **key}, json=rival)
    again = await client.post(f"{url}/competitors", headers={**AR, **key}, json=rival)
    assert first.status_code == again.status_code == 201
    assert again.headers["location"] == first.headers["location"]
    assert len(again.json()["competitors"]) == 1

    key = {"Idempotency-Key": str(uuid.uuid4()), "If-Match": first.headers["etag"]}
    requested = [await client.post(f"{url}/gates", headers={**AR, **key}, json={"gate": "ATB"}) for _ in range(2)]
    assert [r.status_code for r in requested] == [201, 201]
    assert requested[0].json() == requested[1].json()
    assert requested[0].headers["location"] == f"{url}/gates/{requested[0].json()['id']}"

    key = {"Idempotency-Key": str(uuid.uuid4()), "If-Match": requested[0].headers["etag"]}
    decided = [await client.post(f"{url}/decisions", headers={**L2, **key}, json={"gate": "ATB", "outcome": "approved"})
               for _ in range(2)]
    assert [r.status_code for r in decided] == [201, 201]
    assert decided[0].json() == decided[1].json()
    assert decided[1].headers["location"] == f"{url}/gates/{requested[0].json()['id']}"
    read = (await client.get(url, headers=AR)).json()
    assert [len(g["decisions"]) for g in read["gates"]] == [1]


async def test_an_idempotency_key_recorded_before_the_one_command_runner_still_replays(client):
    opportunity = await _create(client)
    body = _stakeholder("coach", "Mr Ho")
    added = await client.post(f"/api/v1/opportunities/{opportunity['id']}/stakeholders",
                              headers={**AR, "If-Match": _etag(opportunity)}, json=body)
    stakeholder_id = added.json()["stakeholders"][0]["id"]
    async with runtime_of(client).engine.begin() as conn:  # as the earlier routes recorded it
        await conn.execute(idempotency_keys.insert().values(
            principal="ar-zhang", key="old-key", endpoint=f"POST /opportunities/{opportunity['id']}/stakeholders",
            request_hash=request_hash(StakeholderIn(**body)), resource_id=stakeholder_id))

    replayed = await client.post(f"/api/v1/opportunities/{opportunity['id']}/stakeholders",
                                 headers={**AR, "Idempotency-Key": "old-key", "If-Match": _etag(opportunity)}, json=body)

    assert replayed.status_code == 201, replayed.text
    assert replayed.headers["location"].endswith(f"/stakeholders/{stakeholder_id}")
    assert [s["id"] for s in replayed.json()["stakeholders"]] == [stakeholder_id]


# -- one precondition on every change --------------------------------------------------------------

# The precondition is checked before an item is looked up: any item id is answered 428/412 first.
ITEM = str(uuid.uuid4())
RIVAL = {"name": "Rival Rail", "strengths": "price", "weaknesses": "no references", "likely_offer": "-15%"}
RISK = {"description": "site access", "category": "delivery", "probability": "medium", "impact": "high",
        "owner": "ar-zhang"}
REQUIREMENT = {"title": "GoA4 depot", "description": "driverless depot moves", "priority": "high"}
CHANGES = [  # (method, path under the opportunity, a valid body, who may)
    ("PATCH", "", {"title": "Line 4"}, AR),
    ("PUT", "/team", {"sr": "sr-chen"}, AR),
    ("PUT", "/insight", {"market": INSIGHT["market"]}, AR),
    ("PUT", "/value-proposition", VALUE_PROPOSITION, AR),
    ("PATCH", "/terms", {"value": TERMS["value"]}, AR),
    ("POST", "/stakeholders", _stakeholder("coach", "Mr Ho"), AR),
    ("PUT", "/stakeholders/{stakeholder_id}", _stakeholder("coach", "Mr Ho"), AR),
    ("DELETE", "/stakeholders/{stakeholder_id}", None, AR),
    ("POST", "/competitors", RIVAL, AR),
    ("PUT", "/competitors/{competitor_id}", RIVAL, AR),
    ("DELETE", "/competitors/{competitor_id}", None, AR),
    ("POST", "/risks", RISK, AR),
    ("PUT", "/risks/{risk_id}", RISK, AR),
    ("POST", "/requirements", REQUIREMENT, AR),
    ("POST", "/gates", {"gate": "ATB"}, AR),
    ("POST", "/decisions", {"gate": "ATB", "outcome": "approved"}, L2),
    ("POST", "/stage", {"to": "strategizing"}, AR),
    ("POST", "/win", None, AR),
    ("POST", "/lose", {"reason": "price"}, AR),
    ("POST", "/abandon", {"reason": "no budget"}, AR),
]
POLICIES = ["/config/stage-probabilities", "/config/decision-thresholds"]


def test_every_change_but_a_creation_requires_if_match_and_is_tested_here():
    writes = {(method, route.path): route for route in router.routes if isinstance(route, APIRoute)
              for method in route.methods if method != "GET"}
    del writes["POST", "/opportunities"]  # a new opportunity has no version yet
    assert set(writes) == {(m, "/opportunities/{opportunity_id}" + p) for m, p, _, _ in CHANGES} | {
        ("PUT", path) for path in POLICIES}
    assert [key for key, route in writes.items() if not if_match_required(route)] == []


@pytest.mark.parametrize("method, path, body, headers", CHANGES, ids=[f"{m} {p}" for m, p, _, _ in CHANGES])
async def test_every_change_of_an_opportunity_needs_its_current_if_match(client, method, path, body, headers):
    opportunity = await _create(client)
    url = f"/api/v1/opportunities/{opportunity['id']}" + re.sub(r"\{\w+\}", ITEM, path)

    _problem(await client.request(method, url, headers=headers, json=body), 428, "if-match-required")
    await _send(client, opportunity, "PATCH", "", {"need": "CBTC for lines 4 and 5"})  # a colleague's change
    _problem(await client.request(method, url, headers={**headers, "If-Match": _etag(opportunity)}, json=body),
             412, "stale-etag")


@pytest.mark.parametrize("path", POLICIES)
async def test_every_change_of_a_policy_needs_its_current_if_match(client, path):
    url = f"/api/v1{path}"
    current = await client.get(url, headers=ADMIN)
    assert current.json()["etag"] == current.headers["etag"]
    document = {k: v for k, v in current.json().items() if k not in ("version", "etag")}

    _problem(await client.put(url, headers=ADMIN, json=document), 428, "if-match-required")
    saved = await client.put(url, headers={**ADMIN, "If-Match": current.headers["etag"]}, json=document)
    assert saved.status_code == 200 and saved.json()["version"] == current.json()["version"] + 1
    _problem(await client.put(url, headers={**ADMIN, "If-Match": current.headers["etag"]}, json=document), 412,
             "stale-etag")


@pytest.mark.parametrize("path, body, status", [
    ("/stage", {"to": "strategizing"}, 200), ("/lose", {"reason": "price"}, 200),
    ("/abandon", {"reason": "no budget"}, 200), ("/stakeholders", _stakeholder("coach", "Mr Ho"), 201),
    ("/competitors", RIVAL, 201), ("/risks", RISK, 201), ("/requirements", REQUIREMENT, 201)])
async def test_a_keyed_retry_answers_its_first_run_though_that_run_made_its_if_match_stale(client, path, body,
                                                                                           status):
    opportunity = await _create(client)
    url = f"/api/v1/opportunities/{opportunity['id']}{path}"
    keyed = {**AR, "Idempotency-Key": str(uuid.uuid4()), "If-Match": _etag(opportunity)}
    first = await client.post(url, headers=keyed, json=body)
    assert first.status_code == status, first.text

    again = await client.post(url, headers=keyed, json=body)

    assert again.status_code == status and again.json() == first.json()
    assert again.headers["etag"] == first.headers["etag"] != _etag(opportunity)
    assert again.headers.get("location") == first.headers.get("location")
    # The same If-Match without the key is stale: only the replay skipped the precondition.
    _problem(await client.post(url, headers={**AR, "If-Match": _etag(opportunity)}, json=body), 412, "stale-etag")


# -- lookups ---------------------------------------------------------------------------------------

async def test_the_list_finds_an_accounts_opportunities_and_those_closing_in_some_months(client):
    owner = f"ar-{uuid.uuid4().hex[:8]}"
    headers = auth(owner, "ar")
    account = str(uuid.uuid4())
    march = await _create(client, headers=headers, account_id=account, expected_close_date="2027-03-31")
    april = await _create(client, headers=headers, expected_close_date="2027-04-01")
    december = await _create(client, headers=headers, account_id=account, expected_close_date="2027-12-15")
    undated = await _create(client, headers=headers, account_id=account)

    async def found(**params) -> list[dict]:
        response = await client.get("/api/v1/opportunities", headers=headers, params={"owner": owner, **params})
        assert response.status_code == 200, response.text
        return [o["id"] for o in response.json()["items"]]

    assert await found(account_id=account) == [march["id"], december["id"], undated["id"]]
    assert await found(close_month_from="2027-03", close_month_to="2027-03") == [march["id"]]
    assert await found(close_month_from="2027-04") == [april["id"], december["id"]]
    assert await found(close_month_to="2027-04") == [march["id"], april["id"]]
    assert await found(close_month_from="2027-12", close_month_to="2027-12") == [december["id"]]
    assert await found(account_id=account, close_month_to="2027-06") == [march["id"]]
    assert await found(lead_id=str(uuid.uuid4())) == []

    for params, field in [({"close_month_from": "2027-13"}, "close_month_from"),
                          ({"close_month_to": "2027-3"}, "close_month_to"),
                          ({"close_month_from": "2027-05", "close_month_to": "2027-04"}, "close_month_to"),
                          ({"owner": ""}, "owner"), ({"account_id": "acme"}, "account_id"),
                          ({"lead_id": "lead-1"}, "lead_id")]:
        bad = await client.get("/api/v1/opportunities", headers=headers, params=params)
        assert field in [e["field"] for e in _problem(bad, 422, "validation-error")["errors"]], params
    _problem(await client.get("/api/v1/opportunities", headers=headers, params={"account": account}), 400,
             "unknown-query-parameter")
