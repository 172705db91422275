"""The risk register: each risk rated by probability and impact, owned, mitigated, closed, never deleted."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from enum import StrEnum


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
