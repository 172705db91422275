"""What the team knows about the market, the customer, the product and the competition, and the
value proposition it builds on that knowledge."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


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


DIMENSIONS = ("market", "customer", "product", "competition")


@dataclass(frozen=True)
class Insight:
    market: MarketInsight | None = None
    customer: CustomerInsight | None = None
    product: ProductInsight | None = None
    competition: CompetitionInsight | None = None

    def missing(self) -> list[str]:
        return [name for name in DIMENSIONS if getattr(self, name) is None]

    def updated_by(self, given: Insight) -> Insight:
        """The dimensions `given` has replace these; the others stay as they were."""
        return Insight(**{name: getattr(given, name) or getattr(self, name) for name in DIMENSIONS})


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
