"""The contracts REST API and event handlers on a real PostgreSQL database."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from fastapi.routing import APIRoute
from sqlalchemy import select

from ltc.contracts import handlers
from ltc.contracts.api.routes import router
from ltc.contracts.bootstrap import SPEC
from ltc.shared.db import inbox, outbox
from ltc.shared.errors import DomainError
from ltc.shared.kafka import make_producer
from ltc.shared.messages import EventPayload
from ltc.shared.messages.envelope import Envelope
from ltc.shared.messages.finance_events import ContractFullyPaid
from ltc.shared.messages.opportunities_events import OpportunityWon
from ltc.shared.openapi import if_match_required
from ltc.shared.testing.apps import auth, runtime_of, service_client

pytestmark = pytest.mark.integration

API = "/api/v1/contracts"
OWNER = auth("ar-1", "ar")
OTHER_AR = auth("ar-2", "ar")
FR = auth("fr-1", "fr")
ADMIN = auth("admin-1", "admin")
SIGNING = {"signatories": ["Li Wei (ACME)", "Zhang San (us)"], "signed_on": "2026-11-20"}
CHECKLIST = {
    "commercial": ("price", "payment_terms", "currency_risk"),
    "legal": ("liability", "penalties", "governing_law"),
    "finance": ("cash_flow_profile", "credit_risk"),
    "delivery": ("milestones_feasible", "acceptance_criteria_clear"),
}
REVIEWERS = {function: auth(f"{function}-reviewer", f"reviewer_{function}") for function in CHECKLIST}


# The service's clock for this module: a day after every date the tests record as having happened
# (signings, acceptances), which the service refuses when they lie in its future.
TODAY = datetime(2027, 10, 2, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
async def client(make_database, kafka_bootstrap):
    url = await make_database("contracts")
    with pytest.MonkeyPatch.context() as patch:
        started = datetime.now(UTC)  # the clock still runs: what is made later is stamped later
        patch.setattr(handlers, "clock", lambda: TODAY + (datetime.now(UTC) - started))
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


async def etag_of(client, contract: dict[str, Any]) -> str:
    """The contract's ETag as it stands: what a client acting on it sends after reading it."""
    response = await client.get(f"{API}/{contract['id']}", headers=ADMIN)
    assert response.status_code == 200, response.text
    return response.headers["ETag"]


def matching(headers: dict[str, str], etag: str) -> dict[str, str]:
    return {**headers, "If-Match": etag}


def verdicts(function: str, failing: str | None = None) -> dict[str, Any]:
    return {"function": function, "items": [
        {"item": item, "verdict": "fail", "comment": "not acceptable as drafted"} if item == failing
        else {"item": item, "verdict": "pass"} for item in CHECKLIST[function]]}


async def review(client, contract: dict[str, Any], function: str, failing: str | None = None,
                 etag: str | None = None):
    return await client.post(f"{API}/{contract['id']}/reviews", json=verdicts(function, failing),
                             headers=matching(REVIEWERS[function], etag or await etag_of(client, contract)))


async def reviewed(client, contract: dict[str, Any], functions=tuple(CHECKLIST)) -> dict[str, Any]:
    """The draft reviewed by `functions`, each reviewer acting on the ETag the verdict before answered."""
    etag = await etag_of(client, contract)
    for function in functions:
        response = await review(client, contract, function, etag=etag)
        assert response.status_code == 200, response.text
        etag = response.headers["ETag"]
    return contract


async def signed(client, **kwargs: Any) -> dict[str, Any]:
    contract = await reviewed(client, await draft(client, **kwargs))
    response = await client.post(f"{API}/{contract['id']}/sign", json=SIGNING,
                                 headers=matching(auth(contract["owner"], "ar"), await etag_of(client, contract)))
    assert response.status_code == 200, response.text
    return response.json()


async def accept(client, contract: dict[str, Any], milestone_index: int, headers: dict[str, str] = FR,
                 etag: str | None = None):
    milestone_id = contract["milestones"][milestone_index]["milestone_id"]
    return await client.post(f"{API}/{contract['id']}/milestones/{milestone_id}/accept",
                             json={"accepted_on": "2027-03-02", "certificate_ref": f"CERT-{milestone_index}"},
                             headers=matching(headers, etag or await etag_of(client, contract)))


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
    contract = await reviewed(client, await draft(client))
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
    response = await client.post(f"{API}/{contract['id']}/sign", json=SIGNING, headers=matching(OWNER, contract["etag"]))
    assert response.status_code == 409
    assert rule_of(response) == "contract-not-draft"


async def test_signing_needs_two_different_signatories(client):
    contract = await reviewed(client, await draft(client))
    response = await client.post(f"{API}/{contract['id']}/sign",
                                 json={"signatories": ["Li Wei", "li wei"], "signed_on": "2026-11-20"},
                                 headers=matching(OWNER, await etag_of(client, contract)))
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
    response = await client.post(f"{API}/{contract['id']}/sign", json=body, headers=matching(OWNER, contract["etag"]))
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
    contract = await reviewed(client, await draft(client))
    url = f"{API}/{contract['id']}/sign"
    etag = await etag_of(client, contract)
    assert (await client.post(url, json=SIGNING, headers={"If-Match": etag})).status_code == 401
    assert (await client.post(url, json=SIGNING, headers=matching(FR, etag))).status_code == 403
    assert (await client.post(url, json=SIGNING, headers=matching(OTHER_AR, etag))).status_code == 404
    seeing_but_not_owning = await client.post(url, json=SIGNING, headers=matching(auth("ar-2", "ar", "finance"), etag))
    assert seeing_but_not_owning.status_code == 403
    assert (await client.post(url, json=SIGNING, headers=matching(ADMIN, etag))).status_code == 200


async def test_an_unknown_contract_is_not_found(client):
    assert (await client.get(f"{API}/{uuid.uuid4()}", headers=ADMIN)).status_code == 404
    response = await client.post(f"{API}/{uuid.uuid4()}/sign", json=SIGNING, headers=matching(ADMIN, '"1"'))
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
    fr = matching(FR, contract["etag"])
    unknown = await client.post(f"{API}/{contract['id']}/milestones/{uuid.uuid4()}/accept",
                                json={"accepted_on": "2027-03-02", "certificate_ref": "X"}, headers=fr)
    assert unknown.status_code == 404
    milestone_url = f"{API}/{contract['id']}/milestones/{contract['milestones'][0]['milestone_id']}/accept"
    blank = await client.post(milestone_url, json={"accepted_on": "2027-03-02", "certificate_ref": "  "}, headers=fr)
    assert blank.status_code == 422
    assert [e["field"] for e in blank.json()["errors"]] == ["certificate_ref"]
    early = await client.post(milestone_url, json={"accepted_on": "2026-11-01", "certificate_ref": "X"}, headers=fr)
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
    trail = (await client.get(f"{API}/{contract['id']}/audit", headers=ADMIN)).json()
    assert [(e["action"], e["actor"]) for e in trail][-2:] == [
        ("fully_paid", "test:ltc.contract.fully_paid.v1"), ("closed", "test:ltc.contract.fully_paid.v1")]
    types = [t for t, _ in await published(client, contract["id"])]
    assert types.count("ltc.contract.closed.v1") == 1
    resign = await client.post(f"{API}/{contract['id']}/sign", json=SIGNING,
                               headers=matching(OWNER, await etag_of(client, contract)))
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
    await reviewed(client, drafts[0])
    signing = await client.post(f"{API}/{drafts[0]['id']}/sign", json=SIGNING,
                                headers=matching(auth(owner, "ar"), await etag_of(client, drafts[0])))
    assert signing.status_code == 200, signing.text

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


