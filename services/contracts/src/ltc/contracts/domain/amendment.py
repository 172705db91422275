"""Amendments: a change to an active contract's terms, routed by its value change and risk to a
decision tier (ATAC), decided there, and once approved applied by the contract as a new version.

The workflow's rules live here: what a request may propose and which tier it goes to
(`propose_amendment`), who may decide it and how (`decide_on`), and withdrawing it. The
contract keeps its own rules (it is active; an approved amendment becomes its next version)
and delegates the rest.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from ltc.contracts.domain.invoiced import Invoiced, refuse_below_invoiced
from ltc.contracts.domain.policy import ContractPolicy, Risk, Tier
from ltc.contracts.domain.terms import Terms, plan, refuse_unusable
from ltc.contracts.domain.values import AgreedMilestone, LegalTerms, LineItem, PaymentTerm
from ltc.shared.controls import require_other_person
from ltc.shared.money import Money
from ltc.shared.rules import DomainError, Forbidden, NotFound, RuleViolation
from ltc.shared.tiers import may_decide

if TYPE_CHECKING:
    from ltc.contracts.domain.model import Contract


class AmendmentStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"  # and applied: approval and the new version are one step
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class AmendmentKind(StrEnum):
    """What an amendment changes."""

    SCOPE = "scope"  # the title or the line items
    VALUE = "value"
    DATES = "dates"  # the milestones
    PAYMENT_TERMS = "payment_terms"
    LEGAL_TERMS = "legal_terms"


class DecisionOutcome(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"
    ESCALATED = "escalated"


@dataclass(frozen=True)
class Decision:
    tier: Tier
    outcome: DecisionOutcome
    decider: str
    comment: str | None
    decided_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {"tier": self.tier.value, "outcome": self.outcome.value, "decider": self.decider,
                "comment": self.comment, "decided_at": self.decided_at.isoformat()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Decision:
        return cls(Tier(data["tier"]), DecisionOutcome(data["outcome"]), data["decider"], data.get("comment"),
                   datetime.fromisoformat(data["decided_at"]))


def take_decision(tier: Tier, outcome: DecisionOutcome, *, decider: str, comment: str | None, now: datetime,
                  subject: str) -> tuple[Decision, Tier]:
    """A decision at `tier` and the tier that decides next: one up on escalation, else the same.

    The rules every tiered decision of a contract shares (an amendment's, its terms' approval): a
    rejection says why, and L3 escalates no further (`<subject>-cannot-escalate`).
    """
    comment = (comment or "").strip() or None
    if outcome is DecisionOutcome.REJECTED and comment is None:
        raise RuleViolation("decision-comment-required", "a rejection says why")
    decision = Decision(tier, outcome, decider, comment, now)
    if outcome is not DecisionOutcome.ESCALATED:
        return decision, tier
    above = tier.above()
    if above is None:
        raise RuleViolation(f"{subject}-cannot-escalate", "L3 is the highest tier")
    return decision, above


@dataclass(frozen=True)
class Amendment:
    amendment_id: uuid.UUID
    reason: str
    kinds: tuple[AmendmentKind, ...]  # what it changes
    proposed: Terms
    declared_risk: Risk
    risk: Risk  # the declared risk, raised by what the change does to cash and delivery
    tier: Tier  # the tier that must decide now (moves up on escalation)
    status: AmendmentStatus
    base_version: int
    requested_by: str
    requested_at: datetime
    decisions: tuple[Decision, ...] = ()
    applied_version: int | None = None

    def decided(self, decision: Decision, *, status: AmendmentStatus, tier: Tier,
                applied_version: int | None = None) -> Amendment:
        return replace(self, decisions=(*self.decisions, decision), status=status, tier=tier,
                       applied_version=applied_version)

    def to_json(self) -> dict[str, Any]:
        return {"amendment_id": str(self.amendment_id), "reason": self.reason, "kinds": [k.value for k in self.kinds],
                "proposed": self.proposed.to_json(), "declared_risk": self.declared_risk.value,
                "risk": self.risk.value, "tier": self.tier.value, "status": self.status.value,
                "base_version": self.base_version, "requested_by": self.requested_by,
                "requested_at": self.requested_at.isoformat(), "decisions": [d.to_json() for d in self.decisions],
                "applied_version": self.applied_version}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Amendment:
        return cls(amendment_id=uuid.UUID(data["amendment_id"]), reason=data["reason"], kinds=tuple(AmendmentKind(k) for k in data["kinds"]),
                   proposed=Terms.from_json(data["proposed"]), declared_risk=Risk(data["declared_risk"]),
                   risk=Risk(data["risk"]), tier=Tier(data["tier"]), status=AmendmentStatus(data["status"]),
                   base_version=data["base_version"], requested_by=data["requested_by"],
                   requested_at=datetime.fromisoformat(data["requested_at"]),
                   decisions=tuple(Decision.from_json(d) for d in data["decisions"]),
                   applied_version=data.get("applied_version"))


@dataclass(frozen=True)
class TermChanges:
    """What an amendment proposes; None leaves a part as it is."""

    title: str | None = None
    value: Money | None = None
    line_items: list[LineItem] | None = None
    payment_terms: list[PaymentTerm] | None = None
    milestones: list[AgreedMilestone] | None = None
    legal_terms: LegalTerms | None = None


def find_amendment(amendments: Iterable[Amendment], amendment_id: uuid.UUID) -> Amendment:
    amendment = next((a for a in amendments if a.amendment_id == amendment_id), None)
    if amendment is None:
        raise NotFound("amendment", amendment_id)
    return amendment


def propose_amendment(contract: Contract, *, amendment_id: uuid.UUID, reason: str, changes: TermChanges,
                      declared_risk: Risk, requested_by: str, policy: ContractPolicy, today: date,
                      now: datetime, invoiced: Mapping[int, Invoiced] | None = None) -> Amendment:
    """New terms for an active contract, routed to the decision tier whose authority covers the change.

    One amendment waits at a time; it changes something, not the currency, and its terms must be
    ones the contract could adopt today (nothing that already happened is changed: no line below
    what `invoiced` says finance has billed of it, per line position).
    """
    if not reason.strip():
        raise RuleViolation("amendment-reason-required", "an amendment says why it is needed")
    if any(a.status is AmendmentStatus.PENDING for a in contract.amendments):
        raise DomainError("amendment-pending", "this contract has an amendment waiting for its decision")
    current = contract.terms()
    if changes.value is not None and changes.value.currency != current.currency:
        raise RuleViolation("amendment-currency-change",
                            f"the contract is in {current.currency}; an amendment does not change currency")
    proposed = current.changed(title=changes.title, value=changes.value, line_items=changes.line_items,
                               payment_terms=changes.payment_terms, milestones=changes.milestones,
                               legal_terms=changes.legal_terms)
    kinds = _changed_kinds(current, proposed)
    if not kinds:
        raise RuleViolation("amendment-changes-nothing", "the proposed terms are the current ones")
    refuse_unusable(proposed)
    refuse_below_invoiced(current.line_items, proposed.line_items, invoiced or {})
    plan(proposed, signed=True, milestones=contract.milestones, payment_terms=contract.payment_terms, today=today)
    risk = max(declared_risk, _derived_risk(current, proposed), key=lambda r: r.tier.rank)
    return Amendment(
        amendment_id=amendment_id, reason=reason.strip(), kinds=kinds, proposed=proposed,
        declared_risk=declared_risk, risk=risk, tier=policy.route(proposed.value - current.value, risk),
        status=AmendmentStatus.PENDING, base_version=contract.contract_version, requested_by=requested_by,
        requested_at=now)


def decide_on(amendment: Amendment, *, outcome: DecisionOutcome, decider: str, decider_authority: Tier | None,
              comment: str | None, now: datetime) -> Amendment:
    """A decision of the tier the amendment is routed to (or a higher one, as for the opportunity
    gates), never of its requester. An approved amendment comes back without its applied version:
    the contract that applies it gives it one."""
    if amendment.status is not AmendmentStatus.PENDING:
        raise DomainError("amendment-decided", f"the amendment is already {amendment.status.value}")
    if not may_decide(decider_authority, amendment.tier):
        raise Forbidden("amendment-outside-authority",
                        f"the amendment is routed to {amendment.tier.value}; that tier or a higher one decides it")
    require_other_person("amendment-own-request", decider, [amendment.requested_by], "deciding an amendment")
    decision, tier = take_decision(amendment.tier, outcome, decider=decider, comment=comment, now=now,
                                   subject="amendment")
    if outcome is DecisionOutcome.ESCALATED:
        return amendment.decided(decision, status=AmendmentStatus.PENDING, tier=tier)
    if outcome is DecisionOutcome.REJECTED:
        return amendment.decided(decision, status=AmendmentStatus.REJECTED, tier=amendment.tier)
    return amendment.decided(decision, status=AmendmentStatus.APPROVED, tier=amendment.tier)


def withdrawn(amendment: Amendment) -> Amendment:
    """The requester takes back an amendment nobody has decided yet."""
    if amendment.status is not AmendmentStatus.PENDING:
        raise DomainError("amendment-decided", f"the amendment is already {amendment.status.value}")
    return replace(amendment, status=AmendmentStatus.WITHDRAWN)


def _changed_kinds(current: Terms, proposed: Terms) -> tuple[AmendmentKind, ...]:
    kinds = []
    if (current.title, current.line_items) != (proposed.title, proposed.line_items):
        kinds.append(AmendmentKind.SCOPE)
    if current.value_amount != proposed.value_amount:
        kinds.append(AmendmentKind.VALUE)
    if current.milestones != proposed.milestones:
        kinds.append(AmendmentKind.DATES)
    if tuple(t.agreed() for t in current.payment_terms) != proposed.payment_terms:
        kinds.append(AmendmentKind.PAYMENT_TERMS)
    if current.legal_terms != proposed.legal_terms:
        kinds.append(AmendmentKind.LEGAL_TERMS)
    return tuple(kinds)


def _derived_risk(current: Terms, proposed: Terms) -> Risk:
    """Less money, later or fewer deliveries and changed payment terms weigh on cash and
    delivery: such a change is at least of medium risk, whatever the request says."""
    planned = {m.name: m.planned_date for m in current.milestones}
    slipped = any(m.name in planned and m.planned_date > planned[m.name] for m in proposed.milestones)
    dropped = bool(set(planned) - {m.name for m in proposed.milestones})
    terms_changed = tuple(t.agreed() for t in current.payment_terms) != proposed.payment_terms
    if proposed.value_amount < current.value_amount or slipped or dropped or terms_changed:
        return Risk.MEDIUM
    return Risk.LOW
