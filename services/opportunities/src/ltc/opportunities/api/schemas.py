"""Request and response bodies, named by role (`OpportunityCreate`, `OpportunityRead`, ...)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from ltc.opportunities.adapters.queries import AuditAction, PipelineLine
from ltc.opportunities.domain.competitors import Competitor
from ltc.opportunities.domain.credit import CREDIT_LIMIT_EXCEEDED, CreditOverride
from ltc.opportunities.domain.gates import (
    Decision,
    DecisionPolicy,
    Gate,
    GateRequest,
    Outcome,
    RequestStatus,
    Tier,
    TierThresholds,
)
from ltc.opportunities.domain.insight import (
    CompetitionInsight,
    CustomerInsight,
    Insight,
    LifeCyclePhase,
    MarketInsight,
    MarketSituation,
    NeedMet,
    ProductInsight,
    ValueProposition,
)
from ltc.opportunities.domain.model import Opportunity
from ltc.opportunities.domain.requirements import Priority, Requirement
from ltc.opportunities.domain.risks import Level, Risk, RiskCategory, RiskStatus
from ltc.opportunities.domain.stages import DEFAULT_PROBABILITIES, OPEN_STAGES, Stage, StageProbabilities
from ltc.opportunities.domain.stakeholders import (
    INFLUENTIAL,
    MAX_INFLUENCE,
    Attitude,
    DecisionRole,
    Relationship,
    Stakeholder,
)
from ltc.opportunities.domain.team import TeamChange, TeamRole
from ltc.opportunities.domain.terms import (
    AcceptanceType,
    CommercialTerms,
    LineItem,
    Milestone,
    PaymentTerm,
    PaymentTrigger,
)
from ltc.shared.api import Text300, UserId, Versioned
from ltc.shared.lines import Supply
from ltc.shared.messages import Lineage, MoneyPayload
from ltc.shared.messages.base import DecimalStr, DueDays, LinePayload, Percent, Quantity, VatPayload
from ltc.shared.messages.opportunities_events import CommercialTermsPayload
from ltc.shared.money import Money, MoneyError

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]

# The ATC's credit-limit rule as the OpenAPI states it (ltc.opportunities.domain.credit).
CREDIT_RULE = (
    f"ATC only. When the deal's value would take the account over the credit limit finance set in the deal's "
    f"currency (finance's exposure + this deal's value > limit, as `account.credit_changed` last said), the "
    f"request is refused with 422 `{CREDIT_LIMIT_EXCEEDED}` naming this field and giving the figures "
    f"(`credit_limit`, `exposure`, `deal_value`, `over_by`), unless this reason is given: the request is then "
    f"routed one tier higher than it would otherwise be (L3 decides it itself) and the override is kept on it "
    f"with the figures. No limit known for the account: no limit. Within the limit the reason is not needed and "
    f"not kept. Approving an ATC requested without an override checks the limit again."
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OpportunityCreate(_Strict):
    title: Text300
    account_name: Text300
    account_id: UUID | None = Field(default=None, description="the account in the leads service, when known")
    need: Text = Field(description="the customer need or pain the opportunity answers")
    budget: MoneyPayload | None = None
    start_date: date | None = None
    expected_close_date: date | None = None


class OpportunityUpdate(_Strict):
    """PATCH: only the fields sent change; `null` clears an optional one."""

    title: Text300 | None = None
    need: Text | None = None
    budget: MoneyPayload | None = None
    start_date: date | None = None
    expected_close_date: date | None = None

    @model_validator(mode="after")
    def _required_stay_set(self) -> OpportunityUpdate:
        for name in ("title", "need"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be cleared")
        return self

    def changes(self) -> dict[str, Any]:
        values = {name: getattr(self, name) for name in self.model_fields_set}
        if "budget" in values:
            values["budget"] = values["budget"].to_money() if values["budget"] else None
        return values


class TeamAssign(_Strict):
    """Assign any of the iron triangle; the AR becomes the opportunity's owner."""

    ar: UserId | None = None
    sr: UserId | None = None
    fr: UserId | None = None

    @model_validator(mode="after")
    def _someone(self) -> TeamAssign:
        if self.ar is None and self.sr is None and self.fr is None:
            raise ValueError("assign at least one of ar, sr, fr")
        return self

    def assignments(self) -> dict[TeamRole, str]:
        return {role: user for role, user in ((TeamRole.AR, self.ar), (TeamRole.SR, self.sr),
                                              (TeamRole.FR, self.fr)) if user is not None}


