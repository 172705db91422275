"""Events published by the opportunities service on `ltc.opportunities`."""

from __future__ import annotations

from datetime import date, datetime
from typing import ClassVar, Literal
from uuid import UUID

from ltc.shared.messages.base import DecimalStr, EventPayload, MoneyPayload
from pydantic import BaseModel


class PaymentTermPayload(BaseModel):
    name: str
    percent: DecimalStr
    trigger: Literal["signing", "milestone"]
    milestone: str | None = None
    due_days: int


class MilestonePayload(BaseModel):
    name: str
    planned_date: date
    acceptance_type: Literal["preliminary", "final"]


class CommercialTermsPayload(BaseModel):
    value: MoneyPayload
    payment_terms: list[PaymentTermPayload]
    milestones: list[MilestonePayload]


class _OpportunityEvent(EventPayload):
    topic: ClassVar[str] = "ltc.opportunities"
    subject_field: ClassVar[str] = "opportunity_id"
    opportunity_id: UUID


class OpportunityCreated(_OpportunityEvent):
    event_type: ClassVar[str] = "opportunity.created"
    lead_id: UUID | None
    account_id: UUID | None
    title: str
    budget: MoneyPayload | None
    owner: str
    created_at: datetime


class OpportunityWon(_OpportunityEvent):
    event_type: ClassVar[str] = "opportunity.won"
    account_id: UUID | None
    account_name: str
    title: str
    owner: str
    terms: CommercialTermsPayload
    won_at: datetime


class OpportunityLost(_OpportunityEvent):
    event_type: ClassVar[str] = "opportunity.lost"
    reason: str
    competitor: str | None
    lost_at: datetime
