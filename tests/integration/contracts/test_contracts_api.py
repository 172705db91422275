"""The contracts REST API and event handlers on a real PostgreSQL database."""

import asyncio
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from ltc.contracts import handlers
from ltc.contracts.bootstrap import SPEC
from ltc.shared.db import outbox
from ltc.shared.errors import DomainError
from ltc.shared.kafka import make_producer
from ltc.shared.messages import EventPayload
from ltc.shared.messages.envelope import Envelope
from ltc.shared.messages.finance_events import ContractFullyPaid
from ltc.shared.messages.opportunities_events import OpportunityWon
from ltc.shared.testing.apps import auth, runtime_of, service_client
from sqlalchemy import select

pytestmark = pytest.mark.integration

API = "/api/v1/contracts"
OWNER = auth("ar-1", "ar")
OTHER_AR = auth("ar-2", "ar")
FR = auth("fr-1", "fr")
ADMIN = auth("admin-1", "admin")
SIGNING = {"signatories": ["Li Wei (ACME)", "Zhang San (us)"], "signed_on": "2026-11-20"}


@pytest.fixture(scope="module")
async def client(make_database, kafka_bootstrap):
    url = await make_database("contracts")
    async with service_client(SPEC, url, kafka_bootstrap) as client:
        yield client


def won(*, owner: str = "ar-1", payment_terms: list[dict[str, Any]] | None = None) -> OpportunityWon:
    opportunity_id = uuid.uuid4()
    return OpportunityWon.model_validate({
        "lineage": {"lead_id": str(uuid.uuid4()), "opportunity_id": str(opportunity_id)},
        "opportunity_id": str(opportunity_id), "account_id": str(uuid.uuid4()), "account_name": "ACME Telecom",
        "title": "Core network upgrade", "owner": owner, "won_at": "2026-11-02T09:30:00Z",
        "terms": {
            "value": {"amount": "1000000.00", "currency": "EUR"},
            "payment_terms": payment_terms or [
                {"name": "advance", "percent": "30", "trigger": "signing", "due_days": 30},
                {"name": "preliminary acceptance", "percent": "60", "trigger": "milestone", "milestone": "PAC",
                 "due_days": 45},
                {"name": "final acceptance", "percent": "10", "trigger": "milestone", "milestone": "FAC",
                 "due_days": 45},
            ],
            "milestones": [
                {"name": "PAC", "planned_date": "2027-03-01", "acceptance_type": "preliminary"},
                {"name": "FAC", "planned_date": "2027-09-01", "acceptance_type": "final"},
            ],
        },
    })


def fully_paid(contract: dict[str, Any]) -> ContractFullyPaid:
    return ContractFullyPaid.model_validate({
        "lineage": {"lead_id": contract["lead_id"], "opportunity_id": contract["opportunity_id"],
                    "contract_id": contract["id"]},
        "contract_id": contract["id"], "value": contract["value"], "collected": contract["value"],
        "signed_on": "2026-11-20", "fully_paid_on": "2027-10-01",
    })


async def deliver(client, handler, event: EventPayload) -> None:
    """What the consumer does with one delivery, minus Kafka: the handler in its own unit of work."""
    envelope = Envelope(id=str(uuid.uuid4()), type=event.ce_type(), source="test", subject=event.subject(),
                        time=datetime.now(UTC), data=event.model_dump(mode="json"))
    uow = runtime_of(client).unit_of_work()
    async with uow:
        await handler(uow, event, envelope)
        await uow.commit()


async def draft(client, **kwargs: Any) -> dict[str, Any]:
    event = won(**kwargs)
    await deliver(client, handlers.on_opportunity_won, event)
    response = await client.get(API, params={"opportunity_id": str(event.opportunity_id)}, headers=ADMIN)
    [contract] = response.json()["items"]
    return contract


async def signed(client) -> dict[str, Any]:
    contract = await draft(client)
    response = await client.post(f"{API}/{contract['id']}/sign", json=SIGNING, headers=OWNER)
    assert response.status_code == 200, response.text
    return response.json()


async def accept(client, contract: dict[str, Any], milestone_index: int, headers: dict[str, str] = FR):
    milestone_id = contract["milestones"][milestone_index]["milestone_id"]
    return await client.post(f"{API}/{contract['id']}/milestones/{milestone_id}/accept",
                             json={"accepted_on": "2027-03-02", "certificate_ref": f"CERT-{milestone_index}"},
                             headers=headers)


