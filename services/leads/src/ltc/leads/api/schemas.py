"""Request and response bodies, named by role (`LeadCreate`, `LeadRead`, ...)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

from ltc.leads.domain.model import Channel, Criterion, Grade, Tier
from ltc.shared.messages import MoneyPayload
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Text300 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AccountCreate(_Strict):
    name: Text300
    industry: Annotated[str, StringConstraints(max_length=120)] | None = None


class AccountRead(BaseModel):
    id: UUID
    name: str
    industry: str | None
    owner: str
    created_at: datetime
    version: int


class LeadCreate(_Strict):
    account_id: UUID
    title: Text300
    need: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)] = Field(
        description="the customer pain or need this lead points at")
    channel: Channel
    tier: Tier = Tier.NORMAL


class EvidenceIn(_Strict):
    criterion: Criterion
    source: Text300 = Field(description="where it was learned (meeting, document, third party)")
    who: Text300 = Field(description="who said it")
    when: date


class GradeRequest(_Strict):
    to: Literal["credible", "opportunity"]
    evidence: list[EvidenceIn] = Field(default_factory=list, description="for `credible`: one per lead criterion at least")
    budget: MoneyPayload | None = Field(default=None, description="for `opportunity`: the explicit budget")
    start_date: date | None = Field(default=None, description="for `opportunity`: the explicit start time")


class DisqualifyRequest(_Strict):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class LeadRead(BaseModel):
    id: UUID
    account_id: UUID
    title: str
    need: str
    channel: Channel
    self_generated: bool
    tier: Tier
    owner: str
    grade: Grade
    evidence: list[dict]
    grade_history: list[dict]
    budget: MoneyPayload | None
    start_date: date | None
    disqualified_reason: str | None
    outcome: str
    converted_at: datetime | None
    opportunity_id: UUID | None
    won_at: datetime | None
    contract_id: UUID | None
    cash_collected_on: date | None
    created_at: datetime
    version: int

    @classmethod
    def of(cls, lead: object) -> LeadRead:
        budget = getattr(lead, "budget")
        data = {name: getattr(lead, name) for name in cls.model_fields if name != "budget"}
        return cls(**data, budget=MoneyPayload.of(budget) if budget else None)
