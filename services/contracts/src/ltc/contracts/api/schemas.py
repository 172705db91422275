"""Request and response bodies, named by role (`ContractCreate`, `ContractRead`, ...)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from pydantic_core import PydanticCustomError

from ltc.contracts.adapters.queries import LateMilestone
from ltc.contracts.domain import values
from ltc.contracts.domain.amendment import Amendment, AmendmentKind, AmendmentStatus, DecisionOutcome
from ltc.contracts.domain.approval import Approval, ApprovalSource, ApprovalStatus, ContractOrigin
from ltc.contracts.domain.invoiced import LINE_BELOW_INVOICED
from ltc.contracts.domain.model import (
    SIGNED_BEFORE_APPROVAL,
    Contract,
    ContractStatus,
    Health,
    VersionChange,
)
from ltc.contracts.domain.policy import ContractPolicy, Limits, Risk, Tier, ValueTier
from ltc.contracts.domain.review import CHECKLIST, ChecklistItem, ItemVerdict, ReviewFunction, ReviewStatus, Verdict
from ltc.contracts.domain.terms import PERCENT_QUANTUM, TERMS_INCONSISTENT, Terms
from ltc.contracts.domain.values import AcceptanceType, MilestoneStatus, TaxCategory
from ltc.contracts.handlers import EXISTS_FOR_OPPORTUNITY, FROM_WON_OPPORTUNITY_ONLY, AuditAction
from ltc.shared.api import Happened, Versioned
from ltc.shared.controls import DATE_IN_FUTURE, FUTURE_TOLERANCE
from ltc.shared.messages import MoneyPayload
from ltc.shared.messages.base import CurrencyCode, DecimalStr, DueDays, Percent, Quantity
from ltc.shared.messages.contracts_events import Trigger
from ltc.shared.money import Money
from ltc.shared.policy import PolicyVersion

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
Share = Annotated[DecimalStr, Field(ge=0, le=100)]

# The row version of the contract a representation is part of: its ETag is what a change of the
# contract (this part of it included) sends as If-Match.
CONTRACT_VERSION = ("the version of the contract (the row version behind its ETag, not `contract_version` of its "
                    "terms): send `etag` as If-Match to change it")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


LINES = "what is sold, line by line, net of VAT: given, the lines add up to the value exactly"


# --- terms ----------------------------------------------------------------------------------


class PaymentTermWrite(_Strict):
    name: Name
    percent: Percent
    trigger: Trigger
    milestone: Name | None = Field(default=None, description="the milestone whose acceptance triggers it")
    due_days: DueDays
    due_date: date | None = Field(default=None, description="the trigger date of a `date` instalment")

    def to_domain(self) -> values.PaymentTerm:
        return values.PaymentTerm(self.name, self.percent, self.trigger, self.milestone, self.due_days, self.due_date)


class MilestoneWrite(_Strict):
    name: Name
    planned_date: date
    acceptance_type: AcceptanceType
    owner: Name | None = Field(default=None, description="the FR who runs it (else the contract's FR)")

    def to_domain(self) -> values.AgreedMilestone:
        return values.AgreedMilestone(self.name, self.planned_date, self.acceptance_type, self.owner)


UnitCode = Annotated[str, Field(pattern="^[A-Z0-9]{1,3}$", description=(
    "UN/ECE Recommendation 20 unit code (EN 16931 BT-130), e.g. C62 one (a piece), HUR hour, DAY day, MON month, "
    f"LS lump sum; one the EN 16931 code list knows (rule `{TERMS_INCONSISTENT}`)"))]
LineMoney = Annotated[DecimalStr, Field(ge=0)]
TAX_CATEGORIES = ("EN 16931 VAT category (UNTDID 5305): S standard rate, Z zero rated, E exempt, AE reverse charge, "
                  "K intra-community supply, G export outside the EU, O outside the scope of VAT")


class VatWrite(_Strict):
    """The VAT agreed for a line, e.g. an exemption. What each category needs is EN 16931's; a
    category without it is refused naming the field (rule `commercial-terms-inconsistent`)."""

    category: TaxCategory = Field(description=TAX_CATEGORIES)
    rate: Annotated[DecimalStr, Field(ge=0, le=100)] | None = Field(
        default=None, description="percent: positive for S, 0 for Z, E, AE, K and G, none for O")
    exemption_reason: Text | None = Field(default=None, description="why the line bears no VAT: required for E, AE, "
                                                                    "K, G and O")

    def to_domain(self) -> values.Vat:
        return values.Vat(self.category, self.rate, self.exemption_reason)


class LineItemWrite(_Strict):
    """A line of what is sold, net of VAT: the lines of a contract add up to its value, exactly."""

    position: int | None = Field(default=None, ge=1, le=10_000,
                                 description="the line's number, unique within the terms; by default its place in "
                                             "the list, counting from 1. Invoices, and what is invoiced of a line, "
                                             "name it by its number: send it when lines are removed or reordered")
    code: Name | None = Field(default=None, description="the seller's product or service code")
    description: Text
    quantity: Quantity = Field(description="how many `unit`s")
    unit: UnitCode = values.DEFAULT_UNIT
    unit_price: LineMoney = Field(description="net of VAT, per unit, in the contract's currency; no finer than its "
                                              "minor unit (2 places for EUR)")
    discount: LineMoney | None = Field(default=None, description="an amount off the whole line, in the contract's "
                                                                 "currency: at most quantity × unit price")
    supply: values.Supply = Field(default=values.Supply.SERVICES,
                                  description="goods or services: the tax rules treat them apart across borders")
    vat: VatWrite | None = Field(default=None, description="the VAT agreed for this line; none: finance's tax rules "
                                                           "decide it on each invoice")
    milestone: Name | None = Field(default=None, description="the delivery milestone (by name) the line is delivered "
                                                             "with: that milestone's instalments invoice it, whole")

    def to_domain(self, index: int) -> values.StatedLine:
        return values.StatedLine(
            position=self.position or index + 1, code=self.code, description=self.description,
            quantity=self.quantity, unit=self.unit, unit_price=self.unit_price, discount=self.discount,
            supply=self.supply, vat=None if self.vat is None else self.vat.to_domain(), milestone=self.milestone)


def stated_lines(lines: list[LineItemWrite]) -> list[values.StatedLine]:
    return [line.to_domain(index) for index, line in enumerate(lines)]


class LegalTermsWrite(_Strict):
    warranty_months: int | None = Field(default=None, ge=0, le=600)
    liquidated_damages_percent_per_week: Share | None = Field(default=None,
                                                              description="of the value, per week of delay")
    liquidated_damages_cap_percent: Share | None = None
    liability_cap_percent: Share | None = None
    acceptance_criteria: Text | None = None
    governing_law: Name | None = None

    def to_domain(self) -> values.LegalTerms:
        return values.LegalTerms(**self.model_dump())


class _TermsWrite(_Strict):
    @field_validator("title", "account_name", "value", "line_items", "payment_terms", "milestones", "legal_terms",
                     mode="before", check_fields=False)
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        # null would mean "no terms", which no contract has; a part left out stays as it is.
        if value is None:
            raise PydanticCustomError("null_not_allowed", "may not be null: leave the part out to keep it as it is")
        return value

    def terms(self) -> dict[str, Any]:
        """The terms the request sent, as domain values; an absent part is None (unchanged)."""
        sent = self.model_fields_set
        value = getattr(self, "value", None)
        return {
            "value": value.to_money() if value is not None else None,
            "line_items": stated_lines(self.line_items) if "line_items" in sent else None,
            "payment_terms": [t.to_domain() for t in self.payment_terms] if "payment_terms" in sent else None,
            "milestones": [m.to_domain() for m in self.milestones] if "milestones" in sent else None,
            "legal_terms": self.legal_terms.to_domain() if "legal_terms" in sent else None,
        }



class ContractCreate(_Strict):
    """A direct contract, without an opportunity (e.g. a renewal): the caller owns it, and it needs
    its own approval, routed by value to a decision tier, before it can be signed."""

    opportunity_id: UUID | None = Field(
        default=None, description="not accepted: an opportunity's contract is drafted from its win on the terms "
                                  f"approved at ATC (rule `{FROM_WON_OPPORTUNITY_ONLY}`, or "
                                  f"`{EXISTS_FOR_OPPORTUNITY}` naming it)")
    lead_id: UUID | None = None
    account_id: UUID | None = None
    account_name: Name
    title: Name
    fr_owner: Name | None = None
    value: MoneyPayload
    line_items: list[LineItemWrite] = Field(default_factory=list, max_length=500, description=LINES)
    payment_terms: list[PaymentTermWrite] = Field(min_length=1, max_length=50)
    milestones: list[MilestoneWrite] = Field(default_factory=list, max_length=100)
    legal_terms: LegalTermsWrite = Field(default_factory=LegalTermsWrite)


class ContractUpdate(_TermsWrite):
    """Only the parts sent change; on a signed contract only `fr_owner` may be sent."""

    account_name: Name | None = None
    title: Name | None = None
    fr_owner: Name | None = None
    value: MoneyPayload | None = None
    line_items: list[LineItemWrite] | None = Field(default=None, max_length=500,
                                                   description=LINES + " (the whole new set; [] for none)")
    payment_terms: list[PaymentTermWrite] | None = Field(default=None, min_length=1, max_length=50)
    milestones: list[MilestoneWrite] | None = Field(default=None, max_length=100)
    legal_terms: LegalTermsWrite | None = None


class AmendmentCreate(_TermsWrite):
    """The changes proposed; parts not sent stay as they are."""

    reason: Text
    risk: Risk = Field(default=Risk.LOW, description="the requester's view; the service raises it where the "
                                                     "change weighs on cash or delivery")
    title: Name | None = None
    value: MoneyPayload | None = None
    line_items: list[LineItemWrite] | None = Field(
        default=None, max_length=500,
        description=LINES + f" (the whole new set). A line keeps at least the quantity and the net invoiced of it, and "
                            f"an invoiced line stays (rule `{LINE_BELOW_INVOICED}`, naming the invoiced quantity and "
                            "net), also when the amendment is approved")
    payment_terms: list[PaymentTermWrite] | None = Field(default=None, min_length=1, max_length=50)
    milestones: list[MilestoneWrite] | None = Field(default=None, max_length=100)
    legal_terms: LegalTermsWrite | None = None


class PaymentTermRead(BaseModel):
    name: str
    percent: DecimalStr = Field(description="the instalment's share of the value. Until an amendment keeps triggered "
                                            "instalments at their invoiced amounts, the agreed percentage (the "
                                            "amount is the value split by the percentages, parts rounded down to the "
                                            "minor unit, the last taking the rest); after it, derived from the "
                                            f"amount: amount / value x 100 rounded half-even to {-PERCENT_QUANTUM.as_tuple().exponent} places, the last "
                                            "taking the rest, so the percentages add up to 100")
    amount: MoneyPayload | None = Field(description="what the instalment invoices: authoritative once planned")
    trigger: Trigger
    milestone: str | None = Field(description="name of the milestone whose acceptance triggers the instalment")
    due_days: int
    due_date: date | None

    @classmethod
    def of(cls, term: values.PaymentTerm, currency: str) -> PaymentTermRead:
        amount = None if term.amount is None else MoneyPayload.of(Money(term.amount, currency))
        return cls(name=term.name, percent=term.percent, amount=amount, trigger=term.trigger,
                   milestone=term.milestone, due_days=term.due_days, due_date=term.due_date)


class VatRead(BaseModel):
    category: TaxCategory = Field(description=TAX_CATEGORIES)
    rate: DecimalStr | None = Field(description="percent; none for O")
    exemption_reason: str | None


class LineItemRead(BaseModel):
    """A line as agreed. Amounts are in the contract's currency and net of VAT."""

    position: int = Field(description="the line's number within the terms: invoices name the line by it")
    code: str | None = Field(description="the seller's product or service code")
    description: str
    quantity: DecimalStr
    unit: str = Field(description="UN/ECE Recommendation 20 unit code, e.g. C62 one, HUR hour")
    unit_price: DecimalStr = Field(description="net of VAT, per unit")
    discount: DecimalStr | None = Field(description="the amount off the whole line")
    amount: DecimalStr = Field(description="quantity × unit price, before the line's discount")
    net: DecimalStr = Field(description="quantity × unit price − discount: what the line adds to the value (the "
                                        "lines' nets add up to it)")
    supply: values.Supply
    vat: VatRead | None = Field(description="the VAT agreed for the line; none: finance's tax rules decide it on "
                                            "each invoice")
    milestone: str | None = Field(description="the delivery milestone the line is delivered, and invoiced, with")

    @classmethod
    def of(cls, line: values.LineItem) -> LineItemRead:
        vat = line.vat
        return cls(position=line.position, code=line.code, description=line.description, quantity=line.quantity,
                   unit=line.unit, unit_price=line.unit_price.amount,
                   discount=None if line.discount is None else line.discount.amount, amount=line.gross_amount,
                   net=line.net.amount, supply=line.supply,
                   vat=None if vat is None else VatRead(category=vat.category, rate=vat.rate,
                                                        exemption_reason=vat.exemption_reason),
                   milestone=line.milestone)


class LegalTermsRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    warranty_months: int | None
    liquidated_damages_percent_per_week: DecimalStr | None
    liquidated_damages_cap_percent: DecimalStr | None
    liability_cap_percent: DecimalStr | None
    acceptance_criteria: str | None
    governing_law: str | None


class MilestoneRead(BaseModel):
    milestone_id: UUID
    name: str
    planned_date: date
    acceptance_type: AcceptanceType
    owner: str | None
    status: MilestoneStatus
    started_on: date | None
    delivered_on: date | None
    accepted_on: date | None
    certificate_ref: str | None
    late: bool = Field(description="past its planned date without acceptance, as of the view's date")

    @classmethod
    def of(cls, milestone: values.Milestone, as_of: date) -> MilestoneRead:
        fields = {name: getattr(milestone, name) for name in cls.model_fields if name != "late"}
        return cls(**fields, late=milestone.is_late(as_of))


# --- review ---------------------------------------------------------------------------------


class ItemVerdictWrite(_Strict):
    item: ChecklistItem = Field(description="an item of the function's checklist")
    verdict: Verdict
    comment: Text | None = None

    def to_domain(self) -> ItemVerdict:
        return ItemVerdict(self.item, self.verdict, self.comment)


class ReviewCreate(_Strict):
    function: ReviewFunction
    contract_version: int | None = Field(default=None, description="the version reviewed; refused (409) if the "
                                                                   "draft has changed since")
    items: list[ItemVerdictWrite] = Field(min_length=1, max_length=20,
                                          description="one verdict per item of the function's checklist")
    comment: Text | None = None


class ItemVerdictRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    item: ChecklistItem
    verdict: Verdict
    comment: str | None


class ReviewRecordRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    review_id: UUID
    function: ReviewFunction
    contract_version: int
    reviewer: str
    passed: bool
    items: list[ItemVerdictRead]
    comment: str | None
    reviewed_at: datetime


class ReviewRead(BaseModel):
    """The review of a contract, as part of the contract."""

    contract_version: int = Field(description="the version under review (an edit starts a new one); once "
                                              "signed, the version that was signed")
    status: ReviewStatus
    required: list[ReviewFunction]
    outstanding: list[ReviewFunction]
    failed: list[ReviewFunction]
    verdicts: list[ReviewRecordRead] = Field(description="the verdict that counts, per function, on this version")

    @classmethod
    def of(cls, contract: Contract, policy: ContractPolicy) -> ReviewRead:
        state = contract.review(policy.required_functions(contract.value))
        return cls(contract_version=state.contract_version, status=state.status, required=list(state.required),
                   outstanding=list(state.outstanding), failed=list(state.failed),
                   verdicts=[ReviewRecordRead.model_validate(r) for r in state.verdicts.values()])


class ContractReviewRead(ReviewRead, Versioned):
    """The review of a contract with the contract's version: the next verdict sends its ETag."""

    version: int = Field(description=CONTRACT_VERSION)

    @classmethod
    def of(cls, contract: Contract, policy: ContractPolicy) -> ContractReviewRead:
        return cls(**ReviewRead.of(contract, policy).model_dump(), version=contract.version)


