"""Activities that keep the connection with a customer, and the relationship strength they build.

The source's trust formula is trust = competence × reliability × connection × time. The service
computes it per contact as follows (also published in the API description):

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

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from ltc.shared.rules import DomainError, RuleViolation


class ActivityKind(StrEnum):
    """The ten ways of keeping a connection with a customer."""

    ROUTINE_VISIT = "routine_visit"
    TOPIC_EXCHANGE = "topic_exchange"
    SITE_VISIT = "site_visit"
    JOINT_TEAM_EVENT = "joint_team_event"
    JOINT_RELEASE = "joint_release"
    EXECUTIVE_LETTER = "executive_letter"
    COMPANY_INSPECTION = "company_inspection"
    EXECUTIVE_VISIT = "executive_visit"
    EXHIBITION_FORUM = "exhibition_forum"
    SUMMIT = "summit"


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
BREADTH_WINDOW = timedelta(days=365)
BREADTH_SATURATION = 4
TIME_SATURATION_MONTHS = 12


class ActivityStatus(StrEnum):
    PLANNED = "planned"
    DONE = "done"
    CANCELLED = "cancelled"


class Activity:
    def __init__(self, *, id: uuid.UUID, kind: ActivityKind, account_id: uuid.UUID, lead_id: uuid.UUID | None,
                 contact_ids: list[uuid.UUID], subject: str, planned_on: date | None, plan: dict[str, Any] | None,
                 created_by: str, now: datetime) -> None:
        self.id = id
        self.kind = kind
        self.account_id = account_id
        self.lead_id = lead_id
        self.contact_ids = [str(c) for c in dict.fromkeys(contact_ids)]
        self.subject = subject
        self.planned_on = planned_on
        self.plan = plan
        self.outcome: dict[str, Any] | None = None
        self.status = ActivityStatus.PLANNED
        self.occurred_on: date | None = None
        self.created_by = created_by
        self.created_at = now
        self.updated_at = now

    def _require_planned(self) -> None:
        if self.status is not ActivityStatus.PLANNED:
            raise DomainError("activity-closed", f"the activity is {self.status.value}; it can no longer change")

    def replan(self, *, subject: str | None, planned_on: date | None, plan: dict[str, Any] | None,
               contact_ids: list[uuid.UUID] | None, now: datetime) -> dict[str, Any]:
        self._require_planned()
        changes: dict[str, Any] = {}
        if subject is not None:
            changes["subject"] = subject
        if planned_on is not None:
            changes["planned_on"] = planned_on
        if plan is not None:
            changes["plan"] = plan
        if contact_ids is not None:
            changes["contact_ids"] = [str(c) for c in dict.fromkeys(contact_ids)]
        changed = {k: {"from": getattr(self, k), "to": v} for k, v in changes.items() if getattr(self, k) != v}
        for name, change in changed.items():
            setattr(self, name, change["to"])
        if changed:
            self.updated_at = now
        return changed

    def record_outcome(self, outcome: dict[str, Any], *, occurred_on: date, next_step_on: date | None,
                       now: datetime) -> None:
        """After the meeting: SPIN notes, commitments obtained, next step. The activity is then done."""
        self._require_planned()
        errors = []
        if occurred_on > now.date():
            errors.append({"field": "occurred_on", "message": "an outcome is recorded after the activity happened"})
        if next_step_on is not None and next_step_on < occurred_on:
            errors.append({"field": "next_step_on", "message": "the next step cannot come before the activity"})
        if errors:
            raise RuleViolation("activity-outcome-invalid", "; ".join(f"{e['field']}: {e['message']}" for e in errors),
                                errors=errors)
        self.outcome = outcome
        self.occurred_on = occurred_on
        self.status = ActivityStatus.DONE
        self.updated_at = now

    def cancel(self, *, now: datetime) -> None:
        self._require_planned()
        self.status = ActivityStatus.CANCELLED
        self.updated_at = now


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
    competence = Decimal(competence_rating) / 5
    reliability = Decimal(reliability_rating) / 5
    product = competence * reliability * connection * time
    strength = int((100 * product ** Decimal("0.25")).quantize(Decimal(1))) if product > 0 else 0
    places = Decimal("0.001")
    return Relationship(strength=strength, competence=competence.quantize(places),
                        reliability=reliability.quantize(places), frequency=frequency.quantize(places),
                        breadth=breadth.quantize(places), depth=depth.quantize(places),
                        connection=connection.quantize(places), time=time.quantize(places),
                        activities_counted=len(past))
