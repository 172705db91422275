"""The opportunity aggregate, section 2 of the LTC domain.

An opportunity opens in `validating`, from a converted lead or directly (e.g. a tender), and is
worked by its iron triangle (AR owns it, SR shapes the solution, FR the delivery). It may go to
`bidding` only through an approved ATB gate and be won only through an approved ATC gate, whose
approved terms are what the contracts service receives. `won`, `lost` and `abandoned` are
terminal. Who may call which method is decided by the handlers; the rules of the business are here.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from ltc.opportunities.domain.competitors import Competitor
from ltc.opportunities.domain.credit import OVERRIDE_FIELD, Credit, CreditExcess, CreditOverride, credit_excess
from ltc.opportunities.domain.gates import (
    Decision,
    DecisionPolicy,
    Gate,
    GateRequest,
    Outcome,
    RequestStatus,
)
from ltc.opportunities.domain.insight import Insight, ValueProposition
from ltc.opportunities.domain.requirements import Requirement
from ltc.opportunities.domain.risks import Risk
from ltc.opportunities.domain.stages import (
    AFTER_ATB,
    CLOSED_STAGES,
    DEFAULT_PROBABILITIES,
    OPEN_STAGES,
    Stage,
    StageProbabilities,
)
from ltc.opportunities.domain.stakeholders import Coverage, Stakeholder, check_reporting_line
from ltc.opportunities.domain.team import TeamChange, TeamRole
from ltc.opportunities.domain.terms import CommercialTerms
from ltc.shared.messages import EventPayload, Lineage, MoneyPayload
from ltc.shared.messages.opportunities_events import (
    GateApprovalPayload,
    OpportunityCreated,
    OpportunityDecisionMade,
    OpportunityLost,
    OpportunityStageChanged,
    OpportunityWon,
    RequirementRaised,
)
from ltc.shared.money import Money, OptionalMoneyAttribute
from ltc.shared.rules import DomainError, NotFound, RuleViolation

_UNSET: Any = object()


def _missing(field: str, message: str) -> dict[str, str]:
    return {"field": field, "message": message}


class Opportunity:
    events: list[EventPayload]

    budget = OptionalMoneyAttribute("budget_amount", "budget_currency")
    # What the deal is worth as far as known: the negotiated value, else the customer's budget.
    deal_value = OptionalMoneyAttribute("value_amount", "value_currency")

    def __init__(self, *, id: uuid.UUID, lead_id: uuid.UUID | None, account_id: uuid.UUID | None,
                 account_name: str, title: str, need: str, budget: Money | None, start_date: date | None,
                 owner: str, now: datetime, expected_close_date: date | None = None,
                 probabilities: StageProbabilities = DEFAULT_PROBABILITIES) -> None:
        self._check_budget(budget)
        self.id = id
        self.lead_id = lead_id
        self.account_id = account_id
        self.account_name = account_name
        self.title = title
        self.need = need
        self.budget = budget
        self.start_date = start_date
        self.expected_close_date = expected_close_date
        self.owner = owner
        self.sr: str | None = None
        self.fr: str | None = None
        self.team_history: tuple[TeamChange, ...] = ()
        self.stage = Stage.VALIDATING
        self.probability = probabilities.of(Stage.VALIDATING)
        self.insight = Insight()
        self.value_proposition: ValueProposition | None = None
        self.stakeholders: tuple[Stakeholder, ...] = ()
        self.competitors: tuple[Competitor, ...] = ()
        self.risks: tuple[Risk, ...] = ()
        self.requirements: tuple[Requirement, ...] = ()
        self.gate_requests: tuple[GateRequest, ...] = ()
        self.pending_gate_tier: str | None = None
        self.draft_terms = CommercialTerms()
        self.commercial_terms: dict[str, Any] | None = None
        self._refresh_value()
        self.closed_reason: str | None = None
        self.competitor: str | None = None
        self.closed_by: str | None = None
        self.closed_at: datetime | None = None
        self.created_at = now
        self.events = [
            OpportunityCreated(lineage=self.lineage(), opportunity_id=id, lead_id=lead_id, account_id=account_id,
                               title=title, budget=MoneyPayload.of(budget) if budget else None, owner=owner,
                               created_at=now)
        ]

    # -- reading -------------------------------------------------------------------------------

    def lineage(self) -> Lineage:
        return Lineage(lead_id=self.lead_id, opportunity_id=self.id)

    @property
    def coverage(self) -> Coverage:
        return Coverage.of(self.stakeholders)

    @property
    def is_closed(self) -> bool:
        return self.stage in CLOSED_STAGES

    def team_member(self, user: str) -> bool:
        return user in (self.owner, self.sr, self.fr)

    def _latest(self, gate: Gate) -> GateRequest | None:
        return next((r for r in reversed(self.gate_requests) if r.gate is gate), None)

    def gate_status(self, gate: Gate) -> RequestStatus | None:
        latest = self._latest(gate)
        return latest.status if latest else None

    def has_approved(self, gate: Gate) -> bool:
        return self.gate_status(gate) is RequestStatus.APPROVED

    @property
    def has_high_risk(self) -> bool:
        return any(r.is_high_and_live for r in self.risks)

    # -- internals -----------------------------------------------------------------------------

    @staticmethod
    def _check_budget(budget: Money | None) -> None:
        if budget is not None and budget.amount <= 0:
            raise RuleViolation("budget-not-positive", "a budget, when given, must be a positive amount",
                                errors=[{"field": "budget.amount", "message": "must be positive"}])

    def _refresh_value(self) -> None:
        self.deal_value = self.draft_terms.value or self.budget

    def _require_open(self) -> None:
        if self.is_closed:
            raise DomainError("opportunity-closed", f"the opportunity is {self.stage.value}; it can no longer change")

    def _move(self, to: Stage, *, probability: Decimal, by: str, now: datetime) -> None:
        previous, self.stage, self.probability = self.stage, to, probability
        self.events.append(OpportunityStageChanged(
            lineage=self.lineage(), opportunity_id=self.id, from_stage=previous.value, to_stage=to.value,
            probability=probability, changed_by=by, changed_at=now))

    # -- the opportunity itself ----------------------------------------------------------------

    def update_details(self, *, title: str = _UNSET, need: str = _UNSET, budget: Money | None = _UNSET,
                       start_date: date | None = _UNSET, expected_close_date: date | None = _UNSET) -> None:
        self._require_open()
        if title is not _UNSET:
            self.title = title
        if need is not _UNSET:
            self.need = need
        if budget is not _UNSET:
            self._check_budget(budget)
            self.budget = budget
            self._refresh_value()
        if start_date is not _UNSET:
            self.start_date = start_date
        if expected_close_date is not _UNSET:
            self.expected_close_date = expected_close_date

    def assign_team(self, assignments: Mapping[TeamRole, str], *, by: str, now: datetime) -> None:
        """Assign the iron triangle; the AR becomes the owner. Every change is kept in the history."""
        self._require_open()
        current = {TeamRole.AR: self.owner, TeamRole.SR: self.sr, TeamRole.FR: self.fr}
        changes = [TeamChange(role, current[role], user, by, now)
                   for role, user in assignments.items() if current[role] != user]
        for change in changes:
            if change.role is TeamRole.AR:
                self.owner = change.assigned
            elif change.role is TeamRole.SR:
                self.sr = change.assigned
            else:
                self.fr = change.assigned
        self.team_history = (*self.team_history, *changes)

    def set_insight(self, insight: Insight) -> None:
        """Replaces the dimensions given; the others stay as they were."""
        self._require_open()
        self.insight = self.insight.updated_by(insight)

    def set_value_proposition(self, proposition: ValueProposition) -> None:
        self._require_open()
        self.value_proposition = proposition

    # -- power map -----------------------------------------------------------------------------

    def add_stakeholder(self, stakeholder: Stakeholder) -> None:
        self._require_open()
        check_reporting_line(stakeholder, self.stakeholders)
        self.stakeholders = (*self.stakeholders, stakeholder)

    def replace_stakeholder(self, stakeholder: Stakeholder) -> None:
        self._require_open()
        check_reporting_line(stakeholder, self._without(self.stakeholders, stakeholder.id, "stakeholder"))
        self.stakeholders = self._replacing(self.stakeholders, stakeholder, "stakeholder")

    def remove_stakeholder(self, stakeholder_id: uuid.UUID) -> None:
        """Whoever reported to the removed person now reports to nobody known."""
        self._require_open()
        others = self._without(self.stakeholders, stakeholder_id, "stakeholder")
        self.stakeholders = tuple(replace(s, reports_to=None) if s.reports_to == stakeholder_id else s
                                  for s in others)

    @staticmethod
    def _without(items: tuple[Any, ...], item_id: uuid.UUID, kind: str) -> tuple[Any, ...]:
        """`items` but the one with `item_id`; an id this opportunity does not have is a 404, as on a GET."""
        if not any(i.id == item_id for i in items):
            raise NotFound(kind, item_id)
        return tuple(i for i in items if i.id != item_id)

    @classmethod
    def _replacing(cls, items: tuple[Any, ...], item: Any, kind: str) -> tuple[Any, ...]:
        cls._without(items, item.id, kind)
        return tuple(item if i.id == item.id else i for i in items)

    # -- competitors, risks, requirements ------------------------------------------------------

    def add_competitor(self, competitor: Competitor) -> None:
        self._require_open()
        self.competitors = (*self.competitors, competitor)

    def replace_competitor(self, competitor: Competitor) -> None:
        self._require_open()
        self.competitors = self._replacing(self.competitors, competitor, "competitor")

    def remove_competitor(self, competitor_id: uuid.UUID) -> None:
        self._require_open()
        self.competitors = self._without(self.competitors, competitor_id, "competitor")

    def add_risk(self, risk: Risk) -> None:
        self._require_open()
        self.risks = (*self.risks, risk)

    def replace_risk(self, risk: Risk) -> None:
        """Risks are closed, never deleted: the register shows what was known when a gate passed."""
        self._require_open()
        self.risks = self._replacing(self.risks, risk, "risk")

    def raise_requirement(self, requirement: Requirement) -> None:
        self._require_open()
        self.requirements = (*self.requirements, requirement)
        self.events.append(RequirementRaised(
            lineage=self.lineage(), opportunity_id=self.id, requirement_id=requirement.id, title=requirement.title,
            description=requirement.description, priority=requirement.priority.value,
            raised_by=requirement.raised_by, raised_at=requirement.raised_at))

    # -- commercial terms ----------------------------------------------------------------------

    def update_terms(self, **parts: Any) -> None:
        """Change parts of the terms being negotiated (value, line_items, payment_terms, milestones)."""
        self._require_open()
        if self.has_approved(Gate.ATC):
            raise DomainError("terms-approved", "the terms were approved at ATC; they can no longer change")
        if self.gate_status(Gate.ATC) is RequestStatus.PENDING:
            raise DomainError("gate-request-pending", "the terms are before the ATC deciders; wait for their decision")
        self.draft_terms = replace(self.draft_terms, **parts)
        self._refresh_value()

    # -- gates ---------------------------------------------------------------------------------

    def missing_for(self, gate: Gate) -> list[dict[str, str]]:
        """Every prerequisite of the gate that is not met, each naming what is missing."""
        if gate is Gate.ATC:
            missing = [] if self.has_approved(Gate.ATB) else [_missing("gates.ATB", "the bid was not approved")]
            return missing + self.draft_terms.problems()
        missing = [_missing(f"team.{role}", f"no {role.upper()} assigned")
                   for role, user in (("sr", self.sr), ("fr", self.fr)) if user is None]
        missing += [_missing(f"insight.{name}", f"the {name} insight is missing") for name in self.insight.missing()]
        if self.value_proposition is None:
            missing.append(_missing("value_proposition", "no value proposition"))
        coverage = self.coverage
        if not coverage.decision_maker_known:
            missing.append(_missing("power_map.decision_maker", "the decision maker is not on the power map"))
        if not coverage.economic_buyer_known:
            missing.append(_missing("power_map.economic_buyer", "the economic buyer is not on the power map"))
        missing += [_missing(f"risks.{r.id}.mitigation", f"high risk {r.description!r} has no mitigation")
                    for r in self.risks if r.is_high_and_live and not (r.mitigation or "").strip()]
        if self.deal_value is None:
            missing.append(_missing("budget", "no deal value to route the decision by: give a budget or a value"))
        return missing

    def request_gate(self, gate: Gate, *, policy: DecisionPolicy, request_id: uuid.UUID, by: str,
                     now: datetime, credit: Mapping[str, Credit] | None = None,
                     credit_override_reason: str | None = None) -> GateRequest:
        """ATB or ATC, routed to the tier that decides it. `credit` is the account's credit per currency
        (`ltc.opportunities.domain.credit`): an ATC over the limit needs an override reason and goes
        one tier higher."""
        self._require_open()
        status = self.gate_status(gate)
        if status is RequestStatus.PENDING:
            raise DomainError("gate-request-pending", f"an {gate.value} request is already waiting for a decision")
        if status in (RequestStatus.APPROVED, RequestStatus.REJECTED):
            raise DomainError("gate-approved" if status is RequestStatus.APPROVED else "gate-rejected",
                              f"{gate.value} was already {status.value}")
        allowed = (Stage.VALIDATING, Stage.STRATEGIZING) if gate is Gate.ATB else tuple(AFTER_ATB)
        if self.stage not in allowed:
            raise DomainError("gate-not-in-this-stage",
                              f"{gate.value} is requested in {', '.join(s.value for s in allowed)}, "
                              f"not in {self.stage.value}")
        missing = self.missing_for(gate)
        if missing:
            raise RuleViolation("gate-prerequisites-missing",
                                f"{gate.value} cannot be requested: " + "; ".join(m["message"] for m in missing),
                                errors=missing)
        override = None
        excess = self._credit_excess(credit, self.deal_value) if gate is Gate.ATC else None
        if excess is not None:
            if not (credit_override_reason or "").strip():
                raise excess.refusal("this ATC", f"request it with `{OVERRIDE_FIELD}` to have it decided one tier "
                                                 "higher", field=OVERRIDE_FIELD)
            override = CreditOverride.of(excess, credit_override_reason or "")
        routing = policy.route(self.deal_value, high_risk=self.has_high_risk, credit_override=override is not None)
        request = GateRequest(id=request_id, gate=gate, tier=routing.tier, routed_tier=routing.tier,
                              routing_reason=routing.reason, value=self.deal_value, high_risk=self.has_high_risk,
                              requested_by=by, requested_at=now,
                              terms=self.draft_terms if gate is Gate.ATC else None, credit_override=override)
        self.gate_requests = (*self.gate_requests, request)
        self.pending_gate_tier = request.tier.value
        return request

    @staticmethod
    def _credit_excess(credit: Mapping[str, Credit] | None, value: Money | None) -> CreditExcess | None:
        return credit_excess((credit or {}).get(value.currency) if value is not None else None, value)

    def decide(self, gate: Gate, outcome: Outcome, *, decision_id: uuid.UUID, decider: str, roles: frozenset[str],
               conditions: str | None, comment: str | None, now: datetime,
               credit: Mapping[str, Credit] | None = None) -> Decision:
        """A decision on the pending request; approving an ATC checks the credit limit again as it is now."""
        self._require_open()
        latest = self._latest(gate)
        if latest is None or latest.status is not RequestStatus.PENDING:
            raise DomainError("no-pending-gate-request", f"no {gate.value} request is waiting for a decision")
        if gate is Gate.ATC and outcome is Outcome.APPROVED and latest.credit_override is None:
            excess = self._credit_excess(credit, latest.value)
            if excess is not None:
                # Over the limit since it was requested: send it back, to be requested again with an override.
                raise excess.refusal("approving this ATC", "send the request back: the owner may request it again "
                                     f"with `{OVERRIDE_FIELD}`, to be decided one tier higher")
        decided, decision = latest.decide(outcome, decision_id=decision_id, decider=decider, roles=roles, conditions=conditions,
                                          comment=comment, now=now)
        self.gate_requests = tuple(decided if r.id == latest.id else r for r in self.gate_requests)
        self.pending_gate_tier = decided.tier.value if decided.status is RequestStatus.PENDING else None
        self.events.append(OpportunityDecisionMade(
            lineage=self.lineage(), opportunity_id=self.id, decision_id=decision.id, gate=gate.value,
            tier=decision.tier.value, outcome=decision.outcome.value, decider=decider, conditions=conditions,
            comment=comment, decided_at=now))
        return decision

    # -- stages --------------------------------------------------------------------------------

    def advance(self, to: Stage, *, probabilities: StageProbabilities, by: str, now: datetime) -> None:
        """One open stage forward, or one back when the customer reopens the question."""
        self._require_open()
        if to in CLOSED_STAGES:
            raise DomainError("closing-needs-its-action", f"use the {to.value} action to close an opportunity")
        here, there = OPEN_STAGES.index(self.stage), OPEN_STAGES.index(to)
        if abs(here - there) != 1:
            raise DomainError("stage-transition-not-allowed",
                              f"from {self.stage.value} the next stages are "
                              + ", ".join(OPEN_STAGES[i].value for i in (here - 1, here + 1)
                                          if 0 <= i < len(OPEN_STAGES)))
        if to in AFTER_ATB and not self.has_approved(Gate.ATB):
            raise DomainError("atb-not-approved", f"{to.value} needs an approved ATB (approve to bid)")
        self._move(to, probability=probabilities.of(to), by=by, now=now)

    def win(self, *, by: str, now: datetime) -> None:
        """Won on the terms approved at ATC: exactly those go to contracts."""
        self._require_open()
        latest = self._latest(Gate.ATC)
        if latest is None or latest.status is not RequestStatus.APPROVED or latest.terms is None:
            raise DomainError("atc-not-approved", "winning needs an approved ATC (approve to contract)")
        payload = latest.terms.to_payload()
        approved = latest.decisions[-1]
        self.commercial_terms = payload.model_dump(mode="json")
        self._close(Stage.WON, reason=None, by=by, now=now)
        self.events.append(OpportunityWon(
            lineage=self.lineage(), opportunity_id=self.id, account_id=self.account_id,
            account_name=self.account_name, title=self.title, owner=self.owner, terms=payload, won_at=now,
            approval=GateApprovalPayload(decision_id=approved.id, gate=Gate.ATC.value, tier=approved.tier.value,
                                         decider=approved.decider, decided_at=approved.decided_at,
                                         conditions=approved.conditions),
        ))

    def lose(self, *, reason: str, competitor: str | None, by: str, now: datetime) -> None:
        self._require_open()
        reason = self._required_reason(reason)
        self.competitor = competitor.strip() if competitor and competitor.strip() else None
        self._close(Stage.LOST, reason=reason, by=by, now=now)
        self.events.append(OpportunityLost(lineage=self.lineage(), opportunity_id=self.id, reason=reason,
                                           competitor=self.competitor, lost_at=now))

    def abandon(self, *, reason: str, by: str, now: datetime) -> None:
        self._require_open()
        self._close(Stage.ABANDONED, reason=self._required_reason(reason), by=by, now=now)

    def _close(self, stage: Stage, *, reason: str | None, by: str, now: datetime) -> None:
        self._move(stage, probability=DEFAULT_PROBABILITIES.of(stage), by=by, now=now)
        self.pending_gate_tier = None
        self.closed_reason = reason
        self.closed_by = by
        self.closed_at = now

    @staticmethod
    def _required_reason(reason: str) -> str:
        if not reason.strip():
            raise RuleViolation("close-reason-required", "a lost or abandoned opportunity needs a reason",
                                errors=[{"field": "reason", "message": "must not be empty"}])
        return reason.strip()
