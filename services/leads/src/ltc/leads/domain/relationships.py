"""The relationship strength of a contact, built by the activities it took part in.

The source's trust formula is trust = competence × reliability × connection × time. The service
computes it per contact as follows (the API description states it from the constants below,
`trust_formula()`):

- competence = competence_rating / 5 and reliability = reliability_rating / 5, the account
  manager's 1–5 ratings of how the contact sees our expertise and our keeping of promises;
- connection = (frequency + breadth + depth) / 3, from the contact's done activities:
  frequency = min(1, activities in the last 90 days / 6) (one every two weeks saturates),
  breadth = min(1, distinct activity kinds in the last 365 days / 4),
  depth = the deepest kind met in the last 365 days (routine visit 0.2 … summit 1.0, see DEPTH);
- time = min(1, (whole months since the first done activity + 1) / 12);
- strength = round(100 × (competence × reliability × connection × time) ^ (1/4)): the geometric
  mean keeps the product's meaning (any factor at zero means no trust) on a readable 0–100 scale.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from ltc.leads.domain.accounts import HIGHEST_RATING
from ltc.leads.domain.activities import ActivityKind

# How much of the relationship an action engages: a chat in the corridor is shallow, a summit of
# both companies' executives is as deep as a relationship goes.
DEPTH: dict[ActivityKind, Decimal] = {
    ActivityKind.ROUTINE_VISIT: Decimal("0.2"),
    ActivityKind.EXECUTIVE_LETTER: Decimal("0.3"),
    ActivityKind.EXHIBITION_FORUM: Decimal("0.3"),
    ActivityKind.TOPIC_EXCHANGE: Decimal("0.5"),
    ActivityKind.SITE_VISIT: Decimal("0.6"),
    ActivityKind.JOINT_TEAM_EVENT: Decimal("0.6"),
    ActivityKind.COMPANY_INSPECTION: Decimal("0.8"),
    ActivityKind.JOINT_RELEASE: Decimal("0.8"),
    ActivityKind.EXECUTIVE_VISIT: Decimal("0.9"),
    ActivityKind.SUMMIT: Decimal("1.0"),
}

FREQUENCY_WINDOW = timedelta(days=90)
FREQUENCY_SATURATION = 6
BREADTH_WINDOW = timedelta(days=365)  # also the window the depth is taken from
BREADTH_SATURATION = 4
TIME_SATURATION_MONTHS = 12
# The strength is the product's ROOT-th root: the geometric mean of its four factors.
ROOT = 4


@dataclass(frozen=True)
class Contacted:
    """One done activity a contact took part in: all the trust formula needs of it."""

    kind: ActivityKind
    on: date


@dataclass(frozen=True)
class Relationship:
    strength: int
    competence: Decimal
    reliability: Decimal
    frequency: Decimal
    breadth: Decimal
    depth: Decimal
    connection: Decimal
    time: Decimal
    activities_counted: int


def _ratio(count: int, saturation: int) -> Decimal:
    return min(Decimal(1), Decimal(count) / Decimal(saturation))


def relationship_strength(*, competence_rating: int, reliability_rating: int, contacts: list[Contacted],
                          today: date) -> Relationship:
    """The trust formula for one contact; see the module docstring for every input."""
    past = [c for c in contacts if c.on <= today]
    recent = [c for c in past if c.on > today - FREQUENCY_WINDOW]
    within_year = [c for c in past if c.on > today - BREADTH_WINDOW]
    frequency = _ratio(len(recent), FREQUENCY_SATURATION)
    breadth = _ratio(len({c.kind for c in within_year}), BREADTH_SATURATION)
    depth = max((DEPTH[c.kind] for c in within_year), default=Decimal(0))
    connection = (frequency + breadth + depth) / 3
    if past:
        first = min(c.on for c in past)
        months = (today.year - first.year) * 12 + today.month - first.month - (today.day < first.day)
        time = _ratio(months + 1, TIME_SATURATION_MONTHS)
    else:
        time = Decimal(0)
    competence = Decimal(competence_rating) / HIGHEST_RATING
    reliability = Decimal(reliability_rating) / HIGHEST_RATING
    product = competence * reliability * connection * time
    strength = int((100 * product ** (Decimal(1) / ROOT)).quantize(Decimal(1))) if product > 0 else 0
    places = Decimal("0.001")
    return Relationship(strength=strength, competence=competence.quantize(places),
                        reliability=reliability.quantize(places), frequency=frequency.quantize(places),
                        breadth=breadth.quantize(places), depth=depth.quantize(places),
                        connection=connection.quantize(places), time=time.quantize(places),
                        activities_counted=len(past))


def trust_formula() -> str:
    """The formula as `relationship_strength` applies it, in one line for API readers."""
    depths = ", ".join(f"{kind.value} {depth}" for kind, depth in DEPTH.items())
    return (
        f"strength = round(100 × (competence × reliability × connection × time)^(1/{ROOT})); "
        f"competence = competence_rating/{HIGHEST_RATING}; reliability = reliability_rating/{HIGHEST_RATING}; "
        f"connection = (frequency + breadth + depth)/3 with frequency = min(1, done activities in the last "
        f"{FREQUENCY_WINDOW.days} days/{FREQUENCY_SATURATION}), "
        f"breadth = min(1, distinct activity kinds in the last {BREADTH_WINDOW.days} days/{BREADTH_SATURATION}), "
        f"depth = deepest kind in the last {BREADTH_WINDOW.days} days ({depths}); "
        f"time = min(1, (whole months since the first done activity + 1)/{TIME_SATURATION_MONTHS})"
    )