async def test_won_twice_on_kafka_makes_one_draft_announced_on_kafka(make_database, kafka_bootstrap):
    event = won()
    # Two messages, not one redelivered: the inbox cannot tell them apart, the opportunity id must.
    envelopes = [Envelope(id=str(uuid.uuid4()), type=event.ce_type(), source="opportunities", subject=event.subject(),
                          time=datetime.now(UTC), data=event.model_dump(mode="json")) for _ in range(2)]
    async with service_client(SPEC, await make_database("contracts_flow"), kafka_bootstrap, run_workers=True) as client:
        producer = make_producer(kafka_bootstrap)
        await producer.start()
        try:
            for envelope in envelopes:
                key, value, headers = envelope.to_kafka()
                await producer.send_and_wait("ltc.opportunities", value, key=key, headers=headers)
        finally:
            await producer.stop()
        async with runtime_of(client).session_factory() as session:
            async with asyncio.timeout(60):
                while len((await session.execute(select(inbox.c.message_id).where(
                        inbox.c.message_id.in_([e.id for e in envelopes])))).all()) < 2:
                    await asyncio.sleep(0.2)

        async with asyncio.timeout(60):
            while not (items := (await client.get(API, params={"opportunity_id": str(event.opportunity_id)},
                                                  headers=ADMIN)).json()["items"]):
                await asyncio.sleep(0.2)
        [contract] = items
        assert len(await published(client, contract["id"])) == 1
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


# --- drafts through REST ------------------------------------------------------------------------


def draft_body(**overrides: Any) -> dict[str, Any]:
    return {
        "account_id": str(uuid.uuid4()), "account_name": "Globex",
        "title": "Campus network", "value": {"amount": "80000.00", "currency": "EUR"},
        "line_items": [{"description": "switch", "quantity": "40", "unit_price": "1500.00"},
                       {"description": "installation", "quantity": "1", "unit_price": "20000.00"}],
        "payment_terms": [
            {"name": "advance", "percent": "20", "trigger": "signing", "due_days": 30},
            {"name": "on acceptance", "percent": "70", "trigger": "milestone", "milestone": "SAT", "due_days": 45},
            {"name": "retention", "percent": "10", "trigger": "date", "due_date": "2028-01-31", "due_days": 30},
        ],
        "milestones": [{"name": "SAT", "planned_date": "2027-03-01", "acceptance_type": "final", "owner": "fr-9"}],
        "legal_terms": {"warranty_months": 24, "liquidated_damages_percent_per_week": "0.5",
                        "liquidated_damages_cap_percent": "10", "liability_cap_percent": "100",
                        "acceptance_criteria": "site acceptance test protocol v2 passed", "governing_law": "German law"},
        **overrides,
    }


async def test_a_direct_draft_is_created_once_per_key(client):
    body = draft_body()
    headers = {**OWNER, "Idempotency-Key": f"k-{uuid.uuid4()}"}
    first = await client.post(API, json=body, headers=headers)
    assert first.status_code == 201, first.text
    created = first.json()
    assert first.headers["Location"] == f"/api/v1/contracts/{created['id']}"
    assert (created["owner"], created["status"], created["contract_version"]) == ("ar-1", "draft", 1)
    assert (created["origin"], created["opportunity_id"], created["approval"]["status"]) == ("direct", None, "pending")
    assert [(t["name"], t["amount"]) for t in created["payment_terms"]] == [
        ("advance", {"amount": "16000.00", "currency": "EUR"}), ("on acceptance", {"amount": "56000.00", "currency": "EUR"}),
        ("retention", {"amount": "8000.00", "currency": "EUR"})]
    assert created["legal_terms"]["governing_law"] == "German law"
    assert [i["amount"] for i in created["line_items"]] == ["60000.00", "20000.00"]
    assert created["review"]["required"] == ["commercial", "legal"]  # a low-tier value

    again = await client.post(API, json=body, headers=headers)
    assert (again.status_code, again.json()["id"]) == (201, created["id"])
    other_body = await client.post(API, json={**body, "title": "other"}, headers=headers)
    assert other_body.status_code == 422
    assert (await client.post(API, json=draft_body(), headers=FR)).status_code == 403
    [version] = (await client.get(f"{API}/{created['id']}/versions", headers=OWNER)).json()
    assert (version["contract_version"], version["change"], version["created_by"]) == (1, "drafted", "ar-1")


@pytest.mark.parametrize(("overrides", "field"), [
    ({"value": {"amount": 80000.0, "currency": "EUR"}}, "value.amount"),
    ({"value": {"amount": "80000.001", "currency": "EUR"}}, "value"),
    ({"payment_terms": []}, "payment_terms"),
    ({"payment_terms": [{"name": "all", "percent": "100", "trigger": "on_a_whim", "due_days": 0}]},
     "payment_terms.0.trigger"),
    ({"payment_terms": [{"name": "all", "percent": "0", "trigger": "signing", "due_days": 0}]},
     "payment_terms.0.percent"),
    ({"legal_terms": {"liability_cap_percent": "150"}}, "legal_terms.liability_cap_percent"),
    ({"milestones": [{"name": "SAT", "planned_date": "soon", "acceptance_type": "final"}]}, "milestones.0.planned_date"),
    ({"owner": "someone-else"}, "owner"),
])
async def test_a_bad_draft_names_the_field(client, overrides, field):
    response = await client.post(API, json=draft_body(**overrides), headers=OWNER)
    assert response.status_code == 422, response.text
    assert field in [e["field"] for e in response.json()["errors"]]


@pytest.mark.parametrize(("overrides", "message"), [
    ({"payment_terms": [{"name": "all", "percent": "90", "trigger": "signing", "due_days": 0}]}, "add up to 100"),
    ({"payment_terms": [{"name": "all", "percent": "100", "trigger": "date", "due_days": 0}]}, "names none"),
    ({"line_items": [{"description": "switch", "quantity": "1", "unit_price": "1.00"}]}, "lines add up to 1.00 EUR"),
])
async def test_terms_that_cannot_make_a_contract_name_the_rule(client, overrides, message):
    response = await client.post(API, json=draft_body(**overrides), headers=OWNER)
    assert (response.status_code, rule_of(response)) == (422, "commercial-terms-inconsistent")
    assert message in response.json()["detail"]


async def test_editing_a_draft_needs_its_etag_and_resets_the_review(client):
    contract = await reviewed(client, await draft(client))
    url = f"{API}/{contract['id']}"
    read = await client.get(url, headers=OWNER)
    assert read.json()["review"]["status"] == "passed"
    change = {"legal_terms": {"warranty_months": 36, "governing_law": "Swiss law"}}

    assert (await client.patch(url, json=change, headers=OWNER)).status_code == 428
    assert (await client.patch(url, json=change, headers={**OWNER, "If-Match": '"1"'})).status_code == 412
    assert (await client.patch(url, json=change, headers={**OTHER_AR, "If-Match": read.headers["ETag"]})).status_code == 404
    edited = await client.patch(url, json=change, headers={**OWNER, "If-Match": read.headers["ETag"]})

    assert edited.status_code == 200, edited.text
    body = edited.json()
    assert (body["contract_version"], body["legal_terms"]["warranty_months"]) == (2, 36)
    assert (body["review"]["status"], body["review"]["contract_version"]) == ("pending", 2)
    signing = await client.post(f"{url}/sign", json=SIGNING, headers=matching(OWNER, edited.headers["ETag"]))
    assert (signing.status_code, rule_of(signing)) == (409, "contract-review-not-passed")
    versions = (await client.get(f"{url}/versions", headers=OWNER)).json()
    assert [(v["contract_version"], v["change"]) for v in versions] == [(1, "drafted"), (2, "edited")]
    assert versions[0]["terms"]["legal_terms"]["warranty_months"] is None
    first = await client.get(f"{url}/versions/1", headers=FR)
    assert first.json()["terms"]["value"] == {"amount": "1000000.00", "currency": "EUR"}
    assert (await client.get(f"{url}/versions/9", headers=OWNER)).status_code == 404
    bad = await client.patch(url, json={"value": {"amount": "-1.00", "currency": "EUR"}},
                             headers={**OWNER, "If-Match": edited.headers["ETag"]})
    assert (bad.status_code, rule_of(bad)) == (422, "commercial-terms-inconsistent")


