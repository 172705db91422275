"""The finance service on the real database: billing plans from contract events, invoices, payments."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from aiokafka import AIOKafkaConsumer
from sqlalchemy import select

from ltc.finance import handlers
from ltc.finance.bootstrap import SPEC
from ltc.shared.db import outbox
from ltc.shared.errors import DomainError
from ltc.shared.kafka import make_producer
from ltc.shared.messages import EventPayload, Lineage, dlq_topic
from ltc.shared.messages.contracts_events import ContractMilestoneAccepted, ContractSigned
from ltc.shared.messages.envelope import Envelope
from ltc.shared.messages.opportunities_events import OpportunityWon
from ltc.shared.testing.apps import auth, runtime_of, service_client
from tests.integration.finance.support import confirm, know_the_customer

pytestmark = pytest.mark.integration

FINANCE = auth("clerk-1", "finance")
ERP = auth("erp", "integration")
AR = auth("ar-li", "ar")


# The service's clock for this module: after every value date the tests record (the service refuses
# a value date in its future).
TODAY = datetime(2026, 12, 20, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
async def client(make_database, kafka_bootstrap):
    with pytest.MonkeyPatch.context() as patch:
        started = datetime.now(UTC)  # the clock still runs: what is made later is stamped later
        patch.setattr(handlers, "clock", lambda: TODAY + (datetime.now(UTC) - started))
        async with service_client(SPEC, await make_database("finance"), kafka_bootstrap) as client:
            yield client


def _money(amount: str, currency: str = "EUR") -> dict[str, str]:
    return {"amount": amount, "currency": currency}


def _signed(*, value: str = "1000.00", schedule: list[tuple[str, str, str, uuid.UUID | None, int]] | None = None,
            currency: str = "EUR") -> ContractSigned:
    """A contract.signed event; the default schedule is 30% on signing, 60% and 10% on two milestones."""
    contract_id = uuid.uuid4()
    if schedule is None:
        schedule = [("advance", "30", "300.00", None, 30), ("preliminary acceptance", "60", "600.00", uuid.uuid4(), 45),
                    ("final acceptance", "10", "100.00", uuid.uuid4(), 45)]
    return ContractSigned.model_validate({
        "lineage": {"lead_id": str(uuid.uuid4()), "opportunity_id": str(uuid.uuid4()), "contract_id": str(contract_id)},
        "contract_id": str(contract_id), "account_id": str(uuid.uuid4()), "account_name": "ACME Telecom",
        "value": _money(value, currency), "signed_on": "2026-11-20", "signatories": ["Li Wei", "Zhang San"],
        "payment_schedule": [
            {"name": name, "percent": percent, "amount": _money(amount, currency),
             "trigger": "milestone" if milestone else "signing",
             "milestone_id": str(milestone) if milestone else None, "due_days": days}
            for name, percent, amount, milestone, days in schedule],
        "milestones": [],
    })


def _accepted(signed: ContractSigned, position: int) -> ContractMilestoneAccepted:
    milestone_id = signed.payment_schedule[position].milestone_id
    assert milestone_id is not None
    return ContractMilestoneAccepted(
        lineage=Lineage(opportunity_id=signed.lineage.opportunity_id, contract_id=signed.contract_id),
        contract_id=signed.contract_id, milestone_id=milestone_id, name="PAC", acceptance_type="preliminary",
        accepted_on=date(2027, 3, 1), certificate_ref="PAC-001")


async def _deliver(client, handler, event: EventPayload) -> None:
    """What the consumer does with one message: the handler, then one commit."""
    envelope = Envelope(id=str(uuid.uuid4()), type=event.ce_type(), source="contracts", subject=event.subject(),
                        time=datetime.now(UTC), data=event.model_dump(mode="json"))
    async with runtime_of(client).unit_of_work() as uow:
        await know_the_customer(uow, event)
        await handler(uow, event, envelope)
        await uow.commit()


async def _sign(client, signed: ContractSigned | None = None) -> ContractSigned:
    signed = signed or _signed()
    await _deliver(client, handlers.on_contract_signed, signed)
    return signed


async def _won_by(client, signed: ContractSigned, owner: str = "ar-li", *, won_at: datetime | None = None) -> None:
    """Finance hears that `owner` won the signed contract's opportunity: they manage its account."""
    assert signed.lineage.opportunity_id is not None
    await _deliver(client, handlers.on_opportunity_won, OpportunityWon.model_validate({
        "lineage": {"lead_id": str(signed.lineage.lead_id), "opportunity_id": str(signed.lineage.opportunity_id)},
        "opportunity_id": str(signed.lineage.opportunity_id), "account_id": str(signed.account_id),
        "account_name": "ACME Telecom", "title": "5G core", "owner": owner,
        "terms": {"value": signed.value.model_dump(mode="json"), "payment_terms": [], "milestones": []},
        "won_at": (won_at or datetime(2026, 11, 1, tzinfo=UTC)).isoformat()}))


