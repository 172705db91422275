"""Billing plans, invoices, credit notes and payments: the cash rules of section 4 of the LTC domain.

A signed contract becomes a billing plan. Finance computes each instalment's amount from its
percentage with `Money.split`: every instalment but the last is its percentage of the contract
value rounded *down* to the currency's minor unit, and the last takes the remainder, so the
parts always add up exactly to the value; a contract whose stated amounts differ is refused.
An amendment re-plans only what is not yet invoiced: an issued invoice is never changed by it.

An instalment is invoiced when its trigger happens (signing, acceptance of its milestone, or its
date). A credit note corrects an issued invoice by reducing what is open on it. A payment is
applied to the named invoice, or oldest-due-first across the contract's or account's open
invoices; what no invoice can take is held as unapplied cash and can be applied later. The
contract is fully paid when every instalment is invoiced and nothing is left open on it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from ltc.shared.controls import require_happened
from ltc.shared.messages import EventPayload, Lineage, MoneyPayload
from ltc.shared.messages.finance_events import (
    ContractFullyPaid,
    InvoiceCredited,
    InvoiceIssued,
    InvoicePaid,
    PaymentApplication,
    PaymentApplied,
    PaymentReceived,
)
from ltc.shared.money import Money
from ltc.shared.rules import DomainError, RuleViolation


class Trigger(StrEnum):
    SIGNING = "signing"
    MILESTONE = "milestone"
    DATE = "date"


class InstalmentStatus(StrEnum):
    PLANNED = "planned"
    INVOICED = "invoiced"


class InvoiceStatus(StrEnum):
    ISSUED = "issued"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
    CREDITED = "credited"  # settled by credit notes alone: nothing was, or is, to be paid


OPEN_STATUSES = (InvoiceStatus.ISSUED, InvoiceStatus.PARTIALLY_PAID)


def invoice_number(year: int, sequence: int) -> str:
    """`INV-2026-000001`: numbered per calendar year without gaps, as tax authorities expect."""
    return f"INV-{year}-{sequence:06d}"


def credit_note_number(year: int, sequence: int) -> str:
    """`CN-2026-000001`: credit notes have their own gap-free yearly sequence."""
    return f"CN-{year}-{sequence:06d}"


@dataclass(frozen=True)
class InstalmentTerms:
    """One line of the contract's payment schedule, as signed or amended."""

    name: str
    percent: Decimal
    amount: Money
    trigger: Trigger
    milestone_id: uuid.UUID | None
    due_days: int
    invoice_on: date | None = None


def _check_lines(value: Money, schedule: Sequence[InstalmentTerms]) -> None:
    if not schedule:
        raise DomainError("billing-plan-empty", "the contract has no payment schedule to bill")
    names = [t.name for t in schedule]
    if len(set(names)) != len(names):
        raise DomainError("instalment-names-not-unique", "instalment names must be unique within a contract")
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
        if terms.trigger is Trigger.DATE and terms.invoice_on is None:
            raise DomainError("instalment-date-missing",
                              f"instalment {terms.name!r} is billed on a date but names none")
    total = sum((t.amount for t in schedule), Money.zero(value.currency))
    if total != value:
        raise DomainError("billing-plan-incomplete",
                          f"the instalments add up to {total.amount} {total.currency}, "
                          f"the contract value is {value.amount} {value.currency}")


def check_schedule(value: Money, schedule: Sequence[InstalmentTerms]) -> None:
    """A signed plan bills the contract value exactly once, split by the documented rounding rule."""
    _check_lines(value, schedule)
    percent_total = sum((t.percent for t in schedule), Decimal(0))
    if percent_total != Decimal(100):
        raise DomainError("billing-plan-incomplete", f"the instalments' percentages add up to {percent_total}, not 100")
    for terms, expected in zip(schedule, value.split([t.percent for t in schedule]), strict=True):
        if terms.amount != expected:
            raise DomainError("instalment-amount-mismatch",
                              f"instalment {terms.name!r} is {terms.percent}% of the value: {expected.amount} "
                              f"(rounded down, the remainder on the last instalment), not {terms.amount.amount}")