async def test_a_signed_contract_changes_only_its_fr_and_through_amendments(client):
    contract = await signed(client)
    url = f"{API}/{contract['id']}"
    etag_ = (await client.get(url, headers=OWNER)).headers["ETag"]
    terms = await client.patch(url, json={"title": "bigger"}, headers={**OWNER, "If-Match": etag_})
    assert (terms.status_code, rule_of(terms)) == (409, "contract-not-draft")
    fr = await client.patch(url, json={"fr_owner": "fr-7"}, headers={**OWNER, "If-Match": etag_})
    assert (fr.status_code, fr.json()["fr_owner"], fr.json()["contract_version"]) == (200, "fr-7", 1)


# --- quality review ---------------------------------------------------------------------------


async def test_reviewers_record_their_own_function_item_by_item(client):
    contract = await draft(client)
    wrong = await client.post(f"{API}/{contract['id']}/reviews", json=verdicts("legal"),
                              headers=matching(REVIEWERS["finance"], contract["etag"]))
    assert (wrong.status_code, wrong.json()["type"].rsplit("/", 1)[1]) == (403, "reviewer-wrong-function")
    assert (await client.post(f"{API}/{contract['id']}/reviews", json=verdicts("legal"),
                              headers=matching(OWNER, contract["etag"]))).status_code == 403

    response = await review(client, contract, "legal", failing="penalties", etag=contract["etag"])

    assert response.status_code == 200, response.text
    state = response.json()
    assert (state["status"], state["failed"], state["outstanding"]) == ("failed", ["legal"], ["commercial", "finance"])
    [verdict] = state["verdicts"]
    assert (verdict["reviewer"], verdict["passed"]) == ("legal-reviewer", False)
    assert [i["verdict"] for i in verdict["items"]] == ["pass", "fail", "pass"]
    event_type, payload = (await published(client, contract["id"]))[-1]
    assert event_type == "ltc.contract.reviewed.v1"
    assert (payload["function"], payload["outcome"], payload["review_passed"], payload["contract_version"]) == (
        "legal", "failed", False, 1)
    assert (state["version"], state["etag"], response.headers["ETag"]) == (
        contract["version"] + 1, f'"{contract["version"] + 1}"', state["etag"])
    await reviewed(client, contract, ("commercial", "finance"))
    etag = await etag_of(client, contract)
    blocked = await client.post(f"{API}/{contract['id']}/sign", json=SIGNING, headers=matching(OWNER, etag))
    assert (blocked.status_code, rule_of(blocked)) == (409, "contract-review-not-passed")
    assert "legal" in blocked.json()["detail"]

    passed = await review(client, contract, "legal", etag=etag)
    assert passed.json()["status"] == "passed"
    assert (await client.post(f"{API}/{contract['id']}/sign", json=SIGNING,
                              headers=matching(OWNER, passed.headers["ETag"]))).status_code == 200
    read = await client.get(f"{API}/{contract['id']}/reviews", headers=OWNER)
    history = read.json()
    assert [r["function"] for r in history["history"]] == ["legal", "commercial", "finance", "legal"]
    assert read.headers["ETag"] == history["etag"] == await etag_of(client, contract)
    assert history["checklist"]["delivery"] == ["milestones_feasible", "acceptance_criteria_clear"]


@pytest.mark.parametrize(("body", "field_or_rule"), [
    ({"function": "legal", "items": [{"item": "liability", "verdict": "pass"}]}, "review-checklist-incomplete"),
    ({"function": "legal", "items": [{"item": "liability", "verdict": "fail"}, {"item": "penalties", "verdict": "pass"},
                                     {"item": "governing_law", "verdict": "pass"}]}, "review-checklist-incomplete"),
    ({"function": "quality", "items": [{"item": "x", "verdict": "pass"}]}, "function"),
    ({"function": "legal", "items": [{"item": "liability", "verdict": "maybe"}]}, "items.0.verdict"),
    ({"function": "legal", "items": []}, "items"),
])
async def test_a_bad_review_names_the_field_or_rule(client, body, field_or_rule):
    contract = await draft(client)
    response = await client.post(f"{API}/{contract['id']}/reviews", json=body,
                                 headers=matching(REVIEWERS["legal"], contract["etag"]))
    assert response.status_code == 422, response.text
    problem = response.json()
    assert field_or_rule in (problem.get("rule"), *(e["field"] for e in problem.get("errors", [])))


async def test_a_signed_contract_is_not_reviewed_again(client):
    contract = await signed(client)
    response = await review(client, contract, "legal")
    assert (response.status_code, rule_of(response)) == (409, "contract-not-draft")


async def test_the_admin_configures_which_functions_each_value_tier_requires(make_database, kafka_bootstrap):
    async with service_client(SPEC, await make_database("contracts_policy"), kafka_bootstrap) as client:
        read = await client.get("/api/v1/contract-policy", headers=REVIEWERS["legal"])
        assert (read.status_code, read.headers["ETag"], read.json()["etag"]) == (200, '"0"', '"0"')
        policy = {name: value for name, value in read.json().items() if name not in ("version", "etag")}
        assert policy["review_functions"]["medium"] == ["commercial", "legal", "finance"]
        policy["review_functions"]["medium"] = ["legal"]
        url = "/api/v1/contract-policy"
        assert (await client.put(url, json=policy, headers=OWNER)).status_code == 403
        assert (await client.put(url, json=policy, headers=ADMIN)).status_code == 428
        bad = {**policy, "review_limits": {"EUR": {"first": "10", "second": "5"}}}
        refused = await client.put(url, json=bad, headers={**ADMIN, "If-Match": '"0"'})
        assert (refused.status_code, rule_of(refused)) == (422, "contract-policy-invalid")
        unknown = await client.put(url, json={**policy, "approval_limits": {"ABC": {"first": "1", "second": "2"}}},
                                   headers={**ADMIN, "If-Match": '"0"'})
        assert unknown.status_code == 422
        saved = await client.put(url, json=policy, headers={**ADMIN, "If-Match": '"0"'})
        assert (saved.status_code, saved.headers["ETag"], saved.json()["version"]) == (200, '"1"', 1)
        assert (await client.put(url, json=policy, headers={**ADMIN, "If-Match": '"0"'})).status_code == 412
        [version] = (await client.get(f"{url}/history", headers=ADMIN)).json()
        assert (version["version"], version["updated_by"], version["policy"]["review_functions"]["medium"]) == (
            1, "admin-1", ["legal"])
        assert (await client.get(f"{url}/history", headers=REVIEWERS["legal"])).status_code == 403

        contract = await draft(client)
        assert contract["review"]["required"] == ["legal"]
        await reviewed(client, contract, ("legal",))
        assert (await client.post(f"{API}/{contract['id']}/sign", json=SIGNING,
                                  headers=matching(OWNER, await etag_of(client, contract)))).status_code == 200


# --- execution and monitoring ---------------------------------------------------------------------


