"""Receivables as of a date: aging buckets that tie to the open invoices, and the dunning ladder.

Aging counts days past due on the as-of date: `current` (not yet due, or due that day),
`1-30`, `31-60`, `61-90` and `90+`. Every open invoice falls in exactly one bucket, so each
currency's buckets add up exactly to the sum of its open invoices.

Dunning walks an overdue invoice up the ladder one step per run, never skipping a letter: a
customer never gets a final notice without the reminders before it. A step is due once the
invoice is overdue by the step's threshold; one run per day counts (a second run as of the same
day, or an earlier one, changes nothing).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from ltc.shared.messages import EventPayload, Lineage, MoneyPayload
from ltc.shared.messages.finance_events import InvoiceOverdue
from ltc.shared.money import Money


class Bucket(StrEnum):
    """An aging bucket: days past due on the as-of date."""

    CURRENT = "current"
    DAYS_1_30 = "1-30"
    DAYS_31_60 = "31-60"
    DAYS_61_90 = "61-90"
    OVER_90 = "90+"


BUCKETS = tuple(Bucket)


def bucket_of(days_past_due: int) -> Bucket:
    if days_past_due <= 0:
        return Bucket.CURRENT
    if days_past_due <= 30:
        return Bucket.DAYS_1_30
    if days_past_due <= 60:
        return Bucket.DAYS_31_60
    if days_past_due <= 90:
        return Bucket.DAYS_61_90
    return Bucket.OVER_90


class DunningLevel(StrEnum):
    """The steps of the dunning ladder, in order."""

    REMINDER = "reminder"
    SECOND_REMINDER = "second_reminder"
    FINAL_NOTICE = "final_notice"
    ESCALATED = "escalated"


@dataclass(frozen=True)
class OpenItem:
    """One invoice with what was still open on it on the as-of date."""

    invoice_id: uuid.UUID
    number: str
    contract_id: uuid.UUID
    account_id: uuid.UUID | None
    issue_date: date
    due_date: date
    open_amount: Money
    dunning_level: DunningLevel | None = None

    def days_past_due(self, as_of: date) -> int:
        return (as_of - self.due_date).days


@dataclass
class CurrencyAging:
    currency: str
    buckets: dict[Bucket, Money]
    total: Money
    items: list[OpenItem] = field(default_factory=list)


def age(items: Iterable[OpenItem], as_of: date) -> list[CurrencyAging]:
    """Bucket the open items per currency; items with nothing open are left out."""
    by_currency: dict[str, CurrencyAging] = {}
    for item in sorted(items, key=lambda i: (i.due_date, i.number)):
        if item.open_amount.is_zero():
            continue
        currency = item.open_amount.currency
        aging = by_currency.get(currency)
        if aging is None:
            zero = Money.zero(currency)
            aging = by_currency[currency] = CurrencyAging(currency, {b: zero for b in BUCKETS}, zero)
        name = bucket_of(item.days_past_due(as_of))
        aging.buckets[name] = aging.buckets[name] + item.open_amount
        aging.total = aging.total + item.open_amount
        aging.items.append(item)
    return [by_currency[c] for c in sorted(by_currency)]


@dataclass(frozen=True)
class Exposure:
    """One currency's receivables as of a date: its aged open invoices beside the cash held unapplied."""

    currency: str
    buckets: dict[Bucket, Money]
    total_open: Money
    unapplied_cash: Money
    items: list[OpenItem]

    @property
    def net_exposure(self) -> Money:
        return self.total_open - self.unapplied_cash


def exposure(aging: Iterable[CurrencyAging], unapplied: dict[str, Money]) -> list[Exposure]:
    """Every currency with open invoices or unapplied cash, zero for whichever of the two it lacks."""
    by_currency = {a.currency: a for a in aging}
    rows = []
    for currency in sorted(set(by_currency) | set(unapplied)):
        zero = Money.zero(currency)
        group = by_currency.get(currency)
        rows.append(Exposure(currency=currency, buckets={b: group.buckets[b] if group else zero for b in BUCKETS},
                             total_open=group.total if group else zero, unapplied_cash=unapplied.get(currency, zero),
                             items=list(group.items) if group else []))
    return rows


