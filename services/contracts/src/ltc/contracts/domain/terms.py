"""A version of a contract's terms, and the schedule in money they make.

The same rules hold whoever writes the terms (a won opportunity's ATC, a drafter, an amendment):
they must be usable (`terms_problems`), and they are planned in money against what has already
happened on the contract, so what is triggered or accepted stays as it happened.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Any

from ltc.contracts.domain.values import (
    TERMS_INCONSISTENT,
    AcceptanceType,
    AgreedMilestone,
    LegalTerms,
    LineItem,
    Milestone,
    PaymentTerm,
    Trigger,
    line_from_json,
    line_to_json,
    terms_problems,
)
from ltc.shared.lines import Instalment, milestone_problems
from ltc.shared.money import Money, MoneyAttribute
from ltc.shared.rules import RuleViolation

__all__ = ["TERMS_INCONSISTENT", "Terms", "is_triggered", "plan", "refuse_unusable"]


@dataclass(frozen=True)
class Terms:
    """A complete set of terms: what a version of the contract says."""

    title: str
    value_amount: Decimal
    currency: str
    line_items: tuple[LineItem, ...]
    payment_terms: tuple[PaymentTerm, ...]
    milestones: tuple[AgreedMilestone, ...]
    legal_terms: LegalTerms

    value = MoneyAttribute("value_amount")

    def changed(self, *, title: str | None = None, value: Money | None = None,
                line_items: list[LineItem] | None = None, payment_terms: list[PaymentTerm] | None = None,
                milestones: list[AgreedMilestone] | None = None, legal_terms: LegalTerms | None = None) -> Terms:
        """These terms with the parts given replaced (None keeps a part), instalments as agreed."""
        return Terms(
            title=self.title if title is None else title,
            value_amount=self.value_amount if value is None else value.amount,
            currency=self.currency if value is None else value.currency,
            line_items=self.line_items if line_items is None else tuple(line_items),
            payment_terms=tuple(t.agreed() for t in (self.payment_terms if payment_terms is None else payment_terms)),
            milestones=self.milestones if milestones is None else tuple(milestones),
            legal_terms=self.legal_terms if legal_terms is None else legal_terms,
        )

    def to_json(self) -> dict[str, Any]:
        return {"title": self.title, "value": {"amount": str(self.value_amount), "currency": self.currency},
                "line_items": [line_to_json(i) for i in self.line_items],
                "payment_terms": [t.to_json() for t in self.payment_terms],
                "milestones": [{"name": m.name, "planned_date": m.planned_date.isoformat(),
                                "acceptance_type": m.acceptance_type.value, "owner": m.owner}
                               for m in self.milestones],
                "legal_terms": self.legal_terms.to_json()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Terms:
        currency = data["value"]["currency"]
        return cls(title=data["title"], value_amount=Decimal(data["value"]["amount"]), currency=currency,
                   line_items=tuple(line_from_json(item, index=index, currency=currency)
                                    for index, item in enumerate(data["line_items"])),
                   payment_terms=tuple(PaymentTerm.from_json(t) for t in data["payment_terms"]),
                   milestones=tuple(AgreedMilestone(m["name"], date.fromisoformat(m["planned_date"]),
                                                    AcceptanceType(m["acceptance_type"]), m.get("owner"))
                                    for m in data["milestones"]),
                   legal_terms=LegalTerms.from_json(data["legal_terms"]))


def refuse_unusable(terms: Terms) -> None:
    problems = terms_problems(terms.value, list(terms.line_items), list(terms.payment_terms), list(terms.milestones),
                              terms.legal_terms)
    if problems:
        raise RuleViolation(TERMS_INCONSISTENT,
                            "the terms cannot make a contract: " + "; ".join(p["message"] for p in problems),
                            errors=problems)


def is_triggered(term: PaymentTerm, milestones: list[Milestone], today: date) -> bool:
    """Whether the instalment's trigger has happened on a signed contract: it may be invoiced."""
    if term.trigger is Trigger.SIGNING:
        return True
    if term.trigger is Trigger.MILESTONE:
        return any(m.name == term.milestone and m.accepted for m in milestones)
    assert term.due_date is not None
    return term.due_date <= today


