"""What happens to cash after it is first seen: a typed-in payment confirmed by the statement,
a payment the bank returns, a shortfall within the tolerance written off, several invoices paid by
one transfer, suspense matched by hand (split) or sent back. Each with its event, its audit entry
and its journal entry; no cent lost or counted twice."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from ltc.finance import handlers
from ltc.finance.bootstrap import SPEC
from ltc.shared.db import outbox
from ltc.shared.messages.contracts_events import ContractSigned
from ltc.shared.testing.apps import auth, runtime_of, service_client
from ltc.shared.testing.bank import camt053, camt_entry
from tests.integration.finance.support import account_created, deliver

pytestmark = pytest.mark.integration

FINANCE = auth("clerk-1", "finance")
BANK = auth("bank-connector", "integration")
ADMIN = auth("admin-1", "admin")
ERP = auth("erp", "integration")
TODAY = date.today().isoformat()


@pytest.fixture(scope="module")
async def client(make_database, kafka_bootstrap):
    async with service_client(SPEC, await make_database("finance_bank_exceptions"), kafka_bootstrap) as client:
        yield client


def _money(amount: str, currency: str = "EUR") -> dict[str, str]:
    return {"amount": amount, "currency": currency}


async def _advance(client, value: str = "1000.00", account_id: uuid.UUID | None = None) -> dict:
    """A signed contract invoiced whole on signing (no VAT: the sample customer is reverse-charged)."""
    account_id, contract_id = account_id or uuid.uuid4(), uuid.uuid4()
    await deliver(client, handlers.on_account_created, account_created(account_id))
    await deliver(client, handlers.on_contract_signed, ContractSigned.model_validate({
        "lineage": {"contract_id": str(contract_id)}, "contract_id": str(contract_id), "account_id": str(account_id),
        "account_name": "ACME", "value": _money(value), "signed_on": "2026-11-20", "signatories": ["x"],
        "payment_schedule": [{"name": "advance", "percent": "100", "amount": _money(value),
                              "trigger": "signing", "due_days": 30}], "milestones": []}))
    response = await client.get("/api/v1/invoices", params={"contract_id": str(contract_id)}, headers=FINANCE)
    [invoice] = response.json()["items"]
    return invoice


async def _import(client, *entries: str) -> dict:
    response = await client.post("/api/v1/bank-statements", content=camt053(f"S-{uuid.uuid4().hex[:10]}", *entries),
                                 headers={**BANK, "Content-Type": "application/xml"})
    assert response.status_code == 201, response.text
    [statement] = response.json()["statements"]
    return statement


async def _get(client, path: str, headers=FINANCE) -> dict:
    response = await client.get(f"/api/v1{path}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def _events(client, subject: str) -> list[tuple[str, dict]]:
    async with runtime_of(client).engine.connect() as conn:
        rows = await conn.execute(select(outbox.c.type, outbox.c.payload).where(outbox.c.key == subject)
                                  .order_by(outbox.c.seq))
        return [(row.type, row.payload) for row in rows]


async def _set_tolerance(client, tolerances: dict[str, str]) -> None:
    read = await client.get("/api/v1/config/cash-tolerance", headers=ADMIN)
    put = await client.put("/api/v1/config/cash-tolerance", json={"tolerances": tolerances},
                           headers={**ADMIN, "If-Match": read.headers["etag"]})
    assert put.status_code == 200, put.text


def _ref() -> str:
    return f"B-{uuid.uuid4().hex[:12]}"


def _balanced(lines: list[dict], entry_prefix: str) -> list[dict]:
    entry = [line for line in lines if line["entry_id"].startswith(entry_prefix)]
    assert entry, f"no journal entry {entry_prefix}"
    assert sum(Decimal(x["debit"]) for x in entry) == sum(Decimal(x["credit"]) for x in entry)
    return entry


async def _journal(client) -> list[dict]:
    return (await _get(client, f"/journal-lines?from={TODAY}&to={TODAY}", headers=ERP))["lines"]


# -- recorded -> confirmed -------------------------------------------------------------------

async def test_a_typed_in_payment_is_in_payment_until_the_statement_shows_it_by_its_end_to_end_id(client):
    invoice = await _advance(client)
    typed = await client.post("/api/v1/payments", headers=FINANCE, json={
        "bank_reference": "ADVICE-77", "payer": "ACME", "amount": _money("1000.00"), "value_date": TODAY,
        "invoice_id": invoice["id"], "end_to_end_id": "E2E-ACME-77"})
    assert typed.status_code == 201, typed.text
    payment = typed.json()
    assert (payment["status"], payment["end_to_end_id"]) == ("recorded", "E2E-ACME-77")
    covered = await _get(client, f"/invoices/{invoice['id']}")
    assert (covered["status"], covered["open_amount"], covered["unconfirmed_amount"]) == (
        "in_payment", _money("0.00"), _money("1000.00"))
    assert [t for t, _ in await _events(client, invoice["contract_id"])] == ["ltc.invoice.issued.v1"]

    # The bank's own reference differs from the one typed in; the end-to-end id is the payer's bank's.
    statement = await _import(client, camt_entry("BANKREF-9", "1000.00", end_to_end_id="E2E-ACME-77", on=TODAY))

    [entry] = statement["transactions"]
    assert (entry["status"], entry["rule"], entry["confidence"], entry["payment_id"]) == (
        "matched", "expected-payment", "certain", payment["id"])
    confirmed = await _get(client, f"/payments/{payment['id']}")
    assert (confirmed["status"], confirmed["confirmed_on"], confirmed["bank_transaction_id"]) == (
        "confirmed", TODAY, entry["id"])
    paid = await _get(client, f"/invoices/{invoice['id']}")
    assert (paid["status"], paid["paid_on"], paid["unconfirmed_amount"]) == ("paid", TODAY, _money("0.00"))
    assert [t for t, _ in await _events(client, payment["id"])] == ["ltc.payment.received.v1",
                                                                    "ltc.payment.confirmed.v1"]
    assert "ltc.invoice.paid.v1" in [t for t, _ in await _events(client, invoice["contract_id"])]
    history = await _get(client, f"/payments/{payment['id']}/history")
    assert [h["action"] for h in history] == ["recorded", "confirmed"]
    # Nothing was counted twice: one payment, and no new one from the statement.
    assert (await _get(client, f"/payments?account_id={invoice['account_id']}"))["items"] == [confirmed]


async def test_an_entry_whose_reference_is_a_payment_with_other_facts_waits_in_suspense(client):
    invoice = await _advance(client, "400.00")
    reference = _ref()
    typed = await client.post("/api/v1/payments", headers=FINANCE, json={
        "bank_reference": reference, "payer": "ACME", "amount": _money("400.00"), "value_date": TODAY,
        "invoice_id": invoice["id"]})
    assert typed.status_code == 201
    statement = await _import(client, camt_entry(reference, "399.00", structured=invoice["payment_reference"],
                                                 on=TODAY))
    assert [(t["status"], t["payment_id"]) for t in statement["transactions"]] == [("suspense", None)]
    assert (await _get(client, f"/payments/{typed.json()['id']}"))["status"] == "recorded"


# -- returns ---------------------------------------------------------------------------------

async def test_a_payment_the_bank_returns_reopens_its_invoice_and_is_journalled(client):
    invoice = await _advance(client, "750.00")
    paid = await _import(client, camt_entry(_ref(), "750.00", structured=invoice["payment_reference"],
                                            end_to_end_id="E2E-RET-1", on=TODAY))
    payment_id = paid["transactions"][0]["payment_id"]
    assert (await _get(client, f"/invoices/{invoice['id']}"))["status"] == "paid"

    returned = await _import(client, camt_entry(_ref(), "750.00", credit=False, end_to_end_id="E2E-RET-1",
                                                reason="AC04", on=TODAY),
                             camt_entry(_ref(), "12.00", credit=False, name="Bank fees", on=TODAY))

    assert [(t["status"], t["rule"], t["payment_id"]) for t in returned["transactions"]] == [
        ("return", "return-of-payment", payment_id), ("to_review", None, None)]
    payment = await _get(client, f"/payments/{payment_id}")
    assert (payment["status"], payment["returned_on"], payment["return_reason"]) == ("returned", TODAY, "AC04")
    reopened = await _get(client, f"/invoices/{invoice['id']}")
    assert (reopened["status"], reopened["open_amount"], reopened["paid_amount"], reopened["paid_on"]) == (
        "issued", _money("750.00"), _money("0.00"), None)
    [(kind, event)] = [e for e in await _events(client, payment_id) if e[0] == "ltc.payment.returned.v1"]
    assert event["reopened"] == [{"invoice_id": invoice["id"], "amount": _money("750.00")}]
    assert event["return_reason"] == "AC04" and event["bank_transaction_id"] == returned["transactions"][0]["id"]
    # Open again in the receivables (and so dunned again), and the cash is out of the bank in the journal.
    receivables = await _get(client, f"/receivables?account_id={invoice['account_id']}")
    [eur] = receivables["currencies"]
    assert [i["invoice_id"] for i in eur["invoices"]] == [invoice["id"]]
    assert eur["total_open"] == _money("750.00") and eur["unapplied_cash"] == _money("0.00")
    entry = _balanced(await _journal(client), f"return:{payment_id}")
    assert {(x["account_code"], x["debit"], x["credit"]) for x in entry} == {
        ("1000", "0.00", "750.00"), ("1100", "750.00", "0.00")}
    # The same return again (its statement re-sent under another id) finds nothing left to return.
    again = await _import(client, camt_entry(_ref(), "750.00", credit=False, end_to_end_id="E2E-RET-1",
                                             reason="AC04", on=TODAY))
    assert again["transactions"][0]["status"] == "to_review"


async def test_a_clerk_records_a_return_the_bank_advised_with_if_match(client):
    invoice = await _advance(client, "300.00")
    typed = (await client.post("/api/v1/payments", headers=FINANCE, json={
        "bank_reference": _ref(), "payer": "ACME", "amount": _money("500.00"), "value_date": TODAY,
        "invoice_id": invoice["id"]})).json()
    assert typed["unapplied"] == _money("200.00")
    url = f"/api/v1/payments/{typed['id']}/returns"
    body = {"returned_on": TODAY, "reason": "MD06"}
    assert (await client.post(url, json=body, headers=FINANCE)).status_code == 428
    stale = await client.post(url, json=body, headers={**FINANCE, "If-Match": '"99"'})
    assert stale.status_code == 412
    future = await client.post(url, json={**body, "returned_on": "2999-01-01"},
                               headers={**FINANCE, "If-Match": f'"{typed["version"]}"'})
    assert future.status_code == 422 and "returned_on" in future.text
    done = await client.post(url, json=body, headers={**FINANCE, "If-Match": f'"{typed["version"]}"'})
    assert done.status_code == 200, done.text
    assert (done.json()["status"], done.json()["unapplied"]) == ("returned", _money("0.00"))
    assert (await _get(client, f"/invoices/{invoice['id']}"))["status"] == "issued"
    twice = await client.post(url, json=body, headers={**FINANCE, "If-Match": done.headers["etag"]})
    assert twice.status_code in (409, 422) and twice.json()["type"].endswith("payment-already-returned")
    # Returned cash cannot be applied any more.
    apply = await client.post(f"/api/v1/payments/{typed['id']}/applications", json={},
                              headers={**FINANCE, "If-Match": done.headers["etag"]})
    assert apply.status_code in (409, 422), apply.text
    assert (await _get(client, f"/invoices/{invoice['id']}"))["open_amount"] == _money("300.00")


# -- tolerance and several invoices ----------------------------------------------------------

async def test_a_shortfall_within_the_tolerance_is_written_off_and_a_larger_one_stays_open(client):
    await _set_tolerance(client, {"EUR": "1.00"})
    try:
        short, shorter = await _advance(client, "500.00"), await _advance(client, "500.00")
        statement = await _import(
            client, camt_entry(_ref(), "499.60", structured=short["payment_reference"], on=TODAY),
            camt_entry(_ref(), "495.00", structured=shorter["payment_reference"], on=TODAY))
        assert [t["status"] for t in statement["transactions"]] == ["matched", "matched"]
        settled = await _get(client, f"/invoices/{short['id']}")
        assert (settled["status"], settled["paid_amount"], settled["written_off_amount"],
                settled["open_amount"]) == ("paid", _money("499.60"), _money("0.40"), _money("0.00"))
        [write_off] = await _get(client, f"/invoices/{short['id']}/write-offs")
        assert (write_off["kind"], write_off["amount"], write_off["bank_transaction_id"]) == (
            "small_balance", _money("0.40"), statement["transactions"][0]["id"])
        [(_, event)] = [e for e in await _events(client, short["contract_id"]) if e[0] == "ltc.invoice.written_off.v1"]
        assert event["amount"] == _money("0.40") and event["invoice_open_amount"] == _money("0.00")
        entry = _balanced(await _journal(client), f"write_off:{write_off['id']}")
        assert {(x["account_code"], x["debit"], x["credit"]) for x in entry} == {
            ("6900", "0.40", "0.00"), ("1100", "0.00", "0.40")}
        left = await _get(client, f"/invoices/{shorter['id']}")
        assert (left["status"], left["open_amount"], left["written_off_amount"]) == (
            "partially_paid", _money("5.00"), _money("0.00"))

        # A clerk writes off a small balance up to the tolerance, never more.
        above = await client.post(f"/api/v1/invoices/{shorter['id']}/write-offs", json={"reason": "bank charges"},
                                  headers={**FINANCE, "If-Match": f'"{left["version"]}"'})
        assert above.status_code == 422 and above.json()["type"].endswith("write-off-above-tolerance")
        part = await client.post(f"/api/v1/invoices/{shorter['id']}/write-offs",
                                 json={"amount": _money("0.90"), "reason": "bank charges"},
                                 headers={**FINANCE, "If-Match": f'"{left["version"]}"'})
        assert part.status_code == 201, part.text
        assert (await _get(client, f"/invoices/{shorter['id']}"))["open_amount"] == _money("4.10")
    finally:
        await _set_tolerance(client, {})


async def test_one_transfer_that_pays_several_invoices_of_a_known_payer_pays_exactly_those(client):
    account = uuid.uuid4()
    first, a, b, c = [await _advance(client, value, account_id=account)
                      for value in ("100.00", "300.00", "120.00", "80.00")]
    iban = "FR7630006000011234567890189"
    known = await _import(client, camt_entry(_ref(), "100.00", structured=first["payment_reference"], iban=iban,
                                             on=TODAY))
    assert known["transactions"][0]["status"] == "matched"
    # 200 = 120 + 80: not the oldest invoice (300), but the two whose open amounts sum to it.
    statement = await _import(client, camt_entry(_ref(), "200.00", text="december invoices", iban=iban, on=TODAY))
    [entry] = statement["transactions"]
    assert (entry["status"], entry["rule"], entry["confidence"]) == ("matched", "sum-of-invoices", "medium")
    assert [(await _get(client, f"/invoices/{i['id']}"))["status"] for i in (a, b, c)] == ["issued", "paid", "paid"]
    payment = await _get(client, f"/payments/{entry['payment_id']}")
    assert sorted(x["invoice_id"] for x in payment["applications"]) == sorted([b["id"], c["id"]])
    assert payment["unapplied"] == _money("0.00")


# -- suspense by hand -------------------------------------------------------------------------

async def test_a_clerk_splits_a_suspense_credit_across_accounts_or_sends_it_back(client):
    one, other = await _advance(client, "250.00"), await _advance(client, "400.00")
    statement = await _import(client, camt_entry(_ref(), "700.00", text="group payment", on=TODAY),
                              camt_entry(_ref(), "33.00", text="who knows", on=TODAY))
    split, stray = statement["transactions"]
    assert (split["status"], stray["status"]) == ("suspense", "suspense")
    url = f"/api/v1/bank-transactions/{split['id']}/allocations"

    short = await client.post(url, headers=FINANCE, json={"allocations": [
        {"amount": _money("250.00"), "invoice_id": one["id"]}]})
    assert short.status_code == 422 and short.json()["type"].endswith("allocations-do-not-add-up")
    wrong_currency = await client.post(url, headers=FINANCE, json={"allocations": [
        {"amount": _money("700.00", "USD"), "invoice_id": one["id"]}]})
    assert wrong_currency.status_code == 422 and "allocations.0.amount.currency" in wrong_currency.text
    as_reader = await client.post(url, headers=ERP, json={"allocations": [
        {"amount": _money("700.00"), "invoice_id": one["id"]}]})
    assert as_reader.status_code == 403

    done = await client.post(url, headers=FINANCE, json={"note": "remittance advice by e-mail", "allocations": [
        {"amount": _money("250.00"), "invoice_number": one["number"]},
        {"amount": _money("450.00"), "account_id": other["account_id"]}]})
    assert done.status_code == 200, done.text
    assert (done.json()["status"], done.json()["rule"], done.json()["resolved_by"]) == (
        "matched", "by-hand", "clerk-1")
    assert (await _get(client, f"/invoices/{one['id']}"))["status"] == "paid"
    assert (await _get(client, f"/invoices/{other['id']}"))["status"] == "paid"
    parts = (await _get(client, f"/payments?account_id={other['account_id']}"))["items"]
    assert [(p["bank_reference"], p["status"], p["unapplied"]) for p in parts] == [
        (f"{split['reference']}/2", "confirmed", _money("50.00"))]
    again = await client.post(url, headers=FINANCE, json={"allocations": [
        {"amount": _money("700.00"), "invoice_id": one["id"]}]})
    assert again.status_code in (409, 422) and again.json()["type"].endswith("transaction-not-in-suspense")

    # Cash leaving the bank: without an approval amount for EUR, a second person's approval is needed.
    unapproved = await client.post(f"/api/v1/bank-transactions/{stray['id']}/send-back", headers=FINANCE,
                                   json={"reason": "nobody owes it"})
    assert unapproved.status_code == 422 and unapproved.json()["type"].endswith("send-back-needs-approval")
    assert (await _get(client, f"/bank-transactions/{stray['id']}"))["status"] == "suspense"
    await _put_policy(client, "refund-approval", {"approve_above": {"EUR": "50.00"}})
    try:
        back = await client.post(f"/api/v1/bank-transactions/{stray['id']}/send-back", headers=FINANCE,
                                 json={"reason": "nobody owes it: returned to the payer"})
    finally:
        await _put_policy(client, "refund-approval", {"approve_above": {}})
    assert back.status_code == 200, back.text
    assert (back.json()["status"], back.json()["resolution_note"]) == (
        "sent_back", "nobody owes it: returned to the payer")
    suspense = (await _get(client, "/bank-transactions?status=suspense"))["items"]
    assert {split["id"], stray["id"]}.isdisjoint({t["id"] for t in suspense})
    assert (await _get(client, f"/bank-transactions/{stray['id']}"))["status"] == "sent_back"


async def test_the_cash_tolerance_is_configuration_with_if_match_and_history(client):
    read = await client.get("/api/v1/config/cash-tolerance", headers=ADMIN)
    assert read.status_code == 200 and "tolerances" in read.json()
    bad = await client.put("/api/v1/config/cash-tolerance", json={"tolerances": {"EUR": "-1"}},
                           headers={**ADMIN, "If-Match": read.headers["etag"]})
    assert bad.status_code == 422 and "EUR" in bad.text
    assert (await client.put("/api/v1/config/cash-tolerance", json={"tolerances": {}},
                             headers=FINANCE)).status_code == 403
    history = await client.get("/api/v1/config/cash-tolerance/history", headers=FINANCE)
    assert history.status_code == 200


# -- refunds and bad debts --------------------------------------------------------------------

CLERK_2 = auth("clerk-2", "finance")
IBAN = "FR7630006000011234567890189"


async def _over_paid(client, extra: str) -> dict:
    invoice = await _advance(client, "100.00")
    statement = await _import(client, camt_entry(_ref(), str(Decimal("100.00") + Decimal(extra)),
                                                 structured=invoice["payment_reference"], on=TODAY))
    return await _get(client, f"/payments/{statement['transactions'][0]['payment_id']}")


async def _put_policy(client, path: str, document: dict) -> None:
    read = await client.get(f"/api/v1/config/{path}", headers=ADMIN)
    put = await client.put(f"/api/v1/config/{path}", json=document, headers={**ADMIN, "If-Match": read.headers["etag"]})
    assert put.status_code == 200, put.text


async def test_over_paid_cash_is_refunded_on_the_clerks_word_up_to_the_amount_and_by_four_eyes_above(client):
    await _put_policy(client, "refund-approval", {"approve_above": {"EUR": "50.00"}})
    try:
        small, large = await _over_paid(client, "30.00"), await _over_paid(client, "80.00")
        refund = {"beneficiary_name": "ACME SA", "beneficiary_iban": "FR76 3000 6000 0112 3456 7890 189",
                  "reason": "over-payment of the advance"}

        too_much = await client.post(f"/api/v1/payments/{small['id']}/refunds", headers={
            **FINANCE, "If-Match": f'"{small["version"]}"'}, json={**refund, "amount": _money("30.01")})
        assert too_much.status_code == 422 and too_much.json()["type"].endswith("refund-exceeds-unapplied")
        bad_iban = await client.post(f"/api/v1/payments/{small['id']}/refunds", headers={
            **FINANCE, "If-Match": f'"{small["version"]}"'}, json={**refund, "amount": _money("30.00"),
                                                                 "beneficiary_iban": "FR7630006000011234567890188"})
        assert bad_iban.status_code == 422 and "beneficiary_iban" in bad_iban.text

        issued = await client.post(f"/api/v1/payments/{small['id']}/refunds", headers={
            **FINANCE, "If-Match": f'"{small["version"]}"'}, json={**refund, "amount": _money("30.00")})
        assert issued.status_code == 201, issued.text
        assert (issued.json()["status"], issued.json()["issued_on"], issued.json()["beneficiary_iban"]) == (
            "issued", TODAY, IBAN)
        assert (await _get(client, f"/payments/{small['id']}"))["unapplied"] == _money("0.00")
        [(_, event)] = [e for e in await _events(client, issued.json()["id"])]
        assert event["amount"] == _money("30.00") and event["approved_by"] is None
        entry = _balanced(await _journal(client), f"refund:{issued.json()['id']}")
        assert {(x["account_code"], x["debit"], x["credit"]) for x in entry} == {
            ("2150", "30.00", "0.00"), ("1000", "0.00", "30.00")}

        pending = await client.post(f"/api/v1/payments/{large['id']}/refunds", headers={
            **FINANCE, "If-Match": f'"{large["version"]}"'}, json={**refund, "amount": _money("80.00")})
        assert pending.status_code == 201 and pending.json()["status"] == "pending_approval"
        assert await _events(client, pending.json()["id"]) == [], "no cash out before the approval"
        # Reserved: the same cash cannot be applied or refunded again meanwhile.
        held = await _get(client, f"/payments/{large['id']}")
        assert held["unapplied"] == _money("0.00")
        listed = (await _get(client, "/refunds?status=pending_approval"))["items"]
        assert pending.json()["id"] in [r["id"] for r in listed]
        decision = f"/api/v1/refunds/{pending.json()['id']}/decision"
        own = await client.post(decision, json={"approve": True},
                                headers={**FINANCE, "If-Match": pending.headers["etag"]})
        assert own.status_code == 403 and own.json()["type"].endswith("refund-self-approved")
        approved = await client.post(decision, json={"approve": True, "note": "checked the bank details"},
                                     headers={**CLERK_2, "If-Match": pending.headers["etag"]})
        assert approved.status_code == 200, approved.text
        assert (approved.json()["status"], approved.json()["decided_by"]) == ("issued", "clerk-2")
        [(_, event)] = await _events(client, pending.json()["id"])
        assert event["approved_by"] == "clerk-2" and event["requested_by"] == "clerk-1"
    finally:
        await _put_policy(client, "refund-approval", {"approve_above": {}})


async def test_a_rejected_refund_gives_the_cash_back_to_unapplied(client):
    payment = await _over_paid(client, "25.00")
    pending = await client.post(f"/api/v1/payments/{payment['id']}/refunds", headers={
        **FINANCE, "If-Match": f'"{payment["version"]}"'}, json={
        "amount": _money("25.00"), "beneficiary_name": "ACME", "beneficiary_iban": IBAN, "reason": "over-payment"})
    assert pending.json()["status"] == "pending_approval"
    rejected = await client.post(f"/api/v1/refunds/{pending.json()['id']}/decision", json={"approve": False},
                                 headers={**CLERK_2, "If-Match": pending.headers["etag"]})
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    assert (await _get(client, f"/payments/{payment['id']}"))["unapplied"] == _money("25.00")
    twice = await client.post(f"/api/v1/refunds/{pending.json()['id']}/decision", json={"approve": True},
                              headers={**CLERK_2, "If-Match": rejected.headers["etag"]})
    assert twice.status_code in (409, 422) and twice.json()["type"].endswith("refund-decided")


async def test_a_bad_debt_is_written_off_only_by_the_tier_its_amount_requires(client):
    await _put_policy(client, "bad-debt-tiers", {"l2_from": {"EUR": "500.00"}, "l3_from": {"EUR": "5000.00"}})
    try:
        invoice = await _advance(client, "800.00")
        asked = await client.post(f"/api/v1/invoices/{invoice['id']}/bad-debt-write-offs", headers=FINANCE,
                                  json={"reason": "the customer is in insolvency proceedings"})
        assert asked.status_code == 201, asked.text
        request = asked.json()
        assert (request["tier"], request["status"], request["amount"]) == ("L2", "pending", _money("800.00"))
        assert (await _get(client, f"/invoices/{invoice['id']}"))["open_amount"] == _money("800.00")
        too_much = await client.post(f"/api/v1/invoices/{invoice['id']}/bad-debt-write-offs", headers=FINANCE,
                                     json={"reason": "x", "amount": _money("800.01")})
        assert too_much.status_code == 422 and "amount" in too_much.text

        url = f"/api/v1/write-off-requests/{request['id']}/decision"
        low = await client.post(url, json={"approve": True},
                                headers={**auth("l1-boss", "approver_l1"), "If-Match": asked.headers["etag"]})
        assert low.status_code == 403 and low.json()["type"].endswith("tier-authority")
        own = await client.post(url, json={"approve": True},
                                headers={**auth("clerk-1", "finance", "approver_l2"), "If-Match": asked.headers["etag"]})
        assert own.status_code == 403 and own.json()["type"].endswith("write-off-self-approved")
        clerk = await client.post(url, json={"approve": True}, headers={**CLERK_2, "If-Match": asked.headers["etag"]})
        assert clerk.status_code == 403
        done = await client.post(url, json={"approve": True, "note": "provisioned in Q4"},
                                 headers={**auth("l2-boss", "approver_l2"), "If-Match": asked.headers["etag"]})
        assert done.status_code == 200, done.text
        assert (done.json()["status"], done.json()["decided_by"]) == ("approved", "l2-boss")
        written = await _get(client, f"/invoices/{invoice['id']}")
        assert (written["status"], written["written_off_amount"], written["open_amount"]) == (
            "written_off", _money("800.00"), _money("0.00"))
        [write_off] = await _get(client, f"/invoices/{invoice['id']}/write-offs")
        assert (write_off["kind"], write_off["decision_tier"], write_off["id"]) == (
            "bad_debt", "L2", done.json()["write_off_id"])
        [(_, event)] = [e for e in await _events(client, invoice["contract_id"]) if e[0] == "ltc.invoice.written_off.v1"]
        assert (event["kind"], event["decided_by"], event["decision_tier"]) == ("bad_debt", "l2-boss", "L2")
        listed = await _get(client, "/write-off-requests?status=approved", headers=auth("l2-boss", "approver_l2"))
        assert request["id"] in [r["id"] for r in listed["items"]]
    finally:
        await _put_policy(client, "bad-debt-tiers", {"l2_from": {}, "l3_from": {}})
