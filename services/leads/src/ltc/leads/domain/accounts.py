"""Accounts (customers) and their contacts: who we sell to, and what we know about each person."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from ltc.leads.domain.edits import apply_changes, require_values
from ltc.shared.messages.leads_events import ContactSnapshot
from ltc.shared.rules import RuleViolation


class Tier(StrEnum):
    STRATEGIC = "strategic"
    KEY = "key"
    NORMAL = "normal"


class DecisionRole(StrEnum):
    """A contact's part in the customer's decision chain (the power map's vocabulary)."""

    DECISION_MAKER = "decision_maker"
    ECONOMIC_BUYER = "economic_buyer"
    TECHNICAL_EVALUATOR = "technical_evaluator"
    USER = "user"
    INFLUENCER = "influencer"
    GATEKEEPER = "gatekeeper"
    COACH = "coach"


class Account:
    def __init__(self, *, id: uuid.UUID, name: str, industry: str | None, owner: str, created_at: datetime,
                 tier: Tier = Tier.NORMAL, region: str | None = None, website: str | None = None,
                 notes: str | None = None) -> None:
        self.id = id
        self.name = name
        self.industry = industry
        self.tier = tier
        self.region = region
        self.website = website
        self.notes = notes
        self.owner = owner
        self.created_at = created_at
        self.updated_at = created_at

    def update_account(self, changes: dict[str, Any], *, now: datetime) -> dict[str, dict[str, Any]]:
        require_values(changes, "name", "tier", "owner")
        changed = apply_changes(self, changes)
        if changed:
            self.updated_at = now
        return changed

    def snapshot(self) -> dict[str, Any]:
        return {"account_id": self.id, "name": self.name, "industry": self.industry, "tier": self.tier.value,
                "region": self.region, "owner": self.owner}


# A 1-5 rating, 3 = "no particular view yet": the competence and reliability the customer sees in us.
LOWEST_RATING = 1
HIGHEST_RATING = 5
NEUTRAL_RATING = 3


class Contact:
    def __init__(self, *, id: uuid.UUID, account_id: uuid.UUID, name: str, title: str | None,
                 decision_role: DecisionRole | None, kpis: list[str], pains: list[str],
                 communication_style: str | None, notes: str | None, email: str | None, phone: str | None,
                 competence_rating: int = NEUTRAL_RATING, reliability_rating: int = NEUTRAL_RATING,
                 created_by: str, now: datetime) -> None:
        self.id = id
        self.account_id = account_id
        self.name = name
        self.title = title
        self.decision_role = decision_role
        self.kpis = list(kpis)
        self.pains = list(pains)
        self.communication_style = communication_style
        self.notes = notes
        self.email = email
        self.phone = phone
        self.competence_rating = _rating("competence_rating", competence_rating)
        self.reliability_rating = _rating("reliability_rating", reliability_rating)
        self.created_by = created_by
        self.created_at = now
        self.updated_at = now

    def update_contact(self, changes: dict[str, Any], *, now: datetime) -> dict[str, dict[str, Any]]:
        for name in ("competence_rating", "reliability_rating"):
            if changes.get(name) is not None:
                _rating(name, changes[name])
        require_values(changes, "name", "competence_rating", "reliability_rating", "kpis", "pains")
        changed = apply_changes(self, changes)
        if changed:
            self.updated_at = now
        return changed


def _rating(field: str, value: int) -> int:
    if not LOWEST_RATING <= value <= HIGHEST_RATING:
        raise RuleViolation("rating-out-of-range", f"{field} is rated {LOWEST_RATING} to {HIGHEST_RATING}",
                            errors=[{"field": field,
                                     "message": f"must be between {LOWEST_RATING} and {HIGHEST_RATING}"}])
    return value


def contact_snapshot(contact: Contact, strength: int) -> ContactSnapshot:
    """The contact as a converted lead hands it over, with the relationship strength built so far."""
    return ContactSnapshot(contact_id=contact.id, name=contact.name, title=contact.title,
                           decision_role=contact.decision_role.value if contact.decision_role else None,
                           kpis=contact.kpis, pains=contact.pains, communication_style=contact.communication_style,
                           relationship_strength=strength)