async def _invoices(client, contract_id: uuid.UUID, **params: str) -> list[dict]:
    response = await client.get("/api/v1/invoices", params={"contract_id": str(contract_id), **params}, headers=FINANCE)
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def _events(client, key: uuid.UUID | str) -> list[dict]:
    async with runtime_of(client).engine.connect() as conn:
        rows = await conn.execute(select(outbox.c.type, outbox.c.payload).where(outbox.c.key == str(key))
                                  .order_by(outbox.c.seq))
        return [{"type": r.type, **r.payload} for r in rows]


async def _pay(client, amount: str, *, headers=FINANCE, currency: str = "EUR", **target) -> dict:
    body = {"bank_reference": f"BANK-{uuid.uuid4().hex[:10]}", "payer": "ACME Telecom",
            "amount": _money(amount, currency), "value_date": "2026-12-15",
            **{k: str(v) for k, v in target.items()}}
    response = await client.post("/api/v1/payments", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def _applied(payment: dict) -> list[dict]:
    return [{"invoice_id": a["invoice_id"], "amount": a["amount"]} for a in payment["applications"]]


async def test_signing_makes_a_billing_plan_and_invoices_the_signing_instalment(client):
    signed = await _sign(client)
    response = await client.get(f"/api/v1/billing-plans/{signed.contract_id}", headers=FINANCE)
    assert response.status_code == 200, response.text
    plan = response.json()
    assert plan["value"] == _money("1000.00") and plan["account_id"] == str(signed.account_id)
    assert plan["lineage"] == {"lead_id": str(signed.lineage.lead_id),
                               "opportunity_id": str(signed.lineage.opportunity_id),
                               "contract_id": str(signed.contract_id)}
    assert [(i["name"], i["amount"]["amount"], i["status"]) for i in plan["instalments"]] == [
        ("advance", "300.00", "invoiced"), ("preliminary acceptance", "600.00", "planned"),
        ("final acceptance", "100.00", "planned")]
    assert plan["invoiced"] == _money("300.00") and plan["collected"] == _money("0.00")
    assert plan["open_balance"] == _money("300.00") and plan["fully_paid_on"] is None

    [invoice] = await _invoices(client, signed.contract_id)
    today = TODAY.date()
    assert re.fullmatch(rf"INV-{today.year}-\d{{6}}", invoice["number"])
    assert invoice["instalment"] == "advance" and invoice["status"] == "issued"
    assert invoice["amount"] == _money("300.00") and invoice["open_amount"] == _money("300.00")
    assert invoice["issue_date"] == today.isoformat()
    assert invoice["due_date"] == (today + timedelta(days=30)).isoformat()
    assert plan["instalments"][0]["invoice_id"] == invoice["id"]
    response = await client.get(f"/api/v1/invoices/{invoice['id']}", headers=AR)
    assert response.status_code == 404, "an account manager sees only the accounts they manage"
    await _won_by(client, signed)
    response = await client.get(f"/api/v1/invoices/{invoice['id']}", headers=AR)
    assert response.status_code == 200 and response.json() == invoice and response.headers["etag"]
    assert (await client.get(f"/api/v1/invoices/{invoice['id']}", headers=auth("ar-other", "ar"))).status_code == 404

    [issued] = await _events(client, signed.contract_id)
    assert issued["type"] == "ltc.invoice.issued.v1"
    assert issued["invoice_number"] == invoice["number"] and issued["amount"] == _money("300.00")
    assert issued["lineage"]["lead_id"] == str(signed.lineage.lead_id)


async def test_a_repeated_signing_creates_nothing_more(client):
    signed = await _sign(client)
    await _sign(client, signed)
    assert len(await _invoices(client, signed.contract_id)) == 1
    assert [e["type"] for e in await _events(client, signed.contract_id)] == ["ltc.invoice.issued.v1"]


async def test_invoice_numbers_have_no_gaps(client):
    signed = await _sign(client, _signed(schedule=[("a", "50", "500.00", None, 10), ("b", "50", "500.00", None, 20)]))
    first, second = sorted(int(i["number"].rsplit("-", 1)[1]) for i in await _invoices(client, signed.contract_id))
    assert second == first + 1
    rolled_back = _signed()
    envelope = Envelope(id=str(uuid.uuid4()), type=rolled_back.ce_type(), source="contracts",
                        subject=rolled_back.subject(), time=datetime.now(UTC), data=rolled_back.model_dump(mode="json"))
    async with runtime_of(client).unit_of_work() as uow:
        await handlers.on_contract_signed(uow, rolled_back, envelope)  # and never committed: its number comes back
    after = await _sign(client)
    [invoice] = await _invoices(client, after.contract_id)
    assert int(invoice["number"].rsplit("-", 1)[1]) == second + 1


@pytest.mark.parametrize(("schedule", "rule"), [
    ([("all", "100", "999.99", None, 30)], "billing-plan-incomplete"),
    ([("all", "100", "1000.00", None, 30), ("again", "10", "100.00", None, 30)], "billing-plan-incomplete"),
    ([], "billing-plan-empty"),
])
async def test_a_schedule_that_does_not_add_up_is_refused_and_leaves_nothing(client, schedule, rule):
    signed = _signed(schedule=schedule)
    with pytest.raises(DomainError) as failure:
        await _sign(client, signed)
    assert failure.value.rule == rule
    assert (await client.get(f"/api/v1/billing-plans/{signed.contract_id}", headers=FINANCE)).status_code == 404


async def test_milestone_acceptance_invoices_its_instalments_once(client):
    signed = await _sign(client)
    await _deliver(client, handlers.on_contract_milestone_accepted, _accepted(signed, 1))
    await _deliver(client, handlers.on_contract_milestone_accepted, _accepted(signed, 1))
    invoices = await _invoices(client, signed.contract_id)
    assert sorted(i["instalment"] for i in invoices) == ["advance", "preliminary acceptance"]
    plan = (await client.get(f"/api/v1/billing-plans/{signed.contract_id}", headers=FINANCE)).json()
    assert [i["status"] for i in plan["instalments"]] == ["invoiced", "invoiced", "planned"]
    assert plan["invoiced"] == _money("900.00")


async def test_a_milestone_of_an_unknown_contract_is_refused(client):
    with pytest.raises(DomainError) as failure:
        await _deliver(client, handlers.on_contract_milestone_accepted, _accepted(_signed(), 1))
    assert failure.value.rule == "billing-plan-unknown"


async def test_payments_are_applied_oldest_due_first_and_the_contract_is_fully_paid_once(client):
    signed = await _sign(client)
    [advance] = await _invoices(client, signed.contract_id)

    partial = await _pay(client, "100.00", invoice_id=advance["id"])
    assert _applied(partial) == [{"invoice_id": advance["id"], "amount": _money("100.00")}]
    assert partial["applications"][0]["applied_on"] == "2026-12-15"
    assert partial["applications"][0]["applied_by"] == "clerk-1"
    assert partial["unapplied"] == _money("0.00") and partial["contract_id"] == str(signed.contract_id)
    invoice = (await client.get(f"/api/v1/invoices/{advance['id']}", headers=FINANCE)).json()
    assert invoice["status"] == "partially_paid" and invoice["open_amount"] == _money("200.00")

    await _deliver(client, handlers.on_contract_milestone_accepted, _accepted(signed, 1))
    rest = await _pay(client, "700.00", contract_id=signed.contract_id)
    preliminary = next(i for i in await _invoices(client, signed.contract_id) if i["instalment"] != "advance")
    assert _applied(rest) == [{"invoice_id": advance["id"], "amount": _money("200.00")},
                                    {"invoice_id": preliminary["id"], "amount": _money("500.00")}]
    # Typed in, not on a statement yet: covered, but "paid" does not run ahead of the bank.
    assert await _invoices(client, signed.contract_id, status="paid") == []
    [covered] = await _invoices(client, signed.contract_id, status="in_payment")
    assert covered["id"] == advance["id"] and covered["unconfirmed_amount"] == _money("300.00")

    await _deliver(client, handlers.on_contract_milestone_accepted, _accepted(signed, 2))
    last = await _pay(client, "250.00", contract_id=signed.contract_id)
    assert last["applied"] == _money("200.00") and last["unapplied"] == _money("50.00")
    assert last["status"] == "recorded" and last["confirmed_on"] is None

    plan = (await client.get(f"/api/v1/billing-plans/{signed.contract_id}", headers=FINANCE)).json()
    assert plan["collected"] == _money("1000.00") and plan["open_balance"] == _money("0.00")
    assert plan["fully_paid_on"] is None, "the bank has shown none of the cash yet"
    statement = await confirm(client, partial, rest, last, headers=FINANCE)
    assert [t["payment_id"] for t in statement["transactions"]] == [partial["id"], rest["id"], last["id"]]
    plan = (await client.get(f"/api/v1/billing-plans/{signed.contract_id}", headers=FINANCE)).json()
    assert plan["fully_paid_on"] == "2026-12-15"
    assert {i["status"] for i in await _invoices(client, signed.contract_id)} == {"paid"}
    confirmed = (await client.get(f"/api/v1/payments/{last['id']}", headers=FINANCE)).json()
    assert (confirmed["status"], confirmed["confirmed_on"]) == ("confirmed", "2026-12-15")
    assert confirmed["bank_transaction_id"] == statement["transactions"][2]["id"]
    await _pay(client, "10.00", contract_id=signed.contract_id)

    events = await _events(client, signed.contract_id)
    assert [e["type"] for e in events] == [
        "ltc.invoice.issued.v1", "ltc.invoice.issued.v1", "ltc.invoice.issued.v1",
        "ltc.invoice.paid.v1", "ltc.invoice.paid.v1", "ltc.invoice.paid.v1", "ltc.contract.fully_paid.v1"]
    [fully_paid] = [e for e in events if e["type"] == "ltc.contract.fully_paid.v1"]
    assert fully_paid["value"] == fully_paid["collected"] == _money("1000.00")
    assert fully_paid["fully_paid_on"] == "2026-12-15" and fully_paid["signed_on"] == "2026-11-20"
    assert fully_paid["lineage"]["lead_id"] == str(signed.lineage.lead_id)
    received, confirmed_event = await _events(client, last["id"])
    assert (received["type"], confirmed_event["type"]) == ("ltc.payment.received.v1", "ltc.payment.confirmed.v1")
    assert confirmed_event["bank_transaction_id"] == confirmed["bank_transaction_id"]
    assert received["unapplied"] == _money("50.00") and received["amount"] == _money("250.00")


async def test_the_same_bank_payment_is_counted_once(client):
    signed = await _sign(client)
    [advance] = await _invoices(client, signed.contract_id)
    body = {"bank_reference": f"BANK-{uuid.uuid4().hex[:10]}", "payer": "ACME", "amount": _money("100.00"),
            "value_date": "2026-12-01", "contract_id": str(signed.contract_id)}
    first = await client.post("/api/v1/payments", json=body, headers=FINANCE)
    again = await client.post("/api/v1/payments", json={**body, "payer": " acme "}, headers=ERP)
    assert first.status_code == 201 and first.headers["location"] == f"/api/v1/payments/{first.json()['id']}"
    assert again.status_code == 200 and again.json() == first.json()
    invoice = (await client.get(f"/api/v1/invoices/{advance['id']}", headers=FINANCE)).json()
    assert invoice["paid_amount"] == _money("100.00")
    assert len(await _events(client, first.json()["id"])) == 1


@pytest.mark.parametrize(("change", "fields"), [
    ({"amount": {"amount": "90.00", "currency": "EUR"}}, ["amount.amount"]),
    ({"amount": {"amount": "100.00", "currency": "USD"}}, ["amount.currency"]),
    ({"payer": "Globex"}, ["payer"]),
    ({"value_date": "2026-12-02"}, ["value_date"]),
    ({"payer": "Globex", "amount": {"amount": "90.00", "currency": "EUR"}}, ["amount.amount", "payer"]),
])
async def test_a_known_bank_reference_with_other_facts_is_a_conflict_not_the_first_payment(client, change, fields):
    """Issue 12, defect 3: a second receipt reusing a bank reference was answered with the first payment."""
    signed = await _sign(client)
    body = {"bank_reference": f"BANK-{uuid.uuid4().hex[:10]}", "payer": "ACME", "amount": _money("100.00"),
            "value_date": "2026-12-01", "contract_id": str(signed.contract_id)}
    first = (await client.post("/api/v1/payments", json=body, headers=FINANCE)).json()
    conflict = await client.post("/api/v1/payments", json={**body, **change}, headers=ERP)
    assert conflict.status_code == 409, conflict.text
    problem = conflict.json()
    assert problem["rule"] == "bank-reference-conflict" and first["id"] in problem["detail"]
    assert sorted(e["field"] for e in problem["errors"]) == fields
    assert {e["payment_id"] for e in problem["errors"]} == {first["id"]}
    plan = (await client.get(f"/api/v1/billing-plans/{signed.contract_id}", headers=FINANCE)).json()
    assert plan["collected"] == _money("100.00")
    assert len(await _events(client, first["id"])) == 1


async def test_concurrent_recordings_of_one_bank_payment_count_once(client):
    signed = await _sign(client)
    body = {"bank_reference": f"BANK-{uuid.uuid4().hex[:10]}", "payer": "ACME", "amount": _money("100.00"),
            "value_date": "2026-12-01", "contract_id": str(signed.contract_id)}
    answers = await asyncio.gather(*(client.post("/api/v1/payments", json=body, headers=FINANCE) for _ in range(4)))
    assert sorted(a.status_code for a in answers) == [200, 200, 200, 201]
    assert len({a.json()["id"] for a in answers}) == 1
    plan = (await client.get(f"/api/v1/billing-plans/{signed.contract_id}", headers=FINANCE)).json()
    assert plan["collected"] == _money("100.00")


async def test_one_bank_payment_sent_for_two_contracts_at_once_counts_once(client):
    contracts = [(await _sign(client)).contract_id for _ in range(2)]
    reference = f"BANK-{uuid.uuid4().hex[:10]}"
    answers = await asyncio.gather(*(client.post("/api/v1/payments", headers=FINANCE, json={
        "bank_reference": reference, "payer": "ACME", "amount": _money("100.00"), "value_date": "2026-12-01",
        "contract_id": str(contract_id)}) for contract_id in contracts))
    assert sorted(a.status_code for a in answers) == [200, 201]
    assert answers[0].json() == answers[1].json()
    plans = [(await client.get(f"/api/v1/billing-plans/{c}", headers=FINANCE)).json() for c in contracts]
    assert sorted(p["collected"]["amount"] for p in plans) == ["0.00", "100.00"]


async def test_idempotency_key_replays_and_refuses_reuse(client):
    signed = await _sign(client)
    body = {"bank_reference": f"BANK-{uuid.uuid4().hex[:10]}", "payer": "ACME", "amount": _money("50.00"),
            "value_date": "2026-12-01", "contract_id": str(signed.contract_id)}
    headers = {**FINANCE, "Idempotency-Key": str(uuid.uuid4())}
    first = await client.post("/api/v1/payments", json=body, headers=headers)
    second = await client.post("/api/v1/payments", json=body, headers=headers)
    assert first.status_code == second.status_code == 201 and first.json() == second.json()
    other = await client.post("/api/v1/payments", json={**body, "bank_reference": "BANK-other"}, headers=headers)
    assert other.status_code == 422 and other.json()["type"].endswith("idempotency-key-reused")


async def test_payment_rules_are_named(client):
    signed = await _sign(client)
    [advance] = await _invoices(client, signed.contract_id)
    other = await _sign(client)
    base = {"bank_reference": f"BANK-{uuid.uuid4().hex[:10]}", "payer": "ACME", "value_date": "2026-12-01"}
    for body, rule in (
        ({"amount": _money("10.00", "USD"), "contract_id": str(signed.contract_id)}, "currency-mismatch"),
        ({"amount": _money("10.00", "USD"), "invoice_id": advance["id"]}, "currency-mismatch"),
        ({"amount": _money("10.00")}, "payment-target-required"),
        ({"amount": _money("0.00"), "invoice_id": advance["id"]}, "payment-amount-not-positive"),
        ({"amount": _money("10.00"), "invoice_id": advance["id"], "contract_id": str(other.contract_id)},
         "invoice-not-of-contract"),
    ):
        response = await client.post("/api/v1/payments", json={**base, **body}, headers=FINANCE)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["rule"] == rule
    invoice = (await client.get(f"/api/v1/invoices/{advance['id']}", headers=FINANCE)).json()
    assert invoice["paid_amount"] == _money("0.00")


async def test_cash_valued_in_the_future_is_refused_and_back_dated_cash_keeps_its_date(client):
    """Issue 12, defect 4: a payment valued in 2030 made the invoice and the receivables disagree."""
    signed = await _sign(client)
    [advance] = await _invoices(client, signed.contract_id)
    body = {"bank_reference": f"BANK-{uuid.uuid4().hex[:10]}", "payer": "ACME", "amount": _money("400.00"),
            "invoice_id": advance["id"]}
    future = await client.post("/api/v1/payments", json={**body, "value_date": "2030-01-01"}, headers=FINANCE)
    assert (future.status_code, future.json()["rule"]) == (422, "date-in-future")
    assert future.json()["errors"][0]["field"] == "value_date"
    back_dated = await client.post("/api/v1/payments", json={**body, "value_date": "2026-11-25"}, headers=FINANCE)
    assert back_dated.status_code == 201, back_dated.text
    payment = back_dated.json()
    assert payment["applications"][0]["applied_on"] == "2026-11-25" and payment["unapplied"] == _money("100.00")
    later = await client.post(f"/api/v1/payments/{payment['id']}/applications",
                              json={"applied_on": "2030-01-01"}, headers={**FINANCE, "If-Match": payment["etag"]})
    assert (later.status_code, later.json()["rule"]) == (422, "date-in-future")
    assert (await client.get(f"/api/v1/payments/{payment['id']}", headers=FINANCE)).json()["unapplied"] == \
        _money("100.00")


async def test_invoice_list_filters_and_paginates(client):
    signed = await _sign(client, _signed(schedule=[("a", "20", "200.00", None, 10), ("b", "30", "300.00", None, 20),
                                                    ("c", "50", "500.00", None, 30)]))
    page = await client.get("/api/v1/invoices", params={"contract_id": str(signed.contract_id), "limit": 2},
                            headers=ERP)
    assert page.status_code == 200 and len(page.json()["items"]) == 2 and page.json()["next_cursor"]
    rest = await client.get("/api/v1/invoices", params={"contract_id": str(signed.contract_id), "limit": 2,
                                                         "cursor": page.json()["next_cursor"]}, headers=ERP)
    assert rest.json()["next_cursor"] is None
    assert [i["instalment"] for i in page.json()["items"] + rest.json()["items"]] == ["a", "b", "c"]
    assert await _invoices(client, signed.contract_id, status="paid") == []
    bad = await client.get("/api/v1/invoices", params={"status": "lost"}, headers=ERP)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "status"


BODY = ('"bank_reference": "B-1", "payer": "ACME", "value_date": "2026-12-01", '
        '"contract_id": "3f2e1d0c-b9a8-4765-8432-10fedcba9876"')


@pytest.mark.parametrize(("content", "status", "field"), [
    (b"{not json", 400, None),
    ((b'{"payer": "ACME", "amount": {"amount": "1.00", "currency": "EUR"}, "value_date": "2026-12-01",'
      b' "contract_id": "3f2e1d0c-b9a8-4765-8432-10fedcba9876"}'), 422, "bank_reference"),
    (('{' + BODY.replace('"B-1"', '"  "') + ', "amount": {"amount": "1.00", "currency": "EUR"}}').encode(), 422,
     "bank_reference"),
    (('{' + BODY + ', "amount": {"amount": 1.5, "currency": "EUR"}}').encode(), 422, "amount.amount"),
    (('{' + BODY + ', "amount": {"amount": "1.001", "currency": "EUR"}}').encode(), 422, "amount"),
    (('{' + BODY + ', "amount": {"amount": "1.00", "currency": "EURO"}}').encode(), 422, "amount.currency"),
    (('{' + BODY + ', "amount": {"amount": "1.00", "currency": "EUR"}, "note": "x"}').encode(), 422, "note"),
    (('{' + BODY.replace("2026-12-01", "yesterday") + ', "amount": {"amount": "1.00", "currency": "EUR"}}').encode(),
     422, "value_date"),
])
async def test_bad_input_is_a_problem_naming_the_field(client, content, status, field):
    response = await client.post("/api/v1/payments", content=content,
                                 headers={**FINANCE, "content-type": "application/json"})
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    if field:
        assert field in [e["field"] for e in response.json()["errors"]]


async def test_unknown_ids_are_not_found(client):
    unknown = uuid.uuid4()
    for path in (f"/api/v1/invoices/{unknown}", f"/api/v1/payments/{unknown}", f"/api/v1/billing-plans/{unknown}"):
        response = await client.get(path, headers=FINANCE)
        assert response.status_code == 404 and response.headers["content-type"] == "application/problem+json"
    for target in ("invoice_id", "contract_id"):
        response = await client.post("/api/v1/payments", headers=FINANCE, json={
            "bank_reference": f"BANK-{uuid.uuid4().hex[:10]}", "payer": "ACME", "amount": _money("1.00"),
            "value_date": "2026-12-01", target: str(unknown)})
        assert response.status_code == 404, response.text


async def test_missing_token_is_401_and_wrong_role_is_403(client):
    signed = await _sign(client)
    assert (await client.get("/api/v1/invoices")).status_code == 401
    response = await client.get("/api/v1/invoices", headers={"Authorization": "Bearer not-a-jwt"})
    assert response.status_code == 401 and response.headers["content-type"] == "application/problem+json"
    body = {"bank_reference": "B-403", "payer": "ACME", "amount": _money("1.00"), "value_date": "2026-12-01",
            "contract_id": str(signed.contract_id)}
    for headers in (AR, auth("boss", "admin")):
        response = await client.post("/api/v1/payments", json=body, headers=headers)
        assert response.status_code == 403 and response.headers["content-type"] == "application/problem+json"
    response = await client.get(f"/api/v1/billing-plans/{signed.contract_id}", headers=auth("sol", "sr"))
    assert response.status_code == 403
    assert (await client.get(f"/api/v1/billing-plans/{signed.contract_id}", headers=AR)).status_code == 404
    await _won_by(client, signed)
    for headers in (FINANCE, ERP, AR, auth("boss", "admin")):
        assert (await client.get(f"/api/v1/billing-plans/{signed.contract_id}", headers=headers)).status_code == 200


async def test_health_and_readiness(client):
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"database": "ok", "migrations": "ok", "kafka": "ok"}