class ReviewHistoryRead(ContractReviewRead):
    checklist: dict[ReviewFunction, list[ChecklistItem]]
    history: list[ReviewRecordRead] = Field(description="every verdict ever recorded, oldest first")

    @classmethod
    def of(cls, contract: Contract, policy: ContractPolicy) -> ReviewHistoryRead:
        return cls(**ContractReviewRead.of(contract, policy).model_dump(exclude={"etag"}),
                   checklist={f: list(items) for f, items in CHECKLIST.items()},
                   history=[ReviewRecordRead.model_validate(r) for r in contract.reviews])


# --- contract -------------------------------------------------------------------------------


class DecisionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    tier: Tier
    outcome: DecisionOutcome
    decider: str
    comment: str | None
    decided_at: datetime


class ApprovalRead(BaseModel):
    contract_version: int = Field(description="the version of the terms it approves (an edit needs a new one)")
    source: ApprovalSource = Field(description="atc: the won opportunity's approve-to-contract gate; contract: "
                                               "a decision on the contract here")
    status: ApprovalStatus
    tier: Tier | None = Field(description="the decision tier that decides it now (routed by value)")
    approver: str | None
    decisions: list[DecisionRead]

    @classmethod
    def of(cls, approval: Approval) -> ApprovalRead:
        return cls(contract_version=approval.contract_version, source=approval.source, status=approval.status,
                   tier=approval.tier, approver=approval.approver,
                   decisions=[DecisionRead.model_validate(d) for d in approval.decisions])


