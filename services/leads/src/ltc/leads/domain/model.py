"""Leads and the grading rules of section 1 of the LTC domain.

A lead is graded one step at a time by cross-checked evidence ("misaligned verification"):
`initial` → `credible` needs the three lead criteria, each confirmed by at least one source
independent of us and of whoever brought us the lead; `credible` → `opportunity` also needs an
explicit budget and start date. Only an `opportunity`-grade lead converts; `converted` and
`disqualified` are terminal.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from ltc.leads.domain.accounts import Account, Tier
from ltc.leads.domain.edits import apply_changes, require_values
from ltc.shared.messages import EventPayload, Lineage, MoneyPayload
from ltc.shared.messages.leads_events import (
    AccountSnapshot,
    ContactSnapshot,
    LeadConverted,
    LeadCreated,
    LeadDisqualified,
    LeadGraded,
    PainPointSnapshot,
)
from ltc.shared.money import Money, OptionalMoneyAttribute
from ltc.shared.rules import DomainError, NotFound, RuleViolation


class Grade(StrEnum):
    INITIAL = "initial"
    CREDIBLE = "credible"
    OPPORTUNITY = "opportunity"
    CONVERTED = "converted"
    DISQUALIFIED = "disqualified"


class Channel(StrEnum):
    TENDER = "tender"
    INBOUND_REQUEST = "inbound_request"
    COMPANY_BRIEFING = "company_briefing"
    TECHNICAL_EXCHANGE = "technical_exchange"
    HEADQUARTERS_VISIT = "headquarters_visit"
    REFERENCE_SITE_VISIT = "reference_site_visit"
    EXHIBITION_SEMINAR = "exhibition_seminar"
    EXECUTIVE_VISIT = "executive_visit"
    ROUTINE_VISIT = "routine_visit"


# Tenders and inbound requests reach us; every other channel is a lead we made ourselves,
# before any tender — the valuable kind.
PASSIVE_CHANNELS = frozenset({Channel.TENDER, Channel.INBOUND_REQUEST})


class Criterion(StrEnum):
    CUSTOMER_IDENTIFIED = "customer_identified"
    PURCHASE_INTENT = "purchase_intent"
    MATCHING_SOLUTION = "matching_solution"


@dataclass(frozen=True)
class Evidence:
    criterion: Criterion
    source: str
    who: str
    when: date
    contact_id: uuid.UUID | None = None

    def to_json(self) -> dict[str, str | None]:
        return {"criterion": self.criterion.value, "source": self.source, "who": self.who,
                "when": self.when.isoformat(), "contact_id": str(self.contact_id) if self.contact_id else None}


def _person(name: str | None) -> str:
    return " ".join((name or "").casefold().split())


class PainStatus(StrEnum):
    DISCOVERED = "discovered"
    ACKNOWLEDGED = "acknowledged"
    VALUE_AGREED = "value_agreed"


class LeadOutcome(StrEnum):
    """Where a lead ended up, as far as this stage knows: its own grade until it converts, then what
    the later stages report back (`opportunity.won`/`lost`, `contract.fully_paid`)."""

    OPEN = "open"
    DISQUALIFIED = "disqualified"
    CONVERTED = "converted"
    WON = "won"
    LOST = "lost"
    CASH_COLLECTED = "cash_collected"


PAIN_STEPS = (PainStatus.DISCOVERED, PainStatus.ACKNOWLEDGED, PainStatus.VALUE_AGREED)
OPEN_GRADES = frozenset({Grade.INITIAL, Grade.CREDIBLE, Grade.OPPORTUNITY})
# What a lead's capturer may set or change later; grade, budget and outcome move only by their rules.
EDITABLE = ("title", "need", "tier", "reported_by", "contact_ids", "owner")


class Lead:
    events: list[EventPayload]
    budget = OptionalMoneyAttribute("budget_amount", "budget_currency")
    cash_collected = OptionalMoneyAttribute("cash_collected_amount", "cash_collected_currency")

    def __init__(self, *, id: uuid.UUID, account_id: uuid.UUID, title: str, need: str, channel: Channel,
                 tier: Tier, owner: str | None, now: datetime, reported_by: str | None = None,
                 contact_ids: list[uuid.UUID] | None = None) -> None:
        self.id = id
        self.account_id = account_id
        self.title = title
        self.need = need
        self.channel = channel
        self.self_generated = channel not in PASSIVE_CHANNELS
        self.tier = tier
        self.owner = owner
        self.reported_by = reported_by
        self.contact_ids = [str(c) for c in dict.fromkeys(contact_ids or [])]
        self.grade = Grade.INITIAL
        self.evidence: list[dict[str, Any]] = []
        self.grade_history: list[dict[str, Any]] = []
        self.pains: list[dict[str, Any]] = []
        self.budget_amount = None
        self.budget_currency: str | None = None
        self.start_date: date | None = None
        self.disqualified_reason: str | None = None
        self.converted_at: datetime | None = None
        self.opportunity_id: uuid.UUID | None = None
        self.won_at: datetime | None = None
        self.lost_at: datetime | None = None
        self.lost_reason: str | None = None
        self.contract_id: uuid.UUID | None = None
        self.cash_collected_on: date | None = None
        self.cash_collected_amount = None
        self.cash_collected_currency: str | None = None
        self.created_at = now
        self.updated_at = now
        self.events = [
            LeadCreated(lineage=self.lineage(), lead_id=id, account_id=account_id, title=title,
                        channel=channel.value, self_generated=self.self_generated, tier=tier.value,
                        owner=owner or "", created_at=now)
        ]

    def lineage(self) -> Lineage:
        return Lineage(lead_id=self.id, opportunity_id=self.opportunity_id, contract_id=self.contract_id)

    @property
    def is_open(self) -> bool:
        return self.grade in OPEN_GRADES

    def _require_open(self) -> None:
        if not self.is_open:
            raise DomainError("lead-closed", f"the lead is {self.grade.value}; it can no longer change")

    def _move(self, to: Grade, by: str, now: datetime, **details: Any) -> None:
        previous = self.grade
        self.grade = to
        self.updated_at = now
        self.grade_history = [*self.grade_history,
                              {"from": previous.value, "to": to.value, "by": by, "at": now.isoformat(), **details}]
        self.events.append(LeadGraded(lineage=self.lineage(), lead_id=self.id, from_grade=previous.value,
                                      to_grade=to.value, graded_by=by, graded_at=now))

    def update_lead(self, changes: dict[str, Any], *, now: datetime) -> dict[str, dict[str, Any]]:
        """Change what the capturer said about the lead; the audit gets each field's before and after.

        (Each aggregate's edit has its own name: the rule catalog follows calls by name.)"""
        self._require_open()
        unknown = set(changes) - set(EDITABLE)
        if unknown:
            raise RuleViolation("lead-field-not-editable", "these fields change only through their own actions: "
                                + ", ".join(sorted(unknown)))
        require_values(changes, "title", "need", "tier", "contact_ids")
        if "contact_ids" in changes:
            changes = {**changes, "contact_ids": [str(c) for c in dict.fromkeys(changes["contact_ids"])]}
        changed = apply_changes(self, changes)
        if changed:
            self.updated_at = now
        return changed

    def is_independent(self, evidence: Evidence, *, by: str) -> bool:
        """Cross-checked: said by someone other than us (grader, owner) and other than the lead's informant."""
        ours = {_person(p) for p in (self.reported_by, self.owner, by) if p}
        return bool(_person(evidence.who)) and _person(evidence.who) not in ours

    def criteria_met(self) -> set[Criterion]:
        """The lead criteria with at least one independent piece of the recorded evidence."""
        evidence = [Evidence(Criterion(e["criterion"]), e["source"], e["who"], date.fromisoformat(e["when"]))
                    for e in self.evidence]
        return {e.criterion for e in evidence if self.is_independent(e, by="")}

    def grade_credible(self, evidence: list[Evidence], *, by: str, now: datetime) -> None:
        """`initial` → `credible`: every lead criterion needs at least one independent source."""
        self._require_open()
        if self.grade is not Grade.INITIAL:
            raise DomainError("grade-one-step", f"only an initial lead can become credible; this one is {self.grade.value}")
        dated = [e for e in evidence if e.when <= now.date()]
        unmet = []
        for criterion in Criterion:
            given = [e for e in dated if e.criterion is criterion]
            if not given:
                message = "needs evidence (source, who, when)"
                if any(e.criterion is criterion for e in evidence):
                    message = "evidence dated in the future is not evidence yet"
                unmet.append({"criterion": criterion.value, "message": message})
            elif not any(self.is_independent(e, by=by) for e in given):
                unmet.append({"criterion": criterion.value,
                              "message": "not cross-checked: needs a source other than us and the lead's informant"})
        if unmet:
            raise RuleViolation(
                "lead-criteria-unmet",
                "these lead criteria are not met: " + ", ".join(u["criterion"] for u in unmet),
                errors=unmet,
            )
        self.evidence = [*self.evidence, *(e.to_json() for e in dated)]
        self._move(Grade.CREDIBLE, by, now, evidence=[e.to_json() for e in dated])

    def grade_opportunity(self, *, budget: Money | None, start_date: date | None, by: str, now: datetime) -> None:
        """`credible` → `opportunity`: an explicit budget and an explicit start date."""
        self._require_open()
        if self.grade is not Grade.CREDIBLE:
            raise DomainError("grade-one-step", f"only a credible lead can become an opportunity lead; this one is {self.grade.value}")
        unmet = []
        if budget is None or budget.amount <= 0:
            unmet.append({"criterion": "explicit_budget", "message": "a positive budget amount and currency"})
        if start_date is None:
            unmet.append({"criterion": "explicit_start_time", "message": "the date the customer intends to start"})
        if unmet:
            raise RuleViolation("opportunity-criteria-unmet",
                                "unmet opportunity criteria: " + ", ".join(u["criterion"] for u in unmet), errors=unmet)
        assert budget is not None and start_date is not None
        self.budget_amount, self.budget_currency, self.start_date = budget.amount, budget.currency, start_date
        self._move(Grade.OPPORTUNITY, by, now, budget=budget.to_json(), start_date=start_date.isoformat())

    def convert(self, *, account: Account, by: str, now: datetime, contacts: list[ContactSnapshot] | None = None,
                score: int | None = None) -> None:
        """Hand the lead over with everything the opportunity needs: customer, people, pains, money, time."""
        self._require_open()
        if self.grade is not Grade.OPPORTUNITY:
            raise DomainError("lead-not-opportunity-grade",
                              f"only an opportunity-grade lead converts; this one is {self.grade.value}")
        if not self.owner:
            raise RuleViolation("lead-owner-required", "an unassigned lead cannot convert: the opportunity needs "
                                "an account manager", errors=[{"field": "owner", "message": "assign an owner first"}])
        budget, start_date = self.budget, self.start_date
        assert budget is not None and start_date is not None
        self._move(Grade.CONVERTED, by, now)
        self.converted_at = now
        self.events.append(LeadConverted(
            lineage=self.lineage(), lead_id=self.id, account_id=account.id, account_name=account.name,
            title=self.title, need=self.need, channel=self.channel.value, self_generated=self.self_generated,
            tier=self.tier.value, owner=self.owner, budget=MoneyPayload.of(budget), start_date=start_date,
            converted_at=now, account=AccountSnapshot(**account.snapshot()), contacts=contacts or [],
            pains=[PainPointSnapshot(pain_id=p["id"], description=p["description"], status=p["status"],
                                     contact_id=p.get("contact_id")) for p in self.pains],
            score=score,
        ))

    def disqualify(self, *, reason: str, by: str, now: datetime) -> None:
        self._require_open()
        if not reason.strip():
            raise RuleViolation("disqualify-reason-required", "a disqualified lead needs a reason",
                                errors=[{"field": "reason", "message": "must not be empty"}])
        self.disqualified_reason = reason
        self._move(Grade.DISQUALIFIED, by, now, reason=reason)
        self.events.append(LeadDisqualified(lineage=self.lineage(), lead_id=self.id, reason=reason,
                                            disqualified_by=by, disqualified_at=now))

    def add_pain(self, *, pain_id: uuid.UUID, description: str, contact_id: uuid.UUID | None, by: str,
                 now: datetime) -> dict[str, Any]:
        self._require_open()
        pain = {"id": str(pain_id), "description": description, "contact_id": str(contact_id) if contact_id else None,
                "status": PainStatus.DISCOVERED.value, "created_by": by, "created_at": now.isoformat(),
                "history": [{"to": PainStatus.DISCOVERED.value, "by": by, "at": now.isoformat(), "note": None}]}
        self.pains = [*self.pains, pain]
        self.updated_at = now
        return pain

    def advance_pain(self, pain_id: uuid.UUID, *, to: PainStatus, note: str | None, by: str,
                     now: datetime) -> dict[str, Any]:
        """`discovered` → `acknowledged` (the customer admits it hurts) → `value_agreed` (worth paying to fix)."""
        self._require_open()
        index = next((i for i, p in enumerate(self.pains) if p["id"] == str(pain_id)), None)
        if index is None:
            raise NotFound("pain point", pain_id)
        pain = self.pains[index]
        current = PainStatus(pain["status"])
        if PAIN_STEPS.index(to) != PAIN_STEPS.index(current) + 1:
            raise DomainError("pain-one-step", f"a {current.value} pain point cannot become {to.value}; "
                              "pain points move discovered → acknowledged → value_agreed")
        moved = {**pain, "status": to.value,
                 "history": [*pain["history"], {"to": to.value, "by": by, "at": now.isoformat(), "note": note}]}
        self.pains = [*self.pains[:index], moved, *self.pains[index + 1:]]
        self.updated_at = now
        return moved

    def record_opportunity(self, *, opportunity_id: uuid.UUID) -> None:
        self.opportunity_id = opportunity_id

    def record_won(self, *, opportunity_id: uuid.UUID, won_at: datetime) -> None:
        """The opportunity this lead became was won: the loop back from the later stages."""
        self.opportunity_id = opportunity_id
        self.won_at = won_at

    def record_lost(self, *, opportunity_id: uuid.UUID, lost_at: datetime, reason: str) -> None:
        self.opportunity_id = opportunity_id
        self.lost_at = lost_at
        self.lost_reason = reason

    def record_cash_collected(self, *, contract_id: uuid.UUID, fully_paid_on: date,
                              collected: Money | None = None) -> None:
        self.contract_id = contract_id
        self.cash_collected_on = fully_paid_on
        if collected is not None:
            self.cash_collected_amount, self.cash_collected_currency = collected.amount, collected.currency

    @property
    def outcome(self) -> LeadOutcome:
        if self.cash_collected_on is not None:
            return LeadOutcome.CASH_COLLECTED
        if self.won_at is not None:
            return LeadOutcome.WON
        if self.lost_at is not None:
            return LeadOutcome.LOST
        if self.grade is Grade.DISQUALIFIED:
            return LeadOutcome.DISQUALIFIED
        return LeadOutcome.CONVERTED if self.grade is Grade.CONVERTED else LeadOutcome.OPEN

    def contacts_involved(self, met: set[str]) -> set[str]:
        """Named on the lead, on its evidence or pains, or `met` in its activities: whose relationship counts."""
        ids = set(self.contact_ids) | met
        ids |= {e["contact_id"] for e in self.evidence if e.get("contact_id")}
        ids |= {p["contact_id"] for p in self.pains if p.get("contact_id")}
        return ids

    def reached(self, grade: Grade) -> bool:
        """Whether the lead ever held `grade` (a converted lead did pass credible and opportunity)."""
        return grade is Grade.INITIAL or self.grade is grade or any(h["to"] == grade.value for h in self.grade_history)

