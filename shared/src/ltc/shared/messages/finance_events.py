"""Events published by the finance service on `ltc.finance`."""

from __future__ import annotations

from datetime import date, datetime
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


# --- cash from the bank and its exceptions (issue 16) ---------------------------------------


class StatementTotal(BaseModel):
    """One currency's cash on a statement: credits in, debits out, and what became of the credits."""

    currency: str
    credited: MoneyPayload
    debited: MoneyPayload
    matched: MoneyPayload = Field(description="credits recorded as payments by the matching rules")
    suspense: MoneyPayload = Field(description="credits nobody could identify yet, held in suspense")


class BankStatementImported(EventPayload):
    """A bank statement (camt.053/054 or MT940) was imported once: its entries are bank transactions."""

    event_type: ClassVar[str] = "bank_statement.imported"
    topic: ClassVar[str] = "ltc.finance"
    subject_field: ClassVar[str] = "statement_id"
    statement_id: UUID = Field(description="finance's id of the import")
    bank_statement_id: str = Field(description="the statement's id as the bank wrote it")
    account_iban: str
    message_type: str
    imported_at: datetime
    transactions: int
    matched: int
    suspense: int
    to_review: int = Field(description="debits (returns, charges) kept for review or matched to returns")
    totals: list[StatementTotal] = Field(default_factory=list)


class PaymentConfirmed(EventPayload):
    """A payment recorded by hand was found on a bank statement: the bank holds the cash."""

    event_type: ClassVar[str] = "payment.confirmed"
    topic: ClassVar[str] = "ltc.finance"
    subject_field: ClassVar[str] = "payment_id"
    payment_id: UUID
    bank_reference: str
    amount: MoneyPayload
    bank_transaction_id: UUID
    confirmed_on: date = Field(description="the statement entry's booking (else value) date")
    account_id: UUID | None = None


class PaymentReturned(EventPayload):
    """The bank returned a payment: what it paid is open again, its invoices go back to dunning."""

    event_type: ClassVar[str] = "payment.returned"
    topic: ClassVar[str] = "ltc.finance"
    subject_field: ClassVar[str] = "payment_id"
    payment_id: UUID
    bank_reference: str
    amount: MoneyPayload
    returned_on: date
    return_reason: str | None = Field(default=None, description="ISO 20022 return reason code, e.g. AC04")
    bank_transaction_id: UUID | None = Field(default=None, description="the statement's debit entry, when the "
                                             "return came by statement")
    reopened: list[PaymentApplication] = Field(default_factory=list,
                                               description="what the payment had paid of each invoice")
    account_id: UUID | None = None


class RefundIssued(EventPayload):
    """Cash paid back to the customer: unapplied cash of a payment (an over-payment or a credit balance)."""

    event_type: ClassVar[str] = "refund.issued"
    topic: ClassVar[str] = "ltc.finance"
    subject_field: ClassVar[str] = "refund_id"
    refund_id: UUID
    payment_id: UUID
    account_id: UUID | None = None
    amount: MoneyPayload
    beneficiary_name: str
    beneficiary_iban: str
    reason: str
    requested_by: str
    approved_by: str | None = Field(default=None, description="the second person, for a refund above the approval "
                                    "threshold")
    issued_on: date


class InvoiceWrittenOff(EventPayload):
    """What was open on an invoice will not be collected: a small balance, or a bad debt decided by tier."""

    event_type: ClassVar[str] = "invoice.written_off"
    topic: ClassVar[str] = "ltc.finance"
    subject_field: ClassVar[str] = "contract_id"
    invoice_id: UUID
    invoice_number: str
    contract_id: UUID
    account_id: UUID | None
    amount: MoneyPayload
    kind: Literal["small_balance", "bad_debt"]
    reason: str
    written_off_on: date
    decided_by: str
    decision_tier: str | None = Field(default=None, description="the tier that decided a bad debt")
    invoice_open_amount: MoneyPayload


class InvoiceDisputed(EventPayload):
    """The customer disputes an invoice: its dunning pauses until the dispute is resolved."""

    event_type: ClassVar[str] = "invoice.disputed"
    topic: ClassVar[str] = "ltc.finance"
    subject_field: ClassVar[str] = "contract_id"
    dispute_id: UUID
    invoice_id: UUID
    invoice_number: str
    contract_id: UUID
    account_id: UUID | None
    reason: str
    disputed_amount: MoneyPayload
    opened_on: date
    opened_by: str


class InvoiceDisputeResolved(EventPayload):
    """A dispute ended; dunning of what is still open resumes."""

    event_type: ClassVar[str] = "invoice.dispute_resolved"
    topic: ClassVar[str] = "ltc.finance"
    subject_field: ClassVar[str] = "contract_id"
    dispute_id: UUID
    invoice_id: UUID
    invoice_number: str
    contract_id: UUID
    account_id: UUID | None
    outcome: Literal["customer_right", "customer_wrong", "withdrawn"]
    resolution: str
    resolved_on: date
    resolved_by: str


class PromiseToPayRecorded(EventPayload):
    """The customer promised to pay an invoice by a date: dunning pauses until then."""

    event_type: ClassVar[str] = "promise_to_pay.recorded"
    topic: ClassVar[str] = "ltc.finance"
    subject_field: ClassVar[str] = "contract_id"
    promise_id: UUID
    invoice_id: UUID
    invoice_number: str
    contract_id: UUID
    account_id: UUID | None
    amount: MoneyPayload
    promised_date: date
    recorded_by: str
    recorded_on: date


class PromiseToPayBroken(EventPayload):
    """A promised payment did not arrive by its date: dunning resumes at the next level."""

    event_type: ClassVar[str] = "promise_to_pay.broken"
    topic: ClassVar[str] = "ltc.finance"
    subject_field: ClassVar[str] = "contract_id"
    promise_id: UUID
    invoice_id: UUID
    invoice_number: str
    contract_id: UUID
    account_id: UUID | None
    amount: MoneyPayload
    promised_date: date
    paid_since: MoneyPayload = Field(description="what was paid on the invoice between the promise and its date")
    broken_on: date


class AccountCreditChanged(EventPayload):
    """An account's credit limit or its exposure in one currency changed.

    exposure = open receivables + signed but not yet invoiced value (both gross of VAT as far as
    invoiced, the signed rest net); available = limit - exposure (negative: over the limit).
    """

    event_type: ClassVar[str] = "account.credit_changed"
    topic: ClassVar[str] = "ltc.finance"
    subject_field: ClassVar[str] = "account_id"
    account_id: UUID
    currency: str
    credit_limit: MoneyPayload | None = Field(description="none set: no limit")
    exposure: MoneyPayload
    open_receivables: MoneyPayload
    signed_not_invoiced: MoneyPayload
    available: MoneyPayload | None
    changed_at: datetime
    cause: Literal["limit_set", "exposure_changed"]
