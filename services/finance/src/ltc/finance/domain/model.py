"""Billing plans, invoices and payments: the cash rules of section 4 of the LTC domain.

A signed contract becomes a billing plan whose instalments add up exactly to the contract value.
An instalment is invoiced when its trigger happens (signing, or acceptance of its milestone).
A payment is applied to the named invoice or else oldest-due-first across the contract's open
invoices; what no invoice can take is held as unapplied cash. The contract is fully paid when
every instalment is invoiced and its whole value collected.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from ltc.shared.errors import DomainError, RuleViolation
from ltc.shared.messages import EventPayload, Lineage, MoneyPayload
from ltc.shared.messages.finance_events import (
    ContractFullyPaid,
    InvoiceIssued,
    InvoicePaid,
    PaymentApplication,
    PaymentReceived,
)
from ltc.shared.money import Money


class Trigger(StrEnum):
    SIGNING = "signing"
    MILESTONE = "milestone"


class InstalmentStatus(StrEnum):
    PLANNED = "planned"
    INVOICED = "invoiced"


class InvoiceStatus(StrEnum):
    ISSUED = "issued"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"


def invoice_number(year: int, sequence: int) -> str:
    """`INV-2026-000001`: numbered per calendar year without gaps, as tax authorities expect."""
    return f"INV-{year}-{sequence:06d}"


@dataclass(frozen=True)
class InstalmentTerms:
    """One line of the contract's payment schedule, as signed."""

    name: str
    percent: Decimal
    amount: Money
    trigger: Trigger
    milestone_id: uuid.UUID | None
    due_days: int


def check_schedule(value: Money, schedule: Sequence[InstalmentTerms]) -> None:
    """A plan bills the contract value exactly once: no part missing, none billed twice."""
    if not schedule:
        raise DomainError("billing-plan-empty", "the contract has no payment schedule to bill")
    for terms in schedule:
        if terms.amount.currency != value.currency:
            raise DomainError("currency-mismatch",
                              f"instalment {terms.name!r} is in {terms.amount.currency}, "
                              f"the contract in {value.currency}")
        if terms.amount.amount <= 0:
            raise DomainError("instalment-amount-not-positive",
                              f"instalment {terms.name!r} must bill a positive amount")
        if terms.due_days < 0:
            raise DomainError("instalment-due-days-negative", f"instalment {terms.name!r} has negative payment days")
        if terms.trigger is Trigger.MILESTONE and terms.milestone_id is None:
            raise DomainError("instalment-milestone-missing",
                              f"instalment {terms.name!r} is billed on a milestone but names none")
    total = sum((t.amount for t in schedule), Money.zero(value.currency))
    if total != value:
        raise DomainError("billing-plan-incomplete",
                          f"the instalments add up to {total.amount} {total.currency}, "
                          f"the contract value is {value.amount} {value.currency}")


class Instalment:
    def __init__(self, *, id: uuid.UUID, position: int, terms: InstalmentTerms) -> None:
        self.id = id
        self.position = position
        self.name = terms.name
        self.percent = terms.percent
        self.amount = terms.amount.amount
        self.trigger = terms.trigger
        self.milestone_id = terms.milestone_id
        self.due_days = terms.due_days
        self.status = InstalmentStatus.PLANNED
        self.invoice_id: uuid.UUID | None = None


