"""The finance API as a contract: one If-Match rule for every change to an existing object, the
ETag in every representation, exact lookups by the numbers people cite, and payments naming
their invoice by its number."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from ltc.finance import handlers
from ltc.finance.bootstrap import SPEC
from ltc.shared.messages import EventPayload
from ltc.shared.messages.contracts_events import ContractSigned
from ltc.shared.messages.envelope import Envelope
from ltc.shared.testing.apps import auth, runtime_of, service_client
from tests.integration.finance.support import know_the_customer

pytestmark = pytest.mark.integration

FINANCE = auth("clerk-1", "finance")
ERP = auth("erp", "integration")
ADMIN = auth("ops", "admin")
TODAY = datetime.now(UTC).date()


@pytest.fixture(scope="module")
async def client(make_database, kafka_bootstrap):
    async with service_client(SPEC, await make_database("finance_contract"), kafka_bootstrap) as client:
        yield client


def _money(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "EUR"}


async def _sign(client, *, account_id: uuid.UUID | None = None) -> ContractSigned:
    """A contract billed 30% on signing (invoiced at once) and 70% on a date far ahead."""
    contract_id = uuid.uuid4()
    signed = ContractSigned.model_validate({
        "lineage": {"lead_id": str(uuid.uuid4()), "opportunity_id": str(uuid.uuid4()), "contract_id": str(contract_id)},
        "contract_id": str(contract_id), "account_id": str(account_id or uuid.uuid4()), "account_name": "ACME",
        "value": _money("1000.00"), "signed_on": "2026-11-20", "signatories": ["Li Wei"],
        "payment_schedule": [
            {"name": "advance", "percent": "30", "amount": _money("300.00"), "trigger": "signing", "due_days": 30},
            {"name": "rest", "percent": "70", "amount": _money("700.00"), "trigger": "date", "due_date": "2099-01-01",
             "due_days": 30}],
        "milestones": [],
    })
    await _deliver(client, signed)
    return signed


async def _deliver(client, event: EventPayload) -> None:
    envelope = Envelope(id=str(uuid.uuid4()), type=event.ce_type(), source="test", subject=event.subject(),
                        time=datetime.now(UTC), data=event.model_dump(mode="json"))
    async with runtime_of(client).unit_of_work() as uow:
        await know_the_customer(uow, event)
        await handlers.on_contract_signed(uow, event, envelope)
        await uow.commit()


async def _advance(client, signed: ContractSigned) -> dict:
    response = await client.get("/api/v1/invoices", params={"contract_id": str(signed.contract_id)}, headers=FINANCE)
    assert response.status_code == 200, response.text
    [advance] = response.json()["items"]
    return advance


def _payment_body(amount: str, **target: str) -> dict:
    return {"bank_reference": f"BANK-{uuid.uuid4().hex[:10]}", "payer": "ACME", "amount": _money(amount),
            "value_date": TODAY.isoformat(), **target}


async def _pay(client, amount: str, **target: str) -> dict:
    response = await client.post("/api/v1/payments", json=_payment_body(amount, **target), headers=FINANCE)
    assert response.status_code == 201, response.text
    return response.json()


# -- one precondition rule --------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """A change to an existing object: how to make the object, and the request that changes it."""

    method: str
    path: str  # the operation's path in the document
    prepare: Callable[..., Awaitable[tuple[str, dict, dict]]]  # client -> (url, body, the object as read)
    headers: dict[str, str]


async def _cash_held(client) -> tuple[str, dict, dict]:
    """A payment holding 100 of cash, and another invoice of its account open to take it."""
    account = uuid.uuid4()
    paid, open_ = await _sign(client, account_id=account), await _sign(client, account_id=account)
    payment = await _pay(client, "400.00", invoice_id=(await _advance(client, paid))["id"])
    assert payment["unapplied"] == _money("100.00") and (await _advance(client, open_))["status"] == "issued"
    return f"/api/v1/payments/{payment['id']}/applications", {}, payment


async def _open_invoice(client) -> tuple[str, dict, dict]:
    advance = await _advance(client, await _sign(client))
    return f"/api/v1/invoices/{advance['id']}/credit-notes", {"amount": _money("10.00"), "reason": "goodwill"}, advance


async def _recorded_payment(client) -> tuple[str, dict, dict]:
    payment = await _pay(client, "300.00", invoice_id=(await _advance(client, await _sign(client)))["id"])
    return f"/api/v1/payments/{payment['id']}/returns", {"returned_on": TODAY.isoformat(), "reason": "AC04"}, payment


async def _short_invoice(client) -> tuple[str, dict, dict]:
    """An invoice left 0.50 open, within a tolerance of 1.00."""
    tolerance = (await client.get("/api/v1/config/cash-tolerance", headers=ADMIN)).json()
    put = await client.put("/api/v1/config/cash-tolerance", json={"tolerances": {"EUR": "1.00"}},
                           headers={**ADMIN, "If-Match": tolerance["etag"]})
    assert put.status_code == 200, put.text
    advance = await _advance(client, await _sign(client))
    await _pay(client, "299.50", invoice_id=advance["id"])
    read = (await client.get(f"/api/v1/invoices/{advance['id']}", headers=FINANCE)).json()
    return f"/api/v1/invoices/{advance['id']}/write-offs", {"reason": "bank charges"}, read


async def _cash_tolerance(client) -> tuple[str, dict, dict]:
    read = (await client.get("/api/v1/config/cash-tolerance", headers=ADMIN)).json()
    return "/api/v1/config/cash-tolerance", {"tolerances": {"EUR": "0.50"}}, read


_REFUND = {"amount": _money("40.00"), "beneficiary_name": "ACME SA", "beneficiary_iban": "FR7630006000011234567890189",
           "reason": "over-payment"}


async def _refundable(client) -> tuple[str, dict, dict]:
    """A payment holding 100 of unapplied cash."""
    url, _, payment = await _cash_held(client)
    return f"/api/v1/payments/{payment['id']}/refunds", _REFUND, payment


async def _pending_refund(client) -> tuple[str, dict, dict]:
    """A refund waiting for a second finance person (version 0 approves none on the clerk's word)."""
    url, body, payment = await _refundable(client)
    response = await client.post(url, json=body, headers={**FINANCE, "If-Match": payment["etag"]})
    assert response.status_code == 201 and response.json()["status"] == "pending_approval", response.text
    return f"/api/v1/refunds/{response.json()['id']}/decision", {"approve": True}, response.json()


async def _pending_bad_debt(client) -> tuple[str, dict, dict]:
    advance = await _advance(client, await _sign(client))
    response = await client.post(f"/api/v1/invoices/{advance['id']}/bad-debt-write-offs",
                                 json={"reason": "the customer is insolvent"}, headers=FINANCE)
    assert response.status_code == 201, response.text
    return f"/api/v1/write-off-requests/{response.json()['id']}/decision", {"approve": True}, response.json()


async def _open_dispute(client) -> tuple[str, dict, dict]:
    advance = await _advance(client, await _sign(client))
    opened = await client.post(f"/api/v1/invoices/{advance['id']}/disputes", json={"reason": "acceptance not signed"},
                               headers=FINANCE)
    assert opened.status_code == 201, opened.text
    return (f"/api/v1/disputes/{opened.json()['id']}/resolution",
            {"outcome": "customer_wrong", "resolution": "the certificate was signed"}, opened.json())


async def _refund_approval(client) -> tuple[str, dict, dict]:
    read = (await client.get("/api/v1/config/refund-approval", headers=ADMIN)).json()
    return "/api/v1/config/refund-approval", {"approve_above": {"EUR": "500.00"}}, read


async def _bad_debt_tiers(client) -> tuple[str, dict, dict]:
    read = (await client.get("/api/v1/config/bad-debt-tiers", headers=ADMIN)).json()
    return "/api/v1/config/bad-debt-tiers", {"l2_from": {"EUR": "10000"}, "l3_from": {"EUR": "100000"}}, read


async def _account_codes(client) -> tuple[str, dict, dict]:
    read = (await client.get("/api/v1/config/account-codes", headers=ADMIN)).json()
    codes = {"receivable": "1110", "revenue": "4010", "cash": "1001", "unapplied_cash": "2151"}
    return "/api/v1/config/account-codes", codes, read


async def _seller_identity(client) -> tuple[str, dict, dict]:
    read = (await client.get("/api/v1/config/seller-identity", headers=ADMIN)).json()
    identity = {"legal_name": "Example Networks GmbH", "tax_id": "DE136695976",
                "address": {"line1": "Hauptstr. 1", "city": "Berlin", "country": "DE"}}
    return "/api/v1/config/seller-identity", identity, read


async def _tax_rules(client) -> tuple[str, dict, dict]:
    read = (await client.get("/api/v1/config/tax-rules", headers=ADMIN)).json()
    rules = {"groups": read["groups"], "rules": [*read["rules"], {"category": "O", "exemption_reason": "Not subject to VAT"}]}
    return "/api/v1/config/tax-rules", rules, read


CHANGES = [
    Change("post", "/api/v1/payments/{payment_id}/applications", _cash_held, FINANCE),
    Change("post", "/api/v1/invoices/{invoice_id}/credit-notes", _open_invoice, FINANCE),
    Change("post", "/api/v1/payments/{payment_id}/returns", _recorded_payment, FINANCE),
    Change("post", "/api/v1/invoices/{invoice_id}/write-offs", _short_invoice, FINANCE),
    Change("put", "/api/v1/config/cash-tolerance", _cash_tolerance, ADMIN),
    Change("post", "/api/v1/payments/{payment_id}/refunds", _refundable, FINANCE),
    Change("post", "/api/v1/refunds/{refund_id}/decision", _pending_refund, auth("clerk-2", "finance")),
    Change("post", "/api/v1/write-off-requests/{request_id}/decision", _pending_bad_debt,
           auth("cfo", "approver_l3")),
    Change("post", "/api/v1/disputes/{dispute_id}/resolution", _open_dispute, FINANCE),
    Change("put", "/api/v1/config/refund-approval", _refund_approval, ADMIN),
    Change("put", "/api/v1/config/bad-debt-tiers", _bad_debt_tiers, ADMIN),
    Change("put", "/api/v1/config/account-codes", _account_codes, ADMIN),
    Change("put", "/api/v1/config/seller-identity", _seller_identity, ADMIN),
    Change("put", "/api/v1/config/tax-rules", _tax_rules, ADMIN),
]


def test_every_change_to_an_existing_object_and_only_those_require_if_match():
    from ltc.shared.service import create_app

    document = create_app(SPEC).openapi()
    requiring = sorted((method, path) for path, operations in document["paths"].items()
                       for method, operation in operations.items()
                       if any(p["name"] == "If-Match" and p["required"] for p in operation.get("parameters", [])))
    assert requiring == sorted((c.method, c.path) for c in CHANGES)
    for method, path in requiring:
        responses = document["paths"][path][method]["responses"]
        assert {"412", "428"} <= set(responses), (method, path)
    # Creations take none: a bank payment recorded, a scheduled run started.
    for path in ("/api/v1/payments", "/api/v1/dunning-runs"):
        assert "If-Match" not in [p["name"] for p in document["paths"][path]["post"].get("parameters", [])]


@pytest.mark.parametrize("change", CHANGES, ids=[f"{c.method.upper()} {c.path}" for c in CHANGES])
async def test_a_change_without_if_match_is_428_and_with_a_stale_one_412_and_changes_nothing(client, change):
    url, body, read = await change.prepare(client)
    send = getattr(client, change.method)
    missing = await send(url, json=body, headers=change.headers)
    assert missing.status_code == 428, missing.text
    assert missing.json()["type"].endswith("/if-match-required")
    stale = await send(url, json=body, headers={**change.headers, "If-Match": f'"{read["version"] + 7}"'})
    assert stale.status_code == 412, stale.text
    assert stale.json()["type"].endswith("/stale-etag")
    garbled = await send(url, json=body, headers={**change.headers, "If-Match": "not-an-etag"})
    assert garbled.status_code == 412, garbled.text
    current = await send(url, json=body, headers={**change.headers, "If-Match": read["etag"]})
    assert current.status_code in (200, 201), current.text
    again = await send(url, json=body, headers={**change.headers, "If-Match": read["etag"]})
    assert again.status_code == 412, "the ETag the change was based on is stale once it is made"


async def test_a_keyed_retry_with_its_now_stale_if_match_answers_the_first_result(client):
    url, _, payment = await _cash_held(client)
    advance = await _advance(client, await _sign(client))
    headers = {**FINANCE, "If-Match": payment["etag"], "Idempotency-Key": str(uuid.uuid4())}
    first = await client.post(url, json={}, headers=headers)
    assert first.status_code == 200, first.text
    assert first.json()["version"] == payment["version"] + 1 and first.headers["etag"] == first.json()["etag"]
    retry = await client.post(url, json={}, headers=headers)
    assert (retry.status_code, retry.json()) == (200, first.json()), "the replay never reaches the version check"
    unkeyed = await client.post(url, json={}, headers={**FINANCE, "If-Match": payment["etag"]})
    assert unkeyed.status_code == 412, "without the key the same If-Match is stale"

    note_url = f"/api/v1/invoices/{advance['id']}/credit-notes"
    keyed = {**FINANCE, "If-Match": advance["etag"], "Idempotency-Key": str(uuid.uuid4())}
    body = {"amount": _money("5.00"), "reason": "rounding"}
    note = await client.post(note_url, json=body, headers=keyed)
    assert note.status_code == 201, note.text
    replay = await client.post(note_url, json=body, headers=keyed)
    assert (replay.status_code, replay.json()) == (201, note.json())
    credited = (await client.get(f"/api/v1/invoices/{advance['id']}", headers=FINANCE)).json()
    assert credited["credited_amount"] == _money("5.00"), "one credit note, not two"


# -- every representation carries its ETag ----------------------------------------------------


async def test_every_versioned_representation_carries_its_etag_in_lists_too(client):
    signed = await _sign(client)
    advance = await _advance(client, signed)
    payment = await _pay(client, "100.00", invoice_id=advance["id"])
    recorded = await client.get(f"/api/v1/payments/{payment['id']}", headers=FINANCE)
    assert payment["etag"] == recorded.json()["etag"] == recorded.headers["etag"] == f'"{payment["version"]}"'
    read = await client.get(f"/api/v1/invoices/{advance['id']}", headers=FINANCE)
    assert read.json()["etag"] == read.headers["etag"] == f'"{read.json()["version"]}"'
    [listed] = (await client.get("/api/v1/invoices", params={"contract_id": str(signed.contract_id)},
                                 headers=FINANCE)).json()["items"]
    assert listed["etag"] == read.headers["etag"]
    [listed_payment] = (await client.get("/api/v1/payments", params={"contract_id": str(signed.contract_id)},
                                         headers=FINANCE)).json()["items"]
    assert listed_payment["etag"] == recorded.headers["etag"]
    plan = await client.get(f"/api/v1/billing-plans/{signed.contract_id}", headers=FINANCE)
    assert plan.json()["etag"] == plan.headers["etag"]


# -- lookups by the numbers people cite -------------------------------------------------------


async def test_an_invoice_a_credit_note_and_a_payment_are_found_by_their_numbers_exactly(client):
    signed = await _sign(client)
    advance = await _advance(client, signed)
    others = await _advance(client, await _sign(client))
    found = await client.get("/api/v1/invoices", params={"number": advance["number"]}, headers=ERP)
    assert found.status_code == 200 and [i["id"] for i in found.json()["items"]] == [advance["id"]]
    for near in (advance["number"][:-1], advance["number"].lower(), f"{advance['number']}0"):
        assert (await client.get("/api/v1/invoices", params={"number": near}, headers=ERP)).json()["items"] == []
    both = await client.get("/api/v1/invoices", params={"number": others["number"],
                                                        "contract_id": str(signed.contract_id)}, headers=ERP)
    assert both.json()["items"] == [], "the filters combine"

    note = await client.post(f"/api/v1/invoices/{advance['id']}/credit-notes",
                             json={"amount": _money("1.00"), "reason": "rounding"},
                             headers={**FINANCE, "If-Match": advance["etag"]})
    assert note.status_code == 201, note.text
    notes = await client.get("/api/v1/credit-notes", params={"number": note.json()["number"]}, headers=ERP)
    assert [n["id"] for n in notes.json()["items"]] == [note.json()["id"]]
    assert (await client.get("/api/v1/credit-notes", params={"number": "CN-1900-000001"},
                             headers=ERP)).json()["items"] == []

    payment = await _pay(client, "10.00", contract_id=str(signed.contract_id))
    by_reference = await client.get("/api/v1/payments", params={"bank_reference": payment["bank_reference"]},
                                    headers=FINANCE)
    assert [p["id"] for p in by_reference.json()["items"]] == [payment["id"]]
    assert (await client.get("/api/v1/payments", params={"bank_reference": payment["bank_reference"][:-1]},
                             headers=FINANCE)).json()["items"] == []


@pytest.mark.parametrize(("path", "params"), [
    ("/api/v1/invoices", {"numbr": "INV-2026-000001"}),
    ("/api/v1/credit-notes", {"invoice_number": "INV-2026-000001"}),
    ("/api/v1/payments", {"reference": "BANK-1"}),
])
async def test_a_lookup_by_a_parameter_the_list_does_not_have_is_refused(client, path, params):
    response = await client.get(path, params=params, headers=FINANCE)
    assert response.status_code == 400 and response.json()["type"].endswith("/unknown-query-parameter")


@pytest.mark.parametrize(("path", "params", "field"), [
    ("/api/v1/invoices", {"number": ""}, "number"),
    ("/api/v1/invoices", {"number": "I" * 41}, "number"),
    ("/api/v1/credit-notes", {"number": ""}, "number"),
    ("/api/v1/payments", {"bank_reference": "B" * 201}, "bank_reference"),
])
async def test_a_malformed_lookup_is_a_validation_error_naming_it(client, path, params, field):
    response = await client.get(path, params=params, headers=FINANCE)
    assert response.status_code == 422, response.text
    assert field in [e["field"] for e in response.json()["errors"]]


# -- a payment names its invoice by its number -----------------------------------------------


async def test_a_payment_can_name_its_invoice_by_the_number_the_remittance_cites(client):
    signed = await _sign(client)
    advance = await _advance(client, signed)
    payment = await _pay(client, "120.00", invoice_number=f" {advance['number']} ")
    assert payment["invoice_id"] == advance["id"] and payment["contract_id"] == str(signed.contract_id)
    assert [(a["invoice_id"], a["amount"]) for a in payment["applications"]] == [(advance["id"], _money("120.00"))]
    invoice = (await client.get(f"/api/v1/invoices/{advance['id']}", headers=FINANCE)).json()
    assert invoice["status"] == "partially_paid" and invoice["open_amount"] == _money("180.00")
    with_contract = await _pay(client, "10.00", invoice_number=advance["number"], contract_id=str(signed.contract_id))
    assert with_contract["invoice_id"] == advance["id"]


async def test_a_payment_naming_an_unknown_number_or_its_invoice_twice_is_refused_and_records_nothing(client):
    signed = await _sign(client)
    advance = await _advance(client, signed)
    other = await _sign(client)
    for target, rule, fields in (
        ({"invoice_number": "INV-1900-000001"}, "invoice-number-unknown", ["invoice_number"]),
        ({"invoice_number": advance["number"], "invoice_id": advance["id"]}, "invoice-named-twice",
         ["invoice_id", "invoice_number"]),
        ({"invoice_number": advance["number"], "contract_id": str(other.contract_id)}, "invoice-not-of-contract",
         []),
    ):
        body = _payment_body("10.00", **target)
        response = await client.post("/api/v1/payments", json=body, headers=FINANCE)
        assert response.status_code == 422, response.text
        assert response.json()["rule"] == rule
        assert [e["field"] for e in response.json().get("errors", [])] == fields
        listed = await client.get("/api/v1/payments", params={"bank_reference": body["bank_reference"]},
                                  headers=FINANCE)
        assert listed.json()["items"] == []
    too_long = await client.post("/api/v1/payments", json=_payment_body("1.00", invoice_number="I" * 41),
                                 headers=FINANCE)
    assert too_long.status_code == 422 and "invoice_number" in [e["field"] for e in too_long.json()["errors"]]


async def test_held_cash_can_be_applied_to_an_invoice_named_by_its_number(client):
    account = uuid.uuid4()
    first, second = await _sign(client, account_id=account), await _sign(client, account_id=account)
    first_advance, second_advance = await _advance(client, first), await _advance(client, second)
    payment = await _pay(client, "400.00", invoice_id=first_advance["id"])  # 100 held
    url = f"/api/v1/payments/{payment['id']}/applications"
    headers = {**FINANCE, "If-Match": payment["etag"]}
    for body, rule in (({"invoice_number": "INV-1900-000001"}, "invoice-number-unknown"),
                       ({"invoice_number": second_advance["number"], "invoice_id": second_advance["id"]},
                        "invoice-named-twice")):
        refused = await client.post(url, json=body, headers=headers)
        assert (refused.status_code, refused.json()["rule"]) == (422, rule)
    applied = await client.post(url, json={"invoice_number": second_advance["number"]}, headers=headers)
    assert applied.status_code == 200, applied.text
    assert applied.json()["applications"][-1]["invoice_id"] == second_advance["id"]
    assert applied.json()["unapplied"] == _money("0.00")