class MarketInsightIn(_Strict):
    situation: MarketSituation
    notes: Text


class CustomerInsightIn(_Strict):
    segment: Text300
    region_value: Text
    strategy: Text
    pains: Text


class ProductInsightIn(_Strict):
    phase: LifeCyclePhase
    notes: Text


class CompetitionInsightIn(_Strict):
    industry_situation: Text
    customer_competitors: Text
    our_goals: Text
    our_strategy: Text
    our_strengths: Text
    our_weaknesses: Text


class InsightUpdate(_Strict):
    """The dimensions sent replace those stored; the others stay."""

    market: MarketInsightIn | None = None
    customer: CustomerInsightIn | None = None
    product: ProductInsightIn | None = None
    competition: CompetitionInsightIn | None = None

    def to_insight(self) -> Insight:
        return Insight(
            market=MarketInsight(**self.market.model_dump()) if self.market else None,
            customer=CustomerInsight(**self.customer.model_dump()) if self.customer else None,
            product=ProductInsight(**self.product.model_dump()) if self.product else None,
            competition=CompetitionInsight(**self.competition.model_dump()) if self.competition else None,
        )


class ValuePropositionIn(_Strict):
    unique_advantages: Text = Field(description="what only we bring")
    unique_value: Text = Field(description="the solution's unique value to this customer")
    need_met: NeedMet = Field(description="how far the solution meets the need")
    need_met_notes: Text
    differentiation: Text = Field(description="how we differ from the competitors")

    def to_domain(self) -> ValueProposition:
        return ValueProposition(**self.model_dump())


class StakeholderIn(_Strict):
    contact_id: UUID | None = Field(default=None, description="the contact in the leads service, when known")
    name: Text300 = Field(description="snapshot of the contact's name")
    title: Text300 = Field(description="snapshot of the contact's job title")
    decision_role: DecisionRole
    influence: int = Field(ge=1, le=MAX_INFLUENCE)
    attitude: Attitude
    relationship: Relationship
    reports_to: UUID | None = Field(default=None, description="another stakeholder of this power map")

    def to_domain(self, stakeholder_id: uuid.UUID) -> Stakeholder:
        return Stakeholder(id=stakeholder_id, **self.model_dump())


class CompetitorIn(_Strict):
    name: Text300
    strengths: Text
    weaknesses: Text
    likely_offer: Text

    def to_domain(self, competitor_id: uuid.UUID) -> Competitor:
        return Competitor(id=competitor_id, **self.model_dump())


class RiskIn(_Strict):
    description: Text
    category: RiskCategory
    probability: Level
    impact: Level
    mitigation: Text | None = None
    owner: UserId
    status: RiskStatus = RiskStatus.OPEN
    due_date: date | None = None

    def to_domain(self, risk_id: uuid.UUID) -> Risk:
        return Risk(id=risk_id, **self.model_dump())


class RequirementIn(_Strict):
    title: Text300
    description: Text
    priority: Priority


class PaymentTermIn(_Strict):
    name: Text300
    percent: Percent
    trigger: PaymentTrigger
    milestone: Text300 | None = Field(default=None, description="for trigger `milestone`: the milestone's name")
    due_days: DueDays

    def to_domain(self) -> PaymentTerm:
        return PaymentTerm(self.name, self.percent, self.trigger, self.milestone, self.due_days)


class MilestoneIn(_Strict):
    name: Text300
    planned_date: date
    acceptance_type: AcceptanceType

    def to_domain(self) -> Milestone:
        return Milestone(self.name, self.planned_date, self.acceptance_type)


class VatIn(_Strict, VatPayload):
    """A VAT agreed for a line (e.g. an exemption); without one, the seller's tax rules decide it on
    each invoice, from the seller's and the buyer's country."""