async def _publish(kafka_bootstrap: str, event: EventPayload) -> None:
    key, value, headers = Envelope(id=str(uuid.uuid4()), type=event.ce_type(), source="contracts",
                                   subject=event.subject(), time=datetime.now(UTC),
                                   data=event.model_dump(mode="json")).to_kafka()
    producer = make_producer(kafka_bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(event.topic, value=value, key=key, headers=headers)
    finally:
        await producer.stop()


async def _dead_letter_reason(kafka_bootstrap: str, contract_id: uuid.UUID) -> str:
    consumer = AIOKafkaConsumer(dlq_topic("ltc.contracts"), bootstrap_servers=kafka_bootstrap,
                                group_id=f"test-{uuid.uuid4()}", auto_offset_reset="earliest")
    await consumer.start()
    try:
        async with asyncio.timeout(60):
            async for record in consumer:
                if record.key == str(contract_id).encode():
                    return dict(record.headers)["dlq_reason"].decode()
    finally:
        await consumer.stop()
    raise AssertionError("unreachable")


async def test_contract_events_arrive_through_kafka_and_bad_plans_are_dead_lettered(make_database, kafka_bootstrap):
    async with service_client(SPEC, await make_database("finance_kafka"), kafka_bootstrap, run_workers=True) as client:
        signed, incomplete = _signed(), _signed(schedule=[("all", "100", "999.99", None, 30)])
        await _publish(kafka_bootstrap, incomplete)
        async with runtime_of(client).unit_of_work() as uow:
            await know_the_customer(uow, signed)
            await uow.commit()
        await _publish(kafka_bootstrap, signed)
        await _publish(kafka_bootstrap, _accepted(signed, 1))
        async with asyncio.timeout(60):
            while len(await _invoices(client, signed.contract_id)) < 2:
                await asyncio.sleep(0.2)
        assert await _dead_letter_reason(kafka_bootstrap, incomplete.contract_id) == "billing-plan-incomplete"
        response = await client.get(f"/api/v1/billing-plans/{incomplete.contract_id}", headers=FINANCE)
        assert response.status_code == 404