async def test_the_fr_runs_a_milestone_through_start_delivery_and_acceptance(client):
    contract = await signed(client)
    url = f"{API}/{contract['id']}"
    pac = contract["milestones"][0]["milestone_id"]
    etag_ = (await client.get(url, headers=OWNER)).headers["ETag"]
    assigned = await client.patch(url, json={"fr_owner": "fr-1"}, headers={**OWNER, "If-Match": etag_})

    other_fr = await client.post(f"{url}/milestones/{pac}/start", json={"started_on": "2026-12-01"},
                                 headers=matching(auth("fr-2", "fr"), assigned.headers["ETag"]))
    assert (other_fr.status_code, other_fr.json()["type"].rsplit("/", 1)[1]) == (403, "not-milestone-owner")
    started = await client.post(f"{url}/milestones/{pac}/start", json={"started_on": "2026-12-01"},
                                headers=matching(FR, assigned.headers["ETag"]))
    assert started.json()["milestones"][0]["status"] == "in_progress"
    early = await client.post(f"{url}/milestones/{pac}/deliver", json={"delivered_on": "2026-11-30"},
                              headers=matching(FR, started.headers["ETag"]))
    assert (early.status_code, rule_of(early)) == (422, "milestone-dates-out-of-order")
    delivered = await client.post(f"{url}/milestones/{pac}/deliver", json={"delivered_on": "2027-02-20"},
                                  headers=matching(FR, started.headers["ETag"]))
    assert delivered.json()["milestones"][0]["status"] == "delivered"
    accepted = await client.post(f"{url}/milestones/{pac}/accept",
                                 json={"accepted_on": "2027-02-25", "certificate_ref": "PAC-9"},
                                 headers=matching(FR, delivered.headers["ETag"]))
    milestone = accepted.json()["milestones"][0]
    assert (milestone["status"], milestone["started_on"], milestone["delivered_on"], milestone["accepted_on"],
            milestone["certificate_ref"]) == ("accepted", "2026-12-01", "2027-02-20", "2027-02-25", "PAC-9")
    assert (await client.post(f"{url}/milestones/{pac}/start", json={"started_on": "bad"},
                              headers=matching(FR, accepted.headers["ETag"]))).status_code == 422
    actions = [e["action"] for e in (await client.get(f"{url}/audit", headers=OWNER)).json()]
    assert actions == ["drafted", "reviewed", "reviewed", "reviewed", "reviewed", "signed", "edited",
                       "milestone_started", "milestone_delivered", "milestone_accepted"]


async def test_health_and_late_milestones_follow_the_date_asked(client):
    owner = f"ar-{uuid.uuid4().hex[:8]}"
    headers = auth(owner, "ar")
    contract = await signed(client, owner=owner)
    url = f"{API}/{contract['id']}"

    on_track = (await client.get(f"{url}/health", params={"as_of": "2026-12-01"}, headers=headers)).json()
    at_risk = (await client.get(f"{url}/health", params={"as_of": "2027-02-20"}, headers=headers)).json()
    late = (await client.get(f"{url}/health", params={"as_of": "2027-03-02"}, headers=headers)).json()

    assert (on_track["health"], at_risk["health"], late["health"]) == ("on_track", "at_risk", "late")
    assert [m["name"] for m in at_risk["at_risk"]] == ["PAC"]
    assert [(m["name"], m["late"]) for m in late["late"]] == [("PAC", True)]
    listed = await client.get(API, params={"health": "late", "as_of": "2027-03-02"}, headers=headers)
    assert [c["id"] for c in listed.json()["items"]] == [contract["id"]]
    assert listed.json()["items"][0]["late_milestones"] == 1
    for health, as_of in (("at_risk", "2027-02-20"), ("on_track", "2026-12-01")):
        page = await client.get(API, params={"health": health, "as_of": as_of}, headers=headers)
        assert [c["id"] for c in page.json()["items"]] == [contract["id"]], health
    assert (await client.get(API, params={"health": "late", "as_of": "2026-12-01"}, headers=headers)).json()["items"] == []
    lateness = await client.get("/api/v1/milestones/late", params={"as_of": "2027-09-10"}, headers=headers)
    assert [(m["name"], m["days_late"], m["contract_id"], m["etag"]) for m in lateness.json()] == [
        ("PAC", 193, contract["id"], contract["etag"]), ("FAC", 9, contract["id"], contract["etag"])]
    await accept(client, contract, 0)
    after = (await client.get(f"{url}/health", params={"as_of": "2027-03-02"}, headers=headers)).json()
    assert after["health"] == "on_track"
    assert (await client.get(f"{url}/health", params={"as_of": "someday"}, headers=headers)).status_code == 422


async def test_the_list_filters_by_account_fr_and_status(client):
    first = await signed(client)
    url = f"{API}/{first['id']}"
    etag_ = (await client.get(url, headers=OWNER)).headers["ETag"]
    fr = f"fr-{uuid.uuid4().hex[:8]}"
    await client.patch(url, json={"fr_owner": fr}, headers={**OWNER, "If-Match": etag_})
    by_fr = (await client.get(API, params={"fr_owner": fr}, headers=ADMIN)).json()["items"]
    assert [c["id"] for c in by_fr] == [first["id"]]
    by_account = (await client.get(API, params={"account_id": first["account_id"], "status": "active"},
                                   headers=ADMIN)).json()["items"]
    assert [c["id"] for c in by_account] == [first["id"]]
    assert (await client.get(API, params={"account_id": first["account_id"], "status": "draft"},
                             headers=ADMIN)).json()["items"] == []


# --- amendments ---------------------------------------------------------------------------------

L1, L2, L3 = (auth(f"approver-{n}", f"approver_l{n}") for n in (1, 2, 3))


async def amend(client, contract: dict[str, Any], body: dict[str, Any], headers=OWNER, etag: str | None = None):
    return await client.post(f"{API}/{contract['id']}/amendments", json=body,
                             headers=matching(headers, etag or await etag_of(client, contract)))


async def decide(client, contract, amendment, outcome: str, headers, comment: str | None = None):
    """A decision on the amendment as the decider read it now (its ETag is its contract's)."""
    url = f"{API}/{contract['id']}/amendments/{amendment['amendment_id']}"
    etag = (await client.get(url, headers=ADMIN)).headers["ETag"]
    return await client.post(f"{url}/decisions", json={"outcome": outcome, **({"comment": comment} if comment else {})},
                             headers=matching(headers, etag))


async def test_an_approved_amendment_becomes_a_new_version_and_is_announced(client):
    contract = await signed(client)
    await accept(client, contract, 0)
    body = {"reason": "second region", "value": {"amount": "1100000.00", "currency": "EUR"}}
    assert (await amend(client, contract, body, headers=FR)).status_code == 403
    read = await etag_of(client, contract)
    requested = await amend(client, contract, body, headers={**OWNER, "Idempotency-Key": "amend-1"}, etag=read)
    assert requested.status_code == 201, requested.text
    amendment = requested.json()
    assert (amendment["status"], amendment["tier"], amendment["risk"], amendment["kinds"]) == (
        "pending", "L2", "low", ["value"])
    assert requested.headers["ETag"] == amendment["etag"] == await etag_of(client, contract) != read
    # The retry carries the ETag the first request was based on: the key answers, the version is not asked.
    replay = await amend(client, contract, body, headers={**OWNER, "Idempotency-Key": "amend-1"}, etag=read)
    assert (replay.status_code, replay.json()["amendment_id"]) == (201, amendment["amendment_id"])
    second = await amend(client, contract, {"reason": "more", "title": "x"})
    assert (second.status_code, rule_of(second)) == (409, "amendment-pending")
    read = (await client.get(f"{API}/{contract['id']}", headers=OWNER)).json()
    assert (read["pending_amendment_id"], read["value"]["amount"]) == (amendment["amendment_id"], "1000000.00")

    outside = await decide(client, contract, amendment, "approved", L1)
    assert (outside.status_code, rule_of(outside)) == (403, "amendment-outside-authority")
    approved = await decide(client, contract, amendment, "approved", L2, "within budget")

    assert approved.status_code == 200, approved.text
    assert (approved.json()["status"], approved.json()["applied_version"]) == ("approved", 2)
    current = (await client.get(f"{API}/{contract['id']}", headers=OWNER)).json()
    assert (current["contract_version"], current["value"]["amount"]) == (2, "1100000.00")
    event_type, payload = (await published(client, contract["id"]))[-1]
    assert event_type == "ltc.contract.amended.v1"
    assert payload["contract_version"] == 2 and payload["reason"] == "second region"
    assert [(i["name"], i["amount"]["amount"]) for i in payload["payment_schedule"]] == [
        ("advance", "300000.00"), ("preliminary acceptance", "600000.00"), ("final acceptance", "200000.00")]
    versions = (await client.get(f"{API}/{contract['id']}/versions", headers=L2)).json()
    assert [(v["contract_version"], v["change"], v["terms"]["value"]["amount"]) for v in versions] == [
        (1, "drafted", "1000000.00"), (2, "amended", "1100000.00")]
    assert versions[1]["amendment_id"] == amendment["amendment_id"]
    again = await decide(client, contract, amendment, "rejected", L2, "changed my mind")
    assert (again.status_code, rule_of(again)) == (409, "amendment-decided")


