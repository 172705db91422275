"""Payments: a bank receipt applied to invoices, its surplus held as unapplied cash.

A payment is applied to the named invoice, or oldest-due-first across the contract's or
account's open invoices; what no invoice can take is held as unapplied cash and can be applied
later. One bank reference is one bank payment: it is never counted twice.

A payment is `recorded` when a clerk or an integration typed it, `confirmed` once a bank
statement shows it (one imported from a statement is confirmed from the start), and `returned`
when the bank sends it back: what it paid is open again and its unapplied cash is gone with it.
The invoices it covers are `in_payment`, not paid, until it is confirmed.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from ltc.finance.domain.billing_plan import BillingPlan
from ltc.finance.domain.invoice import Invoice
from ltc.shared.controls import require_happened
from ltc.shared.messages import EventPayload, Lineage, MoneyPayload
from ltc.shared.messages.finance_events import (
    PaymentApplication,
    PaymentApplied,
    PaymentConfirmed,
    PaymentReceived,
    PaymentReturned,
)
from ltc.shared.money import Money, MoneyAttribute
from ltc.shared.rules import DomainError, RuleViolation


class PaymentStatus(StrEnum):
    RECORDED = "recorded"  # typed in; no bank statement has shown it yet
    CONFIRMED = "confirmed"  # on a bank statement
    RETURNED = "returned"  # sent back by the bank: it pays nothing


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
              invoice_id: uuid.UUID | None, on: date, *, confirmed: bool = True
              ) -> tuple[list[tuple[Invoice, Money]], Money]:
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
        invoice.apply(share, on=on, confirmed=confirmed)
        collected[invoice.contract_id] = collected.get(invoice.contract_id, Money.zero(amount.currency)) + share
    for contract_id, share in collected.items():
        plans[contract_id].record_collection(share, on=on, confirmed=confirmed)
    return applications, unapplied


class Payment:
    events: list[EventPayload]

    amount = MoneyAttribute("received_amount")
    unapplied = MoneyAttribute("unapplied_amount")
    refunded = MoneyAttribute("refunded_amount")  # paid back, or reserved by a refund waiting for approval

    def __init__(self, *, id: uuid.UUID, bank_reference: str, payer: str, amount: Money, value_date: date,
                 target: PaymentTarget, lineage: Lineage, applications: Sequence[tuple[Invoice, Money]],
                 unapplied: Money, recorded_by: str, now: datetime, end_to_end_id: str | None = None,
                 confirmed_by: uuid.UUID | None = None) -> None:
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
        self.refunded_amount = Decimal(0)
        self.recorded_by = recorded_by
        self.created_at = now
        self.end_to_end_id = end_to_end_id
        # The statement entry that showed it: set from the start when the payment came from one.
        self.status = PaymentStatus.CONFIRMED if confirmed_by is not None else PaymentStatus.RECORDED
        self.bank_transaction_id = confirmed_by
        self.confirmed_on: date | None = value_date if confirmed_by is not None else None
        self.returned_on: date | None = None
        self.return_reason: str | None = None
        self.returned_by_transaction_id: uuid.UUID | None = None
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

    def require_same_receipt(self, *, amount: Money, payer: str, value_date: date) -> None:
        """A receipt citing this payment's bank reference is this payment only if its facts agree.

        Answering a different receipt with this payment would swallow its cash unseen: a conflict
        naming the fields that differ, and this payment.
        """
        differences = self.differences(amount=amount, payer=payer, value_date=value_date)
        if differences:
            raise DomainError("bank-reference-conflict",
                              f"bank reference {self.bank_reference!r} is payment {self.id}, which has another "
                              f"{', '.join(d['field'] for d in differences)}; check the receipt and its reference",
                              errors=differences)

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
        if self.status is PaymentStatus.RETURNED:
            raise DomainError("payment-returned", f"payment {self.bank_reference} was returned by the bank")
        applications, unapplied = _apply_to(self.unapplied, invoices, plans, invoice_id, on,
                                            confirmed=self.is_confirmed)
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


    def reserve_refund(self, amount: Money) -> None:
        """Take `amount` of the unapplied cash for a refund: received = applied + unapplied + refunded."""
        if self.status is PaymentStatus.RETURNED:
            raise DomainError("payment-returned", f"payment {self.bank_reference} was returned by the bank")
        if amount.currency != self.currency:
            raise RuleViolation("currency-mismatch", f"the payment is in {self.currency}",
                                errors=[{"field": "amount.currency", "message": f"must be {self.currency}"}])
        if amount.amount <= 0 or self.unapplied < amount:
            raise RuleViolation("refund-exceeds-unapplied",
                                f"payment {self.bank_reference} holds {self.unapplied.amount} {self.currency} "
                                "unapplied: only that can be refunded",
                                errors=[{"field": "amount", "message": f"a positive amount up to "
                                                                      f"{self.unapplied.amount}"}])
        self.unapplied_amount = (self.unapplied - amount).amount
        self.refunded_amount = (self.refunded + amount).amount

    def release_refund(self, amount: Money) -> None:
        self.unapplied_amount = (self.unapplied + amount).amount
        self.refunded_amount = (self.refunded - amount).amount

    @property
    def is_confirmed(self) -> bool:
        return self.status is PaymentStatus.CONFIRMED

    def _applied_by_invoice(self) -> dict[uuid.UUID, tuple[uuid.UUID, Money]]:
        """What this payment paid of each invoice (invoice -> contract, amount), over all its applications."""
        paid: dict[uuid.UUID, tuple[uuid.UUID, Money]] = {}
        for a in self.applications:
            was = paid.get(a.invoice_id, (a.contract_id, Money.zero(self.currency)))[1]
            paid[a.invoice_id] = (a.contract_id, was + Money(a.amount, self.currency))
        return paid

    def confirm(self, *, transaction_id: uuid.UUID, on: date, invoices: Mapping[uuid.UUID, Invoice],
                plans: Mapping[uuid.UUID, BillingPlan]) -> None:
        """A statement entry shows this payment: the cash it applied is the bank's, its invoices paid.

        `invoices` and `plans` hold (at least) those it was applied to.
        """
        if self.status is not PaymentStatus.RECORDED:
            raise DomainError("payment-not-recorded", f"payment {self.bank_reference} is {self.status}, "
                                                      "only a recorded payment is confirmed")
        for invoice_id, (contract_id, amount) in self._applied_by_invoice().items():
            invoices[invoice_id].confirm(amount, on=on)
            plans[contract_id].confirm_collection(amount, on=on)
        self.status = PaymentStatus.CONFIRMED
        self.bank_transaction_id = transaction_id
        self.confirmed_on = on
        self.events.append(PaymentConfirmed(
            lineage=self.lineage(), payment_id=self.id, bank_reference=self.bank_reference,
            amount=MoneyPayload.of(self.amount), bank_transaction_id=transaction_id, confirmed_on=on,
            account_id=self.account_id))

    def return_(self, *, on: date, reason: str | None, transaction_id: uuid.UUID | None,
                invoices: Mapping[uuid.UUID, Invoice], plans: Mapping[uuid.UUID, BillingPlan]) -> None:
        """The bank sent the payment back: every invoice it paid is open again by what it paid (and
        dunned again), and its unapplied cash is gone with it."""
        if self.status is PaymentStatus.RETURNED:
            raise DomainError("payment-already-returned", f"payment {self.bank_reference} was returned on "
                                                          f"{self.returned_on}")
        if not self.refunded.is_zero():
            # Part of the cash went back as a refund (or is reserved for one): a clerk settles the
            # two with the bank; recording the return here would count that part twice.
            raise DomainError("payment-refunded", f"payment {self.bank_reference} has {self.refunded.amount} "
                                                  f"{self.currency} refunded or reserved for a refund")
        if on < self.value_date:
            raise RuleViolation("return-before-receipt", "a payment cannot be returned before its value date")
        reopened = self._applied_by_invoice()
        for invoice_id, (contract_id, amount) in reopened.items():
            invoices[invoice_id].unapply(amount, confirmed=self.is_confirmed)
            plans[contract_id].return_collection(amount, confirmed=self.is_confirmed)
        self.status = PaymentStatus.RETURNED
        self.returned_on = on
        self.return_reason = reason
        self.returned_by_transaction_id = transaction_id
        self.unapplied_amount = Decimal(0)
        self.events.append(PaymentReturned(
            lineage=self.lineage(), payment_id=self.id, bank_reference=self.bank_reference,
            amount=MoneyPayload.of(self.amount), returned_on=on, return_reason=reason,
            bank_transaction_id=transaction_id, account_id=self.account_id,
            reopened=[PaymentApplication(invoice_id=invoice_id, amount=MoneyPayload.of(amount))
                      for invoice_id, (_, amount) in reopened.items()]))


def receive_payment(*, payment_id: uuid.UUID, bank_reference: str, payer: str, amount: Money, value_date: date,
                    target: PaymentTarget, plans: Mapping[uuid.UUID, BillingPlan], invoices: Sequence[Invoice],
                    recorded_by: str, now: datetime, end_to_end_id: str | None = None,
                    confirmed_by: uuid.UUID | None = None) -> Payment:
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
    applications, unapplied = _apply_to(amount, invoices, plans, target.invoice_id, value_date,
                                        confirmed=confirmed_by is not None)
    lineage = _common_lineage([plans[i.contract_id] for i, _ in applications] or list(plans.values()))
    return Payment(id=payment_id, bank_reference=bank_reference, payer=payer, amount=amount, value_date=value_date,
                   target=target, lineage=lineage, applications=applications, unapplied=unapplied,
                   recorded_by=recorded_by, now=now, end_to_end_id=end_to_end_id, confirmed_by=confirmed_by)


def _common_lineage(plans: Sequence[BillingPlan]) -> Lineage:
    """The flow a payment belongs to, when it belongs to exactly one contract."""
    contracts = {plan.contract_id for plan in plans}
    return plans[0].lineage() if len(contracts) == 1 else Lineage()
