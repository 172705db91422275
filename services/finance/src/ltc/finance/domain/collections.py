"""Collections: what a receivables clerk hears from a customer about an open invoice, and how it
holds the invoice's dunning.

- A **dispute**: the customer contests the invoice (all of it, or part: the disputed amount). One
  open dispute per invoice; while it is open the invoice's dunning pauses. It is resolved with an
  outcome (`customer_right`, `customer_wrong`, `withdrawn`) and what was decided; dunning of what is
  still open then resumes at the level it had (the next run may advance it). A dispute changes no
  amount: where the customer was right, the correction is a credit note.
- A **promise to pay**: an amount by a date. One open promise per invoice; dunning pauses until the
  promised date. A promise is kept once the invoice has received the promised amount since it was
  made; if it has not by the day after the promised date it is broken, and dunning resumes one
  level up on that run (the customer's word did not hold). A promise on an invoice settled
  otherwise (credited or written off) before it was paid is `settled`: nothing is left to pay.

Pure Python: the scheduled run asks `dunning_holds` which invoices not to dun and `PromiseToPay.review`
what became of each open promise.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING

from ltc.shared.messages import EventPayload, Lineage, MoneyPayload
from ltc.shared.messages.finance_events import (
    InvoiceDisputed,
    InvoiceDisputeResolved,
    PromiseToPayBroken,
    PromiseToPayRecorded,
)
from ltc.shared.money import Money, MoneyAttribute
from ltc.shared.rules import DomainError, RuleViolation

if TYPE_CHECKING:  # collections read an invoice; they never change it
    from ltc.finance.domain.invoice import Invoice

# The rules, by the names clients match on.
INVOICE_NOT_OPEN = "invoice-not-open"
DISPUTE_ALREADY_OPEN = "dispute-already-open"
DISPUTE_NOT_OPEN = "dispute-not-open"
DISPUTE_REASON_REQUIRED = "dispute-reason-required"
DISPUTE_RESOLUTION_REQUIRED = "dispute-resolution-required"
DISPUTED_AMOUNT_INVALID = "disputed-amount-invalid"
DISPUTED_AMOUNT_EXCEEDS_OPEN = "disputed-amount-exceeds-open-amount"
PROMISE_ALREADY_OPEN = "promise-already-open"
PROMISED_DATE_PASSED = "promised-date-passed"
PROMISED_AMOUNT_INVALID = "promised-amount-invalid"
PROMISED_AMOUNT_EXCEEDS_OPEN = "promised-amount-exceeds-open-amount"


class CollectionsAudited(StrEnum):
    """The objects of collections as the audit trail names them (`object_type`)."""

    DISPUTE = "dispute"
    PROMISE_TO_PAY = "promise_to_pay"


class CollectionsAction(StrEnum):
    """What an audit entry of collections says happened (`action`)."""

    OPENED = "opened"  # a dispute
    RESOLVED = "resolved"
    RECORDED = "recorded"  # a promise
    KEPT = "kept"
    BROKEN = "broken"
    SETTLED = "settled"


class DisputeStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class DisputeOutcome(StrEnum):
    CUSTOMER_RIGHT = "customer_right"  # the correction follows as a credit note
    CUSTOMER_WRONG = "customer_wrong"  # the invoice stands as issued
    WITHDRAWN = "withdrawn"  # the customer dropped it


class PromiseStatus(StrEnum):
    OPEN = "open"
    KEPT = "kept"
    BROKEN = "broken"
    SETTLED = "settled"  # the invoice was settled otherwise (credited, written off) before it was paid


class HoldReason(StrEnum):
    """Why an invoice's dunning is paused."""

    DISPUTE = "dispute"
    PROMISE_TO_PAY = "promise_to_pay"


def _text(value: str, rule: str, field: str, what: str) -> str:
    if not value.strip():
        raise RuleViolation(rule, f"{what} is required", errors=[{"field": field, "message": "must not be blank"}])
    return value.strip()


def _amount_of(invoice: Invoice, amount: Money | None, *, field: str, invalid: str, exceeds: str,
               what: str) -> Money:
    """`amount` (by default what is open) as a part of what is open on the invoice, in its currency."""
    open_amount = invoice.open_amount
    if amount is None:
        return open_amount
    if amount.currency != open_amount.currency:
        raise RuleViolation(invalid, f"invoice {invoice.number} is in {open_amount.currency}, not {amount.currency}",
                            errors=[{"field": f"{field}.currency", "message": f"must be {open_amount.currency}"}])
    if amount.amount <= 0:
        raise RuleViolation(invalid, f"the {what} must be positive",
                            errors=[{"field": f"{field}.amount", "message": "must be positive"}])
    if open_amount < amount:
        raise RuleViolation(exceeds, f"invoice {invoice.number} is open for {open_amount.amount} "
                                     f"{open_amount.currency}: the {what} cannot be more",
                            errors=[{"field": f"{field}.amount", "message": f"at most {open_amount.amount}"}])
    return amount


