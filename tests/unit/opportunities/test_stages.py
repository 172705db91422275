"""The stages' win probabilities."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ltc.opportunities.domain.stages import DEFAULT_PROBABILITIES, Stage, StageProbabilities
from ltc.shared.errors import RuleViolation


@pytest.mark.parametrize("values", [
    {Stage.VALIDATING: Decimal(10)},
    {stage: Decimal(101) for stage in (Stage.VALIDATING, Stage.STRATEGIZING, Stage.BIDDING, Stage.NEGOTIATING)},
    {**DEFAULT_PROBABILITIES.by_stage, Stage.WON: Decimal(90)},
], ids=["incomplete", "above-100", "closed-stage"])
def test_stage_probabilities_must_be_complete_percentages_of_open_stages(values: dict) -> None:
    with pytest.raises(RuleViolation) as exc:
        StageProbabilities(values)
    assert exc.value.rule == "stage-probabilities-invalid"


def test_stage_probabilities_are_stored_as_a_document_and_read_back_the_same() -> None:
    probabilities = StageProbabilities({**DEFAULT_PROBABILITIES.by_stage, Stage.BIDDING: Decimal("42.5")})
    document = probabilities.to_json()
    assert document == {"validating": "10", "strategizing": "25", "bidding": "42.5", "negotiating": "75"}
    assert StageProbabilities.from_json(document) == probabilities


def test_closed_stages_have_fixed_probabilities() -> None:
    assert (DEFAULT_PROBABILITIES.of(Stage.WON), DEFAULT_PROBABILITIES.of(Stage.LOST),
            DEFAULT_PROBABILITIES.of(Stage.ABANDONED)) == (Decimal(100), Decimal(0), Decimal(0))