class BillingPlan:
    """The contract as finance bills it; also the lock that serialises all cash on one contract."""

    events: list[EventPayload]

    def __init__(self, *, id: uuid.UUID, contract_id: uuid.UUID, account_id: uuid.UUID | None, lineage: Lineage,
                 signed_on: date, value: Money, schedule: Sequence[InstalmentTerms], now: datetime) -> None:
        check_schedule(value, schedule)
        self.id = id
        self.contract_id = contract_id
        self.account_id = account_id
        self.lead_id = lineage.lead_id
        self.opportunity_id = lineage.opportunity_id
        self.signed_on = signed_on
        self.currency = value.currency
        self.value_amount = value.amount
        self.collected_amount = Decimal(0)
        self.fully_paid_on: date | None = None
        self.instalments = [Instalment(id=uuid.uuid4(), position=i, terms=t) for i, t in enumerate(schedule)]
        self.created_at = now
        self.events = []

    def lineage(self) -> Lineage:
        return Lineage(lead_id=self.lead_id, opportunity_id=self.opportunity_id, contract_id=self.contract_id)

    def _money(self, amount: Decimal) -> Money:
        return Money(amount, self.currency)

    @property
    def value(self) -> Money:
        return self._money(self.value_amount)

    @property
    def collected(self) -> Money:
        return self._money(self.collected_amount)

    @property
    def invoiced(self) -> Money:
        return self._money(sum((i.amount for i in self.instalments if i.status is InstalmentStatus.INVOICED),
                               Decimal(0)))

    @property
    def open_balance(self) -> Money:
        """Invoiced but not yet collected: what the customer owes today."""
        return self.invoiced - self.collected

    @property
    def fully_collected(self) -> bool:
        return (all(i.status is InstalmentStatus.INVOICED for i in self.instalments)
                and self.collected == self.value)

    def due_on_signing(self) -> list[Instalment]:
        return [i for i in self.instalments if i.trigger is Trigger.SIGNING and i.status is InstalmentStatus.PLANNED]

    def due_on_milestone(self, milestone_id: uuid.UUID) -> list[Instalment]:
        return [i for i in self.instalments if i.trigger is Trigger.MILESTONE and i.milestone_id == milestone_id
                and i.status is InstalmentStatus.PLANNED]

    def invoice(self, instalment: Instalment, *, invoice_id: uuid.UUID, number: str, issue_date: date,
                now: datetime) -> Invoice:
        """Bill one instalment; each is billed exactly once."""
        if instalment not in self.instalments:
            raise DomainError("instalment-unknown", f"instalment {instalment.name!r} is not on this billing plan")
        if instalment.status is not InstalmentStatus.PLANNED:
            raise DomainError("instalment-already-invoiced", f"instalment {instalment.name!r} is already invoiced")
        instalment.status = InstalmentStatus.INVOICED
        instalment.invoice_id = invoice_id
        return Invoice(id=invoice_id, number=number, plan=self, instalment=instalment, issue_date=issue_date, now=now)

    def record_collection(self, amount: Money, *, on: date) -> None:
        """Cash applied to this contract's invoices; the contract is fully paid the day it is all in."""
        if amount.currency != self.currency:
            raise RuleViolation("currency-mismatch",
                                f"the contract is billed in {self.currency}, not {amount.currency}")
        if self.value < self.collected + amount:
            raise DomainError("over-collection", "collections cannot exceed the contract value")
        self.collected_amount = (self.collected + amount).amount
        if self.fully_paid_on is None and self.fully_collected:
            self.fully_paid_on = on
            self.events.append(ContractFullyPaid(
                lineage=self.lineage(), contract_id=self.contract_id, value=MoneyPayload.of(self.value),
                collected=MoneyPayload.of(self.collected), signed_on=self.signed_on, fully_paid_on=on,
            ))


class Invoice:
    events: list[EventPayload]

    def __init__(self, *, id: uuid.UUID, number: str, plan: BillingPlan, instalment: Instalment, issue_date: date,
                 now: datetime) -> None:
        self.id = id
        self.number = number
        self.contract_id = plan.contract_id
        self.account_id = plan.account_id
        self.lead_id = plan.lead_id
        self.opportunity_id = plan.opportunity_id
        self.instalment_id = instalment.id
        self.instalment = instalment.name
        self.currency = plan.currency
        self.amount_due = instalment.amount
        self.paid_amount = Decimal(0)
        self.issue_date = issue_date
        self.due_date = issue_date + timedelta(days=instalment.due_days)
        self.status = InvoiceStatus.ISSUED
        self.paid_on: date | None = None
        self.created_at = now
        self.events = [InvoiceIssued(
            lineage=self.lineage(), invoice_id=id, invoice_number=number, contract_id=self.contract_id,
            account_id=self.account_id, instalment=self.instalment, amount=MoneyPayload.of(self.amount),
            issue_date=issue_date, due_date=self.due_date,
        )]

    def lineage(self) -> Lineage:
        return Lineage(lead_id=self.lead_id, opportunity_id=self.opportunity_id, contract_id=self.contract_id)

    @property
    def amount(self) -> Money:
        return Money(self.amount_due, self.currency)

    @property
    def paid(self) -> Money:
        return Money(self.paid_amount, self.currency)

    @property
    def open_amount(self) -> Money:
        return self.amount - self.paid

    def apply(self, amount: Money, *, on: date) -> None:
        """Take part of a payment; an invoice never takes more than it is open for."""
        if amount.currency != self.currency:
            raise RuleViolation("currency-mismatch",
                                f"invoice {self.number} is in {self.currency}, not {amount.currency}")
        if amount.amount <= 0:
            raise DomainError("application-not-positive", "only a positive amount can be applied to an invoice")
        if self.open_amount < amount:
            raise DomainError("invoice-over-applied",
                              f"invoice {self.number} is open for {self.open_amount.amount}, not {amount.amount}")
        self.paid_amount = (self.paid + amount).amount
        if self.open_amount.is_zero():
            self.status = InvoiceStatus.PAID
            self.paid_on = on
            self.events.append(InvoicePaid(lineage=self.lineage(), invoice_id=self.id, contract_id=self.contract_id,
                                           paid_on=on))
        else:
            self.status = InvoiceStatus.PARTIALLY_PAID


