"""The opportunities REST API and its lead.converted handler on the real database."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime

import pytest
from ltc.opportunities import handlers
from ltc.opportunities.bootstrap import SPEC
from ltc.shared.db import outbox
from ltc.shared.kafka import make_producer
from ltc.shared.messages import Lineage, MoneyPayload
from ltc.shared.messages.envelope import Envelope
from ltc.shared.messages.leads_events import LeadConverted
from ltc.shared.testing.apps import auth, runtime_of, service_client
from sqlalchemy import select

pytestmark = pytest.mark.integration

AR = auth("ar-zhang", "ar")
OTHER_AR = auth("ar-wang", "ar")
ADMIN = auth("admin-1", "admin")
SR = auth("sr-chen", "sr")
SR_AND_AR = auth("sr-liu", "sr", "ar")
FINANCE = auth("fin-zhao", "finance")

TENDER = {"title": "Metro line 4 signalling", "account_name": "City Metro", "need": "CBTC for line 4",
          "budget": {"amount": "2500000.00", "currency": "EUR"}, "start_date": "2027-03-01"}
TERMS = {
    "value": {"amount": "2400000.00", "currency": "EUR"},
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


async def test_winning_records_the_terms_and_publishes_them_for_contracts(client):
    opportunity = await _create(client)
    response = await client.post(f"/api/v1/opportunities/{opportunity['id']}/win",
                                 headers={**AR, "If-Match": f'"{opportunity["version"]}"'}, json=TERMS)

    assert response.status_code == 200, response.text
    won = response.json()
    assert won["stage"] == "won" and won["closed_by"] == "ar-zhang" and won["closed_at"] is not None
    assert won["version"] == opportunity["version"] + 1
    assert won["terms"]["value"] == TERMS["value"]
    assert [(t["percent"], t["milestone"]) for t in won["terms"]["payment_terms"]] == [
        ("30", None), ("60", "installation"), ("10", "handover")]
    types = [event_type for event_type, _ in await _events(client, opportunity["id"])]
    assert types == ["ltc.opportunity.created.v1", "ltc.opportunity.won.v1"]
    _, payload = (await _events(client, opportunity["id"]))[-1]
    assert payload["lineage"] == {"lead_id": None, "opportunity_id": opportunity["id"], "contract_id": None}
    assert payload["terms"]["milestones"][1] == TERMS["milestones"][1]
    assert payload["account_name"] == "City Metro"


async def test_unsound_terms_are_refused_listing_every_problem(client):
    opportunity = await _create(client)
    bad = {
        "value": {"amount": "0.00", "currency": "EUR"},
        "payment_terms": [
            {"name": "advance", "percent": "30", "trigger": "signing", "milestone": "handover", "due_days": 0},
            {"name": "progress", "percent": "60", "trigger": "milestone", "milestone": "nowhere", "due_days": 30},
        ],
        "milestones": [
            {"name": "handover", "planned_date": "2027-09-01", "acceptance_type": "final"},
            {"name": "handover", "planned_date": "2027-10-01", "acceptance_type": "final"},
        ],
    }
    response = await client.post(f"/api/v1/opportunities/{opportunity['id']}/win", headers=AR, json=bad)

    body = _problem(response, 422, "commercial-terms-invalid")
    assert [e["field"] for e in body["errors"]] == [
        "value.amount", "milestones.0.name", "milestones.1.name", "payment_terms.0.milestone",
        "payment_terms.1.milestone", "payment_terms"]
    read = await client.get(f"/api/v1/opportunities/{opportunity['id']}", headers=AR)
    assert read.json()["stage"] == "validating" and read.json()["terms"] is None


async def test_no_payment_terms_is_refused(client):
    opportunity = await _create(client)
    response = await client.post(f"/api/v1/opportunities/{opportunity['id']}/win", headers=AR,
                                 json={**TERMS, "payment_terms": []})
    body = _problem(response, 422, "commercial-terms-invalid")
    assert [e["field"] for e in body["errors"]] == ["payment_terms"]


async def test_losing_records_reason_and_competitor_and_publishes_it(client):
    opportunity = await _create(client)
    response = await client.post(f"/api/v1/opportunities/{opportunity['id']}/lose", headers=AR,
                                 json={"reason": "price 15% above the winner", "competitor": "Rival Rail"})

    assert response.status_code == 200, response.text
    lost = response.json()
    assert lost["stage"] == "lost" and lost["closed_reason"] == "price 15% above the winner"
    assert lost["competitor"] == "Rival Rail"
    event_type, payload = (await _events(client, opportunity["id"]))[-1]
    assert event_type == "ltc.opportunity.lost.v1"
    assert payload["reason"] == "price 15% above the winner" and payload["competitor"] == "Rival Rail"


async def test_abandoning_records_the_reason_without_an_event(client):
    opportunity = await _create(client)
    response = await client.post(f"/api/v1/opportunities/{opportunity['id']}/abandon", headers=ADMIN,
                                 json={"reason": "customer froze the budget"})

    assert response.status_code == 200, response.text
    assert response.json()["stage"] == "abandoned" and response.json()["closed_by"] == "admin-1"
    assert [t for t, _ in await _events(client, opportunity["id"])] == ["ltc.opportunity.created.v1"]


@pytest.mark.parametrize("action, body", [
    ("win", TERMS), ("lose", {"reason": "late"}), ("abandon", {"reason": "no budget"})])
async def test_a_closed_opportunity_refuses_every_action(client, action, body):
    opportunity = await _create(client)
    assert (await client.post(f"/api/v1/opportunities/{opportunity['id']}/lose", headers=AR,
                              json={"reason": "lost on price"})).status_code == 200

    response = await client.post(f"/api/v1/opportunities/{opportunity['id']}/{action}", headers=AR, json=body)

    _problem(response, 409, "opportunity-closed")


@pytest.mark.parametrize("action", ["lose", "abandon"])
async def test_a_blank_reason_is_refused(client, action):
    opportunity = await _create(client)
    response = await client.post(f"/api/v1/opportunities/{opportunity['id']}/{action}", headers=AR,
                                 json={"reason": "   "})
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
    ({k: v for k, v in TERMS.items() if k != "value"}, "value"),
    ({**TERMS, "payment_terms": [{**TERMS["payment_terms"][0], "trigger": "delivery"}]}, "payment_terms.0.trigger"),
    ({**TERMS, "payment_terms": [{**TERMS["payment_terms"][0], "percent": 100.0}]}, "payment_terms.0.percent"),
    ({**TERMS, "milestones": [{**TERMS["milestones"][0], "acceptance_type": "partial"}]},
     "milestones.0.acceptance_type"),
])
async def test_malformed_terms_name_the_field(client, terms, field):
    opportunity = await _create(client)
    response = await client.post(f"/api/v1/opportunities/{opportunity['id']}/win", headers=AR, json=terms)
    problem = _problem(response, 422, "validation-error")
    assert field in [e["field"] for e in problem["errors"]]


async def test_unknown_ids_are_404(client):
    unknown = uuid.uuid4()
    _problem(await client.get(f"/api/v1/opportunities/{unknown}", headers=AR), 404, "not-found")
    _problem(await client.post(f"/api/v1/opportunities/{unknown}/lose", headers=AR, json={"reason": "x"}),
             404, "not-found")


async def test_a_token_is_required(client):
    response = await client.get("/api/v1/opportunities")
    _problem(response, 401, "missing-token")


async def test_roles_are_checked_per_endpoint(client):
    opportunity = await _create(client)
    _problem(await client.post("/api/v1/opportunities", headers=FINANCE, json=TENDER), 403, "forbidden-role")
    _problem(await client.post("/api/v1/opportunities", headers=SR, json=TENDER), 403, "forbidden-role")
    _problem(await client.get(f"/api/v1/opportunities/{opportunity['id']}", headers=FINANCE), 403, "forbidden-role")
    _problem(await client.post(f"/api/v1/opportunities/{opportunity['id']}/win", headers=SR, json=TERMS),
             403, "forbidden-role")


async def test_another_account_manager_cannot_see_or_change_the_opportunity(client):
    opportunity = await _create(client)
    _problem(await client.get(f"/api/v1/opportunities/{opportunity['id']}", headers=OTHER_AR), 404, "not-found")
    _problem(await client.post(f"/api/v1/opportunities/{opportunity['id']}/lose", headers=OTHER_AR,
                               json={"reason": "x"}), 404, "not-found")
    listed = await client.get("/api/v1/opportunities", headers=OTHER_AR, params={"owner": "ar-zhang"})
    assert listed.status_code == 200 and listed.json()["items"] == []


@pytest.mark.parametrize("roles", [("sr",), ("fr",), ("approver_l1",), ("approver_l2",), ("approver_l3",),
                                   ("integration",), ("admin",)])
async def test_the_team_and_the_deciders_may_read(client, roles):
    opportunity = await _create(client)
    response = await client.get(f"/api/v1/opportunities/{opportunity['id']}", headers=auth("reader", *roles))
    assert response.status_code == 200


async def test_who_may_see_but_does_not_own_gets_403_on_changes(client):
    opportunity = await _create(client)
    response = await client.post(f"/api/v1/opportunities/{opportunity['id']}/abandon", headers=SR_AND_AR,
                                 json={"reason": "not mine to drop"})
    _problem(response, 403, "not-opportunity-owner")


async def test_the_list_filters_and_pages(client):
    owner = f"ar-{uuid.uuid4().hex[:8]}"
    headers = auth(owner, "ar")
    created = [await _create(client, headers=headers, title=f"Tender {n}") for n in range(3)]
    await client.post(f"/api/v1/opportunities/{created[0]['id']}/lose", headers=headers, json={"reason": "price"})

    first = await client.get("/api/v1/opportunities", headers=headers, params={"limit": 2})
    assert first.status_code == 200
    assert [o["id"] for o in first.json()["items"]] == [o["id"] for o in created[:2]]
    second = await client.get("/api/v1/opportunities", headers=headers,
                              params={"limit": 2, "cursor": first.json()["next_cursor"]})
    assert [o["id"] for o in second.json()["items"]] == [created[2]["id"]]
    assert second.json()["next_cursor"] is None

    lost = await client.get("/api/v1/opportunities", headers=SR, params={"owner": owner, "stage": "lost"})
    assert [o["id"] for o in lost.json()["items"]] == [created[0]["id"]]
    bad = await client.get("/api/v1/opportunities", headers=SR, params={"stage": "closed"})
    assert "stage" in [e["field"] for e in _problem(bad, 422, "validation-error")["errors"]]
    bad = await client.get("/api/v1/opportunities", headers=SR, params={"cursor": "not-a-cursor"})
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


async def test_a_lead_converted_on_kafka_becomes_an_opportunity_that_is_announced(make_database, kafka_bootstrap):
    lead_id = uuid.uuid4()
    _, envelope = _lead_converted(lead_id)
    async with service_client(SPEC, await make_database("opportunities"), kafka_bootstrap, run_workers=True) as client:
        producer = make_producer(kafka_bootstrap)
        await producer.start()
        try:
            key, value, headers = envelope.to_kafka()
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