async def test_amendments_are_escalated_rejected_or_withdrawn(client):
    contract = await signed(client)
    first = (await amend(client, contract, {"reason": "scope", "title": "Core and edge upgrade"})).json()
    assert first["tier"] == "L1"
    assert (await decide(client, contract, first, "approved", auth("ar-1", "approver_l1"))).status_code == 403
    escalated = await decide(client, contract, first, "escalated", L1)
    assert escalated.json()["tier"] == "L2"
    silent = await decide(client, contract, first, "rejected", L2)
    assert (silent.status_code, rule_of(silent)) == (422, "decision-comment-required")
    rejected = await decide(client, contract, first, "rejected", L2, "not now")
    assert [d["tier"] for d in rejected.json()["decisions"]] == ["L1", "L2"]

    second = (await amend(client, contract, {"reason": "scope", "title": "Edge upgrade", "risk": "high"})).json()
    assert second["tier"] == "L3"
    withdrawn = await client.post(f"{API}/{contract['id']}/amendments/{second['amendment_id']}/withdraw",
                                  headers=matching(OWNER, second["etag"]))
    assert withdrawn.json()["status"] == "withdrawn"
    listed = (await client.get(f"{API}/{contract['id']}/amendments", headers=OWNER)).json()
    assert [a["status"] for a in listed] == ["rejected", "withdrawn"]
    assert (await client.get(f"{API}/{contract['id']}", headers=OWNER)).json()["contract_version"] == 1


@pytest.mark.parametrize(("body", "status", "rule_or_field"), [
    ({"reason": "nothing", "title": "Core network upgrade"}, 422, "amendment-changes-nothing"),
    ({"reason": "cut", "value": {"amount": "200000.00", "currency": "EUR"}}, 422, "amendment-value-already-invoiced"),
    ({"reason": "dollars", "value": {"amount": "1000000.00", "currency": "USD"}}, 422, "amendment-currency-change"),
    ({"reason": "split", "payment_terms": [
        {"name": "advance", "percent": "20", "trigger": "signing", "due_days": 30},
        {"name": "rest", "percent": "80", "trigger": "milestone", "milestone": "FAC", "due_days": 30}]},
     422, "triggered-instalment-changed"),
    ({"value": {"amount": "1100000.00", "currency": "EUR"}}, 422, "reason"),
    ({"reason": "x", "risk": "extreme"}, 422, "risk"),
])
async def test_a_bad_amendment_names_the_field_or_rule(client, body, status, rule_or_field):
    contract = await signed(client)
    response = await amend(client, contract, body)
    assert response.status_code == status, response.text
    problem = response.json()
    assert rule_or_field in (problem.get("rule"), *(e["field"] for e in problem.get("errors", [])))


async def test_a_draft_is_not_amended(client):
    contract = await draft(client)
    response = await amend(client, contract, {"reason": "x", "title": "y"})
    assert (response.status_code, rule_of(response)) == (409, "contract-not-active")


async def test_a_verdict_on_a_version_that_changed_meanwhile_is_refused(client):
    contract = await draft(client)
    read = await client.get(f"{API}/{contract['id']}", headers=OWNER)
    edited = await client.patch(f"{API}/{contract['id']}", json={"title": "Core network upgrade, phase 1"},
                                headers={**OWNER, "If-Match": read.headers["ETag"]})
    reviewer = matching(REVIEWERS["legal"], edited.headers["ETag"])
    stale = await client.post(f"{API}/{contract['id']}/reviews", json={**verdicts("legal"), "contract_version": 1},
                              headers=reviewer)
    assert (stale.status_code, rule_of(stale)) == (409, "review-version-stale")
    fresh = await client.post(f"{API}/{contract['id']}/reviews", json={**verdicts("legal"), "contract_version": 2},
                              headers=reviewer)
    assert fresh.status_code == 200


async def test_final_acceptance_follows_the_preliminary_one_of_the_agreed_type(client):
    contract = await signed(client)
    url = f"{API}/{contract['id']}/milestones"
    pac, fac = (m["milestone_id"] for m in contract["milestones"])
    fr = matching(FR, contract["etag"])
    too_early = await client.post(f"{url}/{fac}/accept", json={"accepted_on": "2027-09-02", "certificate_ref": "F"},
                                  headers=fr)
    assert (too_early.status_code, rule_of(too_early)) == (409, "preliminary-acceptance-pending")
    wrong_type = await client.post(f"{url}/{pac}/accept", json={"accepted_on": "2027-03-02", "certificate_ref": "P",
                                                                "acceptance_type": "final"}, headers=fr)
    assert (wrong_type.status_code, rule_of(wrong_type)) == (422, "acceptance-type-mismatch")
    right = await client.post(f"{url}/{pac}/accept", json={"accepted_on": "2027-03-02", "certificate_ref": "P",
                                                           "acceptance_type": "preliminary"}, headers=fr)
    assert right.status_code == 200
    assert (await client.post(f"{url}/{fac}/accept", json={"accepted_on": "2027-09-02", "certificate_ref": "F"},
                              headers=matching(FR, right.headers["ETag"]))).status_code == 200


async def test_closure_through_kafka_whichever_condition_comes_last(make_database, kafka_bootstrap):
    async with service_client(SPEC, await make_database("contracts_closure"), kafka_bootstrap,
                              run_workers=True) as client:
        paid_first, accepted_first = await signed(client), await signed(client)
        await accept(client, accepted_first, 0)
        await accept(client, accepted_first, 1)
        await accept(client, paid_first, 0)

        producer = make_producer(kafka_bootstrap)
        await producer.start()
        try:
            for contract in (paid_first, accepted_first):
                event = fully_paid(contract)
                key, value, headers = Envelope(
                    id=str(uuid.uuid4()), type=event.ce_type(), source="finance", subject=event.subject(),
                    time=datetime.now(UTC), data=event.model_dump(mode="json")).to_kafka()
                await producer.send_and_wait("ltc.finance", value, key=key, headers=headers)
        finally:
            await producer.stop()

        async def read(contract: dict[str, Any]) -> dict[str, Any]:
            return (await client.get(f"{API}/{contract['id']}", headers=ADMIN)).json()

        async with asyncio.timeout(60):
            while not ((await read(paid_first))["fully_paid"] and (await read(accepted_first))["fully_paid"]):
                await asyncio.sleep(0.2)
        assert (await read(accepted_first))["status"] == "closed"
        assert (await read(paid_first))["status"] == "active"
        assert (await accept(client, paid_first, 1)).json()["status"] == "closed"
        for contract in (paid_first, accepted_first):
            types = [t for t, _ in await published(client, contract["id"])]
            assert types.count("ltc.contract.closed.v1") == 1


