"""A deal billed line by line with VAT, as a receivables clerk and an ERP see it: three lines in two
VAT categories paid 30/60/10, through an amendment and credit notes, and every invoice and credit
note served as an EN 16931 document that validates against the official XSD and schematron."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

import pytest
from facturx import get_facturx_xml_from_pdf
from lxml import etree

from ltc.finance import handlers
from ltc.finance.adapters.einvoice import check_cii, check_ubl
from ltc.finance.bootstrap import SPEC
from ltc.shared.messages.contracts_events import ContractAmended, ContractMilestoneAccepted, ContractSigned
from ltc.shared.testing.apps import auth, service_client
from tests.integration.finance.support import account_created, deliver

pytestmark = pytest.mark.integration

FINANCE = auth("clerk-1", "finance")
ERP = auth("erp", "integration")
PAC, FAC = uuid.uuid4(), uuid.uuid4()
BUYER = {"legal_name": "Nordwerk AG", "registration_id": "HRB 4711", "tax_id": "DE268954716",
         "address": {"line1": "Hafenweg 3", "postal_code": "20457", "city": "Hamburg", "country": "DE"},
         "contact_name": "Petra Schulz", "contact_email": "ap@nordwerk.example", "erp_customer_id": "C-100042",
         "buyer_reference": "PO-4711"}
RAM = "{urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100}"


def _money(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "EUR"}


def _line(position: int, code: str, description: str, quantity: str, unit: str, price: str, *,
          supply: str = "services", vat: dict | None = None, milestone: str | None = None,
          discount: str | None = None) -> dict:
    net = Decimal(quantity) * Decimal(price) - Decimal(discount or 0)
    return {"position": position, "code": code, "description": description, "quantity": quantity, "unit": unit,
            "unit_price": _money(price), "discount": _money(discount) if discount else None,
            "net": _money(f"{net:.2f}"), "supply": supply, "vat": vat, "milestone": milestone}


EXEMPT = {"category": "E", "rate": "0", "exemption_reason": "Steuerfrei nach § 4 Nr. 21 UStG (Bildungsleistung)"}
LINES = [
    _line(1, "RAN-HW", "Radio access equipment", "13", "C62", "50000.00", supply="goods"),
    _line(2, "RAN-INT", "Installation and integration", "2000", "HUR", "130.00", discount="10000.00"),
    _line(3, "RAN-TRN", "Operator training", "20", "DAY", "5000.00", vat=EXEMPT, milestone="FAC"),
]
MILESTONES = [{"milestone_id": str(PAC), "name": "PAC", "planned_date": "2027-03-01", "acceptance_type": "preliminary"},
              {"milestone_id": str(FAC), "name": "FAC", "planned_date": "2027-09-01", "acceptance_type": "final"}]


def _schedule(pac: str) -> list[dict]:
    return [{"name": "advance", "percent": "30", "amount": _money("300000.00"), "trigger": "signing", "due_days": 30},
            {"name": "PAC", "percent": "60", "amount": _money(pac), "trigger": "milestone",
             "milestone_id": str(PAC), "due_days": 45},
            {"name": "FAC", "percent": "10", "amount": _money("100000.00"), "trigger": "milestone",
             "milestone_id": str(FAC), "due_days": 45}]


@pytest.fixture(scope="module")
async def client(make_database, kafka_bootstrap):
    async with service_client(SPEC, await make_database("finance_lines"), kafka_bootstrap) as client:
        yield client


async def _invoices(client, contract_id: uuid.UUID) -> dict[str, dict]:
    response = await client.get("/api/v1/invoices", params={"contract_id": str(contract_id)}, headers=FINANCE)
    return {i["instalment"]: i for i in response.json()["items"]}


async def _accept(client, contract_id: uuid.UUID, milestone_id: uuid.UUID, name: str) -> None:
    await deliver(client, handlers.on_contract_milestone_accepted, ContractMilestoneAccepted(
        contract_id=contract_id, milestone_id=milestone_id, name=name, acceptance_type="final",
        accepted_on=datetime.now(UTC).date(), certificate_ref=f"{name}-1"))


def _tie(document: dict) -> None:
    """EN 16931's totals identities: lines add up to the net (BR-CO-10/13), each VAT row is its
    taxable times its rate rounded once (BR-CO-17), the rows add up to the tax (BR-CO-14), and
    net + tax is the gross (BR-CO-15)."""
    net = sum(Decimal(line["net"]["amount"]) for line in document["lines"])
    assert net == Decimal(document["net"]["amount"])
    for row in document["tax_breakdown"]:
        taxable = sum(Decimal(line["net"]["amount"]) for line in document["lines"]
                      if (line["vat"]["category"], line["vat"]["rate"]) == (row["category"], row["rate"]))
        assert taxable == Decimal(row["taxable"]["amount"])
    tax = sum(Decimal(row["tax"]["amount"]) for row in document["tax_breakdown"])
    assert tax == Decimal(document["tax"]["amount"])
    assert net + tax == Decimal(document["amount"]["amount"])


async def _valid_document(client, path: str) -> bytes:
    """The CII, and the UBL of the same document, each valid under its own official artefacts."""
    for syntax, check in (("ubl", check_ubl), ("cii", check_cii)):
        response = await client.get(path, headers=FINANCE, params={"syntax": syntax})
        assert response.status_code == 200 and response.headers["content-type"] == "application/xml", response.text
        validation = check(response.content)
        assert validation.failures == (), (syntax, validation.failures)
    return response.content


async def test_three_lines_in_two_vat_categories_through_amendment_and_credit_notes(client):
    account_id, contract_id = uuid.uuid4(), uuid.uuid4()
    await deliver(client, handlers.on_account_created, account_created(account_id, BUYER, name="Nordwerk"))
    signed = ContractSigned.model_validate({
        "lineage": {"contract_id": str(contract_id)}, "contract_id": str(contract_id), "account_id": str(account_id),
        "account_name": "Nordwerk", "value": _money("1000000.00"), "signed_on": "2026-11-20",
        "signatories": ["Petra Schulz"], "payment_schedule": _schedule("600000.00"), "milestones": MILESTONES,
        "lines": LINES})
    await deliver(client, handlers.on_contract_signed, signed)

    # The advance bills 30% of what the percentage lines (not the training, FAC's own) amount to.
    advance = (await _invoices(client, contract_id))["advance"]
    assert [(line["position"], line["net"]["amount"], line["quantity"], line["vat"]["category"])
            for line in advance["lines"]] == [(1, "216666.67", "4.333333", "S"), (2, "83333.33", "666.666640", "S")]
    assert [(r["category"], r["rate"], r["taxable"]["amount"], r["tax"]["amount"]) for r in advance["tax_breakdown"]
            ] == [("S", "19", "300000.00", "57000.00")]
    assert (advance["net"]["amount"], advance["tax"]["amount"], advance["amount"]["amount"]) == (
        "300000.00", "57000.00", "357000.00")
    _tie(advance)
    xml = await _valid_document(client, f"/api/v1/invoices/{advance['id']}/einvoice")
    # The creditor reference the customer quotes finds the invoice, however the remittance spaces it.
    spaced = " ".join(advance["payment_reference"][i:i + 4] for i in range(0, len(advance["payment_reference"]), 4))
    found = await client.get("/api/v1/invoices", params={"payment_reference": spaced.lower()}, headers=FINANCE)
    assert [i["id"] for i in found.json()["items"]] == [advance["id"]]
    tree = etree.fromstring(xml)
    assert tree.findtext(f".//{RAM}DuePayableAmount") == "357000.00"
    assert tree.findtext(f".//{RAM}BuyerReference") == "PO-4711"
    assert tree.findtext(f".//{RAM}PaymentReference") == advance["payment_reference"]

    # An amendment adds spare parts, delivered with PAC's lines, before PAC is invoiced.
    amended = ContractAmended.model_validate({
        "lineage": {"contract_id": str(contract_id)}, "contract_id": str(contract_id), "contract_version": 2,
        "reason": "two more sites' spare parts", "value": _money("1050000.00"),
        "payment_schedule": _schedule("650000.00"), "milestones": MILESTONES,
        "amended_at": datetime.now(UTC).isoformat(),
        "lines": [*LINES, _line(4, "RAN-SP", "Spare parts kit", "10", "SET", "5000.00", supply="goods")]})
    await deliver(client, handlers.on_contract_amended, amended)
    await _accept(client, contract_id, PAC, "PAC")
    await _accept(client, contract_id, FAC, "FAC")
    invoices = await _invoices(client, contract_id)
    pac, fac = invoices["PAC"], invoices["FAC"]
    assert sum(Decimal(line["net"]["amount"]) for line in pac["lines"]) == Decimal("650000.00")
    assert [(line["position"], line["vat"]["category"]) for line in fac["lines"]] == [(3, "E")]
    assert [(r["category"], r["tax"]["amount"]) for r in fac["tax_breakdown"]] == [("E", "0.00")]
    assert fac["amount"]["amount"] == "100000.00"
    for invoice in (pac, fac):
        _tie(invoice)
        await _valid_document(client, f"/api/v1/invoices/{invoice['id']}/einvoice")

    # Over all three invoices every line is invoiced at exactly its agreed net, and its quantity.
    plan = (await client.get(f"/api/v1/billing-plans/{contract_id}", headers=FINANCE)).json()
    agreed = {line["position"]: (Decimal(line["net"]["amount"]), Decimal(line["quantity"])) for line in plan["lines"]}
    billed: dict[int, tuple[Decimal, Decimal]] = {}
    for invoice in (advance, pac, fac):
        for line in invoice["lines"]:
            net, quantity = billed.get(line["position"], (Decimal(0), Decimal(0)))
            billed[line["position"]] = (net + Decimal(line["net"]["amount"]), quantity + Decimal(line["quantity"]))
    assert billed == agreed
    assert plan["invoiced_gross"]["amount"] == str(sum(Decimal(i["amount"]["amount"]) for i in (advance, pac, fac)))

    # Credit notes: ten hours of integration off the advance, then the rest of the training.
    response = await client.post(f"/api/v1/invoices/{advance['id']}/credit-notes", headers={
        **FINANCE, "If-Match": advance["etag"]}, json={"reason": "ten hours not worked",
                                                       "lines": [{"position": 2, "quantity": "10"}]})
    assert response.status_code == 201, response.text
    hours = response.json()
    net = (Decimal("83333.33") * 10 / Decimal("666.666640")).quantize(Decimal("0.01"), ROUND_DOWN)
    assert [(line["position"], line["quantity"], line["net"]["amount"]) for line in hours["lines"]] == [
        (2, "10", str(net))]
    assert hours["tax"]["amount"] == str((net * Decimal("0.19")).quantize(Decimal("0.01"), ROUND_HALF_UP))
    _tie(hours)
    note_xml = await _valid_document(client, f"/api/v1/credit-notes/{hours['id']}/einvoice")
    assert etree.fromstring(note_xml).findtext(f".//{RAM}TypeCode") == "381"

    refused = await client.post(f"/api/v1/invoices/{advance['id']}/credit-notes", headers={
        **FINANCE, "If-Match": (await client.get(f"/api/v1/invoices/{advance['id']}", headers=FINANCE)).json()["etag"]},
        json={"reason": "goodwill", "amount": _money("100.00")})
    assert refused.status_code == 422 and refused.json()["rule"] == "credit-by-lines", refused.text

    fac_now = (await client.get(f"/api/v1/invoices/{fac['id']}", headers=FINANCE)).json()
    response = await client.post(f"/api/v1/invoices/{fac['id']}/credit-notes", headers={
        **FINANCE, "If-Match": fac_now["etag"]}, json={"reason": "training cancelled"})
    assert response.status_code == 201, response.text
    whole = response.json()
    assert whole["amount"] == fac["amount"]
    assert (await client.get(f"/api/v1/invoices/{fac['id']}", headers=FINANCE)).json()["status"] == "credited"
    await _valid_document(client, f"/api/v1/credit-notes/{whole['id']}/einvoice")

    # The PDF carries the very XML.
    pdf = await client.get(f"/api/v1/invoices/{advance['id']}/einvoice", headers={**FINANCE,
                                                                                  "Accept": "application/pdf"})
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert get_facturx_xml_from_pdf(pdf.content, check_xsd=True)[1] == xml
    mixed = await client.get(f"/api/v1/invoices/{advance['id']}/einvoice", params={"syntax": "ubl"},
                             headers={**FINANCE, "Accept": "application/pdf"})
    assert mixed.status_code == 422 and [e["field"] for e in mixed.json()["errors"]] == ["syntax"]


async def test_an_unknown_invoice_and_one_a_stranger_may_not_read_have_no_document(client):
    account_id, contract_id = uuid.uuid4(), uuid.uuid4()
    await deliver(client, handlers.on_account_created, account_created(account_id, BUYER, name="Nordwerk"))
    await deliver(client, handlers.on_contract_signed, ContractSigned.model_validate({
        "lineage": {"contract_id": str(contract_id)}, "contract_id": str(contract_id), "account_id": str(account_id),
        "account_name": "Nordwerk", "value": _money("100.00"), "signed_on": "2026-11-20", "signatories": ["x"],
        "payment_schedule": [{"name": "all", "percent": "100", "amount": _money("100.00"), "trigger": "signing",
                              "due_days": 30}], "milestones": []}))
    invoice = (await _invoices(client, contract_id))["all"]
    path = f"/api/v1/invoices/{invoice['id']}/einvoice"
    assert (await client.get(path, headers=FINANCE)).status_code == 200
    assert (await client.get(path, headers=auth("ar-stranger", "ar"))).status_code == 404, \
        "an AR who is not the account's reads no document of it"
    assert (await client.get(f"/api/v1/invoices/{uuid.uuid4()}/einvoice", headers=FINANCE)).status_code == 404