class ApprovalDecisionCreate(_Strict):
    outcome: DecisionOutcome
    comment: Text | None = Field(default=None, description="required to reject or escalate")
    contract_version: int | None = Field(default=None, ge=1, le=2**31 - 1,
                                         description="the version decided on; refused (409) if the draft changed")


class ContractRead(Versioned):
    id: UUID
    number: str = Field(description="`CON-<year>-<sequence>`: the contract's number, given when it was drafted "
                                    "(numbered per calendar year of drafting, without gaps)",
                        examples=["CON-2026-000042"])
    opportunity_id: UUID | None = Field(description="None for a direct contract")
    origin: ContractOrigin
    lead_id: UUID | None
    account_id: UUID | None
    account_name: str
    title: str
    owner: str
    fr_owner: str | None
    value: MoneyPayload = Field(description="net of VAT")
    line_items: list[LineItemRead] = Field(description="what is sold, line by line, net of VAT, adding up to the "
                                                       "value; none on contracts drafted before lines travelled")
    payment_terms: list[PaymentTermRead]
    milestones: list[MilestoneRead]
    legal_terms: LegalTermsRead
    status: ContractStatus
    contract_version: int
    review: ReviewRead
    approval: ApprovalRead = Field(description="a draft's: the approval of its current version, without which it is "
                                               "not signed; once signed, the approval the signing rested on")
    authors: list[str] = Field(description="who wrote the terms (owner, editors, amendment requesters): none of "
                                           "them reviews or approves them")
    signed_by: str | None = Field(description="who recorded the signing, under the approval shown")
    health: Health | None = Field(description="of a contract in execution, as of today")
    late_milestones: int
    pending_amendment_id: UUID | None
    signatories: list[str]
    signed_on: date | None
    fully_paid: bool
    fully_paid_on: date | None
    closed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    version: int = Field(description="the row version behind the ETag")

    @classmethod
    def of(cls, contract: Contract, policy: ContractPolicy, as_of: date) -> ContractRead:
        computed = ("value", "line_items", "payment_terms", "milestones", "legal_terms", "review", "health",
                    "late_milestones", "pending_amendment_id", "approval")
        data = {name: getattr(contract, name) for name in cls.model_fields if name not in computed}
        pending = contract.pending_amendment
        return cls(
            **data, value=MoneyPayload.of(contract.value),
            line_items=[LineItemRead.of(i) for i in contract.line_items],
            payment_terms=[PaymentTermRead.of(t, contract.value_currency) for t in contract.payment_terms],
            milestones=[MilestoneRead.of(m, as_of) for m in contract.milestones],
            legal_terms=LegalTermsRead.model_validate(contract.legal_terms),
            review=ReviewRead.of(contract, policy), approval=ApprovalRead.of(contract.approval(policy)),
            health=contract.health(as_of, policy.at_risk_days),
            late_milestones=len(contract.late_milestones(as_of)), pending_amendment_id=None if pending is None else pending.amendment_id,
        )


class SignRequest(_Strict):
    signatories: list[Name] = Field(min_length=2, max_length=20,
                                    description="who signed, for both sides: the customer's and ours")
    signed_on: Happened = Field(description=f"the day it was signed: not after today + {FUTURE_TOLERANCE.days} day "
                                            f"(rule `{DATE_IN_FUTURE}`) and not before the day its terms were "
                                            f"approved (rule `{SIGNED_BEFORE_APPROVAL}`)")


