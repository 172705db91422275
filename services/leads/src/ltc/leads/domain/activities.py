"""Activities that keep the connection with a customer: planned, then done (with an outcome) or cancelled.

What they build, the relationship strength of each contact met, is `relationships`.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
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