async def test_a_retried_review_or_signing_with_its_key_records_once_and_answers_the_same(client):
    """A retry after a lost answer carries the If-Match of the first request, stale once it
    succeeded: the key answers what the first run did, and the version is never asked again."""
    contract = await reviewed(client, await draft(client), ("commercial", "finance"))
    key = {"Idempotency-Key": str(uuid.uuid4())}
    url = f"{API}/{contract['id']}/reviews"
    read = matching(REVIEWERS["legal"], await etag_of(client, contract))
    first = await client.post(url, json=verdicts("legal"), headers={**read, **key})
    again = await client.post(url, json=verdicts("legal"), headers={**read, **key})
    assert first.status_code == again.status_code == 200 and first.json() == again.json()
    assert again.headers["ETag"] == first.headers["ETag"] != read["If-Match"]
    unkeyed = await client.post(url, json=verdicts("legal"), headers={**read, "Idempotency-Key": str(uuid.uuid4())})
    assert (unkeyed.status_code, unkeyed.json()["type"].rsplit("/", 1)[1]) == (412, "stale-etag")
    history = (await client.get(url, headers=OWNER)).json()["history"]
    assert [r["function"] for r in history] == ["commercial", "finance", "legal"]

    sign_key = {**matching(OWNER, first.headers["ETag"]), "Idempotency-Key": str(uuid.uuid4())}
    signed_once = await client.post(f"{API}/{contract['id']}/sign", json=SIGNING, headers=sign_key)
    signed_again = await client.post(f"{API}/{contract['id']}/sign", json=SIGNING, headers=sign_key)
    assert signed_once.status_code == signed_again.status_code == 200
    assert signed_once.json() == signed_again.json() and signed_once.json()["status"] == "active"
    events = [t for t, _ in await published(client, contract["id"])]
    assert events.count("ltc.contract.signed.v1") == 1 and events.count("ltc.contract.reviewed.v1") == 3
    without_key = await client.post(f"{API}/{contract['id']}/sign", json=SIGNING,
                                    headers=matching(OWNER, signed_once.headers["ETag"]))
    assert without_key.status_code == 409


# --- controls: nothing is contracted that the flow did not approve -------------------------------

APPROVER_L1 = auth("approver-l1", "approver_l1")
APPROVER_L2 = auth("approver-l2", "approver_l2")


async def test_a_draft_for_an_opportunity_that_was_not_won_is_refused(client):
    """Issue 12, defect 1: a contract for a made-up opportunity at 1.00 EUR was drafted, signed, invoiced."""
    response = await client.post(API, json=draft_body(opportunity_id=str(uuid.uuid4()),
                                                      value={"amount": "1.00", "currency": "EUR"},
                                                      line_items=[], milestones=[], payment_terms=[
                                                          {"name": "all", "percent": "100", "trigger": "signing",
                                                           "due_days": 0}]), headers=OWNER)
    assert (response.status_code, rule_of(response)) == (422, "contract-from-won-opportunity-only")
    assert response.json()["errors"][0]["field"] == "opportunity_id"


async def test_nobody_pre_empts_the_contract_of_someone_elses_deal(client):
    """Issue 12, defect 2: Bob's 1.00 EUR draft for Alice's open opportunity swallowed her win."""
    event = won(owner="alice")
    bob = auth("bob", "ar")
    preempt = await client.post(API, json=draft_body(opportunity_id=str(event.opportunity_id)), headers=bob)
    assert (preempt.status_code, rule_of(preempt)) == (422, "contract-from-won-opportunity-only")
    await deliver(client, handlers.on_opportunity_won, event)
    [contract] = (await client.get(API, params={"opportunity_id": str(event.opportunity_id)},
                                   headers=ADMIN)).json()["items"]
    assert (contract["owner"], contract["value"], contract["origin"]) == (
        "alice", {"amount": "1000000.00", "currency": "EUR"}, "opportunity")
    assert (contract["approval"]["source"], contract["approval"]["status"]) == ("atc", "approved")
    again = await client.post(API, json=draft_body(opportunity_id=str(event.opportunity_id)), headers=auth("alice", "ar"))
    assert (again.status_code, rule_of(again)) == (409, "contract-exists-for-opportunity")
    assert again.json()["errors"][0]["contract_id"] == contract["id"]
    hidden = await client.post(API, json=draft_body(opportunity_id=str(event.opportunity_id)), headers=bob)
    assert (hidden.status_code, rule_of(hidden)) == (422, "contract-from-won-opportunity-only")  # nothing revealed


async def test_a_direct_contract_is_signed_only_after_its_routed_approval_and_never_reviewed_by_its_drafter(client):
    created = await client.post(API, json=draft_body(), headers=OWNER)
    contract = created.json()
    url = f"{API}/{contract['id']}"
    assert (contract["approval"]["status"], contract["approval"]["tier"]) == ("pending", "L2")  # 80,000 EUR
    own_review = await client.post(f"{url}/reviews", json=verdicts("legal"),
                                   headers=matching(auth("ar-1", "ar", "reviewer_legal"), created.headers["ETag"]))
    assert (own_review.status_code, rule_of(own_review)) == (403, "reviewer-is-author")
    await reviewed(client, contract, ("commercial", "legal"))
    etag = await etag_of(client, contract)
    unapproved = await client.post(f"{url}/sign", json=SIGNING, headers=matching(OWNER, etag))
    assert (unapproved.status_code, rule_of(unapproved)) == (409, "contract-not-approved")
    low = await client.post(f"{url}/approval/decisions", json={"outcome": "approved"},
                            headers=matching(APPROVER_L1, etag))
    assert (low.status_code, rule_of(low)) == (403, "approval-outside-authority")
    own = await client.post(f"{url}/approval/decisions", json={"outcome": "approved"},
                            headers=matching(auth("ar-1", "ar", "approver_l3"), etag))
    assert (own.status_code, rule_of(own)) == (403, "approver-is-author")
    assert (await client.post(f"{url}/approval/decisions", json={"outcome": "approved"},
                              headers=matching(OWNER, etag))).status_code == 403
    key = {"Idempotency-Key": f"approve-{uuid.uuid4()}"}
    approved = await client.post(f"{url}/approval/decisions", json={"outcome": "approved"},
                                 headers={**matching(APPROVER_L2, etag), **key})
    assert approved.status_code == 200, approved.text
    assert (approved.json()["approval"]["status"], approved.json()["approval"]["approver"]) == ("approved", "approver-l2")
    replay = await client.post(f"{url}/approval/decisions", json={"outcome": "approved"},
                               headers={**matching(APPROVER_L2, etag), **key})  # the first request's If-Match
    assert replay.status_code == 200 and replay.json()["approval"] == approved.json()["approval"]
    before = await client.post(f"{url}/sign", json=SIGNING,  # dated weeks before the approval
                               headers=matching(OWNER, approved.headers["ETag"]))
    assert (before.status_code, rule_of(before)) == (422, "signed-before-approval")
    signed_now = await client.post(f"{url}/sign", json={**SIGNING, "signed_on": TODAY.date().isoformat()},
                                   headers=matching(OWNER, approved.headers["ETag"]))
    assert signed_now.status_code == 200, signed_now.text
    assert (signed_now.json()["status"], signed_now.json()["signed_by"]) == ("active", "ar-1")
    [audit] = [a for a in (await client.get(f"{url}/audit", headers=OWNER)).json() if a["action"] == "signed"]
    assert (audit["details"]["approved_by"], audit["details"]["approval_tier"]) == ("approver-l2", "L2")


