"""The lead score: how close a lead is to being worth an opportunity, in parts a manager can read.

Out of 100: lead criteria cross-checked (10 each, 30), budget known (10), start date known (10),
the furthest pain point (discovered 5, acknowledged 10, value agreed 20), the strongest
relationship among the contacts involved (strength / 100 × 20), self-generated (10).
"""

from __future__ import annotations

from dataclasses import dataclass

from ltc.leads.domain.model import Criterion, Lead, PainStatus

PAIN_POINTS = {PainStatus.DISCOVERED: 5, PainStatus.ACKNOWLEDGED: 10, PainStatus.VALUE_AGREED: 20}


@dataclass(frozen=True)
class ScorePart:
    name: str
    points: int
    max_points: int
    explanation: str


@dataclass(frozen=True)
class LeadScore:
    total: int
    parts: list[ScorePart]


def score_lead(lead: Lead, *, contact_strengths: dict[str, int]) -> LeadScore:
    """`contact_strengths`: relationship strength (0–100) of each contact involved in the lead, by name."""
    met = lead.criteria_met()
    parts = [
        ScorePart("lead_criteria", 10 * len(met), 30,
                  f"{len(met)} of 3 lead criteria cross-checked"
                  + (f" ({', '.join(sorted(c.value for c in met))})" if met else "")
                  + ("" if len(met) == len(Criterion) else
                     "; missing " + ", ".join(sorted(c.value for c in set(Criterion) - met)))),
        ScorePart("budget", 10 if lead.budget is not None else 0, 10,
                  f"explicit budget {lead.budget.amount} {lead.budget.currency}" if lead.budget else "no budget yet"),
        ScorePart("start_date", 10 if lead.start_date else 0, 10,
                  f"starts {lead.start_date.isoformat()}" if lead.start_date else "no start date yet"),
    ]
    statuses = [PainStatus(p["status"]) for p in lead.pains]
    best = max(statuses, key=lambda s: PAIN_POINTS[s], default=None)
    parts.append(ScorePart("pains", PAIN_POINTS[best] if best else 0, 20,
                           f"furthest pain point is {best.value} ({len(statuses)} recorded)" if best
                           else "no pain point recorded"))
    if contact_strengths:
        name, strength = max(contact_strengths.items(), key=lambda item: item[1])
        parts.append(ScorePart("relationship", round(strength * 20 / 100), 20,
                               f"strongest relationship: {name} at {strength}/100 "
                               f"({len(contact_strengths)} contacts involved)"))
    else:
        parts.append(ScorePart("relationship", 0, 20, "no contact involved yet"))
    parts.append(ScorePart("self_generated", 10 if lead.self_generated else 0, 10,
                           f"{'self-generated' if lead.self_generated else 'passive'} channel {lead.channel.value}"))
    return LeadScore(total=sum(p.points for p in parts), parts=parts)