class LineItemIn(_Strict):
    """A line of what is sold, net of VAT; the lines add up to the value."""

    position: int | None = Field(default=None, ge=1, le=10_000, description="1-based; by default the line's "
                                                                              "place in the list")
    code: Text300 | None = Field(default=None, description="the seller's product or service code")
    description: Text300
    quantity: Quantity
    unit: str = Field(default="C62", pattern="^[A-Z0-9]{1,3}$",
                      description="UN/ECE Recommendation 20 unit code: C62 one (the default), HUR hour, DAY day, "
                                  "MON month, LS lump sum, ...")
    unit_price: MoneyPayload = Field(description="net of VAT, per unit")
    discount: MoneyPayload | None = Field(default=None, description="an amount off the whole line")
    supply: Supply = Supply.SERVICES
    vat: VatIn | None = None
    milestone: Text300 | None = Field(default=None, description="the delivery milestone the line is delivered "
                                                                 "with: it is invoiced, whole, by that milestone's "
                                                                 "instalments")

    def to_domain(self, index: int) -> LineItem:
        return LineItem(position=self.position or index + 1, code=self.code, description=self.description,
                        quantity=self.quantity, unit=self.unit, unit_price=self.unit_price.to_money(),
                        discount=self.discount.to_money() if self.discount is not None else None,
                        supply=self.supply, vat=self.vat.to_vat() if self.vat is not None else None,
                        milestone=self.milestone)


class TermsUpdate(_Strict):
    """PATCH of the terms under negotiation: the parts sent replace those stored.

    The SR prices (value, line_items, payment_terms), the FR plans delivery (milestones); the
    service checks that they fit together when ATC is requested.
    """

    value: MoneyPayload | None = None
    line_items: list[LineItemIn] | None = Field(default=None, max_length=500)
    payment_terms: list[PaymentTermIn] | None = Field(default=None, max_length=50)
    milestones: list[MilestoneIn] | None = Field(default=None, max_length=100)

    def parts(self) -> dict[str, Any]:
        parts: dict[str, Any] = {}
        for name in self.model_fields_set:
            value = getattr(self, name)
            if name == "value":
                parts[name] = value.to_money() if value else None
            elif name == "line_items":
                parts[name] = tuple(item.to_domain(index) for index, item in enumerate(value or ()))
            else:
                parts[name] = tuple(item.to_domain() for item in value or ())
        return parts


class StageChange(_Strict):
    to: Stage


class GateRequestCreate(_Strict):
    # Left out of an earlier request's idempotency record while unset (ltc.shared.api.request_hash).
    ADDED_LATER: ClassVar[tuple[str, ...]] = ("credit_override_reason",)

    gate: Gate
    credit_override_reason: Reason | None = Field(default=None, description=CREDIT_RULE)


class DecisionCreate(_Strict):
    gate: Gate
    outcome: Outcome
    conditions: Reason | None = Field(default=None, description="conditions attached to an approval")
    comment: Reason | None = None


class LoseRequest(_Strict):
    reason: Reason
    competitor: Text300 | None = Field(default=None, description="who won instead, when known")


class AbandonRequest(_Strict):
    reason: Reason


class CoverageRead(BaseModel):
    decision_maker_known: bool
    economic_buyer_known: bool
    decision_chain_covered: bool
    roles_covered: list[DecisionRole]
    influential: int = Field(description=f"stakeholders with influence {INFLUENTIAL} to {MAX_INFLUENCE}")
    influential_supporters: int
    influential_opponents: int


class RiskRead(BaseModel):
    id: UUID
    description: str
    category: RiskCategory
    probability: Level
    impact: Level
    level: Level
    mitigation: str | None
    owner: str
    status: RiskStatus
    due_date: date | None

    @classmethod
    def of(cls, risk: Risk) -> RiskRead:
        return cls(level=risk.level, **{name: getattr(risk, name) for name in cls.model_fields if name != "level"})


def _percent(value: Decimal) -> Decimal:
    """25.00 read back from the database is shown as 25, as it was configured."""
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()


def _money(money: Money | None) -> MoneyPayload | None:
    return MoneyPayload.of(money) if money else None


class LineItemRead(LinePayload):
    """A line as agreed; `net` is quantity × unit price − discount, absent while that is not exact
    money (the terms' problems say so)."""

    net: MoneyPayload | None = None  # type: ignore[assignment]  # unknown while not exact

    @classmethod
    def of_line(cls, line: LineItem) -> LineItemRead:
        try:
            net: MoneyPayload | None = MoneyPayload.of(line.net)
        except MoneyError:
            net = None
        return cls(**LinePayload.parts_of(line), net=net)


class TermsRead(BaseModel):
    value: MoneyPayload | None
    line_items: list[LineItemRead]
    payment_terms: list[PaymentTerm]
    milestones: list[Milestone]

    @classmethod
    def of(cls, terms: CommercialTerms) -> TermsRead:
        return cls(value=_money(terms.value), payment_terms=list(terms.payment_terms),
                   milestones=list(terms.milestones),
                   line_items=[LineItemRead.of_line(i) for i in terms.line_items])