async def test_an_edited_draft_of_a_won_deal_needs_approval_again(client):
    contract = await draft(client)
    url = f"{API}/{contract['id']}"
    read = await client.get(url, headers=OWNER)
    edited = await client.patch(url, json={"value": {"amount": "1.00", "currency": "EUR"}, "payment_terms": [
        {"name": "all", "percent": "100", "trigger": "signing", "due_days": 0}], "milestones": []},
        headers={**OWNER, "If-Match": read.headers["ETag"]})
    assert edited.status_code == 200, edited.text
    assert (edited.json()["approval"]["status"], edited.json()["approval"]["contract_version"]) == ("pending", 2)
    await reviewed(client, contract, ("commercial", "legal"))
    signing = await client.post(f"{url}/sign", json=SIGNING, headers=matching(OWNER, await etag_of(client, contract)))
    assert (signing.status_code, rule_of(signing)) == (409, "contract-not-approved")


@pytest.mark.parametrize("field", ["line_items", "payment_terms", "milestones", "legal_terms", "value", "title"])
async def test_a_null_part_of_the_terms_is_refused_naming_it(client, field):
    """Issue 12, defect 7: `"line_items": null` answered 500, even for unknown ids."""
    contract = await draft(client)
    read = await client.get(f"{API}/{contract['id']}", headers=OWNER)
    for url, headers in ((f"{API}/{contract['id']}", {**OWNER, "If-Match": read.headers["ETag"]}),
                         (f"{API}/{uuid.uuid4()}", {**OWNER, "If-Match": '"1"'})):
        response = await client.patch(url, json={field: None}, headers=headers)
        assert response.status_code == 422, response.text
        assert [e["field"] for e in response.json()["errors"]] == [field]
    signed_contract = await signed(client)
    for url, etag in ((f"{API}/{signed_contract['id']}/amendments", signed_contract["etag"]),
                      (f"{API}/{uuid.uuid4()}/amendments", '"1"')):
        response = await client.post(url, json={"reason": "more", field: None}, headers=matching(OWNER, etag))
        assert response.status_code == 422, response.text
        assert [e["field"] for e in response.json()["errors"]] == [field]


async def test_dates_of_record_in_the_future_are_refused_naming_the_field(client):
    """Issue 12, defect 4: a milestone accepted "on 2030-01-01" was invoiced today."""
    contract = await reviewed(client, await draft(client))
    url = f"{API}/{contract['id']}"
    owner = matching(OWNER, await etag_of(client, contract))
    future = await client.post(f"{url}/sign", json={**SIGNING, "signed_on": "2030-01-01"}, headers=owner)
    assert (future.status_code, rule_of(future)) == (422, "date-in-future")
    assert future.json()["errors"][0]["field"] == "signed_on"
    tomorrow = (TODAY.date() + timedelta(days=1)).isoformat()  # today in a time zone ahead of UTC
    assert (await client.post(f"{url}/sign", json={**SIGNING, "signed_on": tomorrow}, headers=owner)).status_code == 200
    active = (await client.get(url, headers=OWNER)).json()
    pac = active["milestones"][0]["milestone_id"]
    for step, field in (("start", "started_on"), ("deliver", "delivered_on"), ("accept", "accepted_on")):
        body = {field: "2030-01-01", **({"certificate_ref": "PAC-X"} if step == "accept" else {})}
        response = await client.post(f"{url}/milestones/{pac}/{step}", json=body, headers=matching(FR, active["etag"]))
        assert (response.status_code, rule_of(response)) == (422, "date-in-future"), step
        assert response.json()["errors"][0]["field"] == field
    assert (await client.get(url, headers=OWNER)).json()["milestones"][0]["status"] == "planned"


async def test_an_amendment_keeps_percentages_and_amounts_of_one_schedule(client):
    """Issue 12, defect 10: after 1,000,000 → 1,200,000 the instalments said 30/60/10 but invoiced
    300,000 / 771,428.57 / 128,571.43."""
    contract = await signed(client)
    url = f"{API}/{contract['id']}"
    requested = await client.post(f"{url}/amendments", json={"reason": "second region",
                                                             "value": {"amount": "1200000.00", "currency": "EUR"}},
                                  headers=matching(OWNER, contract["etag"]))
    assert requested.status_code == 201, requested.text
    decided = await client.post(f"{url}/amendments/{requested.json()['amendment_id']}/decisions",
                                json={"outcome": "approved"},
                                headers=matching(auth("boss", "approver_l3"), requested.json()["etag"]))
    assert decided.status_code == 200, decided.text
    expected = [("advance", "25.0000", "300000.00"), ("preliminary acceptance", "64.2857", "771428.57"),
                ("final acceptance", "10.7143", "128571.43")]
    amended = (await client.get(url, headers=OWNER)).json()
    assert (amended["approval"]["status"], amended["approval"]["contract_version"]) == ("approved", 1)  # signed on
    assert [(t["name"], t["percent"], t["amount"]["amount"]) for t in amended["payment_terms"]] == expected
    version = (await client.get(f"{url}/versions/2", headers=OWNER)).json()
    assert [(t["name"], t["percent"], t["amount"]["amount"]) for t in version["terms"]["payment_terms"]] == expected
    [(_, event)] = [(t, p) for t, p in await published(client, contract["id"]) if t == "ltc.contract.amended.v1"]
    assert [(i["name"], i["percent"], i["amount"]["amount"]) for i in event["payment_schedule"]] == expected


# --- one precondition rule: every change of a contract names the version it read ----------------------


async def _drafted(client) -> tuple[dict[str, Any], str]:
    contract = await draft(client)
    return contract, f"{API}/{contract['id']}"


async def _direct(client) -> tuple[dict[str, Any], str]:
    contract = (await client.post(API, json=draft_body(), headers=OWNER)).json()
    return contract, f"{API}/{contract['id']}"


async def _reviewed(client) -> tuple[dict[str, Any], str]:
    contract = await reviewed(client, await draft(client))
    return contract, f"{API}/{contract['id']}"


async def _signed(client) -> tuple[dict[str, Any], str]:
    contract = await signed(client)
    return contract, f"{API}/{contract['id']}"


async def _amended(client) -> tuple[dict[str, Any], str]:
    contract = await signed(client)
    amendment = (await amend(client, contract, {"reason": "scope", "title": "Core and edge upgrade"})).json()
    return contract, f"{API}/{contract['id']}/amendments/{amendment['amendment_id']}"


def _milestone(step: str) -> Any:
    async def setup(client) -> tuple[dict[str, Any], str]:
        contract = await signed(client)
        return contract, f"{API}/{contract['id']}/milestones/{contract['milestones'][0]['milestone_id']}/{step}"
    return setup


MILESTONE = "/contracts/{contract_id}/milestones/{milestone_id}"
AMENDMENT = "/contracts/{contract_id}/amendments/{amendment_id}"
# (the operation, how to reach the object it changes, the path after that, who, what)
CHANGES = [
    ("PATCH", "/contracts/{contract_id}", _drafted, "", OWNER, {"title": "Core, phase 1"}),
    ("POST", "/contracts/{contract_id}/reviews", _drafted, "/reviews", REVIEWERS["legal"], verdicts("legal")),
    ("POST", "/contracts/{contract_id}/sign", _reviewed, "/sign", OWNER, SIGNING),
    ("POST", "/contracts/{contract_id}/approval/decisions", _direct, "/approval/decisions", APPROVER_L2,
     {"outcome": "approved"}),
    ("POST", f"{MILESTONE}/start", _milestone("start"), "", FR, {"started_on": "2027-01-04"}),
    ("POST", f"{MILESTONE}/deliver", _milestone("deliver"), "", FR, {"delivered_on": "2027-02-20"}),
    ("POST", f"{MILESTONE}/accept", _milestone("accept"), "", FR,
     {"accepted_on": "2027-03-02", "certificate_ref": "PAC-1"}),
    ("POST", "/contracts/{contract_id}/amendments", _signed, "/amendments", OWNER,
     {"reason": "scope", "title": "Core and edge upgrade"}),
    ("POST", f"{AMENDMENT}/decisions", _amended, "/decisions", auth("boss", "approver_l3"), {"outcome": "approved"}),
    ("POST", f"{AMENDMENT}/withdraw", _amended, "/withdraw", OWNER, None),
]


