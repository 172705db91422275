"""Request and response bodies, named by role (`LeadCreate`, `LeadRead`, ...)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from ltc.leads.domain.accounts import HIGHEST_RATING, LOWEST_RATING, NEUTRAL_RATING, DecisionRole, Tier
from ltc.leads.domain.activities import ActivityKind, ActivityStatus
from ltc.leads.domain.history import AuditAction, Audited
from ltc.leads.domain.model import Channel, Criterion, Grade, LeadOutcome, PainStatus
from ltc.leads.domain.relationships import Relationship, trust_formula
from ltc.leads.domain.scoring import LeadScore, ScorePartName, max_score
from ltc.shared.api import Text300, UserId, Versioned
from ltc.shared.messages import MoneyPayload

Text120 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]
Rating = Annotated[int, Field(ge=LOWEST_RATING, le=HIGHEST_RATING)]
RATINGS = f"{LOWEST_RATING}–{HIGHEST_RATING}"
Items = Annotated[list[Text300], Field(max_length=50)]

TRUST_FORMULA = trust_formula()


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# Accounts and contacts


Email = Annotated[str, StringConstraints(strip_whitespace=True, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")]
Id120 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]


class BillingAddressIn(_Strict):
    line1: Text300
    line2: Text300 | None = None
    postal_code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20)] | None = None
    city: Text120
    country: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=2)] = Field(
        description="ISO 3166-1 alpha-2 (any case; answered in upper case); another is a 422 `country-unknown`")


class BillingIdentityIn(_Strict):
    """What an invoice needs to name the customer; sent whole (a PATCH replaces all of it, null clears it)."""

    legal_name: Text300
    registration_id: Id120 | None = Field(default=None, description="the company register number")
    tax_id: Id120 | None = Field(default=None, description=(
        "the VAT id, checked for the country of its EU prefix or else of the billing address where a check is "
        "known for it; a malformed one is a 422 `tax-id-invalid` naming billing.tax_id"))
    address: BillingAddressIn
    contact_name: Text300 | None = None
    contact_email: Email | None = None
    erp_customer_id: Id120 | None = Field(default=None, description="the customer's id in the ERP")
    buyer_reference: Id120 | None = Field(default=None, description=(
        "the buyer reference / PO number the customer requires on its invoices"))


class BillingAddressRead(BaseModel):
    line1: str
    line2: str | None
    postal_code: str | None
    city: str
    country: str


class BillingIdentityRead(BaseModel):
    legal_name: str
    registration_id: str | None
    tax_id: str | None
    address: BillingAddressRead
    contact_name: str | None
    contact_email: str | None
    erp_customer_id: str | None
    buyer_reference: str | None


class AccountCreate(_Strict):
    name: Text300
    industry: Annotated[str, StringConstraints(max_length=120)] | None = None
    tier: Tier = Tier.NORMAL
    region: Text120 | None = None
    website: Text300 | None = None
    notes: LongText | None = None
    billing: BillingIdentityIn | None = Field(default=None, description="the customer's billing identity")


class AccountUpdate(_Strict):
    name: Text300 | None = None
    industry: Text120 | None = None
    tier: Tier | None = None
    region: Text120 | None = None
    website: Text300 | None = None
    notes: LongText | None = None
    owner: UserId | None = Field(default=None, description="reassigning an account is for admins")
    billing: BillingIdentityIn | None = Field(default=None, description=(
        "the whole billing identity, replacing the one before (null clears it)"))


class AccountRead(Versioned):
    id: UUID
    name: str
    industry: str | None
    tier: Tier
    region: str | None
    website: str | None
    notes: str | None
    owner: str
    billing: BillingIdentityRead | None = None
    created_at: datetime
    updated_at: datetime


class ContactCreate(_Strict):
    account_id: UUID
    name: Text300
    title: Text300 | None = None
    decision_role: DecisionRole | None = None
    kpis: Items = Field(default_factory=list, description="the KPIs this person is measured on")
    pains: Items = Field(default_factory=list, description="what hurts this person")
    communication_style: LongText | None = None
    notes: LongText | None = None
    email: Annotated[str, StringConstraints(strip_whitespace=True, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")] | None = None
    phone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=60)] | None = None
    competence_rating: Rating = Field(default=NEUTRAL_RATING,
                                      description=f"{RATINGS}: how the contact rates our expertise")
    reliability_rating: Rating = Field(default=NEUTRAL_RATING,
                                       description=f"{RATINGS}: how the contact rates our keeping of promises")


class ContactUpdate(_Strict):
    name: Text300 | None = None
    title: Text300 | None = None
    decision_role: DecisionRole | None = None
    kpis: Items | None = None
    pains: Items | None = None
    communication_style: LongText | None = None
    notes: LongText | None = None
    email: Annotated[str, StringConstraints(strip_whitespace=True, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")] | None = None
    phone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=60)] | None = None
    competence_rating: Rating | None = None
    reliability_rating: Rating | None = None


class ConnectionRead(BaseModel):
    frequency: Decimal
    breadth: Decimal
    depth: Decimal
    value: Decimal


class RelationshipRead(BaseModel):
    strength: int = Field(description="0–100, the trust formula (see `formula`)")
    competence: Decimal
    reliability: Decimal
    connection: ConnectionRead
    time: Decimal
    activities_counted: int
    formula: str = TRUST_FORMULA

    @classmethod
    def of(cls, r: Relationship) -> RelationshipRead:
        return cls(strength=r.strength, competence=r.competence, reliability=r.reliability,
                   connection=ConnectionRead(frequency=r.frequency, breadth=r.breadth, depth=r.depth,
                                             value=r.connection),
                   time=r.time, activities_counted=r.activities_counted)


class ContactRead(Versioned):
    id: UUID
    account_id: UUID
    name: str
    title: str | None
    decision_role: DecisionRole | None
    kpis: list[str]
    pains: list[str]
    communication_style: str | None
    notes: str | None
    email: str | None
    phone: str | None
    competence_rating: int
    reliability_rating: int
    relationship: RelationshipRead
    created_by: str
    created_at: datetime
    updated_at: datetime


# Leads


class LeadCreate(_Strict):
    account_id: UUID | None = Field(default=None, description="an existing account; or give `account` to create one")
    account: AccountCreate | None = Field(default=None, description="a new account, created with the lead")
    title: Text300
    need: LongText = Field(description="the customer pain or need this lead points at")
    channel: Channel
    tier: Tier = Tier.NORMAL
    owner: UserId | None = Field(default=None, description="defaults to the caller; null leaves the lead unassigned; "
                                                            "only an admin names someone else")
    reported_by: Text300 | None = Field(default=None, description="who brought us the lead: the cross-check needs "
                                                                  "evidence from someone else")
    contact_ids: list[UUID] = Field(default_factory=list, max_length=50)
    confirm_distinct: bool = Field(default=False, description="create it even though the account has an open lead "
                                                              "that looks the same (the 409 lists them)")

    def account_problem(self) -> str | None:
        """Why the account part is wrong, if it is: the route reports it against `account_id`."""
        if (self.account_id is None) == (self.account is None):
            return "give exactly one of account_id (an existing account) or account (a new one)"
        if self.account is not None and self.contact_ids:
            return "a new account has no contacts yet: leave contact_ids empty"
        return None


class LeadUpdate(_Strict):
    title: Text300 | None = None
    need: LongText | None = None
    tier: Tier | None = None
    owner: UserId | None = None
    reported_by: Text300 | None = None
    contact_ids: list[UUID] | None = Field(default=None, max_length=50)


class EvidenceIn(_Strict):
    criterion: Criterion
    source: Text300 = Field(description="where it was learned (meeting, document, third party)")
    who: Text300 = Field(description="who said it; must be someone other than us and the lead's informant")
    when: date
    contact_id: UUID | None = None


class GradeRequest(_Strict):
    to: Literal[Grade.CREDIBLE, Grade.OPPORTUNITY] = Field(description="the next grade: initial → credible → "
                                                                         "opportunity, one step at a time")
    evidence: list[EvidenceIn] = Field(default_factory=list, max_length=100,
                                       description="for `credible`: at least one independent source per lead criterion")
    budget: MoneyPayload | None = Field(default=None, description="for `opportunity`: the explicit budget")
    start_date: date | None = Field(default=None, description="for `opportunity`: the explicit start time")


class DisqualifyRequest(_Strict):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class PainCreate(_Strict):
    description: LongText
    contact_id: UUID | None = Field(default=None, description="the contact who feels it")


class PainAdvance(_Strict):
    to: Literal[PainStatus.ACKNOWLEDGED, PainStatus.VALUE_AGREED] = Field(
        description="the next status: discovered → acknowledged → value_agreed, one step at a time")
    note: LongText | None = None


class ScorePartRead(BaseModel):
    name: ScorePartName
    points: int
    max_points: int
    explanation: str


class LeadScoreRead(BaseModel):
    total: int = Field(ge=0, le=max_score())
    parts: list[ScorePartRead]

    @classmethod
    def of(cls, score: LeadScore) -> LeadScoreRead:
        return cls(total=score.total, parts=[ScorePartRead(**vars(p)) for p in score.parts])


class EvidenceRead(BaseModel):
    criterion: Criterion
    source: str
    who: str
    when: date
    contact_id: UUID | None = None


class GradeChangeRead(BaseModel):
    """One step of the lead's grade, with what justified it: the evidence (to `credible`), the budget
    and start date (to `opportunity`), the reason (to `disqualified`)."""

    model_config = ConfigDict(populate_by_name=True)

    from_: Grade = Field(alias="from")
    to: Grade
    by: str
    at: datetime
    evidence: list[EvidenceRead] | None = None
    budget: MoneyPayload | None = None
    start_date: date | None = None
    reason: str | None = None


class PainStepRead(BaseModel):
    to: PainStatus
    by: str
    at: datetime
    note: str | None


class PainRead(BaseModel):
    id: UUID
    description: str
    contact_id: UUID | None
    status: PainStatus
    created_by: str
    created_at: datetime
    history: list[PainStepRead]


class LeadRead(Versioned):
    id: UUID
    account_id: UUID
    title: str
    need: str
    channel: Channel
    self_generated: bool
    tier: Tier
    owner: str | None
    reported_by: str | None
    contact_ids: list[UUID]
    grade: Grade
    evidence: list[EvidenceRead] = Field(description="the evidence the lead was graded credible on")
    grade_history: list[GradeChangeRead]
    pains: list[PainRead]
    budget: MoneyPayload | None
    start_date: date | None
    disqualified_reason: str | None
    outcome: LeadOutcome = Field(description="open, disqualified or converted by this stage; then won or lost, "
                                             "and cash_collected, as the later stages report")
    converted_at: datetime | None
    opportunity_id: UUID | None
    won_at: datetime | None
    lost_at: datetime | None
    lost_reason: str | None
    contract_id: UUID | None
    cash_collected_on: date | None
    cash_collected: MoneyPayload | None
    score: LeadScoreRead
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, lead: object, score: LeadScore) -> LeadRead:
        budget = getattr(lead, "budget")
        collected = getattr(lead, "cash_collected")
        data = {name: getattr(lead, name) for name in cls.model_fields
                if name not in ("budget", "cash_collected", "score")}
        return cls(**data, budget=MoneyPayload.of(budget) if budget else None,
                   cash_collected=MoneyPayload.of(collected) if collected else None, score=LeadScoreRead.of(score))


class HistoryEntryRead(BaseModel):
    id: UUID
    entity: Audited
    entity_id: UUID
    action: AuditAction
    actor: str = Field(description="the user who did it, or `event:<type>` for what a later stage reported")
    at: datetime
    changes: dict[str, Any] = Field(description="what the action changed or recorded; for an edit, each field's "
                                                "`from` and `to`")

    @classmethod
    def of(cls, entry: Any) -> HistoryEntryRead:
        """From a row of the shared audit trail (`ltc.shared.db.audit_trail`)."""
        return cls(id=entry.id, entity=entry.object_type, entity_id=entry.object_id, action=entry.action,
                   actor=entry.actor, at=entry.at, changes=entry.changes)


# Activities


class QuestionAnswer(_Strict):
    question: LongText
    answer: LongText | None = None


class VisitPlan(_Strict):
    """Thought through before meeting the customer: why, what for, who, how, with what."""

    background: LongText | None = Field(default=None, description="industry, company, partners, people, "
                                                                  "project status, relationship so far")
    objectives: Items = Field(default_factory=list)
    our_attendees: Items = Field(default_factory=list)
    customer_attendees: Items = Field(default_factory=list)
    agenda: Items = Field(default_factory=list)
    materials: Items = Field(default_factory=list)
    anticipated_questions: list[QuestionAnswer] = Field(default_factory=list, max_length=50)
    commitments_sought: Items = Field(default_factory=list)


class SpinNotes(_Strict):
    situation: LongText | None = None
    problem: LongText | None = None
    implication: LongText | None = None
    need_payoff: LongText | None = None


class ActivityCreate(_Strict):
    kind: ActivityKind
    account_id: UUID
    lead_id: UUID | None = None
    contact_ids: list[UUID] = Field(default_factory=list, max_length=50, description="the customer people met")
    subject: Text300
    planned_on: date | None = None
    plan: VisitPlan | None = None


class ActivityUpdate(_Strict):
    subject: Text300 | None = None
    planned_on: date | None = None
    plan: VisitPlan | None = None
    contact_ids: list[UUID] | None = Field(default=None, max_length=50)


class OutcomeRequest(_Strict):
    occurred_on: date
    spin: SpinNotes = Field(default_factory=SpinNotes)
    commitments_obtained: Items = Field(default_factory=list)
    next_step: LongText | None = None
    next_step_on: date | None = None
    notes: LongText | None = None


class VisitPlanRead(VisitPlan):
    model_config = ConfigDict(extra="ignore")


class OutcomeRead(BaseModel):
    spin: SpinNotes
    commitments_obtained: list[str]
    next_step: str | None
    next_step_on: date | None
    notes: str | None


class ActivityRead(Versioned):
    id: UUID
    kind: ActivityKind
    account_id: UUID
    lead_id: UUID | None
    contact_ids: list[UUID]
    subject: str
    planned_on: date | None
    plan: VisitPlanRead | None
    outcome: OutcomeRead | None = Field(description="recorded once the activity is done")
    status: ActivityStatus
    occurred_on: date | None
    created_by: str
    created_at: datetime
    updated_at: datetime


# The closed-loop report


class StepCounts(BaseModel):
    credible: int
    opportunity: int
    converted: int


class StepRates(BaseModel):
    credible: Decimal
    opportunity: Decimal
    converted: Decimal


class ChannelTierRead(BaseModel):
    channel: Channel
    tier: Tier
    leads: int
    reached: StepCounts = Field(description="leads that reached credible / opportunity / converted")
    conversion_rate: StepRates = Field(description="the same as a share of the leads (0–1)")
    won: int
    lost: int
    cash_collected: int = Field(description="leads whose contract is fully paid")
    cash_amounts: list[MoneyPayload] = Field(description="the cash those leads brought in, one sum per currency")
    median_lead_to_cash_days: Decimal | None


class LeadToCashReport(BaseModel):
    rows: list[ChannelTierRead]
    total_leads: int