def plan(terms: Terms, *, signed: bool, milestones: list[Milestone], payment_terms: list[PaymentTerm],
         today: date | None) -> tuple[list[Milestone], list[PaymentTerm]]:
    """The milestones and the schedule in money that `terms` make of the current ones.

    Milestones keep their ids by name. On a signed contract (`today` given) what has happened
    stays as it happened: accepted milestones and triggered instalments are carried over
    unchanged, and only what is not yet triggered shares the rest of the value.
    """
    value = terms.value
    current = {m.name: m for m in milestones}
    planned_milestones = []
    for agreed in terms.milestones:
        existing = current.get(agreed.name)
        if existing is None:
            planned_milestones.append(Milestone(milestone_id=uuid.uuid4(), name=agreed.name,
                                                planned_date=agreed.planned_date,
                                                acceptance_type=agreed.acceptance_type, owner=agreed.owner))
        elif existing.accepted and existing.as_agreed() != agreed:
            raise RuleViolation("accepted-milestone-changed",
                                f"milestone {agreed.name!r} is accepted; its terms can no longer change")
        else:
            planned_milestones.append(replace(existing, planned_date=agreed.planned_date,
                                              acceptance_type=agreed.acceptance_type, owner=agreed.owner))
    kept = {m.name for m in planned_milestones}
    for name, milestone in current.items():
        if milestone.accepted and name not in kept:
            raise RuleViolation("accepted-milestone-changed", f"milestone {name!r} is accepted; it stays")

    proposed = {t.name: t for t in terms.payment_terms}
    fixed: dict[str, PaymentTerm] = {}
    if signed and today is not None:
        for term in payment_terms:
            if not is_triggered(term, milestones, today):
                continue
            if term.name not in proposed or proposed[term.name].agreed() != term.agreed():
                raise RuleViolation("triggered-instalment-changed",
                                    f"instalment {term.name!r} has been triggered and may be invoiced; "
                                    "it is carried over unchanged")
            fixed[term.name] = term
    open_terms = [t for t in terms.payment_terms if t.name not in fixed]
    if signed and today is not None:
        passed = [t.name for t in open_terms if is_triggered(t, planned_milestones, today)]
        if passed:
            raise RuleViolation("instalment-trigger-passed",
                                f"instalments {passed} would be triggered by something that already happened")
    rest = value - sum((Money(t.amount or Decimal(0), value.currency) for t in fixed.values()),
                       Money.zero(value.currency))
    amounts = rest.allocate([t.percent for t in open_terms]) if open_terms else []
    if any(a.amount <= 0 for a in amounts) or (not open_terms and not rest.is_zero()):
        raise RuleViolation("amendment-value-already-invoiced",
                            f"{value.amount} {value.currency} cannot be scheduled: the triggered instalments "
                            f"already come to {(value - rest).amount}")
    planned = {t.name: replace(t.agreed(), amount=a.amount) for t, a in zip(open_terms, amounts, strict=True)}
    planned.update(fixed)
    schedule = [planned[t.name] for t in terms.payment_terms]
    _refuse_unbilled_milestone_lines(terms, schedule)
    return planned_milestones, percents_of_amounts(schedule, value) if fixed else schedule


def _refuse_unbilled_milestone_lines(terms: Terms, schedule: list[PaymentTerm]) -> None:
    """A line delivered with a milestone is invoiced, whole, by that milestone's instalments: checked
    on the amounts just planned, which after an amendment are not the percentages of the value
    (triggered instalments keep theirs)."""
    if not terms.line_items:
        return
    instalments = [Instalment(t.name, Money(t.amount or Decimal(0), terms.currency),
                              t.milestone if t.trigger is Trigger.MILESTONE else None) for t in schedule]
    problems = milestone_problems(terms.line_items, instalments, field="line_items")
    if problems:
        raise RuleViolation(TERMS_INCONSISTENT,
                            "the terms cannot make a contract: " + "; ".join(p["message"] for p in problems),
                            errors=problems)


PERCENT_QUANTUM = Decimal("0.0001")


def percents_of_amounts(schedule: list[PaymentTerm], value: Money) -> list[PaymentTerm]:
    """Once triggered instalments keep their amounts, the amounts are the plan: each percentage is
    re-derived from its amount, so percentage and amount always describe the same schedule.

    The rule: amount ÷ value × 100, rounded half-even to four decimal places, the last instalment
    taking what rounding leaves so that the percentages still add up to exactly 100.
    """
    percents = [(t.amount or Decimal(0)) * 100 / value.amount for t in schedule[:-1]]
    rounded = [p.quantize(PERCENT_QUANTUM) for p in percents]
    rounded.append(Decimal(100) - sum(rounded, Decimal(0)))
    if any(p <= 0 for p in rounded):
        raise RuleViolation("instalment-too-small",
                            f"an instalment would be less than {PERCENT_QUANTUM} % of {value.amount} {value.currency}")
    return [replace(t, percent=p) for t, p in zip(schedule, rounded, strict=True)]