def test_every_change_but_a_creation_requires_if_match_and_is_tested_here():
    writes = {(method, route.path): route for route in router.routes if isinstance(route, APIRoute)
              for method in route.methods if method != "GET"}
    del writes["POST", "/contracts"]  # a new contract has no version yet
    assert set(writes) == {(method, path) for method, path, *_ in CHANGES} | {("PUT", "/contract-policy")}
    assert [key for key, route in writes.items() if not if_match_required(route)] == []


@pytest.mark.parametrize(("method", "path", "setup", "tail", "headers", "body"), CHANGES,
                         ids=[f"{method} {path}" for method, path, *_ in CHANGES])
async def test_every_change_needs_the_etag_it_read(client, method, path, setup, tail, headers, body):
    contract, url = await setup(client)
    before = await etag_of(client, contract)
    version = int(before.strip('"'))
    sent = {"json": body} if body is not None else {}

    missing = await client.request(method, url + tail, headers=headers, **sent)
    stale = await client.request(method, url + tail, headers=matching(headers, f'"{version - 1}"'), **sent)
    assert (missing.status_code, missing.json()["type"].rsplit("/", 1)[1]) == (428, "if-match-required")
    assert (stale.status_code, stale.json()["type"].rsplit("/", 1)[1]) == (412, "stale-etag")
    assert await etag_of(client, contract) == before  # neither changed anything

    done = await client.request(method, url + tail, headers=matching(headers, before), **sent)
    assert done.status_code in (200, 201), done.text
    assert done.headers["ETag"] == done.json()["etag"] == await etag_of(client, contract) != before


async def test_the_policy_changes_only_on_the_version_read(client):
    url = "/api/v1/contract-policy"
    read = await client.get(url, headers=ADMIN)
    policy = {name: value for name, value in read.json().items() if name not in ("version", "etag")}
    saved = await client.put(url, json=policy, headers=matching(ADMIN, read.headers["ETag"]))  # the same policy
    assert saved.status_code == 200, saved.text
    missing = await client.put(url, json=policy, headers=ADMIN)
    stale = await client.put(url, json=policy, headers=matching(ADMIN, read.headers["ETag"]))
    assert (missing.status_code, missing.json()["type"].rsplit("/", 1)[1]) == (428, "if-match-required")
    assert (stale.status_code, stale.json()["type"].rsplit("/", 1)[1]) == (412, "stale-etag")
    assert (await client.get(url, headers=ADMIN)).headers["ETag"] == saved.headers["ETag"] == saved.json()["etag"]


async def test_lists_and_answers_carry_each_contracts_etag(client):
    contract = await signed(client)
    amendment = (await amend(client, contract, {"reason": "scope", "title": "Core and edge upgrade"})).json()
    etag = await etag_of(client, contract)
    [listed] = (await client.get(API, params={"number": contract["number"]}, headers=ADMIN)).json()["items"]
    [listed_amendment] = (await client.get(f"{API}/{contract['id']}/amendments", headers=OWNER)).json()
    read_amendment = await client.get(f"{API}/{contract['id']}/amendments/{amendment['amendment_id']}", headers=OWNER)
    assert (listed["etag"], listed_amendment["etag"], read_amendment.headers["ETag"], amendment["etag"]) == (
        etag, etag, etag, etag)
    assert listed["version"] == int(etag.strip('"'))


# --- contract numbers ---------------------------------------------------------------------------------


def _sequence(number: str) -> int:
    return int(number.rsplit("-", 1)[1])


async def test_every_draft_is_numbered_in_the_year_it_is_drafted_without_gaps(client):
    won_one = await draft(client)
    direct = await client.post(API, json=draft_body(), headers=OWNER)
    refused = await client.post(API, json=draft_body(line_items=[{"description": "switch", "quantity": "1",
                                                                  "unit_price": "1.00"}]), headers=OWNER)
    assert (refused.status_code, rule_of(refused)) == (422, "commercial-terms-inconsistent")  # after its number
    won_two = await draft(client)
    at_once = await asyncio.gather(*(client.post(API, json=draft_body(), headers=OWNER) for _ in range(3)))

    numbers = [won_one["number"], direct.json()["number"], won_two["number"], *(r.json()["number"] for r in at_once)]
    assert all(n.startswith(f"CON-{TODAY.year}-") and len(n) == len("CON-2027-000001") for n in numbers), numbers
    first = _sequence(numbers[0])
    assert [_sequence(n) for n in numbers[:3]] == [first, first + 1, first + 2]  # the refused draft gave its back
    assert sorted(_sequence(n) for n in numbers[3:]) == [first + 3, first + 4, first + 5]
    read = (await client.get(f"{API}/{won_one['id']}", headers=OWNER)).json()
    assert read["number"] == won_one["number"]
    [(_, drafted)] = await published(client, won_one["id"])
    assert "number" not in drafted  # the event schemas are versioned elsewhere: not carried (yet)


async def test_a_contract_is_found_by_its_number_by_whoever_may_see_it(client):
    contract = await signed(client)
    other = await draft(client)
    found = await client.get(API, params={"number": contract["number"]}, headers=OWNER)
    assert [c["id"] for c in found.json()["items"]] == [contract["id"]]
    assert (await client.get(API, params={"number": contract["number"]}, headers=OTHER_AR)).json()["items"] == []
    both = await client.get(API, params={"number": contract["number"], "status": "draft"}, headers=ADMIN)
    assert both.json()["items"] == []  # every filter given must match
    unknown = await client.get(API, params={"number": f"CON-{TODAY.year}-999999"}, headers=ADMIN)
    assert unknown.json()["items"] == []
    assert other["number"] != contract["number"]


@pytest.mark.parametrize(("params", "status", "field"), [
    ({"number": "CON-2027-42"}, 422, "number"),
    ({"number": "con-2027-000042"}, 422, "number"),
    ({"number": " CON-2027-000042"}, 422, "number"),
    ({"owner": ""}, 422, "owner"),
    ({"fr_owner": "x" * 201}, 422, "fr_owner"),
    ({"health": "fine"}, 422, "health"),
    ({"opportunity_id": "nonsense"}, 422, "opportunity_id"),
    ({"contract_number": "CON-2027-000042"}, 400, "contract_number"),
    ({"title": "Core"}, 400, "title"),
])
async def test_the_list_refuses_a_filter_it_does_not_have_or_a_malformed_value(client, params, status, field):
    response = await client.get(API, params=params, headers=ADMIN)
    assert response.status_code == status, response.text
    assert [e["field"] for e in response.json()["errors"]] == [field]


async def test_late_milestones_refuse_an_unknown_or_empty_filter(client):
    for params, status in (({"fr_owner": ""}, 422), ({"owner": "ar-1"}, 400), ({"account_id": "x"}, 422)):
        response = await client.get("/api/v1/milestones/late", params=params, headers=ADMIN)
        assert response.status_code == status, (params, response.text)
