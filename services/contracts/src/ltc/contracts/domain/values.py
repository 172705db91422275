"""The value objects of a contract's terms: instalments, milestones, line items, legal terms.

They are frozen and compare by content; the aggregate replaces whole lists when something
changes, which is also how they are stored (JSONB lists).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

from ltc.shared.messages.contracts_events import Trigger
from ltc.shared.money import Money, minor_unit_exponent

# What makes an instalment due is one vocabulary with finance, which bills it: the events' `Trigger`.
__all__ = ["AcceptanceType", "AgreedMilestone", "LegalTerms", "LineItem", "Milestone", "MilestoneStatus",
           "PaymentTerm", "Trigger", "terms_problems"]


class AcceptanceType(StrEnum):
    PRELIMINARY = "preliminary"
    FINAL = "final"


class MilestoneStatus(StrEnum):
    PLANNED = "planned"
    IN_PROGRESS = "in_progress"
    DELIVERED = "delivered"
    ACCEPTED = "accepted"


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


@dataclass(frozen=True)
class PaymentTerm:
    """One instalment: a share of the value, due `due_days` after its trigger happens.

    `amount` is fixed by the contract when it plans its schedule: after an amendment an
    instalment already triggered keeps the amount it had, so amounts are not always the
    percentage of the current value.
    """

    name: str
    percent: Decimal
    trigger: Trigger
    milestone: str | None  # the milestone's name: terms are agreed before milestones have ids
    due_days: int
    due_date: date | None = None  # the date of a date-triggered instalment
    amount: Decimal | None = None

    def agreed(self) -> PaymentTerm:
        """The term as a party agrees it, without the amount the contract computed."""
        return replace(self, amount=None)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "percent": str(self.percent), "trigger": self.trigger.value,
                "milestone": self.milestone, "due_days": self.due_days, "due_date": _iso(self.due_date),
                "amount": None if self.amount is None else str(self.amount)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PaymentTerm:
        amount = data.get("amount")
        return cls(name=data["name"], percent=Decimal(data["percent"]), trigger=Trigger(data["trigger"]),
                   milestone=data.get("milestone"), due_days=data["due_days"], due_date=_date(data.get("due_date")),
                   amount=None if amount is None else Decimal(amount))


@dataclass(frozen=True)
class AgreedMilestone:
    """A delivery milestone as agreed, before the contract gives it an id."""

    name: str
    planned_date: date
    acceptance_type: AcceptanceType
    owner: str | None = None  # the FR who runs it


@dataclass(frozen=True)
class Milestone:
    milestone_id: uuid.UUID
    name: str
    planned_date: date
    acceptance_type: AcceptanceType
    owner: str | None = None
    status: MilestoneStatus = MilestoneStatus.PLANNED
    started_on: date | None = None
    delivered_on: date | None = None
    accepted_on: date | None = None
    certificate_ref: str | None = None

    @property
    def accepted(self) -> bool:
        return self.status is MilestoneStatus.ACCEPTED

    def is_late(self, as_of: date) -> bool:
        """Past its planned date without the customer's acceptance."""
        return not self.accepted and self.planned_date < as_of

    def is_at_risk(self, as_of: date, window_days: int) -> bool:
        """Due within the window and not delivered yet: acceptance on time is in doubt."""
        return (self.status in (MilestoneStatus.PLANNED, MilestoneStatus.IN_PROGRESS)
                and 0 <= (self.planned_date - as_of).days <= window_days)

    def as_agreed(self) -> AgreedMilestone:
        return AgreedMilestone(self.name, self.planned_date, self.acceptance_type, self.owner)

    def to_json(self) -> dict[str, Any]:
        return {
            "milestone_id": str(self.milestone_id), "name": self.name, "planned_date": self.planned_date.isoformat(),
            "acceptance_type": self.acceptance_type.value, "owner": self.owner, "status": self.status.value,
            "started_on": _iso(self.started_on), "delivered_on": _iso(self.delivered_on),
            "accepted_on": _iso(self.accepted_on), "certificate_ref": self.certificate_ref,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Milestone:
        return cls(
            milestone_id=uuid.UUID(data["milestone_id"]), name=data["name"],
            planned_date=date.fromisoformat(data["planned_date"]),
            acceptance_type=AcceptanceType(data["acceptance_type"]), owner=data.get("owner"),
            status=MilestoneStatus(data["status"]), started_on=_date(data.get("started_on")),
            delivered_on=_date(data.get("delivered_on")), accepted_on=_date(data.get("accepted_on")),
            certificate_ref=data.get("certificate_ref"),
        )


@dataclass(frozen=True)
class LineItem:
    description: str
    quantity: Decimal
    unit_price: Decimal  # in the contract's currency

    @property
    def amount(self) -> Decimal:
        return self.quantity * self.unit_price

    def to_json(self) -> dict[str, Any]:
        return {"description": self.description, "quantity": str(self.quantity), "unit_price": str(self.unit_price)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LineItem:
        return cls(data["description"], Decimal(data["quantity"]), Decimal(data["unit_price"]))


@dataclass(frozen=True)
class LegalTerms:
    """What the legal review reads: warranty, liquidated damages, acceptance and governing law."""

    warranty_months: int | None = None
    liquidated_damages_percent_per_week: Decimal | None = None  # of the value, per week of delay
    liquidated_damages_cap_percent: Decimal | None = None
    liability_cap_percent: Decimal | None = None
    acceptance_criteria: str | None = None
    governing_law: str | None = None

    def to_json(self) -> dict[str, Any]:
        def dec(value: Decimal | None) -> str | None:
            return None if value is None else str(value)

        return {"warranty_months": self.warranty_months,
                "liquidated_damages_percent_per_week": dec(self.liquidated_damages_percent_per_week),
                "liquidated_damages_cap_percent": dec(self.liquidated_damages_cap_percent),
                "liability_cap_percent": dec(self.liability_cap_percent),
                "acceptance_criteria": self.acceptance_criteria, "governing_law": self.governing_law}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> LegalTerms:
        data = data or {}

        def dec(key: str) -> Decimal | None:
            return None if data.get(key) is None else Decimal(data[key])

        return cls(warranty_months=data.get("warranty_months"),
                   liquidated_damages_percent_per_week=dec("liquidated_damages_percent_per_week"),
                   liquidated_damages_cap_percent=dec("liquidated_damages_cap_percent"),
                   liability_cap_percent=dec("liability_cap_percent"),
                   acceptance_criteria=data.get("acceptance_criteria"), governing_law=data.get("governing_law"))


def terms_problems(value: Money, line_items: list[LineItem], payment_terms: list[PaymentTerm],
                   milestones: list[AgreedMilestone], legal: LegalTerms) -> list[dict[str, str]]:
    """What makes terms unusable, each naming its field: the schedule must split the value
    exactly into uniquely named instalments, each trigger must be one that can happen, and the
    line items, when given, must price the value exactly."""
    problems = []

    def problem(field: str, message: str) -> None:
        problems.append({"field": field, "message": message})

    if value.amount <= 0:
        problem("value", "the contract value must be positive")
    if not payment_terms:
        problem("payment_terms", "at least one payment term is needed")
    if any(t.percent <= 0 for t in payment_terms):
        problem("payment_terms", "every percentage must be positive")
    elif payment_terms and sum(t.percent for t in payment_terms) != Decimal(100):
        problem("payment_terms", "the percentages must add up to 100")
    if any(t.due_days < 0 for t in payment_terms):
        problem("payment_terms", "due days cannot be negative")
    term_names = [t.name for t in payment_terms]
    if len(set(term_names)) != len(term_names):
        # finance tells instalments apart by name when a contract is amended
        problem("payment_terms", "instalment names must be unique")
    names = [m.name for m in milestones]
    if len(set(names)) != len(names):
        problem("milestones", "milestone names must be unique")
    for term in payment_terms:
        if term.trigger is Trigger.MILESTONE and term.milestone not in names:
            problem("payment_terms", f"term {term.name!r} is triggered by an unknown milestone {term.milestone!r}")
        if term.trigger is Trigger.DATE and term.due_date is None:
            problem("payment_terms", f"term {term.name!r} is triggered by a date but names none")
        if term.trigger is not Trigger.MILESTONE and term.milestone is not None:
            problem("payment_terms", f"term {term.name!r} names a milestone but is not triggered by one")
    if line_items:
        quantum = Decimal(1).scaleb(-minor_unit_exponent(value.currency))
        if any(i.quantity <= 0 or i.unit_price < 0 for i in line_items):
            problem("line_items", "quantities must be positive and prices not negative")
        elif any(i.amount != i.amount.quantize(quantum) for i in line_items):
            problem("line_items", f"every line must come to whole {value.currency} minor units")
        elif sum((i.amount for i in line_items), Decimal(0)) != value.amount:
            problem("line_items", f"the line items add up to {sum(i.amount for i in line_items)}, "
                                  f"not the contract value {value.amount}")
    for field in ("liquidated_damages_percent_per_week", "liquidated_damages_cap_percent", "liability_cap_percent"):
        share = getattr(legal, field)
        if share is not None and not Decimal(0) <= share <= Decimal(100):
            problem(f"legal_terms.{field}", "a percentage lies between 0 and 100")
    if legal.warranty_months is not None and legal.warranty_months < 0:
        problem("legal_terms.warranty_months", "the warranty period cannot be negative")
    return problems
