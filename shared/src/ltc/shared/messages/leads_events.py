"""Events published by the leads service on `ltc.leads`."""

from __future__ import annotations

from datetime import date, datetime
from typing import ClassVar
from uuid import UUID

from pydantic import BaseModel, Field

from ltc.shared.messages.base import EventPayload, MoneyPayload


class AccountSnapshot(BaseModel):
    """The customer as the leads service knew it at conversion."""

    account_id: UUID
    name: str
    industry: str | None = None
    tier: str
    region: str | None = None
    owner: str | None = None


class ContactSnapshot(BaseModel):
    """A customer person involved in the lead, for the opportunity's power map."""

    contact_id: UUID
    name: str
    title: str | None = None
    decision_role: str | None = None
    kpis: list[str] = Field(default_factory=list)
    pains: list[str] = Field(default_factory=list)
    communication_style: str | None = None
    relationship_strength: int = Field(ge=0, le=100, description="0-100, from the trust formula")


class PainPointSnapshot(BaseModel):
    pain_id: UUID
    description: str
    status: str  # discovered | acknowledged | value_agreed
    contact_id: UUID | None = None


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
    owner: str = Field(description="the owning account manager; empty while the lead waits unassigned in the pool")
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
    account: AccountSnapshot | None = None
    contacts: list[ContactSnapshot] = Field(default_factory=list)
    pains: list[PainPointSnapshot] = Field(default_factory=list)
    score: int | None = Field(default=None, ge=0, le=100, description="the lead score at conversion")


class LeadDisqualified(_LeadEvent):
    event_type: ClassVar[str] = "lead.disqualified"
    reason: str
    disqualified_by: str
    disqualified_at: datetime


class BillingAddressSnapshot(BaseModel):
    line1: str
    line2: str | None = None
    postal_code: str | None = None
    city: str
    country: str = Field(pattern="^[A-Z]{2}$", description="ISO 3166-1 alpha-2")


class BillingIdentitySnapshot(BaseModel):
    """What an invoice needs to name the customer: finance keeps its own copy and snapshots it as the
    bill-to of each invoice it issues."""

    legal_name: str
    registration_id: str | None = None
    tax_id: str | None = Field(default=None, description="the VAT id, checked for its country where python-stdnum "
                                                          "knows one")
    address: BillingAddressSnapshot
    contact_name: str | None = None
    contact_email: str | None = None
    erp_customer_id: str | None = Field(default=None, description="the customer's id in the ERP")
    buyer_reference: str | None = Field(default=None, description="the buyer reference / PO number the customer "
                                                                  "requires on its invoices")


class _AccountEvent(EventPayload):
    topic: ClassVar[str] = "ltc.leads"
    subject_field: ClassVar[str] = "account_id"
    account_id: UUID
    name: str
    owner: str
    billing: BillingIdentitySnapshot | None = None


class AccountCreated(_AccountEvent):
    event_type: ClassVar[str] = "account.created"
    created_at: datetime


class AccountUpdated(_AccountEvent):
    """The account as it is after a change (the whole of it, not the difference): a consumer replaces
    its copy. `changed` names the fields the change touched."""

    event_type: ClassVar[str] = "account.updated"
    changed: list[str] = Field(default_factory=list)
    updated_at: datetime
