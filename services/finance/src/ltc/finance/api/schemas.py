"""Request and response bodies, named by role (`PaymentCreate`, `InvoiceRead`, ...)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated
from uuid import UUID

from ltc.finance.domain.model import (
    BillingPlan,
    Instalment,
    InstalmentStatus,
    Invoice,
    InvoiceStatus,
    Payment,
    Trigger,
)
from ltc.shared.messages import Lineage, MoneyPayload
from ltc.shared.messages.base import DecimalStr
from ltc.shared.money import Money
from pydantic import BaseModel, ConfigDict, Field, StringConstraints


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PaymentCreate(_Strict):
    bank_reference: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] = Field(
        description="the bank's reference of the credit; the same reference is never counted twice")
    payer: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
    amount: MoneyPayload
    value_date: date
    invoice_id: UUID | None = Field(default=None, description="pay this invoice; the surplus is held unapplied")
    contract_id: UUID | None = Field(
        default=None, description="without invoice_id: pay this contract's open invoices, oldest due first")


class InvoiceRead(BaseModel):
    id: UUID
    number: str
    contract_id: UUID
    account_id: UUID | None
    lineage: Lineage
    instalment: str
    amount: MoneyPayload
    paid_amount: MoneyPayload
    open_amount: MoneyPayload
    issue_date: date
    due_date: date
    status: InvoiceStatus
    paid_on: date | None
    created_at: datetime
    version: int

    @classmethod
    def of(cls, invoice: Invoice) -> InvoiceRead:
        return cls(
            id=invoice.id, number=invoice.number, contract_id=invoice.contract_id, account_id=invoice.account_id,
            lineage=invoice.lineage(), instalment=invoice.instalment, amount=MoneyPayload.of(invoice.amount),
            paid_amount=MoneyPayload.of(invoice.paid), open_amount=MoneyPayload.of(invoice.open_amount),
            issue_date=invoice.issue_date, due_date=invoice.due_date, status=invoice.status, paid_on=invoice.paid_on,
            created_at=invoice.created_at, version=invoice.version,
        )


class ApplicationRead(BaseModel):
    invoice_id: UUID
    amount: MoneyPayload


class PaymentRead(BaseModel):
    id: UUID
    bank_reference: str
    payer: str
    amount: MoneyPayload
    value_date: date
    invoice_id: UUID | None
    contract_id: UUID
    applications: list[ApplicationRead]
    applied: MoneyPayload
    unapplied: MoneyPayload
    recorded_by: str
    created_at: datetime

    @classmethod
    def of(cls, payment: Payment) -> PaymentRead:
        return cls(
            id=payment.id, bank_reference=payment.bank_reference, payer=payment.payer,
            amount=MoneyPayload.of(payment.amount), value_date=payment.value_date, invoice_id=payment.invoice_id,
            contract_id=payment.contract_id,
            applications=[
                ApplicationRead(invoice_id=a.invoice_id, amount=MoneyPayload.of(Money(a.amount, payment.currency)))
                for a in payment.applications
            ],
            applied=MoneyPayload.of(payment.applied), unapplied=MoneyPayload.of(payment.unapplied),
            recorded_by=payment.recorded_by, created_at=payment.created_at,
        )


class InstalmentRead(BaseModel):
    id: UUID
    name: str
    percent: DecimalStr
    amount: MoneyPayload
    trigger: Trigger
    milestone_id: UUID | None
    due_days: int
    status: InstalmentStatus
    invoice_id: UUID | None

    @classmethod
    def of(cls, instalment: Instalment, currency: str) -> InstalmentRead:
        return cls(
            id=instalment.id, name=instalment.name, percent=instalment.percent,
            amount=MoneyPayload.of(Money(instalment.amount, currency)), trigger=instalment.trigger,
            milestone_id=instalment.milestone_id, due_days=instalment.due_days, status=instalment.status,
            invoice_id=instalment.invoice_id,
        )


class BillingPlanRead(BaseModel):
    id: UUID
    contract_id: UUID
    account_id: UUID | None
    lineage: Lineage
    signed_on: date
    value: MoneyPayload
    instalments: list[InstalmentRead]
    invoiced: MoneyPayload
    collected: MoneyPayload
    open_balance: MoneyPayload = Field(description="invoiced and not yet collected")
    fully_paid_on: date | None
    created_at: datetime
    version: int

    @classmethod
    def of(cls, plan: BillingPlan) -> BillingPlanRead:
        return cls(
            id=plan.id, contract_id=plan.contract_id, account_id=plan.account_id, lineage=plan.lineage(),
            signed_on=plan.signed_on, value=MoneyPayload.of(plan.value),
            instalments=[InstalmentRead.of(i, plan.currency) for i in plan.instalments],
            invoiced=MoneyPayload.of(plan.invoiced), collected=MoneyPayload.of(plan.collected),
            open_balance=MoneyPayload.of(plan.open_balance), fully_paid_on=plan.fully_paid_on,
            created_at=plan.created_at, version=plan.version,
        )
