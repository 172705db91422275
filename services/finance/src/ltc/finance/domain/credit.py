"""Credit exposure: how much an account owes us or has signed for, against the limit finance set.

Per account and currency:

- **open receivables**: what is open on the account's invoices (`Invoice.open_amount`: the gross
  payable less what was paid and credited), gross of VAT as the invoices bill it;
- **signed, not yet invoiced**: per billing plan, the contract value less what its invoices have
  billed of it (`BillingPlan.invoiced`, the invoiced instalments' amounts: net, as the value is),
  so an invoice moves its net out of here and its gross into the receivables;
- **exposure** = open receivables + signed not invoiced;
- **available** = limit - exposure (negative: over the limit); no limit set means no limit.

Finance publishes `account.credit_changed` when a limit is set and whenever the figures of a
currency differ from the ones it last published (`CreditPublished`), so the same facts delivered
again publish nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

from ltc.shared.messages import MoneyPayload
from ltc.shared.messages.finance_events import AccountCreditChanged
from ltc.shared.money import Money, MoneyAttribute
from ltc.shared.rules import RuleViolation, require_version

# A limit above this is not a limit (and would not fit the amount columns with its exposure).
MAX_CREDIT_LIMIT = Decimal(10) ** 15
CREDIT_LIMIT_INVALID = "credit-limit-invalid"
CREDIT_REASON_REQUIRED = "credit-limit-reason-required"

Cause = Literal["limit_set", "exposure_changed"]


@dataclass(frozen=True)
class CreditFigures:
    """One currency's exposure of an account."""

    open_receivables: Money
    signed_not_invoiced: Money

    @property
    def currency(self) -> str:
        return self.open_receivables.currency

    @property
    def exposure(self) -> Money:
        return self.open_receivables + self.signed_not_invoiced

    def available(self, limit: Money | None) -> Money | None:
        """What the account may still take on; None without a limit."""
        return None if limit is None else limit - self.exposure

    @classmethod
    def zero(cls, currency: str) -> CreditFigures:
        return cls(Money.zero(currency), Money.zero(currency))


@dataclass(frozen=True)
class SignedValue:
    """What one billing plan has signed for and what its invoices billed of it, both net."""

    value: Money
    invoiced: Money

    @property
    def not_invoiced(self) -> Money:
        return self.value - self.invoiced


def exposures(open_amounts: Iterable[Money], signed: Iterable[SignedValue]) -> dict[str, CreditFigures]:
    """The figures of every currency the account has invoices or plans in."""
    receivables: dict[str, Money] = {}
    for amount in open_amounts:
        receivables[amount.currency] = receivables.get(amount.currency, Money.zero(amount.currency)) + amount
    not_invoiced: dict[str, Money] = {}
    for plan in signed:
        currency = plan.value.currency
        not_invoiced[currency] = not_invoiced.get(currency, Money.zero(currency)) + plan.not_invoiced
    return {currency: CreditFigures(receivables.get(currency, Money.zero(currency)),
                                    not_invoiced.get(currency, Money.zero(currency)))
            for currency in sorted(receivables.keys() | not_invoiced.keys())}


def check_limit(amount: Money, reason: str) -> str:
    """A limit is zero or more (zero: no credit at all) and comes with why; returns the reason as kept."""
    if amount.amount < 0 or amount.amount >= MAX_CREDIT_LIMIT:
        raise RuleViolation(CREDIT_LIMIT_INVALID, f"a credit limit is at least 0 and below {MAX_CREDIT_LIMIT}",
                            errors=[{"field": "credit_limit.amount",
                                     "message": f"must be at least 0 and below {MAX_CREDIT_LIMIT}"}])
    if not reason.strip():
        raise RuleViolation(CREDIT_REASON_REQUIRED, "say why the credit limit is set",
                            errors=[{"field": "reason", "message": "must not be empty"}])
    return reason.strip()


class CreditLimit:
    """The limit finance set for one account in one currency; its version is the ETag a change names."""

    limit = MoneyAttribute("amount")
    version: int  # kept by the mapping (optimistic lock)

    def __init__(self, *, account_id: uuid.UUID, limit: Money, reason: str, by: str, now: datetime) -> None:
        self.account_id = account_id
        self.currency = limit.currency
        self.amount = limit.amount
        self.reason = check_limit(limit, reason)
        self.set_by = by
        self.set_at = now

    def change(self, limit: Money, *, reason: str, by: str, now: datetime, expected_version: int | None) -> None:
        require_version(self.version, expected_version, what="the credit limit")
        self.reason = check_limit(limit, reason)
        self.amount = limit.amount
        self.set_by = by
        self.set_at = now


class CreditPublished:
    """The figures finance last published for an account in one currency."""

    open_receivables = MoneyAttribute("open_receivables_amount")
    signed_not_invoiced = MoneyAttribute("signed_not_invoiced_amount")

    def __init__(self, *, account_id: uuid.UUID, currency: str) -> None:
        self.account_id = account_id
        self.currency = currency
        self.limit_amount: Decimal | None = None
        self.open_receivables_amount = Decimal(0)
        self.signed_not_invoiced_amount = Decimal(0)
        self.changed_at: datetime | None = None

    @property
    def credit_limit(self) -> Money | None:
        return None if self.limit_amount is None else Money(self.limit_amount, self.currency)

    def figures(self) -> CreditFigures:
        return CreditFigures(self.open_receivables, self.signed_not_invoiced)

    def differs(self, limit: Money | None, figures: CreditFigures) -> bool:
        return self.credit_limit != limit or self.figures() != figures

    def publish(self, limit: Money | None, figures: CreditFigures, *, cause: Cause,
                now: datetime) -> AccountCreditChanged:
        """Remember what is published and return the event that says it."""
        self.limit_amount = None if limit is None else limit.amount
        self.open_receivables_amount = figures.open_receivables.amount
        self.signed_not_invoiced_amount = figures.signed_not_invoiced.amount
        self.changed_at = now
        return credit_changed(self.account_id, limit, figures, cause=cause, now=now)


def credit_changed(account_id: uuid.UUID, limit: Money | None, figures: CreditFigures, *, cause: Cause,
                   now: datetime) -> AccountCreditChanged:
    available = figures.available(limit)
    return AccountCreditChanged(
        account_id=account_id, currency=figures.currency,
        credit_limit=MoneyPayload.of(limit) if limit is not None else None,
        exposure=MoneyPayload.of(figures.exposure), open_receivables=MoneyPayload.of(figures.open_receivables),
        signed_not_invoiced=MoneyPayload.of(figures.signed_not_invoiced),
        available=MoneyPayload.of(available) if available is not None else None, changed_at=now, cause=cause)


@dataclass(frozen=True)
class CreditStanding:
    """One currency of an account's credit as it is now: the limit set (if any) and the figures."""

    account_id: uuid.UUID
    figures: CreditFigures
    limit: CreditLimit | None

    @property
    def currency(self) -> str:
        return self.figures.currency

    @property
    def credit_limit(self) -> Money | None:
        return self.limit.limit if self.limit is not None else None

    @property
    def available(self) -> Money | None:
        return self.figures.available(self.credit_limit)
