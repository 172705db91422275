"""Amendments, account-level cash, credit notes, receivables, dunning and journal lines on the real database."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text

from ltc.finance import handlers
from ltc.finance.bootstrap import SPEC
from ltc.shared.db import outbox
from ltc.shared.errors import DomainError
from ltc.shared.kafka import make_producer
from ltc.shared.messages import EventPayload
from ltc.shared.messages.contracts_events import ContractAmended, ContractMilestoneAccepted, ContractSigned
from ltc.shared.messages.envelope import Envelope
from ltc.shared.messages.leads_events import LeadCreated
from ltc.shared.messages.opportunities_events import OpportunityWon
from ltc.shared.testing.apps import auth, runtime_of, service_client
from tests.integration.finance.support import confirm, know_the_customer

pytestmark = pytest.mark.integration

FINANCE = auth("clerk-1", "finance")
ERP = auth("erp", "integration")
ADMIN = auth("ops", "admin")
AR = auth("ar-wang", "ar")
TODAY = datetime.now(UTC).date()


@pytest.fixture(scope="module")
async def client(make_database, kafka_bootstrap):
    async with service_client(SPEC, await make_database("finance_cash"), kafka_bootstrap) as client:
        yield client


def _money(amount: str, currency: str = "EUR") -> dict[str, str]:
    return {"amount": amount, "currency": currency}


def _signed(*, account_id: uuid.UUID | None = None, value: str = "1000.00",
            schedule: list[tuple[str, str, str, uuid.UUID | None, int]] | None = None) -> ContractSigned:
    contract_id = uuid.uuid4()
    if schedule is None:
        schedule = [("advance", "30", "300.00", None, 30), ("pac", "70", "700.00", uuid.uuid4(), 45)]
    return ContractSigned.model_validate({
        "lineage": {"lead_id": str(uuid.uuid4()), "opportunity_id": str(uuid.uuid4()), "contract_id": str(contract_id)},
        "contract_id": str(contract_id), "account_id": str(account_id or uuid.uuid4()), "account_name": "ACME",
        "value": _money(value), "signed_on": "2026-11-20", "signatories": ["Li Wei"],
        "payment_schedule": [
            {"name": name, "percent": percent, "amount": _money(amount),
             "trigger": "milestone" if milestone else "signing",
             "milestone_id": str(milestone) if milestone else None, "due_days": days}
            for name, percent, amount, milestone, days in schedule],
        "milestones": [],
    })


def _accepted(signed: ContractSigned, name: str = "pac") -> ContractMilestoneAccepted:
    [milestone_id] = [line.milestone_id for line in signed.payment_schedule if line.name == name]
    assert milestone_id is not None
    return ContractMilestoneAccepted(contract_id=signed.contract_id, milestone_id=milestone_id, name=name.upper(),
                                     acceptance_type="preliminary", accepted_on=date(2027, 3, 1),
                                     certificate_ref="PAC-1")


def _amended(signed: ContractSigned, version: int, value: str,
             schedule: list[tuple[str, str, str, uuid.UUID | None, int]]) -> ContractAmended:
    return ContractAmended.model_validate({
        "lineage": signed.lineage.model_dump(mode="json"), "contract_id": str(signed.contract_id),
        "contract_version": version, "reason": "scope change", "value": _money(value),
        "payment_schedule": [
            {"name": name, "percent": percent, "amount": _money(amount),
             "trigger": "milestone" if milestone else "signing",
             "milestone_id": str(milestone) if milestone else None, "due_days": days}
            for name, percent, amount, milestone, days in schedule],
        "milestones": [], "amended_at": "2027-01-10T10:00:00+00:00"})


def _envelope(event: EventPayload, message_id: str | None = None) -> Envelope:
    return Envelope(id=message_id or str(uuid.uuid4()), type=event.ce_type(), source="test", subject=event.subject(),
                    time=datetime.now(UTC), data=event.model_dump(mode="json"))


async def _deliver(client, handler, event: EventPayload) -> None:
    async with runtime_of(client).unit_of_work() as uow:
        await know_the_customer(uow, event)
        await handler(uow, event, _envelope(event))
        await uow.commit()


async def _sign(client, signed: ContractSigned | None = None) -> ContractSigned:
    signed = signed or _signed()
    await _deliver(client, handlers.on_contract_signed, signed)
    return signed


async def _won_by(client, signed: ContractSigned, owner: str = "ar-wang") -> None:
    await _deliver(client, handlers.on_opportunity_won, OpportunityWon.model_validate({
        "opportunity_id": str(signed.lineage.opportunity_id), "account_id": str(signed.account_id),
        "account_name": "ACME", "title": "5G core", "owner": owner,
        "terms": {"value": signed.value.model_dump(mode="json"), "payment_terms": [], "milestones": []},
        "won_at": "2026-11-01T09:00:00+00:00"}))


async def _invoices(client, contract_id: uuid.UUID) -> dict[str, dict]:
    response = await client.get("/api/v1/invoices", params={"contract_id": str(contract_id)}, headers=FINANCE)
    assert response.status_code == 200, response.text
    return {i["instalment"]: i for i in response.json()["items"]}


async def _events(client, key: uuid.UUID | str, type_: str | None = None) -> list[dict]:
    async with runtime_of(client).engine.connect() as conn:
        stmt = select(outbox.c.type, outbox.c.payload).where(outbox.c.key == str(key)).order_by(outbox.c.seq)
        rows = [{"type": r.type, **r.payload} for r in await conn.execute(stmt)]
    return [r for r in rows if type_ is None or r["type"] == type_]


async def _pay(client, amount: str, *, headers=FINANCE, status: int = 201, **target) -> dict:
    body = {"bank_reference": f"BANK-{uuid.uuid4().hex[:10]}", "payer": "ACME", "amount": _money(amount),
            "value_date": TODAY.isoformat(), **{k: str(v) for k, v in target.items()}}
    response = await client.post("/api/v1/payments", json=body, headers=headers)
    assert response.status_code == status, response.text
    return response.json()


def _applied(payment: dict) -> list[tuple[str, str]]:
    return [(a["invoice_id"], a["amount"]["amount"]) for a in payment["applications"]]


# -- amendments -------------------------------------------------------------------------------

async def test_an_amendment_replans_what_is_not_invoiced_and_leaves_issued_invoices_alone(client):
    signed = await _sign(client)
    [[advance_id, _]] = [(i["id"], i) for i in (await _invoices(client, signed.contract_id)).values()]
    pac = signed.payment_schedule[1].milestone_id
    await _deliver(client, handlers.on_contract_amended, _amended(signed, 2, "1300.00", [
        ("advance", "30", "300.00", None, 30), ("pac", "50", "650.00", pac, 60),
        ("training", "20", "350.00", None, 15)]))
    plan = (await client.get(f"/api/v1/billing-plans/{signed.contract_id}", headers=FINANCE)).json()
    assert plan["value"] == _money("1300.00") and plan["contract_version"] == 2
    assert [(i["name"], i["amount"]["amount"], i["due_days"], i["status"]) for i in plan["instalments"]] == [
        ("advance", "300.00", 30, "invoiced"), ("pac", "650.00", 60, "planned"), ("training", "350.00", 15, "invoiced")]
    invoices = await _invoices(client, signed.contract_id)
    assert invoices["advance"]["id"] == advance_id and invoices["advance"]["amount"] == _money("300.00")
    assert invoices["training"]["amount"] == _money("350.00"), "a new signing instalment is billed at once"

    refused = _amended(signed, 3, "1300.00", [("advance", "40", "400.00", None, 30), ("pac", "30", "550.00", pac, 60),
                                             ("training", "20", "350.00", None, 15)])
    with pytest.raises(DomainError) as failure:
        await _deliver(client, handlers.on_contract_amended, refused)
    assert failure.value.rule == "invoiced-instalment-changed"
    plan = (await client.get(f"/api/v1/billing-plans/{signed.contract_id}", headers=FINANCE)).json()
    assert plan["contract_version"] == 2 and plan["value"] == _money("1300.00")

    await _deliver(client, handlers.on_contract_amended, _amended(signed, 2, "1.00", []))  # a redelivered old version
    assert (await client.get(f"/api/v1/billing-plans/{signed.contract_id}", headers=FINANCE)).json()["value"] \
        == _money("1300.00")


# -- account-level cash and unapplied cash ----------------------------------------------------

async def test_an_account_payment_pays_oldest_due_first_and_its_surplus_is_applied_later(client):
    account = uuid.uuid4()
    late = await _sign(client, _signed(account_id=account, schedule=[("advance", "30", "300.00", None, 60),
                                                                      ("pac", "70", "700.00", uuid.uuid4(), 45)]))
    early = await _sign(client, _signed(account_id=account, schedule=[("advance", "30", "300.00", None, 10),
                                                                       ("pac", "70", "700.00", uuid.uuid4(), 45)]))
    late_advance = (await _invoices(client, late.contract_id))["advance"]
    early_advance = (await _invoices(client, early.contract_id))["advance"]

    payment = await _pay(client, "800.00", headers=ERP, account_id=account)
    assert _applied(payment) == [(early_advance["id"], "300.00"), (late_advance["id"], "300.00")]
    assert payment["unapplied"] == _money("200.00") and payment["account_id"] == str(account)
    assert payment["contract_id"] is None
    [received] = await _events(client, payment["id"])
    assert received["account_id"] == str(account) and received["unapplied"] == _money("200.00")

    apply_url = f"/api/v1/payments/{payment['id']}/applications"
    read = await client.get(f"/api/v1/payments/{payment['id']}", headers=FINANCE)
    stale = await client.post(apply_url, json={}, headers={**FINANCE, "If-Match": '"999"'})
    assert stale.status_code == 412
    nothing = await client.post(apply_url, json={}, headers={**FINANCE, "If-Match": read.headers["etag"]})
    assert nothing.status_code == 409 and nothing.json()["rule"] == "nothing-to-apply"
    assert (await client.post(apply_url, json={}, headers={**ERP, "If-Match": read.headers["etag"]})).status_code \
        == 403

    await _deliver(client, handlers.on_contract_milestone_accepted, _accepted(late))
    late_pac = (await _invoices(client, late.contract_id))["pac"]
    keyed = {**FINANCE, "Idempotency-Key": str(uuid.uuid4()), "If-Match": read.headers["etag"]}
    response = await client.post(apply_url, json={"invoice_id": late_pac["id"]}, headers=keyed)
    assert response.status_code == 200, response.text
    applied = response.json()
    assert applied["etag"] == response.headers["etag"] != read.headers["etag"]
    # The answer was lost: the same request again (its If-Match now stale) answers the same, and
    # applies nothing more.
    retried = await client.post(apply_url, json={"invoice_id": late_pac["id"]}, headers=keyed)
    assert retried.status_code == 200 and retried.json() == applied
    other_body = await client.post(apply_url, json={}, headers=keyed)
    assert other_body.status_code == 422 and other_body.json()["type"].endswith("/idempotency-key-reused")
    assert applied["unapplied"] == _money("0.00") and applied["applied"] == _money("800.00")
    assert applied["applications"][-1] == {"invoice_id": late_pac["id"], "contract_id": str(late.contract_id),
                                           "amount": _money("200.00"), "applied_on": TODAY.isoformat(),
                                           "applied_by": "clerk-1"}
    invoice = (await client.get(f"/api/v1/invoices/{late_pac['id']}", headers=FINANCE)).json()
    assert invoice["status"] == "partially_paid" and invoice["open_amount"] == _money("500.00")
    [later] = await _events(client, payment["id"], "ltc.payment.applied.v1")
    assert later["applications"] == [{"invoice_id": late_pac["id"], "amount": _money("200.00")}]
    again = await client.post(apply_url, json={}, headers={**FINANCE, "If-Match": applied["etag"]})
    assert again.status_code == 409 and again.json()["rule"] == "no-unapplied-cash"


async def test_account_payment_bad_inputs(client):
    signed = await _sign(client)
    advance = (await _invoices(client, signed.contract_id))["advance"]
    base = {"bank_reference": f"BANK-{uuid.uuid4().hex[:10]}", "payer": "ACME", "value_date": "2026-12-01"}
    for body, status, rule in (
        ({"amount": _money("-5.00"), "account_id": str(signed.account_id)}, 422, "payment-amount-not-positive"),
        ({"amount": _money("5.00", "JPY"), "account_id": str(signed.account_id)}, 422, "currency-mismatch"),
        ({"amount": _money("5.00"), "invoice_id": advance["id"], "account_id": str(uuid.uuid4())}, 422,
         "invoice-not-of-account"),
        ({"amount": _money("5.00"), "account_id": str(uuid.uuid4())}, 404, None),
    ):
        response = await client.post("/api/v1/payments", json={**base, **body}, headers=FINANCE)
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == "application/problem+json"
        if rule:
            assert response.json()["rule"] == rule
    unknown = await client.post(f"/api/v1/payments/{uuid.uuid4()}/applications", json={},
                                headers={**FINANCE, "If-Match": '"1"'})
    assert unknown.status_code == 404


# -- credit notes -----------------------------------------------------------------------------

async def test_a_credit_note_corrects_an_invoice_and_only_finance_issues_one(client):
    signed = await _sign(client)
    advance = (await _invoices(client, signed.contract_id))["advance"]
    url = f"/api/v1/invoices/{advance['id']}/credit-notes"
    body = {"amount": _money("30.00"), "reason": "discount not applied"}
    for headers in (ERP, AR, ADMIN):
        assert (await client.post(url, json=body, headers={**headers, "If-Match": advance["etag"]})).status_code == 403
    keyed = {**FINANCE, "Idempotency-Key": str(uuid.uuid4()), "If-Match": advance["etag"]}
    first = await client.post(url, json=body, headers=keyed)
    assert first.status_code == 201, first.text
    note = first.json()
    assert first.headers["location"] == f"/api/v1/credit-notes/{note['id']}"
    assert note["number"].startswith(f"CN-{TODAY.year}-") and note["issued_by"] == "clerk-1"
    # A retry of the lost answer: its If-Match is stale now, its key answers the first note.
    replay = await client.post(url, json=body, headers=keyed)
    assert replay.status_code == 201 and replay.json() == note
    read = await client.get(f"/api/v1/invoices/{advance['id']}", headers=FINANCE)
    invoice = read.json()
    assert invoice["etag"] == read.headers["etag"] != advance["etag"], "the credit note changed the invoice"
    assert invoice["amount"] == _money("300.00"), "an issued invoice is never changed"
    assert invoice["credited_amount"] == _money("30.00") and invoice["open_amount"] == _money("270.00")
    [credited] = await _events(client, signed.contract_id, "ltc.invoice.credited.v1")
    assert credited["credit_note_number"] == note["number"] and credited["invoice_open_amount"] == _money("270.00")
    assert (await client.get(f"/api/v1/credit-notes/{note['id']}", headers=ERP)).json() == note
    listed = await client.get("/api/v1/credit-notes", params={"invoice_id": advance["id"]}, headers=ERP)
    assert [n["id"] for n in listed.json()["items"]] == [note["id"]]

    for bad, status, rule in (({"amount": _money("270.01"), "reason": "x"}, 422, "credit-exceeds-open-amount"),
                              ({"amount": _money("1.00", "USD"), "reason": "x"}, 422, "currency-mismatch"),
                              ({"amount": _money("-1.00"), "reason": "x"}, 422, "credit-amount-not-positive"),
                              ({"amount": _money("1.00"), "reason": " "}, 422, None)):
        response = await client.post(url, json=bad, headers={**FINANCE, "If-Match": invoice["etag"]})
        assert response.status_code == status, response.text
        if rule:
            assert response.json()["rule"] == rule
    unknown = await client.post(f"/api/v1/invoices/{uuid.uuid4()}/credit-notes", json=body,
                                headers={**FINANCE, "If-Match": '"1"'})
    assert unknown.status_code == 404


async def test_credit_note_numbers_have_no_gaps(client):
    signed = await _sign(client)
    advance = (await _invoices(client, signed.contract_id))["advance"]
    url = f"/api/v1/invoices/{advance['id']}/credit-notes"
    numbers = []
    for amount in ("1.00", "999999999.00", "1.00", "1.00"):  # the second is refused: more than is open
        invoice = await client.get(f"/api/v1/invoices/{advance['id']}", headers=FINANCE)
        response = await client.post(url, json={"amount": _money(amount), "reason": "rounding"},
                                     headers={**FINANCE, "If-Match": invoice.headers["etag"]})
        if amount == "999999999.00":
            assert response.status_code == 422, response.text  # rolled back, number and all
            continue
        assert response.status_code == 201, response.text
        numbers.append(int(response.json()["number"].rsplit("-", 1)[1]))
    assert numbers == [numbers[0], numbers[0] + 1, numbers[0] + 2]


# -- receivables ------------------------------------------------------------------------------

async def test_receivables_age_the_open_invoices_as_of_a_date_and_tie_to_them(client):
    account = uuid.uuid4()
    signed = await _sign(client, _signed(account_id=account, schedule=[("a", "20", "200.00", None, 0),
                                                                        ("b", "30", "300.00", None, 30),
                                                                        ("c", "50", "500.00", None, 95)]))
    invoices = await _invoices(client, signed.contract_id)
    await _pay(client, "50.00", invoice_id=invoices["b"]["id"])
    await _pay(client, "250.00", invoice_id=invoices["a"]["id"])  # a paid, 50 held

    as_of = TODAY + timedelta(days=45)
    response = await client.get("/api/v1/receivables", params={"account_id": str(account), "as_of": str(as_of)},
                                headers=FINANCE)
    assert response.status_code == 200, response.text
    [eur] = response.json()["currencies"]
    assert eur["buckets"] == {"current": _money("500.00"), "1-30": _money("250.00"), "31-60": _money("0.00"),
                              "61-90": _money("0.00"), "90+": _money("0.00")}
    assert eur["total_open"] == _money("750.00") and eur["unapplied_cash"] == _money("50.00")
    assert eur["net_exposure"] == _money("700.00")
    listed = {i["number"]: (i["bucket"], i["open_amount"]["amount"]) for i in eur["invoices"]}
    assert listed == {invoices["b"]["number"]: ("1-30", "250.00"), invoices["c"]["number"]: ("current", "500.00")}
    assert sum(Decimal(i["open_amount"]["amount"]) for i in eur["invoices"]) == Decimal(eur["total_open"]["amount"])

    later = (await client.get("/api/v1/receivables", params={"contract_id": str(signed.contract_id),
                                                              "as_of": str(TODAY + timedelta(days=150))},
                              headers=ERP)).json()["currencies"][0]
    assert later["buckets"] == {"current": _money("0.00"), "1-30": _money("0.00"), "31-60": _money("500.00"),
                                "61-90": _money("0.00"), "90+": _money("250.00")}
    assert later["total_open"] == _money("750.00")

    before = (await client.get("/api/v1/receivables", params={"account_id": str(account),
                                                               "as_of": str(TODAY - timedelta(days=1))},
                               headers=FINANCE)).json()
    assert before["currencies"] == [], "nothing was issued before today"


async def test_account_managers_read_only_their_accounts_receivables(client):
    signed = await _sign(client)
    params = {"account_id": str(signed.account_id)}
    assert (await client.get("/api/v1/receivables", params=params, headers=AR)).status_code == 404
    await _won_by(client, signed)
    mine = await client.get("/api/v1/receivables", params=params, headers=AR)
    assert mine.status_code == 200 and mine.json()["currencies"][0]["total_open"] == _money("300.00")
    everything = await client.get("/api/v1/receivables", headers=AR)
    assert everything.status_code == 422 and everything.json()["errors"][0]["field"] == "account_id"
    other = await client.get("/api/v1/receivables", params={"account_id": str(uuid.uuid4())}, headers=AR)
    assert other.status_code == 404
    listed = await client.get("/api/v1/invoices", headers=AR)
    assert {i["account_id"] for i in listed.json()["items"]} == {str(signed.account_id)}
    payment = await _pay(client, "10.00", contract_id=signed.contract_id)
    assert (await client.get(f"/api/v1/payments/{payment['id']}", headers=AR)).json()["id"] == payment["id"]
    assert (await client.get(f"/api/v1/payments/{payment['id']}", headers=auth("ar-x", "ar"))).status_code == 404
    payments = await client.get("/api/v1/payments", params=params, headers=AR)
    assert [p["id"] for p in payments.json()["items"]] == [payment["id"]]
    assert (await client.get("/api/v1/payments", headers=AR)).status_code == 422
    assert (await client.get("/api/v1/receivables", params=params, headers=auth("s", "sr"))).status_code == 403
    assert (await client.post("/api/v1/payments", headers=AR, json={
        "bank_reference": "B-AR", "payer": "ACME", "amount": _money("1.00"), "value_date": "2026-12-01",
        "account_id": str(signed.account_id)})).status_code == 403


# -- dunning ----------------------------------------------------------------------------------

async def test_a_dunning_run_for_a_day_not_yet_come_is_refused_and_sends_nothing(client):
    """Issue 12, defect 4: a run as of 2099-12-31 dunned every open invoice and blocked real runs."""
    signed = await _sign(client, _signed(schedule=[("all", "100", "1000.00", None, 10)]))
    response = await client.post("/api/v1/dunning-runs", json={"as_of": "2099-12-31"}, headers=FINANCE)
    assert (response.status_code, response.json()["rule"]) == (422, "date-in-future")
    assert response.json()["errors"][0]["field"] == "as_of"
    assert await _events(client, signed.contract_id, "ltc.invoice.overdue.v1") == []
    today = await client.post("/api/v1/dunning-runs", json={"as_of": str(TODAY)}, headers=FINANCE)
    assert today.status_code == 200, today.text


async def test_the_dunning_run_advances_overdue_invoices_and_emits_invoice_overdue(client, monkeypatch):
    signed = await _sign(client, _signed(schedule=[("all", "100", "1000.00", None, 10)]))
    invoice = (await _invoices(client, signed.contract_id))["all"]
    await _pay(client, "400.00", invoice_id=invoice["id"])
    due = date.fromisoformat(invoice["due_date"])
    for headers in (AR, ERP):
        assert (await client.post("/api/v1/dunning-runs", json={"as_of": str(due)}, headers=headers)).status_code == 403

    async def run(as_of: date, headers=FINANCE) -> list[dict]:
        # The run of that day, on that day: the service refuses to judge a day not yet come.
        monkeypatch.setattr(handlers, "clock", lambda: datetime.combine(as_of, datetime.min.time(), UTC))
        response = await client.post("/api/v1/dunning-runs", json={"as_of": str(as_of)}, headers=headers)
        assert response.status_code == 200, response.text
        return [d for d in response.json()["dunned"] if d["invoice_id"] == invoice["id"]]

    assert await run(due) == []
    [reminder] = await run(due + timedelta(days=1), ADMIN)
    assert reminder["dunning_level"] == "reminder" and reminder["open_amount"] == _money("600.00")
    assert await run(due + timedelta(days=1)) == [], "a second run the same day changes nothing"
    assert await run(due + timedelta(days=14)) == []
    [second] = await run(due + timedelta(days=15))
    assert second["dunning_level"] == "second_reminder" and second["days_overdue"] == 15
    overdue = await _events(client, signed.contract_id, "ltc.invoice.overdue.v1")
    assert [(e["dunning_level"], e["days_overdue"], e["open_amount"]["amount"]) for e in overdue] == [
        ("reminder", 1, "600.00"), ("second_reminder", 15, "600.00")]
    assert overdue[0]["lineage"]["lead_id"] == str(signed.lineage.lead_id)
    aged = (await client.get("/api/v1/receivables", params={"contract_id": str(signed.contract_id),
                                                             "as_of": str(due + timedelta(days=15))},
                             headers=FINANCE)).json()
    assert aged["currencies"][0]["invoices"][0]["dunning_level"] == "second_reminder"

    await _pay(client, "600.00", invoice_id=invoice["id"])
    assert await run(due + timedelta(days=40)) == [], "a paid invoice is not dunned"


async def test_the_scheduled_worker_dunns_as_of_its_clock(make_database, kafka_bootstrap, monkeypatch):
    url = await make_database("finance_worker")
    async with service_client(SPEC, url, kafka_bootstrap) as client:
        signed = await _sign(client, _signed(schedule=[("all", "100", "1000.00", None, 10)]))
    eleven_days_later = datetime.now(UTC) + timedelta(days=11)
    monkeypatch.setattr(handlers, "clock", lambda: eleven_days_later)
    async with service_client(SPEC, url, kafka_bootstrap, run_workers=True) as client:
        async with asyncio.timeout(30):
            while not (overdue := await _events(client, signed.contract_id, "ltc.invoice.overdue.v1")):
                await asyncio.sleep(0.2)
    assert [(e["dunning_level"], e["days_overdue"], e["as_of"]) for e in overdue] == [
        ("reminder", 1, eleven_days_later.date().isoformat())]


# -- journal lines ----------------------------------------------------------------------------

async def test_journal_lines_for_a_date_range_balance_per_entry(client):
    signed = await _sign(client)
    advance = (await _invoices(client, signed.contract_id))["advance"]
    payment = await _pay(client, "350.00", invoice_id=advance["id"])
    params = {"from": str(TODAY), "to": str(TODAY)}
    response = await client.get("/api/v1/journal-lines", params=params, headers=ERP)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["from"] == body["to"] == str(TODAY)
    mine = [line for line in body["lines"] if line["document_id"] in (advance["id"], payment["id"])]
    assert [(line["document_type"], line["account_code"], line["debit"], line["credit"]) for line in mine] == [
        ("invoice", "1100", "300.00", "0.00"), ("invoice", "4000", "0.00", "300.00"),
        ("payment", "1000", "350.00", "0.00"), ("payment", "1100", "0.00", "300.00"),
        ("payment", "2150", "0.00", "50.00")]
    entries: dict[str, Decimal] = {}
    for line in body["lines"]:
        entries[line["entry_id"]] = entries.get(line["entry_id"], Decimal(0)) + Decimal(line["debit"]) \
            - Decimal(line["credit"])
    assert set(entries.values()) == {Decimal(0)}
    empty = await client.get("/api/v1/journal-lines", params={"from": "2020-01-01", "to": "2020-12-31"}, headers=ADMIN)
    assert empty.status_code == 200 and empty.json()["lines"] == []
    for bad in ({"from": "2027-01-02", "to": "2027-01-01"}, {"from": "2026-01-01", "to": "2027-06-01"},
                {"from": "yesterday", "to": "2027-01-01"}, {"to": "2027-01-01"}):
        response = await client.get("/api/v1/journal-lines", params=bad, headers=ERP)
        assert response.status_code == 422 and response.headers["content-type"] == "application/problem+json"
    assert (await client.get("/api/v1/journal-lines", params=params, headers=AR)).status_code == 403


# -- lead-to-cash dates -----------------------------------------------------------------------

async def test_fully_paid_carries_lineage_and_the_lead_to_cash_dates(client):
    signed = _signed(schedule=[("all", "100", "1000.00", None, 30)])
    assert signed.lineage.lead_id is not None
    await _deliver(client, handlers.on_lead_created, LeadCreated(
        lead_id=signed.lineage.lead_id, account_id=signed.account_id, title="5G", channel="executive_visit",
        self_generated=False, tier="strategic", owner="ar-wang", created_at=datetime(2026, 9, 1, tzinfo=UTC)))
    await _sign(client, signed)
    await _won_by(client, signed)  # heard after the signing: the plan still learns the date
    await confirm(client, await _pay(client, "1000.00", contract_id=signed.contract_id), headers=FINANCE)
    [paid] = await _events(client, signed.contract_id, "ltc.contract.fully_paid.v1")
    assert paid["lineage"] == signed.lineage.model_dump(mode="json")
    assert (paid["lead_created_on"], paid["won_on"], paid["signed_on"], paid["fully_paid_on"]) == (
        "2026-09-01", "2026-11-01", "2026-11-20", TODAY.isoformat())
    assert paid["first_invoiced_on"] == TODAY.isoformat()
    assert paid["days_lead_to_cash"] == (TODAY - date(2026, 9, 1)).days


# -- contract.signed delivered twice through Kafka --------------------------------------------

async def _publish(kafka_bootstrap: str, *messages: tuple[EventPayload, str]) -> None:
    producer = make_producer(kafka_bootstrap)
    await producer.start()
    try:
        for event, message_id in messages:
            key, value, headers = _envelope(event, message_id).to_kafka()
            await producer.send_and_wait(event.topic, value=value, key=key, headers=headers)
    finally:
        await producer.stop()


async def test_contract_signed_delivered_twice_makes_one_billing_plan(make_database, kafka_bootstrap):
    async with service_client(SPEC, await make_database("finance_twice"), kafka_bootstrap, run_workers=True) as client:
        signed = _signed()
        message_id = str(uuid.uuid4())
        async with runtime_of(client).unit_of_work() as uow:
            await know_the_customer(uow, signed)
            await uow.commit()
        # The same message twice (a redelivery) and the same fact under a new id (a re-send), then a
        # milestone that shows the consumer got past all three.
        await _publish(kafka_bootstrap, (signed, message_id), (signed, message_id), (signed, str(uuid.uuid4())),
                       (_accepted(signed), str(uuid.uuid4())))
        async with asyncio.timeout(60):
            while len(await _invoices(client, signed.contract_id)) < 2:
                await asyncio.sleep(0.2)
        async with runtime_of(client).engine.connect() as conn:
            plans = (await conn.execute(text("SELECT count(*) FROM billing_plans WHERE contract_id = :c"),
                                        {"c": signed.contract_id})).scalar()
            issued = (await conn.execute(select(func.count()).select_from(outbox).where(
                outbox.c.key == str(signed.contract_id), outbox.c.type == "ltc.invoice.issued.v1"))).scalar()
        assert plans == 1 and issued == 2
        assert sorted(await _invoices(client, signed.contract_id)) == ["advance", "pac"]


# -- date triggers ----------------------------------------------------------------------------

def _signed_with_dates(*dated: tuple[str, str, str, date]) -> ContractSigned:
    signed = _signed(schedule=[("advance", "50", "500.00", None, 30)])
    data = signed.model_dump(mode="json")
    data["payment_schedule"][0]["percent"] = str(100 - sum(Decimal(p) for _, p, _, _ in dated))
    data["payment_schedule"][0]["amount"] = _money(str(Decimal(1000) - sum(Decimal(a) for _, _, a, _ in dated)))
    data["payment_schedule"] += [{"name": name, "percent": percent, "amount": _money(amount), "trigger": "date",
                                  "due_date": day.isoformat(), "due_days": 30} for name, percent, amount, day in dated]
    return ContractSigned.model_validate(data)


async def test_a_date_instalment_is_invoiced_by_the_scheduled_run_once_its_date_has_come(client, monkeypatch):
    bill_on = TODAY + timedelta(days=20)
    signed = await _sign(client, _signed_with_dates(("q1", "30", "300.00", bill_on),
                                                    ("past", "20", "200.00", TODAY - timedelta(days=3))))
    assert sorted(await _invoices(client, signed.contract_id)) == ["advance", "past"], "a date already past bills now"
    plan = (await client.get(f"/api/v1/billing-plans/{signed.contract_id}", headers=FINANCE)).json()
    assert [(i["name"], i["trigger"], i["invoice_on"], i["status"]) for i in plan["instalments"]][1] == (
        "q1", "date", bill_on.isoformat(), "planned")

    async def run(as_of: date) -> list[str]:
        response = await client.post("/api/v1/dunning-runs", json={"as_of": str(as_of)}, headers=FINANCE)
        assert response.status_code == 200, response.text
        return response.json()["invoices_issued"]

    refused = await client.post("/api/v1/dunning-runs", json={"as_of": str(bill_on)}, headers=FINANCE)
    assert (refused.status_code, refused.json()["rule"]) == (422, "date-in-future"), "no run ahead of its day"
    monkeypatch.setattr(handlers, "clock", lambda: datetime.combine(bill_on - timedelta(days=1), datetime.min.time(),
                                                                    UTC))
    assert await run(bill_on - timedelta(days=1)) == []
    monkeypatch.setattr(handlers, "clock", lambda: datetime.combine(bill_on, datetime.min.time(), UTC))
    issued = await run(bill_on)
    q1 = (await _invoices(client, signed.contract_id))["q1"]
    assert issued == [q1["id"]]
    assert q1["issue_date"] == bill_on.isoformat() and q1["due_date"] == (bill_on + timedelta(days=30)).isoformat()
    assert await run(bill_on) == []
    assert [e["instalment"] for e in await _events(client, signed.contract_id, "ltc.invoice.issued.v1")] == [
        "advance", "past", "q1"]
