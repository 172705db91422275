"""Events published by the opportunities service on `ltc.opportunities`."""

from __future__ import annotations

from datetime import date, datetime
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from ltc.shared.messages.base import DecimalStr, EventPayload, LinePayload, MoneyPayload


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
    value: MoneyPayload  # net of VAT
    payment_terms: list[PaymentTermPayload]
    milestones: list[MilestonePayload]
    # What is sold, line by line, adding up to the value (left empty by events from before lines
    # travelled: the contract then bills the value as one line).
    lines: list[LinePayload] = Field(default_factory=list)


class GateApprovalPayload(BaseModel):
    """The decision that approved a gate: who, at which tier, when."""

    decision_id: UUID
    gate: Literal["ATB", "ATC"]
    tier: Literal["L1", "L2", "L3"]
    decider: str
    decided_at: datetime
    conditions: str | None = None


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
    # The ATC decision the terms were approved by: the contract's authority to be signed.
    # Absent from events raised before it was carried.
    approval: GateApprovalPayload | None = None


class OpportunityLost(_OpportunityEvent):
    event_type: ClassVar[str] = "opportunity.lost"
    reason: str
    competitor: str | None
    lost_at: datetime


class OpportunityStageChanged(_OpportunityEvent):
    event_type: ClassVar[str] = "opportunity.stage_changed"
    from_stage: str
    to_stage: str
    probability: DecimalStr  # the stage's win probability in percent, for the weighted pipeline
    changed_by: str
    changed_at: datetime


class OpportunityDecisionMade(_OpportunityEvent):
    """A gate decision (ATB approve-to-bid, ATC approve-to-contract) by a decision tier."""

    event_type: ClassVar[str] = "opportunity.decision_made"
    decision_id: UUID
    gate: Literal["ATB", "ATC"]
    tier: Literal["L1", "L2", "L3"]
    outcome: Literal["approved", "rejected", "sent_back", "escalated"]
    decider: str
    conditions: str | None = None
    comment: str | None = None
    decided_at: datetime


class RequirementRaised(_OpportunityEvent):
    """A customer requirement we cannot meet today: the hand-off to product development (IPD)."""

    event_type: ClassVar[str] = "requirement.raised"
    requirement_id: UUID
    title: str
    description: str
    priority: Literal["low", "medium", "high", "critical"]
    raised_by: str
    raised_at: datetime
