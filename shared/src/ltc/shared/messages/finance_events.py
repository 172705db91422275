"""Events published by the finance service on `ltc.finance`."""

from __future__ import annotations

from datetime import date
from typing import ClassVar, Literal
from uuid import UUID

from ltc.shared.messages.base import EventPayload, MoneyPayload
from pydantic import BaseModel


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
