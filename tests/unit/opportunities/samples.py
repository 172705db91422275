"""Opportunities as the unit tests build them: a deal, its insight, power map, risks, terms, and
the steps that take it through the gates and stages."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from ltc.opportunities.domain.gates import DEFAULT_THRESHOLDS, DecisionPolicy, Gate, Outcome
from ltc.opportunities.domain.insight import (
    CompetitionInsight,
    CustomerInsight,
    Insight,
    LifeCyclePhase,
    MarketInsight,
    MarketSituation,
    NeedMet,
    ProductInsight,
    ValueProposition,
)
from ltc.opportunities.domain.model import Opportunity
from ltc.opportunities.domain.risks import Level, Risk, RiskCategory, RiskStatus
from ltc.opportunities.domain.stages import DEFAULT_PROBABILITIES, Stage
from ltc.opportunities.domain.stakeholders import Attitude, DecisionRole, Relationship, Stakeholder
from ltc.opportunities.domain.team import TeamRole
from ltc.opportunities.domain.terms import (
    AcceptanceType,
    CommercialTerms,
    LineItem,
    Milestone,
    PaymentTerm,
    PaymentTrigger,
)
from ltc.shared.money import Money
from ltc.shared.rules import RuleViolation

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
POLICY = DecisionPolicy(DEFAULT_THRESHOLDS)
L1, L2, L3 = (frozenset({f"approver_l{n}"}) for n in (1, 2, 3))


def eur(amount: str) -> Money:
    return Money(Decimal(amount), "EUR")


def an_opportunity(*, lead_id: uuid.UUID | None = None, budget: Money | None = eur("500000")) -> Opportunity:
    return Opportunity(id=uuid.uuid4(), lead_id=lead_id, account_id=uuid.uuid4(), account_name="ACME Rail",
                       title="Signalling upgrade", need="unreliable interlocking", budget=budget,
                       start_date=date(2027, 1, 1), owner="alice", now=NOW)


def signing(percent: str, name: str = "advance") -> PaymentTerm:
    return PaymentTerm(name, Decimal(percent), PaymentTrigger.SIGNING, None, 30)


def on_milestone(percent: str, milestone: str | None, name: str = "progress", due_days: int = 30) -> PaymentTerm:
    return PaymentTerm(name, Decimal(percent), PaymentTrigger.MILESTONE, milestone, due_days)


def milestone(name: str, acceptance: AcceptanceType = AcceptanceType.PRELIMINARY) -> Milestone:
    return Milestone(name, date(2027, 6, 1), acceptance)


def item(quantity: str = "1", price: str = "1000000.00", currency: str = "EUR", *, position: int = 1,
         **more: Any) -> LineItem:
    return LineItem(**{"position": position, "description": "interlocking", "quantity": Decimal(quantity),
                       "unit": "C62", "unit_price": Money(Decimal(price), currency), **more})


def terms(*payment_terms: PaymentTerm, milestones: tuple[Milestone, ...] = (milestone("handover"),),
          value: Money | None = eur("1000000.00"), line_items: tuple[LineItem, ...] = (item(),)) -> CommercialTerms:
    return CommercialTerms(value=value, line_items=line_items, payment_terms=payment_terms, milestones=milestones)


GOOD_TERMS = terms(
    signing("30"), on_milestone("60", "installation", "on installation"), on_milestone("10", "handover", "final"),
    milestones=(milestone("installation"), milestone("handover", AcceptanceType.FINAL)),
)
INSIGHT = Insight(
    market=MarketInsight(MarketSituation.EXISTING, "installed base"),
    customer=CustomerInsight("rail", "north", "modernise", "outages"),
    product=ProductInsight(LifeCyclePhase.MATURITY, "v4"),
    competition=CompetitionInsight("consolidating", "bus", "keep the account", "service", "uptime", "price"),
)
PROPOSITION = ValueProposition("uptime", "no outages", NeedMet.FULLY, "all lines", "only local service team")


def person(role: DecisionRole, *, influence: int = 5, attitude: Attitude = Attitude.SUPPORTER,
           reports_to: uuid.UUID | None = None) -> Stakeholder:
    return Stakeholder(uuid.uuid4(), None, "Ms Li", "CTO", role, influence, attitude, Relationship.GOOD, reports_to)


def a_risk(probability: Level = Level.HIGH, impact: Level = Level.HIGH, *, mitigation: str | None = None,
           status: RiskStatus = RiskStatus.OPEN) -> Risk:
    return Risk(uuid.uuid4(), "late civil works", RiskCategory.DELIVERY, probability, impact, mitigation, "bob", status)


def ready_for_atb(opportunity: Opportunity | None = None) -> Opportunity:
    opportunity = opportunity or an_opportunity()
    opportunity.assign_team({TeamRole.SR: "sam", TeamRole.FR: "fay"}, by="alice", now=NOW)
    opportunity.set_insight(INSIGHT)
    opportunity.set_value_proposition(PROPOSITION)
    opportunity.add_stakeholder(person(DecisionRole.DECISION_MAKER))
    opportunity.add_stakeholder(person(DecisionRole.ECONOMIC_BUYER))
    return opportunity


def decide(opportunity: Opportunity, gate: Gate, outcome: Outcome = Outcome.APPROVED,
           roles: frozenset[str] = L3, decider: str = "victor") -> None:
    opportunity.decide(gate, outcome, decision_id=uuid.uuid4(), decider=decider, roles=roles, conditions=None,
                       comment=None, now=NOW)


def request(opportunity: Opportunity, gate: Gate, policy: DecisionPolicy = POLICY):
    return opportunity.request_gate(gate, policy=policy, request_id=uuid.uuid4(), by="alice", now=NOW)


def advance(opportunity: Opportunity, to: Stage) -> None:
    opportunity.advance(to, probabilities=DEFAULT_PROBABILITIES, by="alice", now=NOW)


def in_bidding() -> Opportunity:
    opportunity = ready_for_atb()
    request(opportunity, Gate.ATB)
    decide(opportunity, Gate.ATB)
    advance(opportunity, Stage.STRATEGIZING)
    advance(opportunity, Stage.BIDDING)
    return opportunity


def atc_approved() -> Opportunity:
    opportunity = in_bidding()
    opportunity.update_terms(value=GOOD_TERMS.value, line_items=GOOD_TERMS.line_items,
                             payment_terms=GOOD_TERMS.payment_terms, milestones=GOOD_TERMS.milestones)
    request(opportunity, Gate.ATC)
    decide(opportunity, Gate.ATC)
    return opportunity


def fields(exc: pytest.ExceptionInfo[RuleViolation]) -> list[str]:
    return [error["field"] for error in exc.value.errors]
