"""What settles receivables without cash coming in: write-offs.

A **small balance** (what a payer left short, within the currency's tolerance) is written off by a
finance clerk, or by the matching itself when a statement's payment falls short by no more than
the tolerance. A **bad debt** (an amount the customer will not pay) is decided at the tier its
amount requires, by the shared decision-tier rule. Each write-off is its own record, event
(`invoice.written_off`) and journal entry (write-off expense against the receivable).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from ltc.finance.domain.billing_plan import BillingPlan
from ltc.finance.domain.invoice import Invoice
from ltc.shared.messages import EventPayload, MoneyPayload
from ltc.shared.messages.finance_events import InvoiceWrittenOff
from ltc.shared.money import Money, MoneyAttribute, MoneyError
from ltc.shared.rules import RuleViolation

TOLERANCE_INVALID = "cash-tolerance-invalid"


@dataclass(frozen=True)
class CashTolerance:
    """How short of an invoice's open amount a payment may fall and still settle it, per currency:
    the difference is written off as a small balance. A currency not listed has none."""

    per_currency: Mapping[str, Decimal] = field(default_factory=dict)

    def of(self, currency: str) -> Decimal:
        return self.per_currency.get(currency, Decimal(0))

    def to_json(self) -> dict[str, Any]:
        return {"tolerances": {c: str(a) for c, a in sorted(self.per_currency.items())}}

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> CashTolerance:
        """Read a policy document, refusing any entry that is not a non-negative amount of a currency."""
        raw = document.get("tolerances")
        if not isinstance(raw, Mapping):
            raise RuleViolation(TOLERANCE_INVALID, "the document needs `tolerances`: currency -> amount",
                                errors=[{"field": "tolerances", "message": "an object of currency codes to amounts"}])
        problems, read = [], {}
        for currency, amount in raw.items():
            try:
                money = Money(Decimal(str(amount)), str(currency))
                if money.amount < 0:
                    raise MoneyError("a tolerance cannot be negative")
                read[money.currency] = money.amount
            except (MoneyError, ArithmeticError, ValueError) as exc:
                problems.append({"field": f"tolerances.{currency}", "message": str(exc) or "not an amount"})
        if problems:
            raise RuleViolation(TOLERANCE_INVALID, "; ".join(f"{p['field']}: {p['message']}" for p in problems),
                                errors=problems)
        return cls(read)


class WriteOffKind(StrEnum):
    SMALL_BALANCE = "small_balance"
    BAD_DEBT = "bad_debt"


class WriteOff:
    events: list[EventPayload]

    amount = MoneyAttribute("write_off_amount")

    def __init__(self, *, id: uuid.UUID, invoice: Invoice, plan: BillingPlan, amount: Money, kind: WriteOffKind,
                 reason: str, on: date, decided_by: str, now: datetime, decision_tier: str | None = None,
                 bank_transaction_id: uuid.UUID | None = None) -> None:
        if not reason.strip():
            raise RuleViolation("write-off-reason-required", "a write-off needs its reason",
                                errors=[{"field": "reason", "message": "required"}])
        invoice.write_off(amount, on=on)
        plan.record_write_off(amount, on=on)
        self.id = id
        self.invoice_id = invoice.id
        self.invoice_number = invoice.number
        self.contract_id = invoice.contract_id
        self.account_id = invoice.account_id
        self.currency = amount.currency
        self.write_off_amount: Decimal = amount.amount
        self.kind = kind
        self.reason = reason.strip()
        self.written_off_on = on
        self.decided_by = decided_by
        self.decision_tier = decision_tier
        self.bank_transaction_id = bank_transaction_id
        self.created_at = now
        self.events = [InvoiceWrittenOff(
            lineage=invoice.lineage(), invoice_id=invoice.id, invoice_number=invoice.number,
            contract_id=invoice.contract_id, account_id=invoice.account_id, amount=MoneyPayload.of(amount),
            kind=kind.value, reason=self.reason, written_off_on=on, decided_by=decided_by,
            decision_tier=decision_tier, invoice_open_amount=MoneyPayload.of(invoice.open_amount))]
