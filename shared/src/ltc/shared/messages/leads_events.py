"""Events published by the leads service on `ltc.leads`."""

from __future__ import annotations

from datetime import date, datetime
from typing import ClassVar
from uuid import UUID

from ltc.shared.messages.base import EventPayload, MoneyPayload


class _LeadEvent(EventPayload):
    topic: ClassVar[str] = "ltc.leads"
    subject_field: ClassVar[str] = "lead_id"
    lead_id: UUID


class LeadCreated(_LeadEvent):
    event_type: ClassVar[str] = "lead.created"
    account_id: UUID
    title: str
    channel: str
    self_generated: bool
    tier: str
    owner: str
    created_at: datetime


class LeadGraded(_LeadEvent):
    event_type: ClassVar[str] = "lead.graded"
    from_grade: str
    to_grade: str
    graded_by: str
    graded_at: datetime


class LeadConverted(_LeadEvent):
    event_type: ClassVar[str] = "lead.converted"
    account_id: UUID
    account_name: str
    title: str
    need: str
    channel: str
    self_generated: bool
    tier: str
    owner: str
    budget: MoneyPayload
    start_date: date
    converted_at: datetime


class LeadDisqualified(_LeadEvent):
    event_type: ClassVar[str] = "lead.disqualified"
    reason: str
    disqualified_by: str
    disqualified_at: datetime