def _require_open(invoice: Invoice, doing: str) -> None:
    if not invoice.is_open:
        raise DomainError(INVOICE_NOT_OPEN, f"invoice {invoice.number} has nothing open ({invoice.status}): "
                                            f"there is nothing to {doing}")


class Dispute:
    """A customer's dispute of one invoice, open until finance resolves it."""

    events: list[EventPayload]

    disputed = MoneyAttribute("disputed_amount")

    def __init__(self, *, id: uuid.UUID, invoice: Invoice, reason: str, amount: Money | None, opened_by: str,
                 now: datetime) -> None:
        _require_open(invoice, "dispute")
        self.reason = _text(reason, DISPUTE_REASON_REQUIRED, "reason", "the customer's reason for the dispute")
        disputed = _amount_of(invoice, amount, field="disputed_amount", invalid=DISPUTED_AMOUNT_INVALID,
                              exceeds=DISPUTED_AMOUNT_EXCEEDS_OPEN, what="disputed amount")
        self.id = id
        self.invoice_id = invoice.id
        self.invoice_number = invoice.number
        self.contract_id = invoice.contract_id
        self.account_id = invoice.account_id
        self.lead_id = invoice.lead_id
        self.opportunity_id = invoice.opportunity_id
        self.currency = disputed.currency
        self.disputed_amount = disputed.amount
        self.status = DisputeStatus.OPEN
        self.opened_on = now.date()
        self.opened_by = opened_by
        self.outcome: DisputeOutcome | None = None
        self.resolution: str | None = None
        self.resolved_on: date | None = None
        self.resolved_by: str | None = None
        self.created_at = now
        self.events = [InvoiceDisputed(
            lineage=self.lineage(), dispute_id=id, invoice_id=self.invoice_id, invoice_number=self.invoice_number,
            contract_id=self.contract_id, account_id=self.account_id, reason=self.reason,
            disputed_amount=MoneyPayload.of(disputed), opened_on=self.opened_on, opened_by=opened_by)]

    def lineage(self) -> Lineage:
        return Lineage(lead_id=self.lead_id, opportunity_id=self.opportunity_id, contract_id=self.contract_id)

    @property
    def is_open(self) -> bool:
        return self.status is DisputeStatus.OPEN

    def resolve(self, *, outcome: DisputeOutcome, resolution: str, by: str, on: date) -> None:
        """End the dispute with what was decided; the invoice's dunning resumes where it stood."""
        if not self.is_open:
            raise DomainError(DISPUTE_NOT_OPEN, f"the dispute of invoice {self.invoice_number} was resolved on "
                                                f"{self.resolved_on} ({self.outcome})")
        self.resolution = _text(resolution, DISPUTE_RESOLUTION_REQUIRED, "resolution", "what was decided")
        self.outcome = outcome
        self.status = DisputeStatus.RESOLVED
        self.resolved_on = on
        self.resolved_by = by
        self.events.append(InvoiceDisputeResolved(
            lineage=self.lineage(), dispute_id=self.id, invoice_id=self.invoice_id,
            invoice_number=self.invoice_number, contract_id=self.contract_id, account_id=self.account_id,
            outcome=outcome.value, resolution=self.resolution, resolved_on=on, resolved_by=by))


def require_no_open_dispute(invoice: Invoice, open_dispute: Dispute | None) -> None:
    if open_dispute is not None:
        raise DomainError(DISPUTE_ALREADY_OPEN, f"invoice {invoice.number} is disputed since "
                                                f"{open_dispute.opened_on}: resolve that dispute first",
                          errors=[{"field": "invoice_id", "message": "has an open dispute",
                                   "dispute_id": str(open_dispute.id)}])


