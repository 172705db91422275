"""Cash from the bank: a camt.053 statement imported once, each credit matched to the invoice it
names (by creditor reference, by invoice number) and recorded as its payment, the rest kept in
suspense, nothing lost and nothing counted twice."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from ltc.finance import handlers
from ltc.finance.bootstrap import SPEC
from ltc.shared.messages.contracts_events import ContractSigned
from ltc.shared.testing.apps import auth, service_client
from ltc.shared.testing.bank import OUR_IBAN, camt053, camt_entry
from tests.integration.finance.support import account_created, deliver

pytestmark = pytest.mark.integration

FINANCE = auth("clerk-1", "finance")
BANK = auth("bank-connector", "integration")
AR = auth("ar-x", "ar")


@pytest.fixture(scope="module")
async def client(make_database, kafka_bootstrap):
    async with service_client(SPEC, await make_database("finance_bank"), kafka_bootstrap) as client:
        yield client


def _money(amount: str, currency: str = "EUR") -> dict[str, str]:
    return {"amount": amount, "currency": currency}


async def _advance(client, value: str = "1000.00", currency: str = "EUR", account_id: uuid.UUID | None = None) -> dict:
    """A signed contract whose advance (all of it, on signing) is invoiced; the customer is known."""
    account_id, contract_id = account_id or uuid.uuid4(), uuid.uuid4()
    await deliver(client, handlers.on_account_created, account_created(account_id))
    await deliver(client, handlers.on_contract_signed, ContractSigned.model_validate({
        "lineage": {"contract_id": str(contract_id)}, "contract_id": str(contract_id), "account_id": str(account_id),
        "account_name": "ACME", "value": _money(value, currency), "signed_on": "2026-11-20", "signatories": ["x"],
        "payment_schedule": [{"name": "advance", "percent": "100", "amount": _money(value, currency),
                              "trigger": "signing", "due_days": 30}], "milestones": []}))
    response = await client.get("/api/v1/invoices", params={"contract_id": str(contract_id)}, headers=FINANCE)
    [invoice] = response.json()["items"]
    return invoice


async def _import(client, content: bytes, headers=BANK):
    return await client.post("/api/v1/bank-statements", content=content,
                             headers={**headers, "Content-Type": "application/xml"})


async def _invoice(client, invoice_id: str) -> dict:
    return (await client.get(f"/api/v1/invoices/{invoice_id}", headers=FINANCE)).json()


async def test_a_statement_pays_the_invoices_it_names_and_keeps_what_it_cannot_name(client):
    by_reference, by_number, dollars = await _advance(client), await _advance(client), await _advance(
        client, "500.00", "USD")
    statement_id = f"STMT-{uuid.uuid4().hex[:8]}"
    spaced = " ".join(by_reference["payment_reference"][i:i + 4]
                      for i in range(0, len(by_reference["payment_reference"]), 4))
    content = camt053(
        statement_id,
        camt_entry(f"{statement_id}-1", "1000.00", structured=by_reference["payment_reference"]),
        camt_entry(f"{statement_id}-2", "600.00", text=f"Payment {by_number['number'].lower()} part 1, thanks"),
        camt_entry(f"{statement_id}-3", "77.70", text="December rent, see letter"),
        camt_entry(f"{statement_id}-4", "500.00", text=f"ref {spaced}"),  # in EUR: not the USD invoice's currency
        camt_entry(f"{statement_id}-5", "12.00", credit=False, name="Bank fees"),
        camt_entry(f"{statement_id}-6", "500.00", currency="USD", text=dollars["number"]),
    )

    response = await _import(client, content)

    assert response.status_code == 201, response.text
    [statement] = response.json()["statements"]
    rows = [(t["reference"][-1], t["status"], t["rule"], t["confidence"], t["invoice_id"])
            for t in statement["transactions"]]
    assert rows == [
        ("1", "matched", "creditor-reference", "certain", by_reference["id"]),
        ("2", "matched", "invoice-number", "high", by_number["id"]),
        ("3", "suspense", None, None, None),
        ("4", "matched", "creditor-reference", "certain", by_reference["id"]),
        ("5", "to_review", None, None, None),
        ("6", "matched", "invoice-number", "high", dollars["id"]),
    ]
    assert (statement["matched"], statement["suspense"], statement["to_review"]) == (4, 1, 1)
    assert (await _invoice(client, by_reference["id"]))["status"] == "paid"
    assert (await _invoice(client, by_number["id"]))["open_amount"] == _money("400.00")
    assert (await _invoice(client, dollars["id"]))["status"] == "paid"
    # The second reference payment found its invoice paid already: all of it held as unapplied cash.
    second = (await client.get(f"/api/v1/payments/{statement['transactions'][3]['payment_id']}",
                               headers=FINANCE)).json()
    assert second["unapplied"] == _money("500.00") and second["bank_reference"] == f"{statement_id}-4"

    # Every cent of the statement's credits is somewhere: in a payment, or in suspense.
    credits = [t for t in statement["transactions"] if t["credit"]]
    in_payments = sum(Decimal(t["amount"]["amount"]) for t in credits if t["payment_id"] and
                      t["amount"]["currency"] == "EUR")
    in_suspense = sum(Decimal(t["amount"]["amount"]) for t in credits if t["status"] == "suspense")
    assert in_payments + in_suspense == Decimal("1000.00") + Decimal("600.00") + Decimal("77.70") + Decimal("500.00")

    # The clerk's suspense list holds the rent, in import order, and nothing matched.
    suspense = (await client.get("/api/v1/bank-transactions", params={"status": "suspense", "account_iban": OUR_IBAN},
                                 headers=FINANCE)).json()["items"]
    rent = statement["transactions"][2]
    assert rent in suspense and all(t["status"] == "suspense" for t in suspense)
    assert (await client.get("/api/v1/bank-transactions", params={"status": "suspense"}, headers=AR)).status_code == 403

    # The same file again: the first import's answer, nothing recorded twice.
    again = await _import(client, content)
    assert again.status_code == 200 and again.json()["statements"] == [statement] and again.json()["new"] == [False]
    payments = (await client.get("/api/v1/payments", params={"bank_reference": f"{statement_id}-1"},
                                 headers=FINANCE)).json()["items"]
    assert len(payments) == 1
    assert (await client.get(f"/api/v1/bank-statements/{statement['id']}", headers=FINANCE)).json() == statement

    # Another file claiming the same statement: refused, and nothing changes.
    other = camt053(statement_id, camt_entry(f"{statement_id}-1", "999.00", structured="RF18XYZ"))
    conflict = await _import(client, other)
    assert conflict.status_code == 409 and conflict.json()["type"].endswith("/bank-statement-conflict")


@pytest.mark.parametrize("content", [
    b"not xml at all",
    b"<Document xmlns='urn:iso:std:iso:20022:tech:xsd:pain.001.001.09'/>",
    camt053("BAD-1", camt_entry("R-1", "ten euros")),
    b"",
])
async def test_a_file_that_is_not_a_valid_camt_statement_is_refused_naming_why(client, content):
    response = await _import(client, content)
    assert response.status_code == 422, response.text
    assert response.json()["type"].endswith("/bank-statement-unreadable") or \
        response.json()["type"].endswith("/validation-error")
    assert response.headers["content-type"] == "application/problem+json"


async def test_only_finance_and_the_bank_connector_import_statements(client):
    response = await _import(client, camt053("AR-1", camt_entry("AR-1-1", "1.00")), headers=AR)
    assert response.status_code == 403


def _mt940(reference: str, *entries: tuple[str, str, str, str]) -> bytes:
    """An MT940 statement: entries of (C or D, amount, bank reference, :86: text)."""
    lines = [f":20:{reference}", ":25:DE89370400440532013000", ":28C:00042/001", ":60F:C261201EUR0,00"]
    for mark, amount, bank_reference, text in entries:
        lines += [f":61:2612021202{mark}{amount.replace('.', ',')}NTRFNONREF//{bank_reference}", f":86:{text}"]
    lines.append(":62F:C261202EUR0,00")
    return ("\r\n".join(lines) + "\r\n").encode()


async def test_an_mt940_statement_is_matched_by_the_same_rules(client):
    by_reference, by_number = await _advance(client), await _advance(client)
    reference = f"MT-{uuid.uuid4().hex[:8]}"
    content = _mt940(reference, ("C", "1000.00", f"{reference}-1", by_reference["payment_reference"]),
                     ("C", "250.00", f"{reference}-2", f"Inv {by_number['number']} partial"),
                     ("D", "12.00", f"{reference}-3", "Account charges"),
                     ("C", "40.00", f"{reference}-4", "no idea"))

    response = await client.post("/api/v1/bank-statements", content=content,
                                 headers={**BANK, "Content-Type": "text/plain"})

    assert response.status_code == 201, response.text
    [statement] = response.json()["statements"]
    assert (statement["statement_id"], statement["message_type"]) == (f"{reference}/00042/001", "MT940")
    assert [(t["status"], t["rule"], t["invoice_id"], t["amount"]["amount"], t["credit"])
            for t in statement["transactions"]] == [
        ("matched", "creditor-reference", by_reference["id"], "1000.00", True),
        ("matched", "invoice-number", by_number["id"], "250.00", True),
        ("to_review", None, None, "12.00", False),
        ("suspense", None, None, "40.00", True)]
    assert (await _invoice(client, by_reference["id"]))["status"] == "paid"
    again = await client.post("/api/v1/bank-statements", content=content,
                              headers={**BANK, "Content-Type": "text/plain"})
    assert again.status_code == 200 and again.json()["statements"] == [statement]
    bad = await client.post("/api/v1/bank-statements", content=b":20:X\r\n:61:garbage\r\n",
                            headers={**BANK, "Content-Type": "text/plain"})
    assert bad.status_code == 422 and bad.json()["type"].endswith("/bank-statement-unreadable"), bad.text


async def test_a_payer_whose_iban_paid_an_account_before_is_matched_by_amount(client):
    """The third rule: no reference, but this IBAN paid this account's invoice before, and the
    account's oldest open invoice is open for exactly the amount (medium confidence). An amount no
    invoice is open for, or an IBAN never seen, stays in suspense."""
    account_id, iban = uuid.uuid4(), "DE02120300000000202051"
    first, second = await _advance(client, "300.00", account_id=account_id), await _advance(
        client, "450.00", account_id=account_id)
    known = f"STMT-{uuid.uuid4().hex[:8]}"
    await _import(client, camt053(known, camt_entry(f"{known}-1", "300.00", structured=first["payment_reference"],
                                                    iban=iban)))
    later = f"STMT-{uuid.uuid4().hex[:8]}"
    response = await _import(client, camt053(
        later, camt_entry(f"{later}-1", "450.00", text="monthly transfer", iban=iban),
        camt_entry(f"{later}-2", "451.00", text="monthly transfer", iban=iban),
        camt_entry(f"{later}-3", "450.00", text="monthly transfer", iban="DE75512108001245126199")))
    assert response.status_code == 201, response.text
    assert [(t["status"], t["rule"], t["confidence"], t["invoice_id"])
            for t in response.json()["statements"][0]["transactions"]] == [
        ("matched", "amount-and-payer", "medium", second["id"]), ("suspense", None, None, None),
        ("suspense", None, None, None)]