# Days past due from which each step may be taken, in ladder order.
LADDER: tuple[tuple[DunningLevel, int], ...] = (
    (DunningLevel.REMINDER, 1),
    (DunningLevel.SECOND_REMINDER, 15),
    (DunningLevel.FINAL_NOTICE, 30),
    (DunningLevel.ESCALATED, 60),
)


@dataclass(frozen=True)
class OverdueInvoice:
    """What dunning needs to know about an invoice (read from the invoice, never changed by dunning)."""

    invoice_id: uuid.UUID
    number: str
    contract_id: uuid.UUID
    account_id: uuid.UUID | None
    lineage: Lineage
    due_date: date
    open_amount: Money


class Dunning:
    """The dunning state of one invoice: its own aggregate, so dunning never contends with payments."""

    events: list[EventPayload]

    def __init__(self, *, invoice_id: uuid.UUID) -> None:
        self.invoice_id = invoice_id
        self.level: DunningLevel | None = None
        self.dunned_on: date | None = None
        self.events = []

    def next_level(self, invoice: OverdueInvoice, as_of: date, *, escalate: bool = False) -> DunningLevel | None:
        """The step due as of `as_of`; `escalate` (a broken promise to pay) takes the next step as
        soon as the invoice is overdue at all, whatever the step's threshold."""
        if invoice.open_amount.is_zero() or (self.dunned_on is not None and as_of <= self.dunned_on):
            return None
        position = 0 if self.level is None else [lvl for lvl, _ in LADDER].index(self.level) + 1
        if position >= len(LADDER):
            return None
        level, threshold = LADDER[position]
        return level if (as_of - invoice.due_date).days >= (LADDER[0][1] if escalate else threshold) else None

    def advance(self, invoice: OverdueInvoice, as_of: date, *, escalate: bool = False) -> bool:
        """Take the next step of the ladder if it is due as of `as_of`; emits `invoice.overdue`."""
        if invoice.invoice_id != self.invoice_id:
            raise ValueError("dunning state of another invoice")
        level = self.next_level(invoice, as_of, escalate=escalate)
        if level is None:
            return False
        self.level = level
        self.dunned_on = as_of
        self.events.append(InvoiceOverdue(
            lineage=invoice.lineage, invoice_id=invoice.invoice_id, invoice_number=invoice.number,
            contract_id=invoice.contract_id, account_id=invoice.account_id, due_date=invoice.due_date,
            days_overdue=(as_of - invoice.due_date).days, open_amount=MoneyPayload.of(invoice.open_amount),
            dunning_level=level.value, as_of=as_of,
        ))
        return True


def run_dunning(invoices: Sequence[OverdueInvoice], states: dict[uuid.UUID, Dunning], as_of: date, *,
                paused: Collection[uuid.UUID] = (), escalate: Collection[uuid.UUID] = ()
                ) -> list[tuple[Dunning, OverdueInvoice]]:
    """Advance every overdue invoice one step where due; returns the states that moved (new ones included).

    A `paused` invoice (disputed, or promised to be paid: `ltc.finance.domain.collections`) stays
    at the level it has; one in `escalate` (its promise to pay broke) takes its next step now.
    """
    moved: list[tuple[Dunning, OverdueInvoice]] = []
    for invoice in sorted(invoices, key=lambda i: (i.due_date, i.number)):
        if invoice.invoice_id in paused:
            continue
        state = states.get(invoice.invoice_id) or Dunning(invoice_id=invoice.invoice_id)
        if state.advance(invoice, as_of, escalate=invoice.invoice_id in escalate):
            states[invoice.invoice_id] = state
            moved.append((state, invoice))
    return moved