class GateRequestRead(BaseModel):
    id: UUID
    gate: Gate
    status: RequestStatus
    tier: Tier = Field(description="the tier that decides now (after any escalation)")
    routed_tier: Tier
    routing_reason: str
    value: MoneyPayload | None
    high_risk: bool
    requested_by: str
    requested_at: datetime
    decisions: list[Decision]
    terms: TermsRead | None = Field(description="ATC: the terms put to the deciders")
    credit_override: CreditOverrideRead | None = Field(
        default=None, description="ATC requested over the account's credit limit: why, and the figures then")

    @classmethod
    def of(cls, request: GateRequest) -> GateRequestRead:
        return cls(id=request.id, gate=request.gate, status=request.status, tier=request.tier,
                   routed_tier=request.routed_tier, routing_reason=request.routing_reason,
                   value=_money(request.value), high_risk=request.high_risk, requested_by=request.requested_by,
                   requested_at=request.requested_at, decisions=list(request.decisions),
                   terms=TermsRead.of(request.terms) if request.terms else None,
                   credit_override=CreditOverrideRead.of(request.credit_override) if request.credit_override else None)


class CreditOverrideRead(BaseModel):
    """An ATC decided one tier higher because the deal takes the account over its credit limit."""

    reason: str
    credit_limit: MoneyPayload
    exposure: MoneyPayload = Field(description="finance's exposure of the account when the ATC was requested")
    deal_value: MoneyPayload
    over_by: MoneyPayload = Field(description="exposure + deal value - limit")

    @classmethod
    def of(cls, override: CreditOverride) -> CreditOverrideRead:
        return cls(reason=override.reason, credit_limit=MoneyPayload.of(override.credit_limit),
                   exposure=MoneyPayload.of(override.exposure), deal_value=MoneyPayload.of(override.deal_value),
                   over_by=MoneyPayload.of(override.over_by))


class DecisionRead(BaseModel):
    gate_request_id: UUID
    gate: Gate
    request_status: RequestStatus
    decision: Decision


class TeamRead(BaseModel):
    """The iron triangle now; `team_history` keeps who held each role before."""

    ar: str = Field(description="the account manager, who owns the opportunity")
    sr: str | None = Field(description="the solution manager")
    fr: str | None = Field(description="the fulfilment manager")


class PrerequisiteMissing(BaseModel):
    field: str = Field(description="what is missing, e.g. `team.sr`, `insight.market`, `terms.value`")
    message: str


class OpportunityRead(Versioned):
    id: UUID
    lead_id: UUID | None
    account_id: UUID | None
    account_name: str
    title: str
    need: str
    budget: MoneyPayload | None
    deal_value: MoneyPayload | None = Field(description="the negotiated value when known, else the budget")
    start_date: date | None
    expected_close_date: date | None
    owner: str = Field(description="the AR, the account manager who owns the opportunity")
    team: TeamRead
    team_history: list[TeamChange]
    stage: Stage
    probability: DecimalStr = Field(description="win probability of the stage, in percent")
    insight: Insight
    value_proposition: ValueProposition | None
    stakeholders: list[Stakeholder]
    coverage: CoverageRead
    competitors: list[Competitor]
    risks: list[RiskRead]
    requirements: list[Requirement]
    gates: list[GateRequestRead]
    gate_prerequisites_missing: dict[Gate, list[PrerequisiteMissing]] = Field(
        description="per gate what it still lacks (an empty list: it may be requested); no gates once closed")
    draft_terms: TermsRead = Field(description="the terms under negotiation")
    terms: CommercialTermsPayload | None = Field(description="the terms won on, as handed to contracts")
    closed_reason: str | None
    competitor: str | None
    closed_by: str | None
    closed_at: datetime | None
    lineage: Lineage
    created_at: datetime

    @classmethod
    def of(cls, o: Opportunity) -> OpportunityRead:
        coverage = o.coverage
        return cls(
            id=o.id, lead_id=o.lead_id, account_id=o.account_id, account_name=o.account_name, title=o.title,
            need=o.need, budget=_money(o.budget), deal_value=_money(o.deal_value), start_date=o.start_date,
            expected_close_date=o.expected_close_date, owner=o.owner,
            team=TeamRead(ar=o.owner, sr=o.sr, fr=o.fr), team_history=list(o.team_history),
            stage=o.stage, probability=_percent(o.probability), insight=o.insight, value_proposition=o.value_proposition,
            stakeholders=list(o.stakeholders),
            coverage=CoverageRead(decision_chain_covered=coverage.decision_chain_covered,
                                  **{k: getattr(coverage, k) for k in ("decision_maker_known", "economic_buyer_known",
                                                                        "roles_covered", "influential",
                                                                        "influential_supporters",
                                                                        "influential_opponents")}),
            competitors=list(o.competitors), risks=[RiskRead.of(r) for r in o.risks],
            requirements=list(o.requirements), gates=[GateRequestRead.of(r) for r in o.gate_requests],
            gate_prerequisites_missing={} if o.is_closed else {
                gate: [PrerequisiteMissing(**m) for m in o.missing_for(gate)] for gate in Gate},
            draft_terms=TermsRead.of(o.draft_terms), terms=o.commercial_terms, closed_reason=o.closed_reason,
            competitor=o.competitor, closed_by=o.closed_by, closed_at=o.closed_at, lineage=o.lineage(),
            created_at=o.created_at, version=o.version,
        )


