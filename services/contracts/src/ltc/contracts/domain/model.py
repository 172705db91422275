"""Contracts and their execution, section 3 of the LTC domain (thin version).

A contract is drafted from a won opportunity with the commercial terms agreed at ATC, signed
(`draft` → `active`), executed through customer acceptance of its delivery milestones, and
`closed` once every milestone is accepted and finance reports it fully paid, whichever of the
two happens last.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from ltc.shared.errors import DomainError, NotFound, RuleViolation
from ltc.shared.messages import EventPayload, Lineage, MoneyPayload
from ltc.shared.messages.contracts_events import (
    ContractClosed,
    ContractDrafted,
    ContractMilestoneAccepted,
    ContractMilestonePayload,
    ContractSigned,
    InstalmentPayload,
)
from ltc.shared.money import Money


class ContractStatus(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    CLOSED = "closed"


class Trigger(StrEnum):
    SIGNING = "signing"
    MILESTONE = "milestone"


class AcceptanceType(StrEnum):
    PRELIMINARY = "preliminary"
    FINAL = "final"


class MilestoneStatus(StrEnum):
    PLANNED = "planned"
    ACCEPTED = "accepted"


@dataclass(frozen=True)
class PaymentTerm:
    """One instalment as agreed: a share of the value, due `due_days` after its trigger."""

    name: str
    percent: Decimal
    trigger: Trigger
    milestone: str | None  # the agreed milestone's name; the terms know no milestone ids
    due_days: int

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "percent": str(self.percent), "trigger": self.trigger.value,
                "milestone": self.milestone, "due_days": self.due_days}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PaymentTerm:
        return cls(name=data["name"], percent=Decimal(data["percent"]), trigger=Trigger(data["trigger"]),
                   milestone=data["milestone"], due_days=data["due_days"])


@dataclass(frozen=True)
class AgreedMilestone:
    """A delivery milestone as agreed in the commercial terms, before the contract exists."""

    name: str
    planned_date: date
    acceptance_type: AcceptanceType


@dataclass(frozen=True)
class Milestone:
    milestone_id: uuid.UUID
    name: str
    planned_date: date
    acceptance_type: AcceptanceType
    status: MilestoneStatus = MilestoneStatus.PLANNED
    accepted_on: date | None = None
    certificate_ref: str | None = None

    def accepted(self, on: date, certificate_ref: str) -> Milestone:
        return replace(self, status=MilestoneStatus.ACCEPTED, accepted_on=on, certificate_ref=certificate_ref)

    def to_json(self) -> dict[str, Any]:
        return {
            "milestone_id": str(self.milestone_id), "name": self.name, "planned_date": self.planned_date.isoformat(),
            "acceptance_type": self.acceptance_type.value, "status": self.status.value,
            "accepted_on": self.accepted_on.isoformat() if self.accepted_on else None,
            "certificate_ref": self.certificate_ref,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Milestone:
        return cls(
            milestone_id=uuid.UUID(data["milestone_id"]), name=data["name"],
            planned_date=date.fromisoformat(data["planned_date"]),
            acceptance_type=AcceptanceType(data["acceptance_type"]), status=MilestoneStatus(data["status"]),
            accepted_on=date.fromisoformat(data["accepted_on"]) if data["accepted_on"] else None,
            certificate_ref=data["certificate_ref"],
        )


def _terms_problems(value: Money, payment_terms: list[PaymentTerm],
                    milestones: list[AgreedMilestone]) -> list[dict[str, str]]:
    """What makes terms unusable: the payment schedule must split the value exactly and every
    milestone-triggered instalment must point at exactly one agreed milestone."""
    problems = []
    if value.amount <= 0:
        problems.append({"field": "value", "message": "the contract value must be positive"})
    if not payment_terms:
        problems.append({"field": "payment_terms", "message": "at least one payment term is needed"})
    if any(t.percent <= 0 for t in payment_terms):
        problems.append({"field": "payment_terms", "message": "every percentage must be positive"})
    elif payment_terms and sum(t.percent for t in payment_terms) != Decimal(100):
        problems.append({"field": "payment_terms", "message": "the percentages must add up to 100"})
    if any(t.due_days < 0 for t in payment_terms):
        problems.append({"field": "payment_terms", "message": "due days cannot be negative"})
    names = [m.name for m in milestones]
    if len(set(names)) != len(names):
        problems.append({"field": "milestones", "message": "milestone names must be unique"})
    for term in payment_terms:
        if term.trigger is Trigger.MILESTONE and term.milestone not in names:
            problems.append({"field": "payment_terms",
                             "message": f"term {term.name!r} is triggered by an unknown milestone {term.milestone!r}"})
    return problems


class Contract:
    events: list[EventPayload]

    def __init__(self, *, id: uuid.UUID, opportunity_id: uuid.UUID, lead_id: uuid.UUID | None,
                 account_id: uuid.UUID | None, account_name: str, title: str, owner: str, value: Money,
                 payment_terms: list[PaymentTerm], milestones: list[AgreedMilestone], now: datetime) -> None:
        problems = _terms_problems(value, payment_terms, milestones)
        if problems:
            raise RuleViolation("commercial-terms-inconsistent",
                                "the agreed terms cannot make a contract: " + "; ".join(p["message"] for p in problems),
                                errors=problems)
        self.id = id
        self.opportunity_id = opportunity_id
        self.lead_id = lead_id
        self.account_id = account_id
        self.account_name = account_name
        self.title = title
        self.owner = owner
        self.value_amount = value.amount
        self.value_currency = value.currency
        self.payment_terms = list(payment_terms)
        self.milestones = [Milestone(milestone_id=uuid.uuid4(), name=m.name, planned_date=m.planned_date,
                                     acceptance_type=m.acceptance_type) for m in milestones]
        self.status = ContractStatus.DRAFT
        self.signatories: list[str] = []
        self.signed_on: date | None = None
        self.fully_paid = False
        self.fully_paid_on: date | None = None
        self.closed_at: datetime | None = None
        self.created_at = now
        self.events = [ContractDrafted(lineage=self.lineage(), contract_id=id, opportunity_id=opportunity_id,
                                       value=MoneyPayload.of(value), drafted_at=now)]

    def lineage(self) -> Lineage:
        return Lineage(lead_id=self.lead_id, opportunity_id=self.opportunity_id, contract_id=self.id)

    @property
    def value(self) -> Money:
        return Money(self.value_amount, self.value_currency)

    @property
    def all_milestones_accepted(self) -> bool:
        return all(m.status is MilestoneStatus.ACCEPTED for m in self.milestones)

    def payment_schedule(self) -> list[InstalmentPayload]:
        """The instalments in money: shares split so they add up exactly to the value."""
        amounts = self.value.split([t.percent for t in self.payment_terms])
        milestone_ids = {m.name: m.milestone_id for m in self.milestones}
        return [
            InstalmentPayload(name=term.name, percent=term.percent, amount=MoneyPayload.of(amount),
                              trigger=term.trigger.value, due_days=term.due_days,
                              milestone_id=milestone_ids[term.milestone] if term.trigger is Trigger.MILESTONE else None)
            for term, amount in zip(self.payment_terms, amounts, strict=True)
        ]

    def sign(self, *, signatories: list[str], signed_on: date) -> None:
        """`draft` → `active`.

        The contract quality review (a later issue) gates this transition: signing will require
        a passed review of the current draft.
        """
        if self.status is not ContractStatus.DRAFT:
            raise DomainError("contract-not-draft",
                              f"only a draft contract can be signed; this one is {self.status.value}")
        names = [s.strip() for s in signatories]
        if any(not n for n in names) or len({n.casefold() for n in names}) < 2:
            raise RuleViolation("signatories-both-sides",
                                "a contract is signed by at least two different people: ours and the customer's")
        self.signatories = names
        self.signed_on = signed_on
        self.status = ContractStatus.ACTIVE
        self.events.append(ContractSigned(
            lineage=self.lineage(), contract_id=self.id, account_id=self.account_id, account_name=self.account_name,
            value=MoneyPayload.of(self.value), signed_on=signed_on, signatories=names,
            payment_schedule=self.payment_schedule(),
            milestones=[ContractMilestonePayload(milestone_id=m.milestone_id, name=m.name, planned_date=m.planned_date,
                                                 acceptance_type=m.acceptance_type.value) for m in self.milestones],
        ))

    def accept_milestone(self, milestone_id: uuid.UUID, *, accepted_on: date, certificate_ref: str,
                         now: datetime) -> None:
        """The customer accepted a delivered milestone; it may be the last step before closure."""
        if self.status is not ContractStatus.ACTIVE:
            raise DomainError("contract-not-active",
                              f"milestones are accepted on an active contract; this one is {self.status.value}")
        milestone = next((m for m in self.milestones if m.milestone_id == milestone_id), None)
        if milestone is None:
            raise NotFound("milestone", milestone_id)
        if milestone.status is MilestoneStatus.ACCEPTED:
            raise DomainError("milestone-already-accepted",
                              f"milestone {milestone.name!r} was accepted on {milestone.accepted_on}")
        certificate_ref = certificate_ref.strip()
        if not certificate_ref:
            raise RuleViolation("acceptance-certificate-required", "an acceptance needs the customer's certificate")
        assert self.signed_on is not None
        if accepted_on < self.signed_on:
            raise RuleViolation("accepted-before-signing",
                                f"acceptance on {accepted_on} precedes the signing on {self.signed_on}")
        self.milestones = [m.accepted(accepted_on, certificate_ref) if m.milestone_id == milestone_id else m
                           for m in self.milestones]
        self.events.append(ContractMilestoneAccepted(
            lineage=self.lineage(), contract_id=self.id, milestone_id=milestone_id, name=milestone.name,
            acceptance_type=milestone.acceptance_type.value, accepted_on=accepted_on, certificate_ref=certificate_ref,
        ))
        self._close_if_complete(now)

    def record_fully_paid(self, *, fully_paid_on: date, now: datetime) -> None:
        """Finance collected the whole value; the contract closes if delivery is also complete."""
        if self.fully_paid:
            return  # finance may report it again; nothing more to record
        if self.status is ContractStatus.DRAFT:
            raise DomainError("contract-not-signed", "finance reports an unsigned contract as fully paid")
        self.fully_paid = True
        self.fully_paid_on = fully_paid_on
        self._close_if_complete(now)

    def _close_if_complete(self, now: datetime) -> None:
        if self.status is ContractStatus.ACTIVE and self.fully_paid and self.all_milestones_accepted:
            self.status = ContractStatus.CLOSED
            self.closed_at = now
            self.events.append(ContractClosed(lineage=self.lineage(), contract_id=self.id, closed_at=now))
