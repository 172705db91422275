"""Request and response bodies, named by role (`OpportunityCreate`, `OpportunityRead`, ...)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated
from uuid import UUID

from ltc.opportunities.domain.model import (
    AcceptanceType,
    CommercialTerms,
    Milestone,
    Opportunity,
    PaymentTerm,
    PaymentTrigger,
    Stage,
)
from ltc.shared.messages import Lineage, MoneyPayload
from ltc.shared.messages.base import DecimalStr
from ltc.shared.messages.opportunities_events import CommercialTermsPayload
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Text300 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OpportunityCreate(_Strict):
    title: Text300
    account_name: Text300
    account_id: UUID | None = Field(default=None, description="the account in the leads service, when known")
    need: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)] = Field(
        description="the customer need or pain the opportunity answers")
    budget: MoneyPayload | None = None
    start_date: date | None = None


class PaymentTermIn(_Strict):
    name: Text300
    percent: DecimalStr = Field(description='share of the contract value, a decimal string such as "30"')
    trigger: PaymentTrigger
    milestone: Text300 | None = Field(default=None, description="for trigger `milestone`: the milestone's name")
    due_days: int = Field(description="days after the trigger until payment is due")


class MilestoneIn(_Strict):
    name: Text300
    planned_date: date
    acceptance_type: AcceptanceType


class CommercialTermsIn(_Strict):
    """The agreed terms; the service checks that they are sound enough to contract on."""

    value: MoneyPayload
    payment_terms: list[PaymentTermIn]
    milestones: list[MilestoneIn] = Field(default_factory=list)

    def to_terms(self) -> CommercialTerms:
        return CommercialTerms(
            value=self.value.to_money(),
            payment_terms=tuple(PaymentTerm(t.name, t.percent, t.trigger, t.milestone, t.due_days)
                                for t in self.payment_terms),
            milestones=tuple(Milestone(m.name, m.planned_date, m.acceptance_type) for m in self.milestones),
        )


class LoseRequest(_Strict):
    reason: Reason
    competitor: Text300 | None = Field(default=None, description="who won instead, when known")


class AbandonRequest(_Strict):
    reason: Reason


class OpportunityRead(BaseModel):
    id: UUID
    lead_id: UUID | None
    account_id: UUID | None
    account_name: str
    title: str
    need: str
    budget: MoneyPayload | None
    start_date: date | None
    owner: str
    stage: Stage
    terms: CommercialTermsPayload | None
    closed_reason: str | None
    competitor: str | None
    closed_by: str | None
    closed_at: datetime | None
    lineage: Lineage
    created_at: datetime
    version: int

    @classmethod
    def of(cls, opportunity: Opportunity) -> OpportunityRead:
        derived = {"budget", "terms", "lineage"}
        data = {name: getattr(opportunity, name) for name in cls.model_fields if name not in derived}
        budget = opportunity.budget
        return cls(**data, budget=MoneyPayload.of(budget) if budget else None,
                   terms=opportunity.commercial_terms, lineage=opportunity.lineage())