async def published(client, contract_id: str) -> list[tuple[str, dict[str, Any]]]:
    async with runtime_of(client).session_factory() as session:
        rows = (await session.execute(
            select(outbox.c.type, outbox.c.payload).where(outbox.c.key == contract_id).order_by(outbox.c.seq))).all()
    return [(row.type, row.payload) for row in rows]


def rule_of(response) -> str:
    assert response.headers["content-type"] == "application/problem+json"
    return response.json()["rule"]


async def test_a_won_opportunity_becomes_one_draft_contract_with_its_lineage(client):
    event = won()
    await deliver(client, handlers.on_opportunity_won, event)
    await deliver(client, handlers.on_opportunity_won, event)

    response = await client.get(API, params={"opportunity_id": str(event.opportunity_id)}, headers=OWNER)
    [contract] = response.json()["items"]
    assert contract["status"] == "draft"
    assert (contract["lead_id"], contract["owner"]) == (str(event.lineage.lead_id), "ar-1")
    assert contract["value"] == {"amount": "1000000.00", "currency": "EUR"}
    assert [(t["name"], t["percent"], t["milestone"]) for t in contract["payment_terms"]] == [
        ("advance", "30", None), ("preliminary acceptance", "60", "PAC"), ("final acceptance", "10", "FAC")]
    assert [(m["name"], m["status"]) for m in contract["milestones"]] == [("PAC", "planned"), ("FAC", "planned")]
    [(event_type, payload)] = await published(client, contract["id"])
    assert event_type == "ltc.contract.drafted.v1"
    assert payload["lineage"] == {"lead_id": str(event.lineage.lead_id), "opportunity_id": str(event.opportunity_id),
                                  "contract_id": contract["id"]}


async def test_terms_that_cannot_make_a_contract_are_refused_for_the_dead_letter_topic(client):
    event = won(payment_terms=[{"name": "advance", "percent": "30", "trigger": "signing", "due_days": 30}])
    with pytest.raises(DomainError) as failure:
        await deliver(client, handlers.on_opportunity_won, event)
    assert failure.value.rule == "commercial-terms-inconsistent"
    response = await client.get(API, params={"opportunity_id": str(event.opportunity_id)}, headers=ADMIN)
    assert response.json()["items"] == []


async def test_signing_activates_the_contract_and_publishes_its_payment_schedule(client):
    contract = await draft(client)
    read = await client.get(f"{API}/{contract['id']}", headers=OWNER)

    response = await client.post(f"{API}/{contract['id']}/sign", json=SIGNING,
                                 headers={**OWNER, "If-Match": read.headers["ETag"]})

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["signed_on"], body["signatories"]) == ("active", "2026-11-20", SIGNING["signatories"])
    assert response.headers["ETag"] != read.headers["ETag"]
    event_type, payload = (await published(client, contract["id"]))[-1]
    assert event_type == "ltc.contract.signed.v1"
    pac, fac = (m["milestone_id"] for m in body["milestones"])
    assert [(i["amount"]["amount"], i["milestone_id"]) for i in payload["payment_schedule"]] == [
        ("300000.00", None), ("600000.00", pac), ("100000.00", fac)]
    assert sum(Decimal(i["amount"]["amount"]) for i in payload["payment_schedule"]) == Decimal("1000000.00")
    assert [m["milestone_id"] for m in payload["milestones"]] == [pac, fac]


async def test_only_a_draft_is_signed(client):
    contract = await signed(client)
    response = await client.post(f"{API}/{contract['id']}/sign", json=SIGNING, headers=OWNER)
    assert response.status_code == 409
    assert rule_of(response) == "contract-not-draft"


async def test_signing_needs_two_different_signatories(client):
    contract = await draft(client)
    response = await client.post(f"{API}/{contract['id']}/sign",
                                 json={"signatories": ["Li Wei", "li wei"], "signed_on": "2026-11-20"}, headers=OWNER)
    assert response.status_code == 422
    assert rule_of(response) == "signatories-both-sides"


@pytest.mark.parametrize(("body", "field"), [
    ({"signatories": SIGNING["signatories"]}, "signed_on"),
    ({"signatories": ["Li Wei"], "signed_on": "2026-11-20"}, "signatories"),
    ({**SIGNING, "signed_on": "20/11/2026"}, "signed_on"),
    ({**SIGNING, "reviewed": True}, "reviewed"),
])
async def test_a_bad_signing_request_names_the_field(client, body, field):
    contract = await draft(client)
    response = await client.post(f"{API}/{contract['id']}/sign", json=body, headers=OWNER)
    assert response.status_code == 422
    assert field in [e["field"] for e in response.json()["errors"]]


