"""The audit trail's vocabulary: what this service files entries about, and what each entry says happened."""

from __future__ import annotations

from enum import StrEnum


class Audited(StrEnum):
    """The kinds of object an entry is about."""

    ACCOUNT = "account"
    CONTACT = "contact"
    LEAD = "lead"
    ACTIVITY = "activity"


class AuditAction(StrEnum):
    CREATED = "created"  # an account or a contact
    UPDATED = "updated"  # an account, a contact or a lead
    CAPTURED = "captured"
    GRADED = "graded"
    CONVERTED = "converted"
    DISQUALIFIED = "disqualified"
    PAIN_ADDED = "pain_added"
    PAIN_ADVANCED = "pain_advanced"
    ACTIVITY_PLANNED = "activity_planned"
    ACTIVITY_REPLANNED = "activity_replanned"
    ACTIVITY_DONE = "activity_done"
    ACTIVITY_CANCELLED = "activity_cancelled"
    OUTCOME_RECORDED = "outcome_recorded"  # what a later stage told us about the lead (`event:<type>` did it)
