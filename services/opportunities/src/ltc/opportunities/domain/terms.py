"""Commercial terms: what is negotiated with the customer and, once approved at ATC, contracted."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from ltc.shared.lines import Instalment, SalesLine, line_problems, milestone_problems
from ltc.shared.messages import MoneyPayload
from ltc.shared.messages.base import LinePayload
from ltc.shared.messages.opportunities_events import (
    CommercialTermsPayload,
    MilestonePayload,
    PaymentTermPayload,
)
from ltc.shared.money import Money


class PaymentTrigger(StrEnum):
    SIGNING = "signing"
    MILESTONE = "milestone"


class AcceptanceType(StrEnum):
    PRELIMINARY = "preliminary"
    FINAL = "final"


@dataclass(frozen=True)
class PaymentTerm:
    """One instalment: a share of the value, due some days after its trigger."""

    name: str
    percent: Decimal
    trigger: PaymentTrigger
    milestone: str | None
    due_days: int


@dataclass(frozen=True)
class Milestone:
    name: str
    planned_date: date
    acceptance_type: AcceptanceType


# A line of the terms is the shared sales line: the same rules hold it here, on the contract and on
# the invoice (`ltc.shared.lines`, which also says why everything is net of VAT).
LineItem = SalesLine


@dataclass(frozen=True)
class CommercialTerms:
    """The terms being negotiated; `problems()` says what keeps them from being a contract's basis.

    Parts are edited by different people (the SR prices, the FR plans delivery), so an unfinished
    draft is allowed; only the ATC gate demands that they are complete and consistent.
    """

    value: Money | None = None
    line_items: tuple[LineItem, ...] = ()
    payment_terms: tuple[PaymentTerm, ...] = ()
    milestones: tuple[Milestone, ...] = ()

    def problems(self) -> list[dict[str, str]]:
        """Every reason these terms cannot be contracted on, each naming its field."""
        found: list[dict[str, str]] = []

        def problem(field: str, message: str) -> None:
            found.append({"field": field, "message": message})

        if self.value is None:
            problem("terms.value", "the contract value is not agreed yet")
        elif self.value.amount <= 0:
            problem("terms.value.amount", "the contract value must be positive")
        self._line_item_problems(problem)
        names = Counter(m.name for m in self.milestones)
        if not self.milestones:
            problem("terms.milestones", "at least one delivery milestone is needed")
        for index, milestone in enumerate(self.milestones):
            if names[milestone.name] > 1:
                problem(f"terms.milestones.{index}.name", f"milestone name {milestone.name!r} is used more than once")
        if not self.payment_terms:
            problem("terms.payment_terms", "at least one payment term is needed")
        total = Decimal(0)
        for index, term in enumerate(self.payment_terms):
            field = f"terms.payment_terms.{index}"
            if not term.percent.is_finite() or term.percent <= 0:
                problem(f"{field}.percent", "must be a positive percentage")
            if term.percent.is_finite():
                total += term.percent
            if term.due_days < 0:
                problem(f"{field}.due_days", "must be zero or more days")
            if term.trigger is PaymentTrigger.SIGNING and term.milestone is not None:
                problem(f"{field}.milestone", "a payment due on signing names no milestone")
            if term.trigger is PaymentTrigger.MILESTONE and term.milestone not in names:
                problem(f"{field}.milestone", "a payment due on a milestone must name one of the milestones")
        if self.payment_terms and total != Decimal(100):
            problem("terms.payment_terms", f"the percentages must sum to exactly 100, not {total}")
        return found

    def _line_item_problems(self, problem) -> None:  # noqa: ANN001 - the collector of problems()
        lines_found = line_problems(self.line_items, value=self.value, milestones={m.name for m in self.milestones},
                                    field="terms.line_items")
        for found in lines_found:
            problem(found["field"], found["message"])
        percents = [t.percent for t in self.payment_terms]
        if lines_found or self.value is None or self.value.amount <= 0 or not percents or sum(percents) != 100 \
                or any(not p.is_finite() or p <= 0 for p in percents):
            return  # the lines or the instalments are not sound yet; their own problems say why
        amounts = self.value.split(percents)
        instalments = [Instalment(t.name, amount, t.milestone if t.trigger is PaymentTrigger.MILESTONE else None)
                       for t, amount in zip(self.payment_terms, amounts, strict=True)]
        for found in milestone_problems(self.line_items, instalments, field="terms.line_items"):
            problem(found["field"], found["message"])

    def to_payload(self) -> CommercialTermsPayload:
        """The shape the contracts service builds the contract and billing plan from."""
        assert self.value is not None, "only complete terms are handed over"
        return CommercialTermsPayload(
            value=MoneyPayload.of(self.value),
            lines=[LinePayload.of(line) for line in self.line_items],
            payment_terms=[PaymentTermPayload(name=t.name, percent=t.percent, trigger=t.trigger.value,
                                              milestone=t.milestone, due_days=t.due_days)
                           for t in self.payment_terms],
            milestones=[MilestonePayload(name=m.name, planned_date=m.planned_date,
                                         acceptance_type=m.acceptance_type.value)
                        for m in self.milestones],
        )