def allocate(received: Money, invoices: Sequence[Invoice]) -> tuple[list[tuple[Invoice, Money]], Money]:
    """Split a receipt over open invoices, oldest due first; the rest is unapplied cash.

    Returns (invoice, amount) pairs and the unapplied remainder; nothing is changed.
    """
    remaining = received
    applications: list[tuple[Invoice, Money]] = []
    for invoice in sorted(invoices, key=lambda i: (i.due_date, i.issue_date, i.number)):
        if remaining.is_zero():
            break
        open_amount = invoice.open_amount
        if open_amount.is_zero():
            continue
        share = open_amount if open_amount < remaining else remaining
        applications.append((invoice, share))
        remaining = remaining - share
    return applications, remaining


class Application:
    """The part of a payment applied to one invoice."""

    def __init__(self, *, id: uuid.UUID, position: int, invoice_id: uuid.UUID, amount: Decimal) -> None:
        self.id = id
        self.position = position
        self.invoice_id = invoice_id
        self.amount = amount


class Payment:
    events: list[EventPayload]

    def __init__(self, *, id: uuid.UUID, bank_reference: str, payer: str, amount: Money, value_date: date,
                 plan: BillingPlan, invoice_id: uuid.UUID | None, applications: Sequence[tuple[Invoice, Money]],
                 unapplied: Money, recorded_by: str, now: datetime) -> None:
        self.id = id
        self.bank_reference = bank_reference
        self.payer = payer
        self.currency = amount.currency
        self.received_amount = amount.amount
        self.value_date = value_date
        self.invoice_id = invoice_id
        self.contract_id = plan.contract_id
        self.applications = [Application(id=uuid.uuid4(), position=i, invoice_id=invoice.id, amount=share.amount)
                             for i, (invoice, share) in enumerate(applications)]
        self.unapplied_amount = unapplied.amount
        self.recorded_by = recorded_by
        self.created_at = now
        self.events = [PaymentReceived(
            lineage=plan.lineage(), payment_id=id, bank_reference=bank_reference, payer=payer,
            amount=MoneyPayload.of(amount), value_date=value_date,
            applications=[PaymentApplication(invoice_id=invoice.id, amount=MoneyPayload.of(share))
                          for invoice, share in applications],
            unapplied=MoneyPayload.of(unapplied),
        )]

    @property
    def amount(self) -> Money:
        return Money(self.received_amount, self.currency)

    @property
    def unapplied(self) -> Money:
        return Money(self.unapplied_amount, self.currency)

    @property
    def applied(self) -> Money:
        return sum((Money(a.amount, self.currency) for a in self.applications), Money.zero(self.currency))


def receive_payment(*, payment_id: uuid.UUID, bank_reference: str, payer: str, amount: Money, value_date: date,
                    plan: BillingPlan, invoices: Sequence[Invoice], invoice_id: uuid.UUID | None,
                    recorded_by: str, now: datetime) -> Payment:
    """Record a bank receipt against one contract: apply it, collect it, and hold any surplus.

    `invoices` are the contract's invoices; with `invoice_id` only that one is paid.
    """
    if not bank_reference.strip():
        raise RuleViolation("bank-reference-required", "a payment needs the bank's reference")
    if amount.amount <= 0:
        raise RuleViolation("payment-amount-not-positive", "a payment must be a positive amount")
    if amount.currency != plan.currency:
        raise RuleViolation("currency-mismatch",
                            f"the contract is billed in {plan.currency}; the payment is in {amount.currency}")
    if any(invoice.contract_id != plan.contract_id for invoice in invoices):
        raise DomainError("invoice-not-of-contract", "every invoice paid must belong to the payment's contract")
    targets = [i for i in invoices if i.id == invoice_id] if invoice_id is not None else invoices
    if invoice_id is not None and not targets:
        raise RuleViolation("invoice-not-of-contract", f"invoice {invoice_id} does not belong to this contract")
    applications, unapplied = allocate(amount, targets)
    for invoice, share in applications:
        invoice.apply(share, on=value_date)
    applied = amount - unapplied
    if not applied.is_zero():
        plan.record_collection(applied, on=value_date)
    return Payment(id=payment_id, bank_reference=bank_reference, payer=payer, amount=amount, value_date=value_date,
                   plan=plan, invoice_id=invoice_id, applications=applications, unapplied=unapplied,
                   recorded_by=recorded_by, now=now)