class StartMilestoneRequest(_Strict):
    started_on: Happened


class DeliverMilestoneRequest(_Strict):
    delivered_on: Happened


class AcceptMilestoneRequest(_Strict):
    accepted_on: Happened
    certificate_ref: Name = Field(description="reference of the customer's acceptance certificate")
    acceptance_type: AcceptanceType | None = Field(default=None, description="checked against the milestone's")


class HealthRead(BaseModel):
    contract_id: UUID
    as_of: date
    status: ContractStatus
    health: Health | None
    late: list[MilestoneRead]
    at_risk: list[MilestoneRead]
    at_risk_days: int = Field(description="a milestone not delivered within this many days of its date is at risk")

    @classmethod
    def of(cls, contract: Contract, policy: ContractPolicy, as_of: date) -> HealthRead:
        window = policy.at_risk_days
        return cls(contract_id=contract.id, as_of=as_of, status=contract.status,
                   health=contract.health(as_of, window), at_risk_days=window,
                   late=[MilestoneRead.of(m, as_of) for m in contract.late_milestones(as_of)],
                   at_risk=[MilestoneRead.of(m, as_of) for m in contract.at_risk_milestones(as_of, window)])


class LateMilestoneRead(MilestoneRead, Versioned):
    contract_id: UUID
    contract_title: str
    account_name: str
    days_late: int
    version: int = Field(description=CONTRACT_VERSION + " (to record the milestone's next step)")

    @classmethod
    def of_late(cls, late: LateMilestone, as_of: date) -> LateMilestoneRead:
        return cls(**MilestoneRead.of(late.milestone, as_of).model_dump(), contract_id=late.contract.id,
                   contract_title=late.contract.title, account_name=late.contract.account_name,
                   days_late=late.days_late, version=late.contract.version)


# --- amendments and versions ----------------------------------------------------------------


class TermsRead(BaseModel):
    title: str
    value: MoneyPayload
    line_items: list[LineItemRead]
    payment_terms: list[PaymentTermRead]
    milestones: list[MilestoneWrite]
    legal_terms: LegalTermsRead

    @classmethod
    def of(cls, terms: Terms) -> TermsRead:
        return cls(title=terms.title, value=MoneyPayload(amount=terms.value_amount, currency=terms.currency),
                   line_items=[LineItemRead.of(i) for i in terms.line_items],
                   payment_terms=[PaymentTermRead.of(t, terms.currency) for t in terms.payment_terms],
                   milestones=[MilestoneWrite(name=m.name, planned_date=m.planned_date,
                                              acceptance_type=m.acceptance_type, owner=m.owner)
                               for m in terms.milestones],
                   legal_terms=LegalTermsRead.model_validate(terms.legal_terms))


class DecisionCreate(_Strict):
    outcome: DecisionOutcome
    comment: Text | None = None


class AmendmentRead(Versioned):
    amendment_id: UUID
    contract_id: UUID
    reason: str
    kinds: list[AmendmentKind] = Field(description="what it changes: scope (title, line items), value, dates "
                                                   "(milestones), payment terms, legal terms")
    proposed: TermsRead
    declared_risk: Risk
    risk: Risk
    tier: Tier = Field(description="the decision tier that decides it now")
    status: AmendmentStatus
    base_version: int
    applied_version: int | None
    requested_by: str
    requested_at: datetime
    decisions: list[DecisionRead]
    version: int = Field(description=CONTRACT_VERSION + "; an amendment is part of its contract, so deciding or "
                                                        "withdrawing it sends this ETag")

    @classmethod
    def of(cls, contract: Contract, amendment: Amendment) -> AmendmentRead:
        return cls(amendment_id=amendment.amendment_id, contract_id=contract.id, version=contract.version,
                   reason=amendment.reason,
                   kinds=list(amendment.kinds), proposed=TermsRead.of(amendment.proposed),
                   declared_risk=amendment.declared_risk, risk=amendment.risk, tier=amendment.tier,
                   status=amendment.status, base_version=amendment.base_version,
                   applied_version=amendment.applied_version, requested_by=amendment.requested_by,
                   requested_at=amendment.requested_at,
                   decisions=[DecisionRead.model_validate(d) for d in amendment.decisions])


