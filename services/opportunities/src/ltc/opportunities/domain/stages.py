"""The sales stages an opportunity passes and the win probability an admin gives each open one,
which weights the pipeline."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from ltc.shared.rules import RuleViolation


class Stage(StrEnum):
    VALIDATING = "validating"
    STRATEGIZING = "strategizing"
    BIDDING = "bidding"
    NEGOTIATING = "negotiating"
    WON = "won"
    LOST = "lost"
    ABANDONED = "abandoned"


OPEN_STAGES = (Stage.VALIDATING, Stage.STRATEGIZING, Stage.BIDDING, Stage.NEGOTIATING)
CLOSED_STAGES = frozenset({Stage.WON, Stage.LOST, Stage.ABANDONED})
# Bidding commits the company to an offer: from here on an approved ATB is required.
AFTER_ATB = frozenset({Stage.BIDDING, Stage.NEGOTIATING})


@dataclass(frozen=True)
class StageProbabilities:
    """Win probability in percent of each open stage; won is 100, lost and abandoned 0."""

    by_stage: Mapping[Stage, Decimal]

    def __post_init__(self) -> None:
        problems = [{"field": f"probabilities.{stage.value}", "message": "needs a probability"}
                    for stage in OPEN_STAGES if stage not in self.by_stage]
        problems += [{"field": f"probabilities.{stage.value}", "message": "only open stages are configured"}
                     for stage in self.by_stage if stage in CLOSED_STAGES]
        problems += [{"field": f"probabilities.{stage.value}", "message": "must be between 0 and 100"}
                     for stage, p in self.by_stage.items() if not (p.is_finite() and 0 <= p <= 100)]
        if problems:
            raise RuleViolation("stage-probabilities-invalid", "the stage probabilities are not valid",
                                errors=problems)

    def of(self, stage: Stage) -> Decimal:
        if stage is Stage.WON:
            return Decimal(100)
        if stage in CLOSED_STAGES:
            return Decimal(0)
        return self.by_stage[stage]

    def to_json(self) -> dict[str, str]:
        return {stage.value: str(p) for stage, p in self.by_stage.items()}

    @classmethod
    def from_json(cls, document: Mapping[str, str]) -> StageProbabilities:
        return cls({Stage(k): Decimal(v) for k, v in document.items()})


DEFAULT_PROBABILITIES = StageProbabilities({Stage.VALIDATING: Decimal(10), Stage.STRATEGIZING: Decimal(25),
                                            Stage.BIDDING: Decimal(50), Stage.NEGOTIATING: Decimal(75)})
