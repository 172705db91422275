"""Events published by the finance service on `ltc.finance`."""

from __future__ import annotations

from datetime import date
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel

from ltc.shared.messages.base import EventPayload, MoneyPayload


class InvoiceIssued(EventPayload):
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
    amount: MoneyPayload
    reason: str
    issue_date: date
    invoice_open_amount: MoneyPayload


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