async def test_malformed_json_is_a_bad_request(client):
    contract = await draft(client)
    response = await client.post(f"{API}/{contract['id']}/sign", content=b'{"signatories": [',
                                 headers={**OWNER, "Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["type"].endswith("/malformed-json")


async def test_a_stale_if_match_is_refused(client):
    contract = await draft(client)
    response = await client.post(f"{API}/{contract['id']}/sign", json=SIGNING, headers={**OWNER, "If-Match": '"99"'})
    assert response.status_code == 412


async def test_who_may_sign(client):
    contract = await draft(client)
    url = f"{API}/{contract['id']}/sign"
    assert (await client.post(url, json=SIGNING)).status_code == 401
    assert (await client.post(url, json=SIGNING, headers=FR)).status_code == 403
    assert (await client.post(url, json=SIGNING, headers=OTHER_AR)).status_code == 404
    seeing_but_not_owning = await client.post(url, json=SIGNING, headers=auth("ar-2", "ar", "finance"))
    assert seeing_but_not_owning.status_code == 403
    assert (await client.post(url, json=SIGNING, headers=ADMIN)).status_code == 200


async def test_an_unknown_contract_is_not_found(client):
    assert (await client.get(f"{API}/{uuid.uuid4()}", headers=ADMIN)).status_code == 404
    response = await client.post(f"{API}/{uuid.uuid4()}/sign", json=SIGNING, headers=ADMIN)
    assert response.status_code == 404


async def test_accepting_a_milestone_publishes_it(client):
    contract = await signed(client)
    response = await accept(client, contract, 0)
    assert response.status_code == 200, response.text
    milestone = response.json()["milestones"][0]
    assert (milestone["status"], milestone["accepted_on"], milestone["certificate_ref"]) == (
        "accepted", "2027-03-02", "CERT-0")
    assert response.json()["status"] == "active"
    event_type, payload = (await published(client, contract["id"]))[-1]
    assert event_type == "ltc.contract.milestone_accepted.v1"
    assert (payload["milestone_id"], payload["acceptance_type"]) == (milestone["milestone_id"], "preliminary")


async def test_acceptance_rules(client):
    draft_contract = await draft(client)
    assert rule_of(await accept(client, draft_contract, 0)) == "contract-not-active"

    contract = await signed(client)
    unknown = await client.post(f"{API}/{contract['id']}/milestones/{uuid.uuid4()}/accept",
                                json={"accepted_on": "2027-03-02", "certificate_ref": "X"}, headers=FR)
    assert unknown.status_code == 404
    milestone_url = f"{API}/{contract['id']}/milestones/{contract['milestones'][0]['milestone_id']}/accept"
    blank = await client.post(milestone_url, json={"accepted_on": "2027-03-02", "certificate_ref": "  "}, headers=FR)
    assert blank.status_code == 422
    assert [e["field"] for e in blank.json()["errors"]] == ["certificate_ref"]
    early = await client.post(milestone_url, json={"accepted_on": "2026-11-01", "certificate_ref": "X"}, headers=FR)
    assert (early.status_code, rule_of(early)) == (422, "accepted-before-signing")
    assert (await accept(client, contract, 0)).status_code == 200
    again = await accept(client, contract, 0)
    assert (again.status_code, rule_of(again)) == (409, "milestone-already-accepted")


async def test_who_may_accept(client):
    contract = await signed(client)
    assert (await accept(client, contract, 0, headers=OWNER)).status_code == 403
    assert (await accept(client, contract, 0, headers={})).status_code == 401
    assert (await accept(client, contract, 0, headers=ADMIN)).status_code == 200


async def test_payment_then_last_acceptance_closes_in_the_same_commit(client):
    contract = await signed(client)
    await deliver(client, handlers.on_contract_fully_paid, fully_paid(contract))
    paid = (await client.get(f"{API}/{contract['id']}", headers=FR)).json()
    assert (paid["status"], paid["fully_paid"], paid["fully_paid_on"]) == ("active", True, "2027-10-01")

    await accept(client, contract, 0)
    response = await accept(client, contract, 1)

    assert response.json()["status"] == "closed"
    assert response.json()["closed_at"] is not None
    assert [t for t, _ in await published(client, contract["id"])][-3:] == [
        "ltc.contract.milestone_accepted.v1", "ltc.contract.milestone_accepted.v1", "ltc.contract.closed.v1"]


async def test_last_acceptance_then_payment_closes_once_however_often_it_is_reported(client):
    contract = await signed(client)
    await accept(client, contract, 0)
    await accept(client, contract, 1)
    event = fully_paid(contract)

    await deliver(client, handlers.on_contract_fully_paid, event)
    await deliver(client, handlers.on_contract_fully_paid, event)

    closed = (await client.get(f"{API}/{contract['id']}", headers=ADMIN)).json()
    assert closed["status"] == "closed"
    types = [t for t, _ in await published(client, contract["id"])]
    assert types.count("ltc.contract.closed.v1") == 1
    resign = await client.post(f"{API}/{contract['id']}/sign", json=SIGNING, headers=OWNER)
    assert rule_of(resign) == "contract-not-draft"


async def test_payment_of_an_unknown_contract_is_refused_for_the_dead_letter_topic(client):
    contract = {"id": str(uuid.uuid4()), "lead_id": None, "opportunity_id": str(uuid.uuid4()),
                "value": {"amount": "10.00", "currency": "EUR"}}
    with pytest.raises(DomainError) as failure:
        await deliver(client, handlers.on_contract_fully_paid, fully_paid(contract))
    assert failure.value.rule == "unknown-contract"


async def test_who_may_read(client):
    contract = await draft(client)
    url = f"{API}/{contract['id']}"
    assert (await client.get(url)).status_code == 401
    assert (await client.get(url, headers=auth("sr-1", "sr"))).status_code == 403
    assert (await client.get(url, headers=OTHER_AR)).status_code == 404
    for role in ("ar", "admin", "integration", "fr", "finance", "reviewer_legal", "reviewer_delivery"):
        sub = "ar-1" if role == "ar" else f"{role}-1"
        assert (await client.get(url, headers=auth(sub, role))).status_code == 200, role
    listed = await client.get(API, params={"opportunity_id": contract["opportunity_id"]}, headers=OTHER_AR)
    assert listed.json()["items"] == []


async def test_the_list_filters_and_pages(client):
    owner = f"ar-{uuid.uuid4().hex[:8]}"
    drafts = [await draft(client, owner=owner) for _ in range(3)]
    await client.post(f"{API}/{drafts[0]['id']}/sign", json=SIGNING, headers=auth(owner, "ar"))

    seen, cursor = [], None
    while True:
        params = {"limit": 2, "status": "draft", **({"cursor": cursor} if cursor else {})}
        page = (await client.get(API, params=params, headers=auth(owner, "ar"))).json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [drafts[1]["id"], drafts[2]["id"]]

    for params, field in (({"cursor": "nonsense"}, "cursor"), ({"limit": 0}, "limit"), ({"status": "won"}, "status")):
        response = await client.get(API, params=params, headers=ADMIN)
        assert response.status_code == 422
        assert [e["field"] for e in response.json()["errors"]] == [field]


async def test_ready_when_database_kafka_and_migrations_are(client):
    ready = await client.get("/readyz")
    assert ready.json()["checks"] == {"database": "ok", "migrations": "ok", "kafka": "ok"}


async def test_won_on_kafka_comes_back_as_drafted_on_kafka(make_database, kafka_bootstrap):
    event = won()
    envelope = Envelope(id=str(uuid.uuid4()), type=event.ce_type(), source="opportunities", subject=event.subject(),
                        time=datetime.now(UTC), data=event.model_dump(mode="json"))
    async with service_client(SPEC, await make_database("contracts_flow"), kafka_bootstrap, run_workers=True) as client:
        producer = make_producer(kafka_bootstrap)
        await producer.start()
        try:
            key, value, headers = envelope.to_kafka()
            await producer.send_and_wait("ltc.opportunities", value, key=key, headers=headers)
        finally:
            await producer.stop()

        async with asyncio.timeout(60):
            while not (items := (await client.get(API, params={"opportunity_id": str(event.opportunity_id)},
                                                  headers=ADMIN)).json()["items"]):
                await asyncio.sleep(0.2)
        [contract] = items
        record = await first_record_keyed(kafka_bootstrap, "ltc.contracts", contract["id"])
    drafted = Envelope.from_kafka(record.key, record.value, record.headers)
    assert (drafted.type, drafted.data["opportunity_id"]) == ("ltc.contract.drafted.v1", str(event.opportunity_id))


async def first_record_keyed(kafka_bootstrap: str, topic: str, key: str):
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=kafka_bootstrap, group_id=f"test-{uuid.uuid4()}",
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    try:
        async with asyncio.timeout(60):
            async for record in consumer:
                if record.key == key.encode():
                    return record
    finally:
        await consumer.stop()