class Instalment:
    def __init__(self, *, id: uuid.UUID, position: int, terms: InstalmentTerms) -> None:
        self.id = id
        self.status = InstalmentStatus.PLANNED
        self.invoice_id: uuid.UUID | None = None
        self.replan(position, terms)

    def replan(self, position: int, terms: InstalmentTerms) -> None:
        self.position = position
        self.name = terms.name
        self.percent = terms.percent
        self.amount = terms.amount.amount
        self.trigger = terms.trigger
        self.milestone_id = terms.milestone_id
        self.due_days = terms.due_days
        self.invoice_on = terms.invoice_on

    def same_terms(self, terms: InstalmentTerms) -> bool:
        return (self.amount == terms.amount.amount and self.trigger is terms.trigger
                and self.milestone_id == terms.milestone_id and self.due_days == terms.due_days)


class BillingPlan:
    """The contract as finance bills it; also the lock that serialises all cash on one contract."""

    events: list[EventPayload]

    def __init__(self, *, id: uuid.UUID, contract_id: uuid.UUID, account_id: uuid.UUID | None, lineage: Lineage,
                 signed_on: date, value: Money, schedule: Sequence[InstalmentTerms], now: datetime,
                 account_name: str | None = None, won_on: date | None = None,
                 lead_created_on: date | None = None) -> None:
        check_schedule(value, schedule)
        self.id = id
        self.contract_id = contract_id
        self.account_id = account_id
        self.account_name = account_name
        self.lead_id = lineage.lead_id
        self.opportunity_id = lineage.opportunity_id
        self.signed_on = signed_on
        self.won_on = won_on
        self.lead_created_on = lead_created_on
        self.currency = value.currency
        self.value_amount = value.amount
        self.collected_amount = Decimal(0)
        self.credited_amount = Decimal(0)
        self.contract_version = 1
        self.accepted_milestones: list[uuid.UUID] = []
        self.first_invoiced_on: date | None = None
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
    def credited(self) -> Money:
        return self._money(self.credited_amount)

    @property
    def invoiced(self) -> Money:
        return self._money(sum((i.amount for i in self.instalments if i.status is InstalmentStatus.INVOICED),
                               Decimal(0)))

    @property
    def open_balance(self) -> Money:
        """Invoiced, neither collected nor credited: what the customer owes today."""
        return self.invoiced - self.collected - self.credited

    @property
    def fully_settled(self) -> bool:
        return (all(i.status is InstalmentStatus.INVOICED for i in self.instalments)
                and self.open_balance.is_zero())

    def invoiceable(self, today: date) -> list[Instalment]:
        """Planned instalments whose trigger has happened: signed, milestone accepted, or date reached."""
        return [i for i in self.instalments if i.status is InstalmentStatus.PLANNED and (
            i.trigger is Trigger.SIGNING
            or (i.trigger is Trigger.MILESTONE and i.milestone_id in self.accepted_milestones)
            or (i.trigger is Trigger.DATE and i.invoice_on is not None and i.invoice_on <= today))]

    def accept_milestone(self, milestone_id: uuid.UUID) -> list[Instalment]:
        """Remember the acceptance (a later amendment may bill on it) and return what it makes invoiceable."""
        if milestone_id not in self.accepted_milestones:
            self.accepted_milestones = [*self.accepted_milestones, milestone_id]
        return [i for i in self.instalments if i.trigger is Trigger.MILESTONE and i.milestone_id == milestone_id
                and i.status is InstalmentStatus.PLANNED]

    def amend(self, *, contract_version: int, value: Money, schedule: Sequence[InstalmentTerms],
              on: date) -> bool:
        """Re-plan what is not invoiced yet; False when this version (or a later one) is already planned.

        An invoiced instalment must come back unchanged: an issued invoice is corrected only by a
        credit note, never silently by an amendment.
        """
        if contract_version <= self.contract_version:
            return False
        if value.currency != self.currency:
            raise DomainError("currency-mismatch", f"the contract is billed in {self.currency}, not {value.currency}")
        _check_lines(value, schedule)
        by_name = {t.name: t for t in schedule}
        for instalment in self.instalments:
            if instalment.status is not InstalmentStatus.INVOICED:
                continue
            terms = by_name.get(instalment.name)
            if terms is None or not instalment.same_terms(terms):
                raise DomainError("invoiced-instalment-changed",
                                  f"instalment {instalment.name!r} is invoiced; correct it with a credit note, "
                                  "not by an amendment")
        existing = {i.name: i for i in self.instalments}
        replanned: list[Instalment] = []
        for position, terms in enumerate(schedule):
            instalment = existing.get(terms.name)
            if instalment is None:
                instalment = Instalment(id=uuid.uuid4(), position=position, terms=terms)
            elif instalment.status is InstalmentStatus.PLANNED:
                instalment.replan(position, terms)
            else:
                instalment.position = position
            replanned.append(instalment)
        self.instalments = replanned
        self.value_amount = value.amount
        self.contract_version = contract_version
        if not self.fully_settled:
            # More was added to bill: the contract is reported fully paid again once that is collected.
            self.fully_paid_on = None
        self._settle_if_done(on)
        return True

    def invoice(self, instalment: Instalment, *, invoice_id: uuid.UUID, number: str, issue_date: date,
                now: datetime) -> Invoice:
        """Bill one instalment; each is billed exactly once."""
        if instalment not in self.instalments:
            raise DomainError("instalment-unknown", f"instalment {instalment.name!r} is not on this billing plan")
        if instalment.status is not InstalmentStatus.PLANNED:
            raise DomainError("instalment-already-invoiced", f"instalment {instalment.name!r} is already invoiced")
        instalment.status = InstalmentStatus.INVOICED
        instalment.invoice_id = invoice_id
        if self.first_invoiced_on is None:
            self.first_invoiced_on = issue_date
        return Invoice(id=invoice_id, number=number, plan=self, instalment=instalment, issue_date=issue_date, now=now)

    def record_collection(self, amount: Money, *, on: date) -> None:
        """Cash applied to this contract's invoices; the contract is fully paid the day nothing is left open."""
        if amount.currency != self.currency:
            raise RuleViolation("currency-mismatch",
                                f"the contract is billed in {self.currency}, not {amount.currency}")
        if self.value - self.credited < self.collected + amount:
            raise DomainError("over-collection", "collections cannot exceed the contract value")
        self.collected_amount = (self.collected + amount).amount
        self._settle_if_done(on)

    def record_credit(self, amount: Money, *, on: date) -> None:
        self.credited_amount = (self.credited + amount).amount
        self._settle_if_done(on)

    def _settle_if_done(self, on: date) -> None:
        if self.fully_paid_on is None and self.fully_settled and not self.collected.is_zero():
            self.fully_paid_on = on
            self.events.append(ContractFullyPaid(
                lineage=self.lineage(), contract_id=self.contract_id, value=MoneyPayload.of(self.value),
                collected=MoneyPayload.of(self.collected), signed_on=self.signed_on, fully_paid_on=on,
                account_id=self.account_id, credited=MoneyPayload.of(self.credited), won_on=self.won_on,
                first_invoiced_on=self.first_invoiced_on, lead_created_on=self.lead_created_on,
                days_signed_to_cash=(on - self.signed_on).days,
                days_lead_to_cash=(on - self.lead_created_on).days if self.lead_created_on else None,
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
        self.credited_amount = Decimal(0)
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
    def credited(self) -> Money:
        return Money(self.credited_amount, self.currency)

    @property
    def open_amount(self) -> Money:
        return self.amount - self.paid - self.credited

    @property
    def is_open(self) -> bool:
        return not self.open_amount.is_zero()

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

    def credit(self, *, credit_note_id: uuid.UUID, number: str, amount: Money, reason: str, issue_date: date,
               issued_by: str, plan: BillingPlan, now: datetime) -> CreditNote:
        """Correct this invoice by a credit note for at most what is still open on it."""
        if plan.contract_id != self.contract_id:
            raise DomainError("invoice-not-of-contract", f"invoice {self.number} is not on this billing plan")
        if not reason.strip():
            raise RuleViolation("credit-reason-required", "a credit note needs the reason for the correction")
        if amount.currency != self.currency:
            raise RuleViolation("currency-mismatch",
                                f"invoice {self.number} is in {self.currency}, not {amount.currency}")
        if amount.amount <= 0:
            raise RuleViolation("credit-amount-not-positive", "a credit note must be for a positive amount")
        if self.open_amount < amount:
            raise RuleViolation("credit-exceeds-open-amount",
                                f"invoice {self.number} is open for {self.open_amount.amount} {self.currency}; "
                                "paid amounts are refunded, not credited")
        self.credited_amount = (self.credited + amount).amount
        if self.open_amount.is_zero():
            self.status = InvoiceStatus.PAID if not self.paid.is_zero() else InvoiceStatus.CREDITED
            if self.status is InvoiceStatus.PAID:
                self.paid_on = issue_date
                self.events.append(InvoicePaid(lineage=self.lineage(), invoice_id=self.id,
                                               contract_id=self.contract_id, paid_on=issue_date))
        note = CreditNote(id=credit_note_id, number=number, invoice=self, amount=amount, reason=reason.strip(),
                          issue_date=issue_date, issued_by=issued_by, now=now)
        plan.record_credit(amount, on=issue_date)
        return note


class CreditNote:
    events: list[EventPayload]

    def __init__(self, *, id: uuid.UUID, number: str, invoice: Invoice, amount: Money, reason: str,
                 issue_date: date, issued_by: str, now: datetime) -> None:
        self.id = id
        self.number = number
        self.invoice_id = invoice.id
        self.invoice_number = invoice.number
        self.contract_id = invoice.contract_id
        self.account_id = invoice.account_id
        self.currency = amount.currency
        self.credit_amount = amount.amount
        self.reason = reason
        self.issue_date = issue_date
        self.issued_by = issued_by
        self.created_at = now
        self.events = [InvoiceCredited(
            lineage=invoice.lineage(), credit_note_id=id, credit_note_number=number, invoice_id=invoice.id,
            invoice_number=invoice.number, contract_id=invoice.contract_id, account_id=invoice.account_id,
            amount=MoneyPayload.of(amount), reason=reason, issue_date=issue_date,
            invoice_open_amount=MoneyPayload.of(invoice.open_amount),
        )]

    @property
    def amount(self) -> Money:
        return Money(self.credit_amount, self.currency)


def allocate(received: Money, invoices: Iterable[Invoice]) -> tuple[list[tuple[Invoice, Money]], Money]:
    """Split a receipt over open invoices, oldest due first; the rest is unapplied cash.

    Returns (invoice, amount) pairs and the unapplied remainder; nothing is changed.
    """
    remaining = received
    applications: list[tuple[Invoice, Money]] = []
    for invoice in sorted(invoices, key=lambda i: (i.due_date, i.issue_date, i.number)):
        if remaining.is_zero():
            break
        if invoice.currency != received.currency:
            continue
        open_amount = invoice.open_amount
        if open_amount.is_zero():
            continue
        share = open_amount if open_amount < remaining else remaining
        applications.append((invoice, share))
        remaining = remaining - share
    return applications, remaining


class Application:
    """The part of a payment applied to one invoice, on the day it was applied."""

    def __init__(self, *, id: uuid.UUID, position: int, invoice_id: uuid.UUID, contract_id: uuid.UUID,
                 amount: Decimal, applied_on: date, applied_by: str, at_receipt: bool) -> None:
        self.id = id
        self.position = position
        self.invoice_id = invoice_id
        self.contract_id = contract_id
        self.amount = amount
        self.applied_on = applied_on
        self.applied_by = applied_by
        self.at_receipt = at_receipt


@dataclass(frozen=True)
class PaymentTarget:
    """What the payer said the money is for: one invoice, one contract, or the whole account."""

    invoice_id: uuid.UUID | None = None
    contract_id: uuid.UUID | None = None
    account_id: uuid.UUID | None = None


def _apply_to(amount: Money, invoices: Sequence[Invoice], plans: Mapping[uuid.UUID, BillingPlan],
              invoice_id: uuid.UUID | None, on: date) -> tuple[list[tuple[Invoice, Money]], Money]:
    if invoice_id is not None:
        targets = [i for i in invoices if i.id == invoice_id]
        if not targets:
            raise RuleViolation("invoice-not-of-contract", f"invoice {invoice_id} is not one this payment can pay")
        if targets[0].currency != amount.currency:
            raise RuleViolation("currency-mismatch",
                                f"invoice {targets[0].number} is in {targets[0].currency}, not {amount.currency}")
    else:
        targets = list(invoices)
    applications, unapplied = allocate(amount, targets)
    collected: dict[uuid.UUID, Money] = {}
    for invoice, share in applications:
        invoice.apply(share, on=on)
        collected[invoice.contract_id] = collected.get(invoice.contract_id, Money.zero(amount.currency)) + share
    for contract_id, share in collected.items():
        plans[contract_id].record_collection(share, on=on)
    return applications, unapplied


class Payment:
    events: list[EventPayload]

    def __init__(self, *, id: uuid.UUID, bank_reference: str, payer: str, amount: Money, value_date: date,
                 target: PaymentTarget, lineage: Lineage, applications: Sequence[tuple[Invoice, Money]],
                 unapplied: Money, recorded_by: str, now: datetime) -> None:
        self.id = id
        self.bank_reference = bank_reference
        self.payer = payer
        self.currency = amount.currency
        self.received_amount = amount.amount
        self.value_date = value_date
        self.invoice_id = target.invoice_id
        self.contract_id = target.contract_id
        self.account_id = target.account_id
        self.lead_id = lineage.lead_id
        self.opportunity_id = lineage.opportunity_id
        self.lineage_contract_id = lineage.contract_id
        self.applications: list[Application] = []
        self._add_applications(applications, on=value_date, by=recorded_by, at_receipt=True)
        self.unapplied_amount = unapplied.amount
        self.recorded_by = recorded_by
        self.created_at = now
        self.events = [PaymentReceived(
            lineage=lineage, payment_id=id, bank_reference=bank_reference, payer=payer,
            amount=MoneyPayload.of(amount), value_date=value_date,
            applications=[PaymentApplication(invoice_id=invoice.id, amount=MoneyPayload.of(share))
                          for invoice, share in applications],
            unapplied=MoneyPayload.of(unapplied), account_id=target.account_id,
        )]

    def _add_applications(self, applications: Sequence[tuple[Invoice, Money]], *, on: date, by: str,
                          at_receipt: bool) -> None:
        start = len(self.applications)
        self.applications = [*self.applications, *(
            Application(id=uuid.uuid4(), position=start + n, invoice_id=invoice.id, contract_id=invoice.contract_id,
                        amount=share.amount, applied_on=on, applied_by=by, at_receipt=at_receipt)
            for n, (invoice, share) in enumerate(applications))]

    def lineage(self) -> Lineage:
        return Lineage(lead_id=self.lead_id, opportunity_id=self.opportunity_id, contract_id=self.lineage_contract_id)

    def differences(self, *, amount: Money, payer: str, value_date: date) -> list[dict[str, str]]:
        """What a receipt citing this payment's bank reference says otherwise: the bank's own facts.

        The same facts are the same bank payment, whatever it is applied to; different ones are a
        different payment or a typing error, and neither may be answered with this one.
        """
        theirs = {"amount.amount": amount.amount, "amount.currency": amount.currency,
                  "payer": payer.strip().casefold(), "value_date": value_date}
        ours = {"amount.amount": self.amount.amount, "amount.currency": self.currency,
                "payer": self.payer.strip().casefold(), "value_date": self.value_date}
        shown = {"amount.amount": str(self.amount.amount), "amount.currency": self.currency, "payer": self.payer,
                 "value_date": self.value_date.isoformat()}
        return [{"field": field, "message": f"payment {self.id} with this bank reference has {shown[field]!r}",
                 "recorded": shown[field], "payment_id": str(self.id)}
                for field in theirs if theirs[field] != ours[field]]

    @property
    def amount(self) -> Money:
        return Money(self.received_amount, self.currency)

    @property
    def unapplied(self) -> Money:
        return Money(self.unapplied_amount, self.currency)

    @property
    def applied(self) -> Money:
        return sum((Money(a.amount, self.currency) for a in self.applications), Money.zero(self.currency))

    def apply_unapplied(self, *, invoices: Sequence[Invoice], plans: Mapping[uuid.UUID, BillingPlan],
                        invoice_id: uuid.UUID | None, on: date, by: str, today: date) -> list[tuple[Invoice, Money]]:
        """Apply held cash later, on a day that has come: to the named invoice, or oldest-due-first across `invoices`."""
        require_happened("applied_on", on, today)
        if self.unapplied.is_zero():
            raise DomainError("no-unapplied-cash", f"payment {self.bank_reference} has no unapplied cash left")
        if on < self.value_date:
            raise RuleViolation("application-before-receipt", "cash cannot be applied before its value date")
        applications, unapplied = _apply_to(self.unapplied, invoices, plans, invoice_id, on)
        if not applications:
            raise DomainError("nothing-to-apply", "no open invoice in the payment's currency can take this cash")
        self._add_applications(applications, on=on, by=by, at_receipt=False)
        self.unapplied_amount = unapplied.amount
        self.events.append(PaymentApplied(
            lineage=self.lineage(), payment_id=self.id, bank_reference=self.bank_reference, applied_on=on,
            applications=[PaymentApplication(invoice_id=invoice.id, amount=MoneyPayload.of(share))
                          for invoice, share in applications],
            unapplied=MoneyPayload.of(unapplied),
        ))
        return applications


def receive_payment(*, payment_id: uuid.UUID, bank_reference: str, payer: str, amount: Money, value_date: date,
                    target: PaymentTarget, plans: Mapping[uuid.UUID, BillingPlan], invoices: Sequence[Invoice],
                    recorded_by: str, now: datetime) -> Payment:
    """Record a bank receipt: apply it, collect it, and hold any surplus as unapplied cash.

    `plans` are the billing plans the target covers (one contract, or every contract of the
    account) and `invoices` their invoices; with `target.invoice_id` only that one is paid.
    """
    if not bank_reference.strip():
        raise RuleViolation("bank-reference-required", "a payment needs the bank's reference")
    require_happened("value_date", value_date, now.date())
    if amount.amount <= 0:
        raise RuleViolation("payment-amount-not-positive", "a payment must be a positive amount")
    currencies = {plan.currency for plan in plans.values()}
    if amount.currency not in currencies:
        raise RuleViolation("currency-mismatch",
                            f"the payment is in {amount.currency}; the invoices it is for are billed in "
                            f"{', '.join(sorted(currencies)) or 'no currency'}")
    if any(invoice.contract_id not in plans for invoice in invoices):
        raise DomainError("invoice-not-of-contract", "every invoice paid must belong to the payment's contracts")
    applications, unapplied = _apply_to(amount, invoices, plans, target.invoice_id, value_date)
    lineage = _common_lineage([plans[i.contract_id] for i, _ in applications] or list(plans.values()))
    return Payment(id=payment_id, bank_reference=bank_reference, payer=payer, amount=amount, value_date=value_date,
                   target=target, lineage=lineage, applications=applications, unapplied=unapplied,
                   recorded_by=recorded_by, now=now)


def _common_lineage(plans: Sequence[BillingPlan]) -> Lineage:
    """The flow a payment belongs to, when it belongs to exactly one contract."""
    contracts = {plan.contract_id for plan in plans}
    return plans[0].lineage() if len(contracts) == 1 else Lineage()
