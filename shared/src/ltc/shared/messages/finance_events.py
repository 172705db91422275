"""Events published by the finance service on `ltc.finance`."""

from __future__ import annotations

from datetime import date
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from ltc.shared.messages.base import DecimalStr, EventPayload, MoneyPayload, VatPayload
from ltc.shared.messages.leads_events import BillingIdentitySnapshot


class InvoiceLinePayload(BaseModel):
    """What one invoice or credit note bills of one contract line (EN 16931 BG-25), net of VAT."""

    position: int = Field(description="the contract line's position")
    code: str | None = None
    description: str
    quantity: DecimalStr = Field(description="billed of the contract line's quantity (a share of it for a "
                                             "percentage instalment, to six places)")
    unit: str = Field(description="UN/ECE Recommendation 20 unit code")
    unit_price: MoneyPayload = Field(description="net, per unit, before the line discount")
    discount: MoneyPayload | None = Field(default=None, description="the part of the line's discount billed here")
    net: MoneyPayload = Field(description="what this document bills of the line, net of VAT")
    vat: VatPayload
    milestone: str | None = None


class TaxBreakdownPayload(BaseModel):
    """One row of the document's VAT breakdown (EN 16931 BG-23): per category and rate."""

    category: Literal["S", "Z", "E", "AE", "K", "G", "O"]
    rate: DecimalStr | None = None
    taxable: MoneyPayload
    tax: MoneyPayload
    exemption_reason: str | None = None


class InvoiceIssued(EventPayload):
    """An invoice, with all an ERP needs to post it without calling back: its lines, VAT breakdown,
    totals and the bill-to as it was on issue. `amount` is the gross payable (net + tax)."""

    event_type: ClassVar[str] = "invoice.issued"
    topic: ClassVar[str] = "ltc.finance"
    subject_field: ClassVar[str] = "contract_id"
    invoice_id: UUID
    invoice_number: str
    contract_id: UUID
    account_id: UUID | None
    instalment: str
    amount: MoneyPayload
    issue_date: date
    due_date: date
    # Left out of invoices issued before lines and tax travelled (their amount was their net).
    net: MoneyPayload | None = None
    tax: MoneyPayload | None = None
    lines: list[InvoiceLinePayload] = Field(default_factory=list)
    tax_breakdown: list[TaxBreakdownPayload] = Field(default_factory=list)
    bill_to: BillingIdentitySnapshot | None = None
    buyer_reference: str | None = None
    payment_reference: str | None = Field(default=None, description=(
        "the ISO 11649 structured creditor reference (RF...) the customer quotes when paying"))


class PaymentApplication(BaseModel):
    invoice_id: UUID
    amount: MoneyPayload


class PaymentReceived(EventPayload):
    event_type: ClassVar[str] = "payment.received"
    topic: ClassVar[str] = "ltc.finance"
    subject_field: ClassVar[str] = "payment_id"
    payment_id: UUID
    bank_reference: str
    payer: str
    amount: MoneyPayload
    value_date: date
    applications: list[PaymentApplication]
    unapplied: MoneyPayload
    account_id: UUID | None = None  # the account whose cash this is; unapplied cash is held on it


class InvoicePaid(EventPayload):
    event_type: ClassVar[str] = "invoice.paid"
    topic: ClassVar[str] = "ltc.finance"
    subject_field: ClassVar[str] = "contract_id"
    invoice_id: UUID
    contract_id: UUID
    paid_on: date


class ContractFullyPaid(EventPayload):
    event_type: ClassVar[str] = "contract.fully_paid"
    topic: ClassVar[str] = "ltc.finance"
    subject_field: ClassVar[str] = "contract_id"
    contract_id: UUID
    value: MoneyPayload
    collected: MoneyPayload
    signed_on: date
    fully_paid_on: date
    account_id: UUID | None = None
    credited: MoneyPayload | None = None  # corrected by credit notes: value = collected + credited
    lead_created_on: date | None = None
    won_on: date | None = None
    first_invoiced_on: date | None = None
    days_signed_to_cash: int | None = None
    days_lead_to_cash: int | None = None


class InvoiceOverdue(EventPayload):
    """An invoice past due and still open, at a dunning level the scheduled job advanced it to."""

    event_type: ClassVar[str] = "invoice.overdue"
    topic: ClassVar[str] = "ltc.finance"
    subject_field: ClassVar[str] = "contract_id"
    invoice_id: UUID
    invoice_number: str
    contract_id: UUID
    account_id: UUID | None
    due_date: date
    days_overdue: int
    open_amount: MoneyPayload
    dunning_level: Literal["reminder", "second_reminder", "final_notice", "escalated"]
    as_of: date


class InvoiceCredited(EventPayload):
    """A credit note corrected an issued invoice: what is open on it went down by `amount`."""

    event_type: ClassVar[str] = "invoice.credited"
    topic: ClassVar[str] = "ltc.finance"
    subject_field: ClassVar[str] = "contract_id"
    credit_note_id: UUID
    credit_note_number: str
    invoice_id: UUID
    invoice_number: str
    contract_id: UUID
    account_id: UUID | None
    amount: MoneyPayload  # gross: net + tax
    reason: str
    issue_date: date
    invoice_open_amount: MoneyPayload
    # What the note credits, line by line, and its VAT; left out of notes from before lines travelled.
    net: MoneyPayload | None = None
    tax: MoneyPayload | None = None
    lines: list[InvoiceLinePayload] = Field(default_factory=list)
    tax_breakdown: list[TaxBreakdownPayload] = Field(default_factory=list)


class PaymentApplied(EventPayload):
    """Unapplied cash of an earlier payment applied to invoices later."""

    event_type: ClassVar[str] = "payment.applied"
    topic: ClassVar[str] = "ltc.finance"
    subject_field: ClassVar[str] = "payment_id"
    payment_id: UUID
    bank_reference: str
    applied_on: date
    applications: list[PaymentApplication]
    unapplied: MoneyPayload