class PromiseToPay:
    """A customer's promise to pay an amount of one invoice by a date."""

    events: list[EventPayload]

    amount = MoneyAttribute("promised_amount")
    paid_at_promise = MoneyAttribute("paid_at_promise_amount")

    def __init__(self, *, id: uuid.UUID, invoice: Invoice, amount: Money | None, promised_date: date,
                 recorded_by: str, now: datetime) -> None:
        _require_open(invoice, "promise")
        if promised_date < now.date():
            raise RuleViolation(PROMISED_DATE_PASSED, f"the promised date {promised_date} has passed: a promise is "
                                                      f"for today ({now.date()}) or later",
                                errors=[{"field": "promised_date", "message": f"may not be before {now.date()}"}])
        promised = _amount_of(invoice, amount, field="amount", invalid=PROMISED_AMOUNT_INVALID,
                              exceeds=PROMISED_AMOUNT_EXCEEDS_OPEN, what="promised amount")
        self.id = id
        self.invoice_id = invoice.id
        self.invoice_number = invoice.number
        self.contract_id = invoice.contract_id
        self.account_id = invoice.account_id
        self.lead_id = invoice.lead_id
        self.opportunity_id = invoice.opportunity_id
        self.currency = promised.currency
        self.promised_amount = promised.amount
        self.promised_date = promised_date
        # What the invoice had received when the promise was made: what it receives beyond this keeps it.
        self.paid_at_promise_amount = invoice.paid.amount
        self.status = PromiseStatus.OPEN
        self.recorded_on = now.date()
        self.recorded_by = recorded_by
        self.closed_on: date | None = None
        self.paid_since_amount: Decimal | None = None  # what had been received when it closed
        self.created_at = now
        self.events = [PromiseToPayRecorded(
            lineage=self.lineage(), promise_id=id, invoice_id=self.invoice_id, invoice_number=self.invoice_number,
            contract_id=self.contract_id, account_id=self.account_id, amount=MoneyPayload.of(promised),
            promised_date=promised_date, recorded_by=recorded_by, recorded_on=self.recorded_on)]

    def lineage(self) -> Lineage:
        return Lineage(lead_id=self.lead_id, opportunity_id=self.opportunity_id, contract_id=self.contract_id)

    @property
    def is_open(self) -> bool:
        return self.status is PromiseStatus.OPEN

    def paid_since(self, invoice: Invoice) -> Money:
        """What the invoice received since the promise (never below zero: a returned payment
        that was paid before the promise takes nothing from it)."""
        if self.paid_since_amount is not None:
            return Money(self.paid_since_amount, self.currency)
        received = invoice.paid - self.paid_at_promise
        return received if received.amount > 0 else Money.zero(self.currency)

    def holds(self, as_of: date) -> bool:
        """Whether it pauses dunning on `as_of`: open, and its date not passed."""
        return self.is_open and as_of <= self.promised_date

    def review(self, invoice: Invoice, as_of: date) -> PromiseStatus:
        """What the run as of `as_of` makes of it: kept once the promised amount has come in,
        settled when the invoice was settled otherwise, broken the day after its date, else open."""
        if not self.is_open:
            return self.status
        if invoice.id != self.invoice_id:
            raise ValueError("promise of another invoice")
        paid = self.paid_since(invoice)
        if not paid < self.amount:
            self._close(PromiseStatus.KEPT, paid, as_of)
        elif not invoice.is_open:
            self._close(PromiseStatus.SETTLED, paid, as_of)
        elif as_of > self.promised_date:
            self._close(PromiseStatus.BROKEN, paid, as_of)
            self.events.append(PromiseToPayBroken(
                lineage=self.lineage(), promise_id=self.id, invoice_id=self.invoice_id,
                invoice_number=self.invoice_number, contract_id=self.contract_id, account_id=self.account_id,
                amount=MoneyPayload.of(self.amount), promised_date=self.promised_date,
                paid_since=MoneyPayload.of(paid), broken_on=as_of))
        return self.status

    def _close(self, status: PromiseStatus, paid: Money, on: date) -> None:
        self.status = status
        self.closed_on = on
        self.paid_since_amount = paid.amount


def require_no_open_promise(invoice: Invoice, open_promise: PromiseToPay | None) -> None:
    if open_promise is not None:
        raise DomainError(PROMISE_ALREADY_OPEN, f"invoice {invoice.number} has a promise to pay "
                                                f"{open_promise.amount.amount} by {open_promise.promised_date}",
                          errors=[{"field": "invoice_id", "message": "has an open promise to pay",
                                   "promise_id": str(open_promise.id)}])


@dataclass(frozen=True)
class Hold:
    """An invoice whose dunning is paused on a day, and what pauses it."""

    invoice_id: uuid.UUID
    reason: HoldReason
    by_id: uuid.UUID  # the dispute or promise
    until: date | None  # a promise's date; a dispute holds until it is resolved


def dunning_holds(disputes: Iterable[Dispute], promises: Iterable[PromiseToPay], as_of: date
                  ) -> dict[uuid.UUID, Hold]:
    """The invoices not to dun as of `as_of`, by invoice: an open dispute wins over a promise (it
    holds until resolved, whatever the promise's date)."""
    holds: dict[uuid.UUID, Hold] = {}
    for promise in promises:
        if promise.holds(as_of):
            holds[promise.invoice_id] = Hold(promise.invoice_id, HoldReason.PROMISE_TO_PAY, promise.id,
                                             promise.promised_date)
    for dispute in disputes:
        if dispute.is_open:
            holds[dispute.invoice_id] = Hold(dispute.invoice_id, HoldReason.DISPUTE, dispute.id, None)
    return holds
