"""Contracts and their execution, section 3 of the LTC domain.

A contract is drafted from a won opportunity with the terms approved at ATC (or, without an
opportunity, by its AR: a direct contract, which needs its own approval), passes the contract
quality review of the functions its value tier requires by people who did not write its terms,
is approved for the version to be signed, is signed (`draft` → `active`), executed through its delivery milestones up to the customer's acceptance, amended
through a decision tier (each amendment a new version), and `closed` once every milestone is
accepted and finance reports it fully paid, whichever of the two happens last.

Every change of the terms makes a new `contract_version`: a draft's edits as much as an
amendment. Review verdicts belong to one version, which is how an edit resets the review.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from ltc.contracts.domain.amendment import (
    Amendment,
    AmendmentStatus,
    DecisionOutcome,
    TermChanges,
    decide_on,
    find_amendment,
    propose_amendment,
    take_decision,
    withdrawn,
)
from ltc.contracts.domain.approval import Approval, ApprovalSource, ApprovalStatus, ContractOrigin
from ltc.contracts.domain.invoiced import Invoiced, refuse_below_invoiced
from ltc.contracts.domain.policy import ContractPolicy, Risk
from ltc.contracts.domain.review import (
    ItemVerdict,
    ReviewFunction,
    ReviewRecord,
    ReviewState,
    checked_items,
    review_state,
)
from ltc.contracts.domain.terms import Terms, plan, refuse_unusable
from ltc.contracts.domain.values import (
    AcceptanceType,
    AgreedMilestone,
    LegalTerms,
    LineItem,
    Milestone,
    MilestoneStatus,
    PaymentTerm,
)
from ltc.shared.controls import (
    APPROVER_IS_AUTHOR,
    FUTURE_TOLERANCE,
    REVIEWER_IS_AUTHOR,
    require_happened,
    require_other_person,
)
from ltc.shared.messages import EventPayload, Lineage, MoneyPayload
from ltc.shared.messages.base import LinePayload
from ltc.shared.messages.contracts_events import (
    ContractAmended,
    ContractClosed,
    ContractDrafted,
    ContractMilestoneAccepted,
    ContractMilestonePayload,
    ContractReviewed,
    ContractSigned,
    InstalmentPayload,
    Trigger,
)
from ltc.shared.money import Money, MoneyAttribute
from ltc.shared.rules import DomainError, Forbidden, NotFound, RuleViolation
from ltc.shared.tiers import Tier, may_decide

SIGNED_BEFORE_APPROVAL = "signed-before-approval"
# A milestone's start or delivery, and its acceptance, dated before the contract was signed.
DATE_BEFORE_SIGNING = "milestone-date-before-signing"
ACCEPTED_BEFORE_SIGNING = "accepted-before-signing"

# `CON-2026-000001`: the number people know a contract by, given when it is drafted.
CONTRACT_NUMBER_PATTERN = r"^CON-[0-9]{4}-[0-9]{6,}$"


def contract_number(year: int, sequence: int) -> str:
    """The `sequence`-th contract drafted in calendar year `year`: numbers run per year without gaps."""
    return f"CON-{year}-{sequence:06d}"


class ContractStatus(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    CLOSED = "closed"


class VersionChange(StrEnum):
    """How a version of the terms came to be."""

    DRAFTED = "drafted"
    EDITED = "edited"  # a draft's terms changed
    AMENDED = "amended"  # a signed contract's terms changed through an approved amendment


class Health(StrEnum):
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    LATE = "late"


@dataclass(frozen=True)
class DraftChanges:
    """An edit of a draft; None leaves a part as it is."""

    title: str | None = None
    account_name: str | None = None
    value: Money | None = None
    line_items: list[LineItem] | None = None
    payment_terms: list[PaymentTerm] | None = None
    milestones: list[AgreedMilestone] | None = None
    legal_terms: LegalTerms | None = None


class Contract:
    events: list[EventPayload]

    def __init__(self, *, id: uuid.UUID, number: str, opportunity_id: uuid.UUID | None, lead_id: uuid.UUID | None,
                 account_id: uuid.UUID | None, account_name: str, title: str, owner: str, value: Money,
                 payment_terms: list[PaymentTerm], milestones: list[AgreedMilestone], now: datetime,
                 line_items: list[LineItem] | None = None, legal_terms: LegalTerms | None = None,
                 fr_owner: str | None = None, atc_approval: Approval | None = None) -> None:
        """A won opportunity's contract comes with its ATC approval; one without an opportunity is
        direct, drafted by its owner, and waits for its own approval. `number` is the one the
        drafting gave it (`contract_number`)."""
        if (opportunity_id is None) != (atc_approval is None):
            raise ValueError("a won opportunity's contract comes with its ATC approval, a direct one without")
        terms = Terms(title=title, value_amount=value.amount, currency=value.currency,
                      line_items=tuple(line_items or ()), payment_terms=tuple(t.agreed() for t in payment_terms),
                      milestones=tuple(milestones), legal_terms=legal_terms or LegalTerms())
        refuse_unusable(terms)
        self.id = id
        self.number = number
        self.opportunity_id = opportunity_id
        self.origin = ContractOrigin.DIRECT if opportunity_id is None else ContractOrigin.OPPORTUNITY
        # Who wrote the terms: the owner negotiated them (at ATC, or drafting a direct contract);
        # editors of the draft join them. None of them reviews or approves the terms.
        self.authors: list[str] = [owner]
        self.approvals: list[Approval] = [] if atc_approval is None else [atc_approval]
        self.signed_by: str | None = None
        self.lead_id = lead_id
        self.account_id = account_id
        self.account_name = account_name
        self.owner = owner
        self.fr_owner = fr_owner
        self.status = ContractStatus.DRAFT
        self.contract_version = 1
        self.milestones: list[Milestone] = []
        self.payment_terms: list[PaymentTerm] = []
        self.reviews: list[ReviewRecord] = []
        self.amendments: list[Amendment] = []
        self.signatories: list[str] = []
        self.signed_on: date | None = None
        self.fully_paid = False
        self.fully_paid_on: date | None = None
        self.closed_at: datetime | None = None
        self.created_at = now
        self.updated_at = now
        self._adopt(terms, today=None)
        self.events = [ContractDrafted(lineage=self.lineage(), contract_id=id, opportunity_id=opportunity_id,
                                       origin=self.origin.value, value=MoneyPayload.of(value), drafted_at=now)]

    def lineage(self) -> Lineage:
        return Lineage(lead_id=self.lead_id, opportunity_id=self.opportunity_id, contract_id=self.id)

    value = MoneyAttribute("value_amount", "value_currency")

    @property
    def all_milestones_accepted(self) -> bool:
        return all(m.accepted for m in self.milestones)

    def terms(self) -> Terms:
        """The terms of the current version (what a version snapshot keeps)."""
        return Terms(title=self.title, value_amount=self.value_amount, currency=self.value_currency,
                     line_items=tuple(self.line_items), payment_terms=tuple(self.payment_terms),
                     milestones=tuple(m.as_agreed() for m in self.milestones), legal_terms=self.legal_terms)

    # --- terms --------------------------------------------------------------------------------

    def _adopt(self, terms: Terms, *, today: date | None) -> None:
        """Make `terms` the contract's terms, with their schedule planned in money."""
        milestones, payment_terms = plan(terms, signed=self.status is not ContractStatus.DRAFT,
                                         milestones=self.milestones, payment_terms=self.payment_terms, today=today)
        self.title = terms.title
        self.value_amount = terms.value_amount
        self.value_currency = terms.currency
        self.line_items = list(terms.line_items)
        self.legal_terms = terms.legal_terms
        self.payment_terms = payment_terms
        self.milestones = milestones

    def _require_status(self, status: ContractStatus, rule: str, doing: str) -> None:
        if self.status is not status:
            raise DomainError(rule, f"{doing} needs a {status.value} contract; this one is {self.status.value}")

    def edit(self, changes: DraftChanges, *, by: str, now: datetime) -> bool:
        """Change the draft; a real change makes a new version, so the review and the approval start again."""
        self._require_status(ContractStatus.DRAFT, "contract-not-draft", "editing the terms")
        current = replace(self.terms(), payment_terms=tuple(t.agreed() for t in self.payment_terms))
        terms = current.changed(title=changes.title, value=changes.value, line_items=changes.line_items,
                                payment_terms=changes.payment_terms, milestones=changes.milestones,
                                legal_terms=changes.legal_terms)
        renamed = changes.account_name is not None and changes.account_name != self.account_name
        if terms == current and not renamed:
            return False
        refuse_unusable(terms)
        self._adopt(terms, today=None)
        if changes.account_name is not None:
            self.account_name = changes.account_name
        if by not in self.authors:
            self.authors = [*self.authors, by]
        self.contract_version += 1
        self.updated_at = now
        return True

    def assign_fr(self, fr_owner: str | None, *, now: datetime) -> None:
        """The FR who runs the contract's execution (milestones without their own owner)."""
        if self.status is ContractStatus.CLOSED:
            raise DomainError("contract-closed", "a closed contract has no one left to run it")
        self.fr_owner = fr_owner
        self.updated_at = now

    # --- quality review -----------------------------------------------------------------------

    def review(self, required: tuple[ReviewFunction, ...]) -> ReviewState:
        """The review of the draft's current version; once signed, of the version that was signed.

        Reviews happen only on drafts and signing needs the current version passed, so the last
        version reviewed is the signed one; amendments go through their decision tier instead.
        """
        version = self.contract_version
        if self.status is not ContractStatus.DRAFT and self.reviews:
            version = max(r.contract_version for r in self.reviews)
        return review_state(self.reviews, version, required)

    def record_review(self, *, function: ReviewFunction, reviewer: str, items: list[ItemVerdict],
                      comment: str | None, required: tuple[ReviewFunction, ...], now: datetime,
                      reviewed_version: int | None = None) -> ReviewRecord:
        """One function's verdict on the current version; a later verdict of the same function replaces it.

        A reviewer who names the version they read is refused if the draft changed since, so a
        verdict never lands on terms nobody reviewed.
        """
        self._require_status(ContractStatus.DRAFT, "contract-not-draft", "a quality review")
        require_other_person(REVIEWER_IS_AUTHOR, reviewer, self.authors, "the quality review of a contract")
        if reviewed_version is not None and reviewed_version != self.contract_version:
            raise DomainError("review-version-stale",
                              f"version {reviewed_version} was reviewed but the draft is now at version "
                              f"{self.contract_version}; review it again")
        record = ReviewRecord(review_id=uuid.uuid4(), function=function, contract_version=self.contract_version,
                              reviewer=reviewer, items=checked_items(function, items), comment=comment,
                              reviewed_at=now)
        self.reviews = [*self.reviews, record]
        self.updated_at = now
        summary = comment or "; ".join(f"{i.item}: {i.comment}" for i in record.items if i.comment) or None
        self.events.append(ContractReviewed(
            lineage=self.lineage(), contract_id=self.id, contract_version=self.contract_version,
            function=function.value, outcome="passed" if record.passed else "failed", reviewer=reviewer,
            comment=summary, review_passed=self.review(required).passed, reviewed_at=now))
        return record

    # --- approval -----------------------------------------------------------------------------

    def _recorded_approval(self) -> Approval | None:
        return next((a for a in reversed(self.approvals) if a.contract_version == self.contract_version), None)

    def approval(self, policy: ContractPolicy) -> Approval:
        """The approval of the current version: the one recorded, or a pending one routed by value.

        Once signed, the approval the signing rested on: an amendment is approved by its own
        decision tier, not by this approval again.
        """
        if self.status is not ContractStatus.DRAFT and self.approvals:
            return self.approvals[-1]
        recorded = self._recorded_approval()
        if recorded is not None:
            return recorded
        return Approval(contract_version=self.contract_version, source=ApprovalSource.CONTRACT,
                        tier=policy.route(self.value, Risk.LOW), status=ApprovalStatus.PENDING)

    def decide_approval(self, *, outcome: DecisionOutcome, decider: str, decider_authority: Tier | None,
                        comment: str | None, policy: ContractPolicy, version: int | None, now: datetime) -> Approval:
        """A decision on the draft's current terms by the tier their value is routed to, or a higher one."""
        self._require_status(ContractStatus.DRAFT, "contract-not-draft", "approving the terms")
        if version is not None and version != self.contract_version:
            raise DomainError("approval-version-stale",
                              f"version {version} was read but the draft is now at version {self.contract_version}")
        approval = self.approval(policy)
        if approval.status is not ApprovalStatus.PENDING:
            raise DomainError("approval-decided",
                              f"version {self.contract_version} is already {approval.status.value}")
        assert approval.tier is not None  # a pending approval is always routed
        if not may_decide(decider_authority, approval.tier):
            raise Forbidden("approval-outside-authority",
                            f"the contract's terms are routed to {approval.tier.value}; that tier or a higher one "
                            "decides them")
        require_other_person(APPROVER_IS_AUTHOR, decider, self.authors, "approving a contract's terms")
        decision, tier = take_decision(approval.tier, outcome, decider=decider, comment=comment, now=now,
                                       subject="approval")
        status = {DecisionOutcome.APPROVED: ApprovalStatus.APPROVED, DecisionOutcome.REJECTED: ApprovalStatus.REJECTED,
                  DecisionOutcome.ESCALATED: ApprovalStatus.PENDING}[outcome]
        decided = approval.decided(decision, status=status, tier=tier)
        self.approvals = [*(a for a in self.approvals if a.contract_version != self.contract_version), decided]
        self.updated_at = now
        return decided

    # --- signing ------------------------------------------------------------------------------

    def payment_schedule(self) -> list[InstalmentPayload]:
        milestone_ids = {m.name: m.milestone_id for m in self.milestones}
        return [
            InstalmentPayload(name=t.name, percent=t.percent,
                              amount=MoneyPayload.of(Money(t.amount or Decimal(0), self.value_currency)),
                              trigger=t.trigger.value, due_days=t.due_days, due_date=t.due_date,
                              milestone_id=milestone_ids[t.milestone] if t.trigger is Trigger.MILESTONE else None)
            for t in self.payment_terms
        ]

    def _line_payloads(self) -> list[LinePayload]:
        return [LinePayload.of(line) for line in self.line_items]

    def _milestone_payloads(self) -> list[ContractMilestonePayload]:
        return [ContractMilestonePayload(milestone_id=m.milestone_id, name=m.name, planned_date=m.planned_date,
                                         acceptance_type=m.acceptance_type.value) for m in self.milestones]

    def sign(self, *, signatories: list[str], signed_on: date, required_reviews: tuple[ReviewFunction, ...],
             by: str, now: datetime) -> None:
        """`draft` → `active`, once this version passed its quality review and is approved.

        The approval is the signing authority: the version signed is the one approved (at ATC or
        here), and the contract keeps who recorded the signing beside who approved it.
        """
        self._require_status(ContractStatus.DRAFT, "contract-not-draft", "signing")
        require_happened("signed_on", signed_on, now.date())
        review = self.review(required_reviews)
        if not review.passed:
            detail = (f"functions {[f.value for f in review.failed]} failed version {self.contract_version}"
                      if review.failed else
                      f"functions {[f.value for f in review.outstanding]} have not passed version "
                      f"{self.contract_version} yet")
            raise DomainError("contract-review-not-passed", f"signing needs a passed quality review: {detail}")
        approval = self._recorded_approval()
        if approval is None or approval.status is not ApprovalStatus.APPROVED:
            raise DomainError("contract-not-approved",
                              f"signing needs approved terms: nobody has approved version {self.contract_version} "
                              "(see its approval)")
        approving = approval.approving
        # The approval's UTC day may already be the next one where the contract was signed.
        if approving is not None and signed_on < approving.decided_at.date() - FUTURE_TOLERANCE:
            raise RuleViolation(SIGNED_BEFORE_APPROVAL,
                                f"signed_on {signed_on} precedes the approval of these terms on "
                                f"{approving.decided_at.date()}: a contract is signed on approved terms",
                                errors=[{"field": "signed_on", "message": "may not precede the approval",
                                         "type": SIGNED_BEFORE_APPROVAL}])
        names = [s.strip() for s in signatories]
        if any(not n for n in names) or len({n.casefold() for n in names}) < 2:
            raise RuleViolation("signatories-both-sides",
                                "a contract is signed by at least two different people: ours and the customer's")
        self.signatories = names
        self.signed_on = signed_on
        self.signed_by = by
        self.status = ContractStatus.ACTIVE
        self.updated_at = now
        self.events.append(ContractSigned(
            lineage=self.lineage(), contract_id=self.id, account_id=self.account_id, account_name=self.account_name,
            value=MoneyPayload.of(self.value), signed_on=signed_on, signatories=names,
            payment_schedule=self.payment_schedule(), milestones=self._milestone_payloads(),
            lines=self._line_payloads(),
        ))

    # --- execution ----------------------------------------------------------------------------

    def milestone(self, milestone_id: uuid.UUID) -> Milestone:
        milestone = next((m for m in self.milestones if m.milestone_id == milestone_id), None)
        if milestone is None:
            raise NotFound("milestone", milestone_id)
        return milestone

    def milestone_owner(self, milestone_id: uuid.UUID) -> str | None:
        """Who runs a milestone: its own FR, else the contract's FR; None when nobody is assigned."""
        return self.milestone(milestone_id).owner or self.fr_owner

    def _executable(self, milestone_id: uuid.UUID, on: date, doing: str, *, field: str, today: date,
                    early_rule: str) -> Milestone:
        self._require_status(ContractStatus.ACTIVE, "contract-not-active", doing)
        milestone = self.milestone(milestone_id)
        require_happened(field, on, today)
        if milestone.accepted:
            raise DomainError("milestone-already-accepted",
                              f"milestone {milestone.name!r} was accepted on {milestone.accepted_on}")
        assert self.signed_on is not None
        if on < self.signed_on:
            raise RuleViolation(early_rule, f"{doing} on {on} precedes the signing on {self.signed_on}")
        return milestone

    def _replace_milestone(self, updated: Milestone, now: datetime) -> None:
        self.milestones = [updated if m.milestone_id == updated.milestone_id else m for m in self.milestones]
        self.updated_at = now

    def start_milestone(self, milestone_id: uuid.UUID, *, started_on: date, now: datetime) -> None:
        milestone = self._executable(milestone_id, started_on, "starting a milestone", field="started_on",
                                     today=now.date(), early_rule=DATE_BEFORE_SIGNING)
        if milestone.status is not MilestoneStatus.PLANNED:
            raise DomainError("milestone-already-started", f"milestone {milestone.name!r} is {milestone.status.value}")
        self._replace_milestone(replace(milestone, status=MilestoneStatus.IN_PROGRESS, started_on=started_on), now)

    def deliver_milestone(self, milestone_id: uuid.UUID, *, delivered_on: date, now: datetime) -> None:
        milestone = self._executable(milestone_id, delivered_on, "delivering a milestone", field="delivered_on",
                                     today=now.date(), early_rule=DATE_BEFORE_SIGNING)
        if milestone.status is MilestoneStatus.DELIVERED:
            raise DomainError("milestone-already-delivered",
                              f"milestone {milestone.name!r} was delivered on {milestone.delivered_on}")
        if milestone.started_on is not None and delivered_on < milestone.started_on:
            raise RuleViolation("milestone-dates-out-of-order",
                                f"delivery on {delivered_on} precedes the start on {milestone.started_on}")
        self._replace_milestone(replace(milestone, status=MilestoneStatus.DELIVERED, delivered_on=delivered_on,
                                        started_on=milestone.started_on or delivered_on), now)

    def accept_milestone(self, milestone_id: uuid.UUID, *, accepted_on: date, certificate_ref: str,
                         now: datetime, acceptance_type: AcceptanceType | None = None) -> None:
        """The customer accepted the milestone, preliminarily or finally as agreed for it.

        An acceptance recorded without a recorded delivery means the delivery happened by then.
        A final acceptance comes after every preliminary one. It may be the last step before
        closure.
        """
        milestone = self._executable(milestone_id, accepted_on, "accepting a milestone", field="accepted_on",
                                     today=now.date(), early_rule=ACCEPTED_BEFORE_SIGNING)
        if acceptance_type is not None and acceptance_type is not milestone.acceptance_type:
            raise RuleViolation("acceptance-type-mismatch",
                                f"milestone {milestone.name!r} is agreed for {milestone.acceptance_type.value} "
                                f"acceptance, not {acceptance_type.value}")
        if milestone.acceptance_type is AcceptanceType.FINAL:
            waiting = [m.name for m in self.milestones
                       if m.acceptance_type is AcceptanceType.PRELIMINARY and not m.accepted]
            if waiting:
                raise DomainError("preliminary-acceptance-pending",
                                  f"final acceptance comes after the preliminary acceptance of {waiting}")
        certificate_ref = certificate_ref.strip()
        if not certificate_ref:
            raise RuleViolation("acceptance-certificate-required", "an acceptance needs the customer's certificate")
        if milestone.delivered_on is not None and accepted_on < milestone.delivered_on:
            raise RuleViolation("milestone-dates-out-of-order",
                                f"acceptance on {accepted_on} precedes the delivery on {milestone.delivered_on}")
        self._replace_milestone(replace(
            milestone, status=MilestoneStatus.ACCEPTED, accepted_on=accepted_on, certificate_ref=certificate_ref,
            delivered_on=milestone.delivered_on or accepted_on,
            started_on=milestone.started_on or milestone.delivered_on or accepted_on), now)
        self.events.append(ContractMilestoneAccepted(
            lineage=self.lineage(), contract_id=self.id, milestone_id=milestone_id, name=milestone.name,
            acceptance_type=milestone.acceptance_type.value, accepted_on=accepted_on, certificate_ref=certificate_ref,
        ))
        self._close_if_complete(now)

    # --- performance monitoring ---------------------------------------------------------------

    def late_milestones(self, as_of: date) -> list[Milestone]:
        return [m for m in self.milestones if m.is_late(as_of)] if self.status is ContractStatus.ACTIVE else []

    def at_risk_milestones(self, as_of: date, window_days: int) -> list[Milestone]:
        if self.status is not ContractStatus.ACTIVE:
            return []
        return [m for m in self.milestones if m.is_at_risk(as_of, window_days)]

    def health(self, as_of: date, window_days: int) -> Health | None:
        """Only a contract in execution has a health: late beats at risk beats on track."""
        if self.status is not ContractStatus.ACTIVE:
            return None
        if self.late_milestones(as_of):
            return Health.LATE
        if self.at_risk_milestones(as_of, window_days):
            return Health.AT_RISK
        return Health.ON_TRACK

    # --- amendments (their workflow: ltc.contracts.domain.amendment) ----------------------------

    def amendment(self, amendment_id: uuid.UUID) -> Amendment:
        return find_amendment(self.amendments, amendment_id)

    @property
    def pending_amendment(self) -> Amendment | None:
        return next((a for a in self.amendments if a.status is AmendmentStatus.PENDING), None)

    def request_amendment(self, *, amendment_id: uuid.UUID, reason: str, changes: TermChanges, declared_risk: Risk,
                          requested_by: str, policy: ContractPolicy, today: date, now: datetime,
                          invoiced: Mapping[int, Invoiced] | None = None) -> Amendment:
        """Propose new terms for the contract in execution (`propose_amendment` routes them);
        `invoiced` is what finance has billed so far of each line, by position."""
        self._require_status(ContractStatus.ACTIVE, "contract-not-active", "an amendment")
        amendment = propose_amendment(self, amendment_id=amendment_id, reason=reason, changes=changes,
                                      declared_risk=declared_risk, requested_by=requested_by, policy=policy,
                                      today=today, now=now, invoiced=invoiced)
        self.amendments = [*self.amendments, amendment]
        self.updated_at = now
        return amendment

    def decide_amendment(self, amendment_id: uuid.UUID, *, outcome: DecisionOutcome, decider: str,
                         decider_authority: Tier | None, comment: str | None, today: date,
                         now: datetime, invoiced: Mapping[int, Invoiced] | None = None) -> Amendment:
        """A decision on a pending amendment (`decide_on`); an approval applies it as a new version,
        checked again against what has been invoiced (`invoiced`) since it was requested."""
        decided = decide_on(self.amendment(amendment_id), outcome=outcome, decider=decider,
                            decider_authority=decider_authority, comment=comment, now=now)
        if decided.status is AmendmentStatus.APPROVED:
            decided = self._apply(decided, today=today, now=now, invoiced=invoiced or {})
        self._replace_amendment(decided, now)
        return decided

    def withdraw_amendment(self, amendment_id: uuid.UUID, *, now: datetime) -> Amendment:
        taken_back = withdrawn(self.amendment(amendment_id))
        self._replace_amendment(taken_back, now)
        return taken_back

    def _apply(self, amendment: Amendment, *, today: date, now: datetime,
               invoiced: Mapping[int, Invoiced]) -> Amendment:
        """The approved terms become the next version; what has happened is carried over (`plan`)."""
        self._require_status(ContractStatus.ACTIVE, "contract-not-active", "applying an amendment")
        refuse_below_invoiced(self.line_items, amendment.proposed.line_items, invoiced)
        self._adopt(amendment.proposed, today=today)
        if amendment.requested_by not in self.authors:
            self.authors = [*self.authors, amendment.requested_by]
        self.contract_version += 1
        self.events.append(ContractAmended(
            lineage=self.lineage(), contract_id=self.id, contract_version=self.contract_version,
            reason=amendment.reason, value=MoneyPayload.of(self.value), payment_schedule=self.payment_schedule(),
            milestones=self._milestone_payloads(), amended_at=now, lines=self._line_payloads()))
        return replace(amendment, applied_version=self.contract_version)

    def _replace_amendment(self, amendment: Amendment, now: datetime) -> None:
        self.amendments = [amendment if a.amendment_id == amendment.amendment_id else a for a in self.amendments]
        self.updated_at = now

    # --- closure ------------------------------------------------------------------------------

    def record_fully_paid(self, *, fully_paid_on: date, now: datetime) -> None:
        """Finance collected the whole value; the contract closes if delivery is also complete."""
        if self.fully_paid:
            return  # finance may report it again; nothing more to record
        if self.status is ContractStatus.DRAFT:
            raise DomainError("contract-not-signed", "finance reports an unsigned contract as fully paid")
        self.fully_paid = True
        self.fully_paid_on = fully_paid_on
        self.updated_at = now
        self._close_if_complete(now)

    def _close_if_complete(self, now: datetime) -> None:
        if self.status is ContractStatus.ACTIVE and self.fully_paid and self.all_milestones_accepted:
            self.status = ContractStatus.CLOSED
            self.closed_at = now
            self.events.append(ContractClosed(lineage=self.lineage(), contract_id=self.id, closed_at=now))