Probability = Annotated[DecimalStr, Field(decimal_places=2)]


# The description states the closed stages' probabilities as the domain gives them.
_PROBABILITIES = (f"Win probability in percent per open stage; won counts {DEFAULT_PROBABILITIES.of(Stage.WON)}, "
                  f"lost and abandoned {DEFAULT_PROBABILITIES.of(Stage.LOST)}.")


class StageProbabilitiesIO(_Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"description": _PROBABILITIES})

    # Stored as NUMERIC(5, 2): a third decimal would be rounded away behind the caller's back.
    validating: Probability
    strategizing: Probability
    bidding: Probability
    negotiating: Probability

    def to_domain(self) -> StageProbabilities:
        return StageProbabilities({stage: getattr(self, stage.value) for stage in OPEN_STAGES})


class StageProbabilitiesRead(StageProbabilitiesIO, Versioned):
    model_config = ConfigDict(json_schema_extra={"description": (
        f"{_PROBABILITIES} The probabilities in force, with their version (0: the built-in default).")})


class TierThresholdsIO(_Strict):
    l2_from: DecimalStr = Field(description="deal values from here on go to L2")
    l3_from: DecimalStr = Field(description="deal values from here on go to L3")


class DecisionThresholdsIO(_Strict):
    """Per ISO 4217 currency; a deal in a currency not listed goes to L3."""

    thresholds: dict[str, TierThresholdsIO]

    def to_domain(self) -> DecisionPolicy:
        return DecisionPolicy({c: TierThresholds(b.l2_from, b.l3_from) for c, b in self.thresholds.items()})


class DecisionThresholdsRead(DecisionThresholdsIO, Versioned):
    """The thresholds in force per ISO 4217 currency (a deal in a currency not listed goes to L3),
    with their version (0: the built-in default)."""

    @classmethod
    def of(cls, document: dict[str, dict[str, str]], version: int) -> DecisionThresholdsRead:
        return cls(thresholds={c: TierThresholdsIO(**b) for c, b in document.items()}, version=version)


class AuditEntryRead(BaseModel):
    actor: str
    action: AuditAction
    detail: dict[str, Any] = Field(description="what the action changed, as the action names it")
    at: datetime

    @classmethod
    def of(cls, entry: Any) -> AuditEntryRead:
        """From a row of the audit trail."""
        return cls(actor=entry.actor, action=entry.action, detail=entry.changes, at=entry.at)


class PipelineRow(BaseModel):
    key: str | None = Field(description="the stage, the owner or the expected close month (YYYY-MM)")
    currency: str | None = Field(description="null for opportunities without any value yet")
    count: int
    value: MoneyPayload | None
    weighted: MoneyPayload | None = Field(description="value × stage probability")

    @classmethod
    def of(cls, line: PipelineLine) -> PipelineRow:
        if line.currency is None or line.value is None or line.weighted is None:
            return cls(key=line.key, currency=None, count=line.count, value=None, weighted=None)
        return cls(key=line.key, currency=line.currency, count=line.count,
                   value=MoneyPayload(amount=line.value, currency=line.currency),
                   weighted=MoneyPayload(amount=line.weighted, currency=line.currency))


class PipelineRead(BaseModel):
    group_by: Literal["stage", "owner", "close_month"]
    rows: list[PipelineRow]
