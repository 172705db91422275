"""What settles receivables without cash coming in (write-offs), and cash going back out (refunds).

A **small balance** (what a payer left short, within the currency's tolerance) is written off by a
finance clerk, or by the matching itself when a statement's payment falls short by no more than
the tolerance. A **bad debt** (an amount the customer will not pay) is decided at the tier its
amount requires, by the shared decision-tier rule. Each write-off is its own record, event
(`invoice.written_off`) and journal entry (write-off expense against the receivable).

A **refund** pays a payment's unapplied cash (an over-payment, or a credit balance a credit note
released) back to the customer: up to a configured amount per currency on the clerk's word, above
it once a second finance person approves (`refund-self-approved`). Its journal entry moves the
amount from unapplied cash to the bank; `refund.issued` when the cash goes out.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from stdnum import iban

from ltc.finance.domain.billing_plan import BillingPlan
from ltc.finance.domain.invoice import Invoice
from ltc.finance.domain.payment import Payment
from ltc.shared.controls import REFUND_SELF_APPROVED, WRITE_OFF_SELF_APPROVED, require_other_person
from ltc.shared.messages import EventPayload, Lineage, MoneyPayload
from ltc.shared.messages.finance_events import InvoiceWrittenOff, RefundIssued
from ltc.shared.money import Money, MoneyAttribute, MoneyError
from ltc.shared.rules import DomainError, Forbidden, RuleViolation
from ltc.shared.tiers import Tier, may_decide

TOLERANCE_INVALID = "cash-tolerance-invalid"


def _amounts(raw: Any, field_name: str, rule: str) -> dict[str, Decimal]:
    """currency -> a non-negative amount the currency can hold, each bad entry named under `rule`."""
    if not isinstance(raw, Mapping):
        raise RuleViolation(rule, f"`{field_name}` is an object of currency codes to amounts",
                            errors=[{"field": field_name, "message": "an object of currency codes to amounts"}])
    problems, read = [], {}
    for currency, amount in raw.items():
        try:
            money = Money(Decimal(str(amount)), str(currency))
            if money.amount < 0:
                raise MoneyError("an amount here cannot be negative")
            read[money.currency] = money.amount
        except (MoneyError, ArithmeticError, ValueError) as exc:
            problems.append({"field": f"{field_name}.{currency}", "message": str(exc) or "not an amount"})
    if problems:
        raise RuleViolation(rule, "; ".join(f"{p['field']}: {p['message']}" for p in problems), errors=problems)
    return read


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
        return cls(_amounts(document.get("tolerances"), "tolerances", TOLERANCE_INVALID))

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


# --- approvals: refunds and bad debts ---------------------------------------------------------

REFUND_APPROVAL_INVALID = "refund-approval-invalid"
BAD_DEBT_TIERS_INVALID = "bad-debt-tiers-invalid"


@dataclass(frozen=True)
class RefundApproval:
    """Refunds up to `approve_above[currency]` are issued on the clerk's word; above it (or in a
    currency not listed) a second finance person approves them. Version 0 lists none: every refund
    is approved by a second person until finance sets amounts."""

    approve_above: Mapping[str, Decimal] = field(default_factory=dict)

    def needs_approval(self, amount: Money) -> bool:
        limit = self.approve_above.get(amount.currency)
        return limit is None or amount.amount > limit

    def to_json(self) -> dict[str, Any]:
        return {"approve_above": {c: str(a) for c, a in sorted(self.approve_above.items())}}

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> RefundApproval:
        return cls(_amounts(document.get("approve_above"), "approve_above", REFUND_APPROVAL_INVALID))


@dataclass(frozen=True)
class BadDebtTiers:
    """Which decision tier writes off a bad debt of an amount, per currency: L1 below `l2_from`, L2
    below `l3_from`, L3 from there (and L3 in a currency not listed): the shared tier rule, as the
    gates and amendments route by value."""

    l2_from: Mapping[str, Decimal] = field(default_factory=dict)
    l3_from: Mapping[str, Decimal] = field(default_factory=dict)

    def tier_of(self, amount: Money) -> Tier:
        l2, l3 = self.l2_from.get(amount.currency), self.l3_from.get(amount.currency)
        if l2 is None or l3 is None:
            return Tier.L3
        return Tier.L1 if amount.amount < l2 else Tier.L2 if amount.amount < l3 else Tier.L3

    def to_json(self) -> dict[str, Any]:
        return {"l2_from": {c: str(a) for c, a in sorted(self.l2_from.items())},
                "l3_from": {c: str(a) for c, a in sorted(self.l3_from.items())}}

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> BadDebtTiers:
        l2 = _amounts(document.get("l2_from"), "l2_from", BAD_DEBT_TIERS_INVALID)
        l3 = _amounts(document.get("l3_from"), "l3_from", BAD_DEBT_TIERS_INVALID)
        problems = [{"field": f"l3_from.{c}", "message": f"must be above l2_from ({l2[c]})"}
                    for c in l3 if c in l2 and l3[c] <= l2[c]]
        problems += [{"field": f"{name}.{c}", "message": "give both thresholds of a currency"}
                     for name, mine, other in (("l2_from", l2, l3), ("l3_from", l3, l2)) for c in mine if c not in other]
        if problems:
            raise RuleViolation(BAD_DEBT_TIERS_INVALID, "; ".join(f"{p['field']}: {p['message']}" for p in problems),
                                errors=problems)
        return cls(l2, l3)


class Decision(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class RefundStatus(StrEnum):
    PENDING_APPROVAL = "pending_approval"  # reserved from the payment's unapplied cash
    ISSUED = "issued"  # paid back to the customer
    REJECTED = "rejected"  # the cash is unapplied again


class Refund:
    """Unapplied cash of a payment (an over-payment, or a credit balance a credit note released)
    paid back to the customer. The amount is taken off the payment's unapplied cash when requested,
    so it cannot be applied or refunded twice; a rejected refund gives it back."""

    events: list[EventPayload]

    amount = MoneyAttribute("refund_amount")

    def __init__(self, *, id: uuid.UUID, payment: Payment, amount: Money, beneficiary_name: str,
                 beneficiary_iban: str, reason: str, requested_by: str, now: datetime,
                 policy: RefundApproval) -> None:
        if not reason.strip():
            raise RuleViolation("refund-reason-required", "a refund needs its reason",
                                errors=[{"field": "reason", "message": "required"}])
        if not iban.is_valid(beneficiary_iban):
            raise RuleViolation("iban-invalid", f"{beneficiary_iban!r} is not a valid IBAN",
                                errors=[{"field": "beneficiary_iban", "message": "not a valid IBAN (ISO 13616)"}])
        payment.reserve_refund(amount)
        self.id = id
        self.payment_id = payment.id
        self.bank_reference = payment.bank_reference
        self.account_id = payment.account_id
        self.lead_id, self.opportunity_id, self.contract_id = (payment.lead_id, payment.opportunity_id,
                                                               payment.lineage_contract_id)
        self.currency = amount.currency
        self.refund_amount: Decimal = amount.amount
        self.beneficiary_name = beneficiary_name.strip()
        self.beneficiary_iban = iban.compact(beneficiary_iban)
        self.reason = reason.strip()
        self.requested_by = requested_by
        self.requested_at = now
        self.created_at = now
        self.decided_by: str | None = None
        self.decided_at: datetime | None = None
        self.decision_note: str | None = None
        self.issued_on: date | None = None
        self.status = RefundStatus.PENDING_APPROVAL
        self.events = []
        if not policy.needs_approval(amount):
            self._issue(now.date(), approved_by=None)

    def lineage(self) -> Lineage:
        return Lineage(lead_id=self.lead_id, opportunity_id=self.opportunity_id, contract_id=self.contract_id)

    def _issue(self, on: date, *, approved_by: str | None) -> None:
        self.status = RefundStatus.ISSUED
        self.issued_on = on
        self.events.append(RefundIssued(
            lineage=self.lineage(), refund_id=self.id, payment_id=self.payment_id, account_id=self.account_id,
            amount=MoneyPayload.of(self.amount), beneficiary_name=self.beneficiary_name,
            beneficiary_iban=self.beneficiary_iban, reason=self.reason, requested_by=self.requested_by,
            approved_by=approved_by, issued_on=on))

    def decide(self, *, approve: bool, by: str, note: str | None, now: datetime, payment: Payment) -> None:
        """A second finance person approves (the cash goes out) or rejects (it is unapplied again)."""
        if self.status is not RefundStatus.PENDING_APPROVAL:
            raise DomainError("refund-decided", f"refund {self.id} is {self.status.value} already")
        require_other_person(REFUND_SELF_APPROVED, by, [self.requested_by], "approving a refund")
        self.decided_by, self.decided_at, self.decision_note = by, now, (note or "").strip() or None
        if approve:
            self._issue(now.date(), approved_by=by)
        else:
            payment.release_refund(self.amount)
            self.status = RefundStatus.REJECTED


class WriteOffRequest:
    """A bad debt: what is open on an invoice, written off only when the tier its amount requires
    decides so, and never by who asked (`write-off-self-approved`)."""

    amount = MoneyAttribute("request_amount")

    def __init__(self, *, id: uuid.UUID, invoice: Invoice, amount: Money, reason: str, requested_by: str,
                 now: datetime, tiers: BadDebtTiers) -> None:
        if not reason.strip():
            raise RuleViolation("write-off-reason-required", "a write-off needs its reason",
                                errors=[{"field": "reason", "message": "required"}])
        if amount.amount <= 0 or amount.currency != invoice.currency or invoice.open_amount < amount:
            raise RuleViolation("write-off-exceeds-open-amount",
                                f"invoice {invoice.number} is open for {invoice.open_amount.amount} {invoice.currency}",
                                errors=[{"field": "amount", "message": f"a positive amount up to "
                                                                      f"{invoice.open_amount.amount} {invoice.currency}"}])
        self.id = id
        self.invoice_id = invoice.id
        self.invoice_number = invoice.number
        self.contract_id = invoice.contract_id
        self.account_id = invoice.account_id
        self.currency = amount.currency
        self.request_amount: Decimal = amount.amount
        self.reason = reason.strip()
        self.tier = tiers.tier_of(amount)
        self.status = Decision.PENDING
        self.requested_by = requested_by
        self.created_at = now
        self.decided_by: str | None = None
        self.decided_at: datetime | None = None
        self.decision_note: str | None = None
        self.write_off_id: uuid.UUID | None = None

    def decide(self, *, approve: bool, by: str, authority: Tier | None, note: str | None, now: datetime,
               invoice: Invoice, plan: BillingPlan) -> WriteOff | None:
        if self.status is not Decision.PENDING:
            raise DomainError("write-off-decided", f"write-off request {self.id} is {self.status.value} already")
        if not may_decide(authority, self.tier):
            raise Forbidden("tier-authority", f"a bad debt of {self.amount.amount} {self.currency} is decided at "
                                              f"{self.tier.value} or above")
        require_other_person(WRITE_OFF_SELF_APPROVED, by, [self.requested_by], "approving a write-off")
        self.decided_by, self.decided_at, self.decision_note = by, now, (note or "").strip() or None
        if not approve:
            self.status = Decision.REJECTED
            return None
        write_off = WriteOff(id=uuid.uuid4(), invoice=invoice, plan=plan, amount=self.amount,
                             kind=WriteOffKind.BAD_DEBT, reason=self.reason, on=now.date(), decided_by=by, now=now,
                             decision_tier=self.tier.value)
        self.status = Decision.APPROVED
        self.write_off_id = write_off.id
        return write_off
