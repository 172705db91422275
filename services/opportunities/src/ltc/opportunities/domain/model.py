"""Opportunities and their outcome, section 2 of the LTC domain (the thin version).

An opportunity opens in `validating`, from a converted lead or directly (e.g. a tender). It is
won with agreed commercial terms, which the service checks itself, or lost or abandoned with a
reason. `won`, `lost` and `abandoned` are terminal. The decision gates (ATB, ATC) come later.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from ltc.shared.errors import DomainError, RuleViolation
from ltc.shared.messages import EventPayload, Lineage, MoneyPayload
from ltc.shared.messages.opportunities_events import (
    CommercialTermsPayload,
    MilestonePayload,
    OpportunityCreated,
    OpportunityLost,
    OpportunityWon,
    PaymentTermPayload,
)
from ltc.shared.money import Money


class Stage(StrEnum):
    VALIDATING = "validating"
    STRATEGIZING = "strategizing"
    BIDDING = "bidding"
    NEGOTIATING = "negotiating"
    WON = "won"
    LOST = "lost"
    ABANDONED = "abandoned"


CLOSED_STAGES = frozenset({Stage.WON, Stage.LOST, Stage.ABANDONED})


class PaymentTrigger(StrEnum):
    SIGNING = "signing"
    MILESTONE = "milestone"


class AcceptanceType(StrEnum):
    PRELIMINARY = "preliminary"
    FINAL = "final"


@dataclass(frozen=True)
class PaymentTerm:
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


@dataclass(frozen=True)
class CommercialTerms:
    """What was agreed with the customer; the contract and the billing plan are built from it."""

    value: Money
    payment_terms: tuple[PaymentTerm, ...]
    milestones: tuple[Milestone, ...]

    def problems(self) -> list[dict[str, str]]:
        """Every reason these terms cannot be a contract's basis, each naming its field."""
        found: list[dict[str, str]] = []

        def problem(field: str, message: str) -> None:
            found.append({"field": field, "message": message})

        if self.value.amount <= 0:
            problem("value.amount", "the contract value must be positive")
        names = Counter(m.name for m in self.milestones)
        for index, milestone in enumerate(self.milestones):
            if names[milestone.name] > 1:
                problem(f"milestones.{index}.name", f"milestone name {milestone.name!r} is used more than once")
        if not self.payment_terms:
            problem("payment_terms", "at least one payment term is needed")
        total = Decimal(0)
        for index, term in enumerate(self.payment_terms):
            field = f"payment_terms.{index}"
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
            problem("payment_terms", f"the percentages must sum to exactly 100, not {total}")
        return found

    def to_payload(self) -> CommercialTermsPayload:
        return CommercialTermsPayload(
            value=MoneyPayload.of(self.value),
            payment_terms=[PaymentTermPayload(name=t.name, percent=t.percent, trigger=t.trigger.value,
                                              milestone=t.milestone, due_days=t.due_days)
                           for t in self.payment_terms],
            milestones=[MilestonePayload(name=m.name, planned_date=m.planned_date,
                                         acceptance_type=m.acceptance_type.value)
                        for m in self.milestones],
        )


class Opportunity:
    events: list[EventPayload]

    def __init__(self, *, id: uuid.UUID, lead_id: uuid.UUID | None, account_id: uuid.UUID | None,
                 account_name: str, title: str, need: str, budget: Money | None, start_date: date | None,
                 owner: str, now: datetime) -> None:
        if budget is not None and budget.amount <= 0:
            raise RuleViolation("budget-not-positive", "a budget, when given, must be a positive amount",
                                errors=[{"field": "budget.amount", "message": "must be positive"}])
        self.id = id
        self.lead_id = lead_id
        self.account_id = account_id
        self.account_name = account_name
        self.title = title
        self.need = need
        self.budget_amount = budget.amount if budget else None
        self.budget_currency = budget.currency if budget else None
        self.start_date = start_date
        self.owner = owner
        self.stage = Stage.VALIDATING
        self.commercial_terms: dict[str, Any] | None = None
        self.closed_reason: str | None = None
        self.competitor: str | None = None
        self.closed_by: str | None = None
        self.closed_at: datetime | None = None
        self.created_at = now
        self.events = [
            OpportunityCreated(lineage=self.lineage(), opportunity_id=id, lead_id=lead_id, account_id=account_id,
                               title=title, budget=MoneyPayload.of(budget) if budget else None, owner=owner,
                               created_at=now)
        ]

    def lineage(self) -> Lineage:
        return Lineage(lead_id=self.lead_id, opportunity_id=self.id)

    @property
    def budget(self) -> Money | None:
        if self.budget_amount is None or self.budget_currency is None:
            return None
        return Money(self.budget_amount, self.budget_currency)

    @property
    def is_closed(self) -> bool:
        return self.stage in CLOSED_STAGES

    def _require_open(self) -> None:
        if self.is_closed:
            raise DomainError("opportunity-closed", f"the opportunity is {self.stage.value}; it can no longer change")

    def _close(self, stage: Stage, *, reason: str | None, by: str, now: datetime) -> None:
        self.stage = stage
        self.closed_reason = reason
        self.closed_by = by
        self.closed_at = now

    @staticmethod
    def _required_reason(reason: str) -> str:
        if not reason.strip():
            raise RuleViolation("close-reason-required", "a lost or abandoned opportunity needs a reason",
                                errors=[{"field": "reason", "message": "must not be empty"}])
        return reason.strip()

    def win(self, terms: CommercialTerms, *, by: str, now: datetime) -> None:
        """Won with the agreed commercial terms, which must be sound enough to contract on."""
        self._require_open()
        problems = terms.problems()
        if problems:
            raise RuleViolation("commercial-terms-invalid",
                                "the commercial terms are not valid: " + "; ".join(
                                    f"{p['field']}: {p['message']}" for p in problems),
                                errors=problems)
        payload = terms.to_payload()
        self.commercial_terms = payload.model_dump(mode="json")
        self._close(Stage.WON, reason=None, by=by, now=now)
        self.events.append(OpportunityWon(
            lineage=self.lineage(), opportunity_id=self.id, account_id=self.account_id,
            account_name=self.account_name, title=self.title, owner=self.owner, terms=payload, won_at=now,
        ))

    def lose(self, *, reason: str, competitor: str | None, by: str, now: datetime) -> None:
        self._require_open()
        reason = self._required_reason(reason)
        self.competitor = competitor.strip() if competitor and competitor.strip() else None
        self._close(Stage.LOST, reason=reason, by=by, now=now)
        self.events.append(OpportunityLost(lineage=self.lineage(), opportunity_id=self.id, reason=reason,
                                           competitor=self.competitor, lost_at=now))

    def abandon(self, *, reason: str, by: str, now: datetime) -> None:
        """We walk away; no later stage listens for this, so it is recorded state only."""
        self._require_open()
        self._close(Stage.ABANDONED, reason=self._required_reason(reason), by=by, now=now)
