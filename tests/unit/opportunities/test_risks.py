"""The risk register: a risk's level."""

from __future__ import annotations

import pytest

from ltc.opportunities.domain.risks import Level
from tests.unit.opportunities.samples import a_risk


@pytest.mark.parametrize(("probability", "impact", "level"), [
    (Level.LOW, Level.LOW, Level.LOW), (Level.LOW, Level.MEDIUM, Level.LOW), (Level.LOW, Level.HIGH, Level.MEDIUM),
    (Level.MEDIUM, Level.MEDIUM, Level.MEDIUM), (Level.MEDIUM, Level.HIGH, Level.HIGH),
    (Level.HIGH, Level.MEDIUM, Level.HIGH), (Level.HIGH, Level.HIGH, Level.HIGH),
])
def test_risk_level_is_probability_times_impact(probability: Level, impact: Level, level: Level) -> None:
    assert a_risk(probability, impact).level is level
