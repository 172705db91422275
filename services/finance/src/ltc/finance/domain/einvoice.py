"""An invoice or credit note as an EN 16931 document sees it: the parties, the lines, the totals.

This is the view the e-invoice adapters render (UN/CEFACT CII in Factur-X's EN 16931 profile, and
the PDF/A-3 carrying it); it holds nothing they would have to look up. The parties are the
snapshots taken when the document was issued, never the account as it is today.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum
from typing import Any

from ltc.finance.domain.invoice import CreditNote, Invoice
from ltc.finance.domain.lines import InvoiceLine
from ltc.finance.domain.parties import Address
from ltc.finance.domain.tax import InvoiceTotals, TaxCategory
from ltc.shared.money import Money
from ltc.shared.rules import DomainError


class DocumentType(StrEnum):
    """UNTDID 1001 (BT-3)."""

    INVOICE = "380"
    CREDIT_NOTE = "381"


@dataclass(frozen=True)
class Party:
    """The seller (BG-4) or the buyer (BG-7) as the document names them."""

    legal_name: str
    address: Address
    tax_id: str | None = None  # VAT id (BT-31 / BT-48)
    registration_id: str | None = None  # legal registration (BT-30 / BT-47)
    contact_name: str | None = None
    contact_email: str | None = None
    erp_id: str | None = None  # the buyer's id in our ERP (BT-46)

    @classmethod
    def from_snapshot(cls, snapshot: dict[str, Any]) -> Party:
        """From a bill-to snapshot (leads' billing identity) or the seller identity's JSON."""
        address = snapshot["address"]
        return cls(legal_name=snapshot["legal_name"], tax_id=snapshot.get("tax_id"),
                   registration_id=snapshot.get("registration_id"),
                   contact_name=snapshot.get("contact_name"), contact_email=snapshot.get("contact_email"),
                   erp_id=snapshot.get("erp_customer_id"),
                   address=Address(line1=address["line1"], line2=address.get("line2"),
                                   postal_code=address.get("postal_code"), city=address["city"],
                                   country=address["country"]))


@dataclass(frozen=True)
class EInvoice:
    type: DocumentType
    number: str  # BT-1
    issue_date: date  # BT-2
    currency: str  # BT-5, ISO 4217
    seller: Party
    buyer: Party
    lines: tuple[InvoiceLine, ...]
    totals: InvoiceTotals  # net, VAT breakdown, tax, gross, paid, payable
    due_date: date | None = None  # BT-9
    buyer_reference: str | None = None  # BT-10: the buyer reference / PO number the customer requires
    payment_terms: str | None = None  # BT-20, as text
    contract_reference: str | None = None  # BT-12
    preceding_invoice: str | None = None  # BT-25: the invoice a credit note corrects
    preceding_invoice_date: date | None = None  # BT-26
    note: str | None = None  # BT-22, e.g. a credit note's reason
    payment_reference: str | None = None  # BT-83: the ISO 11649 creditor reference a payment quotes
    delivery_date: date | None = None  # BT-72: an intra-community supply (K) needs it or an invoicing period


EINVOICE_UNAVAILABLE = "einvoice-unavailable"


def _parties(number: str, seller: dict[str, Any] | None, bill_to: dict[str, Any] | None) -> tuple[Party, Party]:
    if not seller or not bill_to:
        raise DomainError(EINVOICE_UNAVAILABLE, f"{number} was issued before finance kept its seller and bill-to: "
                          "an EN 16931 document names both as they were on issue")
    return Party.from_snapshot(seller), Party.from_snapshot(bill_to)


def _outside_vat(lines: tuple[InvoiceLine, ...], seller: Party, buyer: Party) -> tuple[Party, Party]:
    """A document of O lines names no VAT ids (EN 16931 BR-O-02): it is outside VAT altogether."""
    if lines and all(line.vat.category is TaxCategory.OUT_OF_SCOPE for line in lines):
        return replace(seller, tax_id=None), replace(buyer, tax_id=None)
    return seller, buyer


def _supplied_in_union(lines: tuple[InvoiceLine, ...], on: date) -> date | None:
    """An intra-community supply states when it was delivered (BR-IC-11); finance knows it invoiced
    the goods the day they became billable, so that day stands for it."""
    return on if any(line.vat.category is TaxCategory.INTRA_COMMUNITY for line in lines) else None


def of_invoice(invoice: Invoice) -> EInvoice:
    """The EN 16931 view of an issued invoice, from what it holds (its snapshots, lines and totals)."""
    if not invoice.lines or invoice.net is None:
        raise DomainError(EINVOICE_UNAVAILABLE, f"invoice {invoice.number} was issued before invoices carried lines "
                          "and VAT: it has no EN 16931 document")
    seller, buyer = _outside_vat(invoice.lines, *_parties(invoice.number, invoice.seller, invoice.bill_to))
    totals = InvoiceTotals(net=invoice.net, breakdown=tuple(invoice.tax_breakdown), tax=invoice.tax or
                           Money.zero(invoice.currency), gross=invoice.amount, paid=Money.zero(invoice.currency),
                           payable=invoice.amount)
    days = (invoice.due_date - invoice.issue_date).days
    return EInvoice(type=DocumentType.INVOICE, number=invoice.number, issue_date=invoice.issue_date,
                    currency=invoice.currency, seller=seller, buyer=buyer, lines=tuple(invoice.lines), totals=totals,
                    due_date=invoice.due_date, buyer_reference=(invoice.bill_to or {}).get("buyer_reference"),
                    payment_terms=f"Payable within {days} days of the invoice date, by {invoice.due_date.isoformat()}",
                    contract_reference=str(invoice.contract_id), note=f"Instalment: {invoice.instalment}",
                    payment_reference=invoice.payment_reference,
                    delivery_date=_supplied_in_union(tuple(invoice.lines), invoice.issue_date))


def of_credit_note(note: CreditNote, invoice: Invoice) -> EInvoice:
    """A credit note as EN 16931 has it: type 381, positive amounts, the invoice it corrects."""
    if not note.lines or note.net is None:
        raise DomainError(EINVOICE_UNAVAILABLE, f"credit note {note.number} corrects an invoice issued before "
                          "invoices carried lines and VAT: it has no EN 16931 document")
    seller, buyer = _outside_vat(note.lines, *_parties(note.number, invoice.seller, invoice.bill_to))
    totals = InvoiceTotals(net=note.net, breakdown=tuple(note.tax_breakdown),
                           tax=note.tax or Money.zero(note.currency), gross=note.amount,
                           paid=Money.zero(note.currency), payable=note.amount)
    return EInvoice(type=DocumentType.CREDIT_NOTE, number=note.number, issue_date=note.issue_date,
                    currency=note.currency, seller=seller, buyer=buyer, lines=tuple(note.lines), totals=totals,
                    buyer_reference=(invoice.bill_to or {}).get("buyer_reference"),
                    contract_reference=str(invoice.contract_id), preceding_invoice=invoice.number,
                    preceding_invoice_date=invoice.issue_date, note=note.reason,
                    delivery_date=_supplied_in_union(tuple(note.lines), invoice.issue_date))
