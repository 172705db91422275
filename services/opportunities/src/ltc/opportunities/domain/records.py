"""What the sales team learns about an opportunity: team, insight, value, power map, competition, risk."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum


class TeamRole(StrEnum):
    AR = "ar"
    SR = "sr"
    FR = "fr"


@dataclass(frozen=True)
class TeamChange:
    role: TeamRole
    previous: str | None
    assigned: str
    changed_by: str
    changed_at: datetime


class MarketSituation(StrEnum):
    EXISTING = "existing"
    NEW = "new"
    VALUE_BREAKTHROUGH = "value_breakthrough"
    MULTI_PRODUCT = "multi_product"


class LifeCyclePhase(StrEnum):
    INTRODUCTION = "introduction"
    GROWTH = "growth"
    MATURITY = "maturity"
    DECLINE = "decline"


@dataclass(frozen=True)
class MarketInsight:
    situation: MarketSituation
    notes: str


@dataclass(frozen=True)
class CustomerInsight:
    segment: str
    region_value: str
    strategy: str
    pains: str


@dataclass(frozen=True)
class ProductInsight:
    phase: LifeCyclePhase
    notes: str


@dataclass(frozen=True)
class CompetitionInsight:
    industry_situation: str
    customer_competitors: str
    our_goals: str
    our_strategy: str
    our_strengths: str
    our_weaknesses: str


@dataclass(frozen=True)
class Insight:
    market: MarketInsight | None = None
    customer: CustomerInsight | None = None
    product: ProductInsight | None = None
    competition: CompetitionInsight | None = None

    def missing(self) -> list[str]:
        return [name for name in ("market", "customer", "product", "competition") if getattr(self, name) is None]


class NeedMet(StrEnum):
    FULLY = "fully"
    LARGELY = "largely"
    PARTIALLY = "partially"


@dataclass(frozen=True)
class ValueProposition:
    unique_advantages: str
    unique_value: str
    need_met: NeedMet
    need_met_notes: str
    differentiation: str


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


INFLUENTIAL = 4  # influence 4-5 of 5: the people whose view carries the decision


@dataclass(frozen=True)
class Coverage:
    """How far we reach the customer's decision chain ("find the right people")."""

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


@dataclass(frozen=True)
class Competitor:
    id: uuid.UUID
    name: str
    strengths: str
    weaknesses: str
    likely_offer: str


class Level(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class RiskCategory(StrEnum):
    COMMERCIAL = "commercial"
    TECHNICAL = "technical"
    DELIVERY = "delivery"
    LEGAL = "legal"
    OTHER = "other"


class RiskStatus(StrEnum):
    OPEN = "open"
    MITIGATING = "mitigating"
    CLOSED = "closed"


_SCORE = {Level.LOW: 1, Level.MEDIUM: 2, Level.HIGH: 3}


@dataclass(frozen=True)
class Risk:
    id: uuid.UUID
    description: str
    category: RiskCategory
    probability: Level
    impact: Level
    mitigation: str | None
    owner: str
    status: RiskStatus
    due_date: date | None = None

    @property
    def level(self) -> Level:
        """Probability × impact on a 1-3 scale: 6 or more is high (e.g. likely and severe)."""
        score = _SCORE[self.probability] * _SCORE[self.impact]
        return Level.HIGH if score >= 6 else Level.MEDIUM if score >= 3 else Level.LOW

    @property
    def is_high_and_live(self) -> bool:
        return self.level is Level.HIGH and self.status is not RiskStatus.CLOSED


class Priority(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


@dataclass(frozen=True)
class Requirement:
    """A customer need we cannot meet today, handed to product development."""

    id: uuid.UUID
    title: str
    description: str
    priority: Priority
    raised_by: str
    raised_at: datetime
