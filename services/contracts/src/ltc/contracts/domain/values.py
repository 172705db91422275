"""The value objects of a contract's terms: instalments, milestones, lines, legal terms.

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

from ltc.shared.lines import SalesLine, Supply, TaxCategory, Vat, line_problems
from ltc.shared.messages.contracts_events import Trigger
from ltc.shared.money import Money, MoneyError
from ltc.shared.rules import RuleViolation

# What makes an instalment due is one vocabulary with finance, which bills it: the events' `Trigger`.
__all__ = ["AcceptanceType", "AgreedMilestone", "LegalTerms", "LineItem", "Milestone", "MilestoneStatus",
           "PaymentTerm", "StatedLine", "Supply", "TaxCategory", "Trigger", "Vat", "line_from_json", "line_to_json",
           "priced_lines", "terms_problems"]

TERMS_INCONSISTENT = "commercial-terms-inconsistent"


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


# A line of the terms is the shared sales line: the rules that hold it at ATC hold it here and on the
# invoice (`ltc.shared.lines`, which also says why everything is net of VAT).
LineItem = SalesLine

DEFAULT_UNIT = "C62"  # UN/ECE Rec 20 "one": a piece, a licence, a lump sum

# What a line is stored as before it carried more than these: read as one of quantity C62 (one), a
# service, without discount, VAT or milestone, its price in the contract's currency.
_FIRST_LINE_SHAPE = frozenset({"description", "quantity", "unit_price"})


def _fixed(value: Decimal) -> str:
    return format(value, "f")  # fixed-point, as the API writes decimals: str() may write "1E+1"


def line_to_json(line: LineItem) -> dict[str, Any]:
    """A line as stored. The prices stay decimal strings beside a currency, as they were before
    lines grew, so the code of the previous revision still reads description, quantity and price."""
    vat = line.vat
    return {"position": line.position, "code": line.code, "description": line.description,
            "quantity": _fixed(line.quantity), "unit": line.unit, "unit_price": _fixed(line.unit_price.amount),
            "currency": line.unit_price.currency,
            "discount": None if line.discount is None else _fixed(line.discount.amount),
            "supply": line.supply.value,
            "vat": None if vat is None else {"category": vat.category.value,
                                             "rate": None if vat.rate is None else _fixed(vat.rate),
                                             "exemption_reason": vat.exemption_reason},
            "milestone": line.milestone}


def line_from_json(data: dict[str, Any], *, index: int, currency: str | None = None) -> LineItem:
    """A stored line, the `index`-th of its list; `currency` is the contract's, for lines stored
    without one (the first shape, `{"description", "quantity", "unit_price"}`)."""
    currency = data.get("currency") or currency
    if currency is None:
        raise ValueError(f"line {index + 1} is stored without a currency and none was given")
    vat = data.get("vat")
    discount = data.get("discount")
    quantity, unit, unit_price = Decimal(data["quantity"]), data.get("unit", DEFAULT_UNIT), Decimal(data["unit_price"])
    if set(data) <= _FIRST_LINE_SHAPE | {"currency"} and not _is_money(unit_price, currency):
        # The first lines were checked on their amount, not their price (1000 × 0.125 EUR passed);
        # a line's price is money now, so such a line reads as its amount for one lump sum.
        quantity, unit, unit_price = Decimal(1), "LS", quantity * unit_price
    return SalesLine(
        position=data.get("position", index + 1), code=data.get("code"), description=data["description"],
        quantity=quantity, unit=unit, unit_price=Money(unit_price, currency),
        discount=None if discount is None else Money(Decimal(discount), currency),
        supply=Supply(data.get("supply", Supply.SERVICES.value)),
        vat=None if vat is None else Vat(TaxCategory(vat["category"]),
                                         None if vat.get("rate") is None else Decimal(vat["rate"]),
                                         vat.get("exemption_reason")),
        milestone=data.get("milestone"))


def _is_money(amount: Decimal, currency: str) -> bool:
    try:
        Money(amount, currency)
    except MoneyError:
        return False
    return True


@dataclass(frozen=True)
class StatedLine:
    """A line as a request states it: prices as decimals in the contract's currency, which the
    contract knows, not always the request (an edit or an amendment need not restate the value)."""

    position: int
    description: str
    quantity: Decimal
    unit_price: Decimal
    unit: str = DEFAULT_UNIT
    code: str | None = None
    discount: Decimal | None = None
    supply: Supply = Supply.SERVICES
    vat: Vat | None = None
    milestone: str | None = None


def priced_lines(stated: list[StatedLine], currency: str, field: str = "line_items") -> list[LineItem]:
    """The lines in `currency`; a price or discount finer than the currency allows is refused
    naming it (`commercial-terms-inconsistent`), never rounded."""
    lines, problems = [], []

    def money(amount: Decimal, at: str) -> Money | None:
        try:
            return Money(amount, currency)
        except MoneyError as exc:
            problems.append({"field": at, "message": str(exc)})
            return None

    for index, line in enumerate(stated):
        unit_price = money(line.unit_price, f"{field}.{index}.unit_price")
        discount = None if line.discount is None else money(line.discount, f"{field}.{index}.discount")
        if unit_price is not None:
            lines.append(SalesLine(position=line.position, code=line.code, description=line.description,
                                   quantity=line.quantity, unit=line.unit, unit_price=unit_price, discount=discount,
                                   supply=line.supply, vat=line.vat, milestone=line.milestone))
    if problems:
        raise RuleViolation(TERMS_INCONSISTENT, "the terms cannot make a contract: "
                            + "; ".join(f"{p['field']}: {p['message']}" for p in problems), errors=problems)
    return lines


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
    lines, when given, must meet the shared line rules (`ltc.shared.lines.line_problems`: a known
    unit, an exact net, a complete VAT, a milestone of these terms) and add up to the value, net.

    That a milestone's instalments invoice its lines needs the instalments in money: `plan` checks it."""
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
        # Lines are optional (contracts from before lines travelled have none); given, they are
        # the shared rules' lines, named as this API names them.
        problems.extend(line_problems(line_items, value=value, milestones=set(names), field="line_items"))
    for field in ("liquidated_damages_percent_per_week", "liquidated_damages_cap_percent", "liability_cap_percent"):
        share = getattr(legal, field)
        if share is not None and not Decimal(0) <= share <= Decimal(100):
            problem(f"legal_terms.{field}", "a percentage lies between 0 and 100")
    if legal.warranty_months is not None and legal.warranty_months < 0:
        problem("legal_terms.warranty_months", "the warranty period cannot be negative")
    return problems
