"""An invoice or credit note as an EN 16931 document sees it: the parties, the lines, the totals.

This is the view the e-invoice adapters render (UN/CEFACT CII in Factur-X's EN 16931 profile, and
the PDF/A-3 carrying it); it holds nothing they would have to look up. The parties are the
snapshots taken when the document was issued, never the account as it is today.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from ltc.finance.domain.lines import InvoiceLine
from ltc.finance.domain.parties import Address
from ltc.finance.domain.tax import InvoiceTotals


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
    delivery_date: date | None = None  # BT-72: an intra-community supply (K) needs it or an invoicing period