class VersionRead(BaseModel):
    contract_id: UUID
    contract_version: int
    change: VersionChange = Field(description="drafted, edited (a draft) or amended (a signed contract)")
    reason: str | None
    amendment_id: UUID | None
    created_by: str
    created_at: datetime
    terms: TermsRead

    @classmethod
    def of(cls, row: Any) -> VersionRead:
        return cls(contract_id=row.contract_id, contract_version=row.contract_version, change=row.change,
                   reason=row.reason, amendment_id=row.amendment_id, created_by=row.created_by,
                   created_at=row.created_at, terms=TermsRead.of(Terms.from_json(row.terms)))


class AuditEntryRead(BaseModel):
    action: AuditAction
    actor: str = Field(description="the user, or the event (`<source>:<type>`) that made the change")
    at: datetime
    details: dict[str, Any] = Field(description="what the action changed; its fields depend on the action")

    @classmethod
    def of(cls, entry: Any) -> AuditEntryRead:
        """An entry of the shared audit trail, as this API has always shown a contract's."""
        return cls(action=entry.action, actor=entry.actor, at=entry.at, details=entry.changes)


# --- policy ---------------------------------------------------------------------------------


class LimitsPayload(_Strict):
    first: Annotated[DecimalStr, Field(ge=0)]
    second: Annotated[DecimalStr, Field(ge=0)]


class ContractPolicyVersionRead(Versioned):
    version: int = Field(description="the policy's version (its ETag names it)")
    updated_by: str
    updated_at: datetime
    policy: ContractPolicyPayload

    @classmethod
    def of(cls, stored: PolicyVersion) -> ContractPolicyVersionRead:
        assert stored.set_by is not None and stored.set_at is not None  # a stored version, not the default
        return cls(version=stored.version, updated_by=stored.set_by, updated_at=stored.set_at,
                   policy=ContractPolicyPayload.of(ContractPolicy.from_json(stored.document)))


class ContractPolicyPayload(_Strict):
    review_limits: dict[CurrencyCode, LimitsPayload] = Field(
        description="per currency: a value up to `first` is the low tier, up to `second` medium, above it high; "
                    "a currency not listed is the high tier")
    review_functions: dict[ValueTier, list[ReviewFunction]] = Field(
        description="the review functions each value tier requires before signing")
    approval_limits: dict[CurrencyCode, LimitsPayload] = Field(
        description="per currency: a change of value up to `first` is within L1's authority, up to `second` L2's, "
                    "above it L3's; a currency not listed goes to L3")
    at_risk_days: int = Field(ge=0, le=365)

    def to_domain(self) -> ContractPolicy:
        return ContractPolicy(
            review_limits={c: Limits(b.first, b.second) for c, b in self.review_limits.items()},
            review_functions={t: tuple(dict.fromkeys(fs)) for t, fs in self.review_functions.items()},
            approval_limits={c: Limits(b.first, b.second) for c, b in self.approval_limits.items()},
            at_risk_days=self.at_risk_days)

    @classmethod
    def of(cls, policy: ContractPolicy) -> ContractPolicyPayload:
        def limits(table: dict[str, Limits]) -> dict[str, LimitsPayload]:
            return {c: LimitsPayload(first=b.first, second=b.second) for c, b in table.items()}

        return cls(review_limits=limits(policy.review_limits),
                   review_functions={t: list(fs) for t, fs in policy.review_functions.items()},
                   approval_limits=limits(policy.approval_limits), at_risk_days=policy.at_risk_days)


class ContractPolicyRead(ContractPolicyPayload, Versioned):
    """The policy in force and its version; a change sends back the policy fields (without `version`
    and `etag`) with the ETag as If-Match."""

    # An answer, not a request: FastAPI validates what a route returns from its dump, `etag` included.
    model_config = ConfigDict(extra="ignore")

    version: int = Field(description="the policy's version: 0 is the defaults, until an admin sets one")

    @classmethod
    def of_version(cls, policy: ContractPolicy, version: int) -> ContractPolicyRead:
        return cls(**ContractPolicyPayload.of(policy).model_dump(), version=version)


ContractPolicyVersionRead.model_rebuild()
