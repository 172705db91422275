"""The lead score: how close a lead is to being worth an opportunity, in parts a manager can read.

Out of 100: lead criteria cross-checked (10 each, 30), budget known (10), start date known (10),
the furthest pain point (discovered 5, acknowledged 10, value agreed 20), the strongest
relationship among the contacts involved (strength / 100 × 20), self-generated (10). The API
description states it from the constants below (`score_rule()`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ltc.leads.domain.model import Criterion, Lead, PainStatus

CRITERION_POINTS = 10  # for each lead criterion cross-checked
BUDGET_POINTS = 10
START_DATE_POINTS = 10
PAIN_POINTS = {PainStatus.DISCOVERED: 5, PainStatus.ACKNOWLEDGED: 10, PainStatus.VALUE_AGREED: 20}
RELATIONSHIP_POINTS = 20  # for a relationship strength of 100, in proportion below
SELF_GENERATED_POINTS = 10


class ScorePartName(StrEnum):
    """The parts of the score, in the order `score_lead` lists them."""

    LEAD_CRITERIA = "lead_criteria"
    BUDGET = "budget"
    START_DATE = "start_date"
    PAINS = "pains"
    RELATIONSHIP = "relationship"
    SELF_GENERATED = "self_generated"


@dataclass(frozen=True)
class ScorePart:
    name: ScorePartName
    points: int
    max_points: int
    explanation: str


@dataclass(frozen=True)
class LeadScore:
    total: int
    parts: list[ScorePart]


def max_score() -> int:
    return (CRITERION_POINTS * len(Criterion) + BUDGET_POINTS + START_DATE_POINTS + max(PAIN_POINTS.values())
            + RELATIONSHIP_POINTS + SELF_GENERATED_POINTS)


def score_lead(lead: Lead, *, contact_strengths: dict[str, int]) -> LeadScore:
    """`contact_strengths`: relationship strength (0–100) of each contact involved in the lead, by name."""
    met = lead.criteria_met()
    parts = [
        ScorePart(ScorePartName.LEAD_CRITERIA, CRITERION_POINTS * len(met), CRITERION_POINTS * len(Criterion),
                  f"{len(met)} of {len(Criterion)} lead criteria cross-checked"
                  + (f" ({', '.join(sorted(c.value for c in met))})" if met else "")
                  + ("" if len(met) == len(Criterion) else
                     "; missing " + ", ".join(sorted(c.value for c in set(Criterion) - met)))),
        ScorePart(ScorePartName.BUDGET, BUDGET_POINTS if lead.budget is not None else 0, BUDGET_POINTS,
                  f"explicit budget {lead.budget.amount} {lead.budget.currency}" if lead.budget else "no budget yet"),
        ScorePart(ScorePartName.START_DATE, START_DATE_POINTS if lead.start_date else 0, START_DATE_POINTS,
                  f"starts {lead.start_date.isoformat()}" if lead.start_date else "no start date yet"),
    ]
    statuses = [PainStatus(p["status"]) for p in lead.pains]
    best = max(statuses, key=lambda s: PAIN_POINTS[s], default=None)
    parts.append(ScorePart(ScorePartName.PAINS, PAIN_POINTS[best] if best else 0, max(PAIN_POINTS.values()),
                           f"furthest pain point is {best.value} ({len(statuses)} recorded)" if best
                           else "no pain point recorded"))
    if contact_strengths:
        name, strength = max(contact_strengths.items(), key=lambda item: item[1])
        parts.append(ScorePart(ScorePartName.RELATIONSHIP, round(strength * RELATIONSHIP_POINTS / 100),
                               RELATIONSHIP_POINTS,
                               f"strongest relationship: {name} at {strength}/100 "
                               f"({len(contact_strengths)} contacts involved)"))
    else:
        parts.append(ScorePart(ScorePartName.RELATIONSHIP, 0, RELATIONSHIP_POINTS, "no contact involved yet"))
    parts.append(ScorePart(ScorePartName.SELF_GENERATED, SELF_GENERATED_POINTS if lead.self_generated else 0,
                           SELF_GENERATED_POINTS,
                           f"{'self-generated' if lead.self_generated else 'passive'} channel {lead.channel.value}"))
    return LeadScore(total=sum(p.points for p in parts), parts=parts)


def score_rule() -> str:
    """The score as `score_lead` adds it up, in one sentence for API readers."""
    pains = ", ".join(f"{status.value.replace('_', ' ')} {points}" for status, points in PAIN_POINTS.items())
    return (f"lead criteria cross-checked {CRITERION_POINTS} each ({CRITERION_POINTS * len(Criterion)}), "
            f"budget known {BUDGET_POINTS}, start date known {START_DATE_POINTS}, the furthest pain point ({pains}), "
            f"the strongest relationship among the contacts involved (strength/100 × {RELATIONSHIP_POINTS}), "
            f"self-generated channel {SELF_GENERATED_POINTS}")
