"""Amendments: a change to an active contract's terms, approved by a decision tier (ATAC), then
applied as a new version."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from ltc.contracts.domain.policy import Risk, Tier
from ltc.contracts.domain.values import AcceptanceType, AgreedMilestone, LegalTerms, LineItem, PaymentTerm
from ltc.shared.rules import RuleViolation


class AmendmentStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"  # and applied: approval and the new version are one step
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class DecisionOutcome(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"
    ESCALATED = "escalated"


@dataclass(frozen=True)
class Terms:
    """A complete set of terms: what a version of the contract says."""

    title: str
    value_amount: Decimal
    currency: str
    line_items: tuple[LineItem, ...]
    payment_terms: tuple[PaymentTerm, ...]
    milestones: tuple[AgreedMilestone, ...]
    legal_terms: LegalTerms

    def to_json(self) -> dict[str, Any]:
        return {"title": self.title, "value": {"amount": str(self.value_amount), "currency": self.currency},
                "line_items": [i.to_json() for i in self.line_items],
                "payment_terms": [t.to_json() for t in self.payment_terms],
                "milestones": [{"name": m.name, "planned_date": m.planned_date.isoformat(),
                                "acceptance_type": m.acceptance_type.value, "owner": m.owner}
                               for m in self.milestones],
                "legal_terms": self.legal_terms.to_json()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Terms:
        return cls(title=data["title"], value_amount=Decimal(data["value"]["amount"]),
                   currency=data["value"]["currency"],
                   line_items=tuple(LineItem.from_json(i) for i in data["line_items"]),
                   payment_terms=tuple(PaymentTerm.from_json(t) for t in data["payment_terms"]),
                   milestones=tuple(AgreedMilestone(m["name"], date.fromisoformat(m["planned_date"]),
                                                    AcceptanceType(m["acceptance_type"]), m.get("owner"))
                                    for m in data["milestones"]),
                   legal_terms=LegalTerms.from_json(data["legal_terms"]))


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
    kinds: tuple[str, ...]  # what it changes: scope, value, dates, payment_terms, legal_terms
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
        return {"amendment_id": str(self.amendment_id), "reason": self.reason, "kinds": list(self.kinds),
                "proposed": self.proposed.to_json(), "declared_risk": self.declared_risk.value,
                "risk": self.risk.value, "tier": self.tier.value, "status": self.status.value,
                "base_version": self.base_version, "requested_by": self.requested_by,
                "requested_at": self.requested_at.isoformat(), "decisions": [d.to_json() for d in self.decisions],
                "applied_version": self.applied_version}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Amendment:
        return cls(amendment_id=uuid.UUID(data["amendment_id"]), reason=data["reason"], kinds=tuple(data["kinds"]),
                   proposed=Terms.from_json(data["proposed"]), declared_risk=Risk(data["declared_risk"]),
                   risk=Risk(data["risk"]), tier=Tier(data["tier"]), status=AmendmentStatus(data["status"]),
                   base_version=data["base_version"], requested_by=data["requested_by"],
                   requested_at=datetime.fromisoformat(data["requested_at"]),
                   decisions=tuple(Decision.from_json(d) for d in data["decisions"]),
                   applied_version=data.get("applied_version"))
