"""Accounts and leads, and the grading rules of section 1 of the LTC domain.

A lead is graded one step at a time by cross-checked evidence: `initial` → `credible` needs the
three lead criteria, `credible` → `opportunity` also needs an explicit budget and start date.
Only an `opportunity`-grade lead converts; `converted` and `disqualified` are terminal.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from ltc.shared.errors import DomainError, RuleViolation
from ltc.shared.messages import EventPayload, Lineage, MoneyPayload
from ltc.shared.messages.leads_events import LeadConverted, LeadCreated, LeadDisqualified, LeadGraded
from ltc.shared.money import Money


class Grade(StrEnum):
    INITIAL = "initial"
    CREDIBLE = "credible"
    OPPORTUNITY = "opportunity"
    CONVERTED = "converted"
    DISQUALIFIED = "disqualified"


class Tier(StrEnum):
    STRATEGIC = "strategic"
    KEY = "key"
    NORMAL = "normal"


class Channel(StrEnum):
    TENDER = "tender"
    INBOUND_REQUEST = "inbound_request"
    COMPANY_BRIEFING = "company_briefing"
    TECHNICAL_EXCHANGE = "technical_exchange"
    HEADQUARTERS_VISIT = "headquarters_visit"
    REFERENCE_SITE_VISIT = "reference_site_visit"
    EXHIBITION_SEMINAR = "exhibition_seminar"
    EXECUTIVE_VISIT = "executive_visit"
    ROUTINE_VISIT = "routine_visit"


# Tenders and inbound requests reach us; every other channel is a lead we made ourselves,
# before any tender — the valuable kind.
PASSIVE_CHANNELS = frozenset({Channel.TENDER, Channel.INBOUND_REQUEST})


class Criterion(StrEnum):
    CUSTOMER_IDENTIFIED = "customer_identified"
    PURCHASE_INTENT = "purchase_intent"
    MATCHING_SOLUTION = "matching_solution"


@dataclass(frozen=True)
class Evidence:
    criterion: Criterion
    source: str
    who: str
    when: date

    def to_json(self) -> dict[str, str]:
        return {"criterion": self.criterion.value, "source": self.source, "who": self.who, "when": self.when.isoformat()}


class Account:
    def __init__(self, *, id: uuid.UUID, name: str, industry: str | None, owner: str, created_at: datetime) -> None:
        self.id = id
        self.name = name
        self.industry = industry
        self.owner = owner
        self.created_at = created_at


class Lead:
    events: list[EventPayload]

    def __init__(self, *, id: uuid.UUID, account: Account, title: str, need: str, channel: Channel,
                 tier: Tier, owner: str, now: datetime) -> None:
        self.id = id
        self.account_id = account.id
        self.title = title
        self.need = need
        self.channel = channel
        self.self_generated = channel not in PASSIVE_CHANNELS
        self.tier = tier
        self.owner = owner
        self.grade = Grade.INITIAL
        self.evidence: list[dict[str, str]] = []
        self.grade_history: list[dict[str, Any]] = []
        self.budget_amount = None
        self.budget_currency: str | None = None
        self.start_date: date | None = None
        self.disqualified_reason: str | None = None
        self.converted_at: datetime | None = None
        self.opportunity_id: uuid.UUID | None = None
        self.won_at: datetime | None = None
        self.contract_id: uuid.UUID | None = None
        self.cash_collected_on: date | None = None
        self.created_at = now
        self.events = [
            LeadCreated(lineage=self.lineage(), lead_id=id, account_id=account.id, title=title,
                        channel=channel.value, self_generated=self.self_generated, tier=tier.value,
                        owner=owner, created_at=now)
        ]

    def lineage(self) -> Lineage:
        return Lineage(lead_id=self.id, opportunity_id=self.opportunity_id, contract_id=self.contract_id)

    @property
    def budget(self) -> Money | None:
        if self.budget_amount is None or self.budget_currency is None:
            return None
        return Money(self.budget_amount, self.budget_currency)

    def _require_open(self) -> None:
        if self.grade in (Grade.CONVERTED, Grade.DISQUALIFIED):
            raise DomainError("lead-closed", f"the lead is {self.grade.value}; it can no longer change")

    def _move(self, to: Grade, by: str, now: datetime, **details: Any) -> None:
        previous = self.grade
        self.grade = to
        self.grade_history = [*self.grade_history,
                              {"from": previous.value, "to": to.value, "by": by, "at": now.isoformat(), **details}]
        self.events.append(LeadGraded(lineage=self.lineage(), lead_id=self.id, from_grade=previous.value,
                                      to_grade=to.value, graded_by=by, graded_at=now))

    def grade_credible(self, evidence: list[Evidence], *, by: str, now: datetime) -> None:
        """`initial` → `credible`: every lead criterion needs at least one independent source."""
        self._require_open()
        if self.grade is not Grade.INITIAL:
            raise DomainError("grade-one-step", f"only an initial lead can become credible; this one is {self.grade.value}")
        unmet = [c for c in Criterion if not any(e.criterion is c for e in evidence)]
        if unmet:
            raise RuleViolation(
                "lead-criteria-unmet",
                "these lead criteria have no evidence: " + ", ".join(c.value for c in unmet),
                errors=[{"criterion": c.value, "message": "needs evidence (source, who, when)"} for c in unmet],
            )
        self.evidence = [*self.evidence, *(e.to_json() for e in evidence)]
        self._move(Grade.CREDIBLE, by, now, evidence=[e.to_json() for e in evidence])

    def grade_opportunity(self, *, budget: Money | None, start_date: date | None, by: str, now: datetime) -> None:
        """`credible` → `opportunity`: an explicit budget and an explicit start date."""
        self._require_open()
        if self.grade is not Grade.CREDIBLE:
            raise DomainError("grade-one-step", f"only a credible lead can become an opportunity lead; this one is {self.grade.value}")
        unmet = []
        if budget is None or budget.amount <= 0:
            unmet.append({"criterion": "explicit_budget", "message": "a positive budget amount and currency"})
        if start_date is None:
            unmet.append({"criterion": "explicit_start_time", "message": "the date the customer intends to start"})
        if unmet:
            raise RuleViolation("opportunity-criteria-unmet",
                                "unmet opportunity criteria: " + ", ".join(u["criterion"] for u in unmet), errors=unmet)
        assert budget is not None
        self.budget_amount, self.budget_currency, self.start_date = budget.amount, budget.currency, start_date
        self._move(Grade.OPPORTUNITY, by, now, budget=budget.to_json(), start_date=start_date.isoformat() if start_date else None)

    def convert(self, *, account: Account, by: str, now: datetime) -> None:
        self._require_open()
        if self.grade is not Grade.OPPORTUNITY:
            raise DomainError("lead-not-opportunity-grade",
                              f"only an opportunity-grade lead converts; this one is {self.grade.value}")
        budget, start_date = self.budget, self.start_date
        assert budget is not None and start_date is not None
        self._move(Grade.CONVERTED, by, now)
        self.converted_at = now
        self.events.append(LeadConverted(
            lineage=self.lineage(), lead_id=self.id, account_id=account.id, account_name=account.name,
            title=self.title, need=self.need, channel=self.channel.value, self_generated=self.self_generated,
            tier=self.tier.value, owner=self.owner, budget=MoneyPayload.of(budget), start_date=start_date,
            converted_at=now,
        ))

    def disqualify(self, *, reason: str, by: str, now: datetime) -> None:
        self._require_open()
        if not reason.strip():
            raise RuleViolation("disqualify-reason-required", "a disqualified lead needs a reason")
        self.disqualified_reason = reason
        self._move(Grade.DISQUALIFIED, by, now, reason=reason)
        self.events.append(LeadDisqualified(lineage=self.lineage(), lead_id=self.id, reason=reason,
                                            disqualified_by=by, disqualified_at=now))

    def record_opportunity(self, *, opportunity_id: uuid.UUID) -> None:
        self.opportunity_id = opportunity_id

    def record_won(self, *, opportunity_id: uuid.UUID, won_at: datetime) -> None:
        """The opportunity this lead became was won: the loop back from the later stages."""
        self.opportunity_id = opportunity_id
        self.won_at = won_at

    def record_cash_collected(self, *, contract_id: uuid.UUID, fully_paid_on: date) -> None:
        self.contract_id = contract_id
        self.cash_collected_on = fully_paid_on

    @property
    def outcome(self) -> str:
        if self.cash_collected_on is not None:
            return "cash_collected"
        if self.won_at is not None:
            return "won"
        if self.grade is Grade.DISQUALIFIED:
            return "disqualified"
        return "converted" if self.grade is Grade.CONVERTED else "open"
