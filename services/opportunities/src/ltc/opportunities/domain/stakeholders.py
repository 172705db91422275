"""The power map: who decides at the customer, how they stand towards us, who reports to whom, and
how far we reach the decision chain ("find the right people")."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from ltc.shared.rules import RuleViolation


class DecisionRole(StrEnum):
    DECISION_MAKER = "decision_maker"
    ECONOMIC_BUYER = "economic_buyer"
    TECHNICAL_EVALUATOR = "technical_evaluator"
    USER = "user"
    INFLUENCER = "influencer"
    GATEKEEPER = "gatekeeper"
    COACH = "coach"


class Attitude(StrEnum):
    SUPPORTER = "supporter"
    NEUTRAL = "neutral"
    OPPONENT = "opponent"


class Relationship(StrEnum):
    NONE = "none"
    WEAK = "weak"
    GOOD = "good"
    STRONG = "strong"


@dataclass(frozen=True)
class Stakeholder:
    id: uuid.UUID
    contact_id: uuid.UUID | None
    name: str
    title: str
    decision_role: DecisionRole
    influence: int
    attitude: Attitude
    relationship: Relationship
    reports_to: uuid.UUID | None


MAX_INFLUENCE = 5  # influence is rated 1 to 5
INFLUENTIAL = 4  # influence 4-5 of 5: the people whose view carries the decision


def check_reporting_line(stakeholder: Stakeholder, others: Sequence[Stakeholder]) -> None:
    """`stakeholder` reports to nobody or to someone on the map, and no reporting line circles."""
    if stakeholder.reports_to is None:
        return
    by_id = {s.id: s for s in (*others, stakeholder)}
    if stakeholder.reports_to not in by_id:
        raise RuleViolation("reports-to-unknown", "reports_to must be another stakeholder of this power map",
                            errors=[{"field": "reports_to", "message": "not a stakeholder of this opportunity"}])
    seen, boss = {stakeholder.id}, stakeholder.reports_to
    while boss is not None:
        if boss in seen:
            raise RuleViolation("reports-to-cycle", "the reporting lines would form a circle",
                                errors=[{"field": "reports_to", "message": "would make a reporting cycle"}])
        seen.add(boss)
        boss = by_id[boss].reports_to if boss in by_id else None


@dataclass(frozen=True)
class Coverage:
    """How far we reach the customer's decision chain."""

    decision_maker_known: bool
    economic_buyer_known: bool
    roles_covered: tuple[DecisionRole, ...]
    influential: int
    influential_supporters: int
    influential_opponents: int

    @property
    def decision_chain_covered(self) -> bool:
        return self.decision_maker_known and self.economic_buyer_known

    @classmethod
    def of(cls, stakeholders: Sequence[Stakeholder]) -> Coverage:
        roles = {s.decision_role for s in stakeholders}
        influential = [s for s in stakeholders if s.influence >= INFLUENTIAL]
        return cls(
            decision_maker_known=DecisionRole.DECISION_MAKER in roles,
            economic_buyer_known=DecisionRole.ECONOMIC_BUYER in roles,
            roles_covered=tuple(r for r in DecisionRole if r in roles),
            influential=len(influential),
            influential_supporters=sum(s.attitude is Attitude.SUPPORTER for s in influential),
            influential_opponents=sum(s.attitude is Attitude.OPPONENT for s in influential),
        )
