"""Command and event handlers: load → authorize → domain → audit → unit of work commit.

Every command handler is `handler(uow, command, principal)` and returns what the route answers
from; the object and the version the caller read travel inside the command.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from ltc.opportunities.adapters import queries, repository
from ltc.opportunities.adapters.queries import AuditAction
from ltc.opportunities.domain.competitors import Competitor
from ltc.opportunities.domain.gates import DecisionPolicy, Gate, Outcome
from ltc.opportunities.domain.insight import Insight, ValueProposition
from ltc.opportunities.domain.model import Opportunity
from ltc.opportunities.domain.requirements import Priority, Requirement
from ltc.opportunities.domain.risks import Risk, RiskCategory
from ltc.opportunities.domain.stages import Stage, StageProbabilities
from ltc.opportunities.domain.stakeholders import Stakeholder
from ltc.opportunities.domain.team import TeamRole
from ltc.shared.audit import AuditEntry
from ltc.shared.db import UnitOfWork
from ltc.shared.messages.envelope import Envelope
from ltc.shared.messages.finance_events import AccountCreditChanged
from ltc.shared.messages.leads_events import LeadConverted
from ltc.shared.money import Money
from ltc.shared.policy import PolicyVersion, set_policy
from ltc.shared.roles import Principal, Role
from ltc.shared.rules import Forbidden, require_version


def clock() -> datetime:
    """The one clock of the service: every date-dependent rule gets its time here."""
    return datetime.now(UTC)


# -- who may change what -------------------------------------------------------------------------

Permission = Callable[[Principal, Opportunity], bool]


def is_owner(principal: Principal, opportunity: Opportunity) -> bool:
    """The owning account manager directs the opportunity; admins may step in."""
    return principal.sub == opportunity.owner or principal.has_any(Role.ADMIN)


def is_solution(principal: Principal, opportunity: Opportunity) -> bool:
    return is_owner(principal, opportunity) or principal.sub == opportunity.sr


def is_team(principal: Principal, opportunity: Opportunity) -> bool:
    return is_owner(principal, opportunity) or opportunity.team_member(principal.sub)


def any_decider(principal: Principal, opportunity: Opportunity) -> bool:
    """Deciders are not on the team; whether their tier suffices is the gate request's own rule."""
    return True


def risk_permission(risk: Risk) -> Permission:
    """The AR keeps the whole register; the FR the delivery risks, the SR the technical ones."""
    def allowed(principal: Principal, opportunity: Opportunity) -> bool:
        # Moving a risk out of one's own category would be a way round the rule: both must be allowed.
        known = next((r for r in opportunity.risks if r.id == risk.id), None)
        categories = {risk.category} | ({known.category} if known else set())
        if is_owner(principal, opportunity):
            return True
        if principal.sub == opportunity.fr and categories <= {RiskCategory.DELIVERY}:
            return True
        return principal.sub == opportunity.sr and categories <= {RiskCategory.TECHNICAL}
    return allowed


def terms_permission(parts: set[str]) -> Permission:
    """The SR prices (value, line items, payment terms); the FR plans delivery (milestones)."""
    def allowed(principal: Principal, opportunity: Opportunity) -> bool:
        if is_owner(principal, opportunity):
            return True
        if principal.sub == opportunity.sr and "milestones" not in parts:
            return True
        return principal.sub == opportunity.fr and parts == {"milestones"}
    return allowed


def _audit(uow: UnitOfWork, opportunity_id: uuid.UUID, *, actor: str, action: AuditAction, changes: Any,
           at: datetime) -> None:
    uow.audit(AuditEntry(at=at, actor=actor, action=action, object_type=queries.AUDITED_OPPORTUNITY,
                         object_id=opportunity_id, changes=changes))


async def _change(uow: UnitOfWork, principal: Principal, opportunity_id: uuid.UUID, *,
                  expected_version: int | None, allowed: Permission, action: AuditAction, changes: Any,
                  apply: Callable[[Opportunity], object], now: datetime | None = None) -> Opportunity:
    """The one path of every change: visible, permitted, current, applied, audited, committed."""
    opportunity = await queries.visible_opportunity(uow.session, principal, opportunity_id, lock=True)
    if not allowed(principal, opportunity):
        if allowed is is_owner:
            raise Forbidden("not-opportunity-owner",
                            "only the owning account manager or an admin may do this on the opportunity")
        raise Forbidden("not-permitted-on-opportunity", f"your part in the opportunity's team may not {action}")
    require_version(opportunity.version, expected_version, what="the opportunity")
    apply(opportunity)
    _audit(uow, opportunity.id, actor=principal.sub, action=action, changes=changes, at=now or clock())
    await uow.commit()
    return opportunity


@dataclass(frozen=True)
class Added:
    """What a command that adds an item to an opportunity answers from: the opportunity and the
    item's id (a replay under the same Idempotency-Key answers with the id the first run gave)."""

    opportunity: Opportunity
    item_id: uuid.UUID


# -- the opportunity -----------------------------------------------------------------------------

@dataclass(frozen=True)
class CreateOpportunity:
    opportunity_id: uuid.UUID
    title: str
    account_name: str
    account_id: uuid.UUID | None
    need: str
    budget: Money | None
    start_date: date | None
    expected_close_date: date | None = None


async def create_opportunity(uow: UnitOfWork, command: CreateOpportunity, principal: Principal) -> Opportunity:
    """Directly, without a lead: e.g. a tender that reached us."""
    now = clock()
    opportunity = Opportunity(
        id=command.opportunity_id, lead_id=None, account_id=command.account_id, account_name=command.account_name,
        title=command.title, need=command.need, budget=command.budget, start_date=command.start_date,
        expected_close_date=command.expected_close_date, owner=principal.sub, now=now,
        probabilities=await queries.stage_probabilities(uow.session))
    uow.session.add(opportunity)
    _audit(uow, opportunity.id, actor=principal.sub, action=AuditAction.CREATE, changes=command, at=now)
    await uow.commit()
    return opportunity


async def on_lead_converted(uow: UnitOfWork, event: LeadConverted, envelope: Envelope) -> None:
    """One opportunity per converted lead, owned by the lead's account manager."""
    if await repository.find_by_lead(uow.session, event.lead_id) is not None:
        return
    now = clock()
    opportunity = Opportunity(
        id=uuid.uuid4(), lead_id=event.lead_id, account_id=event.account_id, account_name=event.account_name,
        title=event.title, need=event.need, budget=event.budget.to_money(), start_date=event.start_date,
        owner=event.owner, now=now, probabilities=await queries.stage_probabilities(uow.session),
    )
    uow.session.add(opportunity)
    _audit(uow, opportunity.id, actor=envelope.source, action=AuditAction.CREATE_FROM_LEAD,
           changes={"lead_id": str(event.lead_id), "message_id": envelope.id}, at=now)


async def on_account_credit_changed(uow: UnitOfWork, event: AccountCreditChanged, envelope: Envelope) -> None:
    """Keep finance's figures for the account in the currency, unless newer ones are held: the ATC
    gate's credit-limit rule reads them."""
    await repository.copy_credit(uow.session, account_id=event.account_id, currency=event.currency,
                                 limit_amount=event.credit_limit.amount if event.credit_limit else None,
                                 exposure_amount=event.exposure.amount, changed_at=event.changed_at)


@dataclass(frozen=True)
class UpdateDetails:
    opportunity_id: uuid.UUID
    changes: Mapping[str, Any]  # of title, need, budget, start_date, expected_close_date
    expected_version: int | None


async def update_details(uow: UnitOfWork, command: UpdateDetails, principal: Principal) -> Opportunity:
    return await _change(uow, principal, command.opportunity_id, expected_version=command.expected_version,
                         allowed=is_owner, action=AuditAction.UPDATE_DETAILS, changes=dict(command.changes),
                         apply=lambda o: o.update_details(**command.changes))


@dataclass(frozen=True)
class AssignTeam:
    opportunity_id: uuid.UUID
    assignments: Mapping[TeamRole, str]
    expected_version: int | None


async def assign_team(uow: UnitOfWork, command: AssignTeam, principal: Principal) -> Opportunity:
    now = clock()
    return await _change(uow, principal, command.opportunity_id, expected_version=command.expected_version,
                         allowed=is_owner, action=AuditAction.ASSIGN_TEAM,
                         changes={role.value: user for role, user in command.assignments.items()},
                         apply=lambda o: o.assign_team(command.assignments, by=principal.sub, now=now), now=now)


@dataclass(frozen=True)
class SetInsight:
    opportunity_id: uuid.UUID
    insight: Insight
    expected_version: int | None


async def set_insight(uow: UnitOfWork, command: SetInsight, principal: Principal) -> Opportunity:
    return await _change(uow, principal, command.opportunity_id, expected_version=command.expected_version,
                         allowed=is_owner, action=AuditAction.SET_INSIGHT, changes={"insight": command.insight},
                         apply=lambda o: o.set_insight(command.insight))


@dataclass(frozen=True)
class SetValueProposition:
    opportunity_id: uuid.UUID
    proposition: ValueProposition
    expected_version: int | None


async def set_value_proposition(uow: UnitOfWork, command: SetValueProposition, principal: Principal) -> Opportunity:
    return await _change(uow, principal, command.opportunity_id, expected_version=command.expected_version,
                         allowed=is_solution, action=AuditAction.SET_VALUE_PROPOSITION,
                         changes={"value_proposition": command.proposition},
                         apply=lambda o: o.set_value_proposition(command.proposition))


@dataclass(frozen=True)
class UpdateTerms:
    opportunity_id: uuid.UUID
    parts: Mapping[str, Any]  # of value, line_items, payment_terms, milestones
    expected_version: int | None


async def update_terms(uow: UnitOfWork, command: UpdateTerms, principal: Principal) -> Opportunity:
    return await _change(uow, principal, command.opportunity_id, expected_version=command.expected_version,
                         allowed=terms_permission(set(command.parts)), action=AuditAction.UPDATE_TERMS,
                         changes=dict(command.parts), apply=lambda o: o.update_terms(**command.parts))


# -- power map, competitors, risks, requirements -------------------------------------------------

@dataclass(frozen=True)
class AddStakeholder:
    opportunity_id: uuid.UUID
    stakeholder: Stakeholder
    expected_version: int | None


async def add_stakeholder(uow: UnitOfWork, command: AddStakeholder, principal: Principal) -> Added:
    opportunity = await _change(uow, principal, command.opportunity_id, expected_version=command.expected_version, allowed=is_owner,
                                action=AuditAction.ADD_STAKEHOLDER, changes={"stakeholder": command.stakeholder},
                                apply=lambda o: o.add_stakeholder(command.stakeholder))
    return Added(opportunity, command.stakeholder.id)


@dataclass(frozen=True)
class ReplaceStakeholder:
    opportunity_id: uuid.UUID
    stakeholder: Stakeholder
    expected_version: int | None


async def replace_stakeholder(uow: UnitOfWork, command: ReplaceStakeholder, principal: Principal) -> Opportunity:
    return await _change(uow, principal, command.opportunity_id, expected_version=command.expected_version,
                         allowed=is_owner, action=AuditAction.REPLACE_STAKEHOLDER, changes={"stakeholder": command.stakeholder},
                         apply=lambda o: o.replace_stakeholder(command.stakeholder))


@dataclass(frozen=True)
class RemoveStakeholder:
    opportunity_id: uuid.UUID
    stakeholder_id: uuid.UUID
    expected_version: int | None


async def remove_stakeholder(uow: UnitOfWork, command: RemoveStakeholder, principal: Principal) -> Opportunity:
    return await _change(uow, principal, command.opportunity_id, expected_version=command.expected_version,
                         allowed=is_owner, action=AuditAction.REMOVE_STAKEHOLDER,
                         changes={"stakeholder_id": str(command.stakeholder_id)},
                         apply=lambda o: o.remove_stakeholder(command.stakeholder_id))


@dataclass(frozen=True)
class AddCompetitor:
    opportunity_id: uuid.UUID
    competitor: Competitor
    expected_version: int | None


async def add_competitor(uow: UnitOfWork, command: AddCompetitor, principal: Principal) -> Added:
    opportunity = await _change(uow, principal, command.opportunity_id, expected_version=command.expected_version, allowed=is_owner,
                                action=AuditAction.ADD_COMPETITOR, changes={"competitor": command.competitor},
                                apply=lambda o: o.add_competitor(command.competitor))
    return Added(opportunity, command.competitor.id)


@dataclass(frozen=True)
class ReplaceCompetitor:
    opportunity_id: uuid.UUID
    competitor: Competitor
    expected_version: int | None


async def replace_competitor(uow: UnitOfWork, command: ReplaceCompetitor, principal: Principal) -> Opportunity:
    return await _change(uow, principal, command.opportunity_id, expected_version=command.expected_version,
                         allowed=is_owner, action=AuditAction.REPLACE_COMPETITOR, changes={"competitor": command.competitor},
                         apply=lambda o: o.replace_competitor(command.competitor))


@dataclass(frozen=True)
class RemoveCompetitor:
    opportunity_id: uuid.UUID
    competitor_id: uuid.UUID
    expected_version: int | None


async def remove_competitor(uow: UnitOfWork, command: RemoveCompetitor, principal: Principal) -> Opportunity:
    return await _change(uow, principal, command.opportunity_id, expected_version=command.expected_version,
                         allowed=is_owner, action=AuditAction.REMOVE_COMPETITOR,
                         changes={"competitor_id": str(command.competitor_id)},
                         apply=lambda o: o.remove_competitor(command.competitor_id))


@dataclass(frozen=True)
class AddRisk:
    opportunity_id: uuid.UUID
    risk: Risk
    expected_version: int | None


async def add_risk(uow: UnitOfWork, command: AddRisk, principal: Principal) -> Added:
    opportunity = await _change(uow, principal, command.opportunity_id, expected_version=command.expected_version,
                                allowed=risk_permission(command.risk), action=AuditAction.ADD_RISK,
                                changes={"risk": command.risk}, apply=lambda o: o.add_risk(command.risk))
    return Added(opportunity, command.risk.id)


@dataclass(frozen=True)
class ReplaceRisk:
    opportunity_id: uuid.UUID
    risk: Risk
    expected_version: int | None


async def replace_risk(uow: UnitOfWork, command: ReplaceRisk, principal: Principal) -> Opportunity:
    return await _change(uow, principal, command.opportunity_id, expected_version=command.expected_version,
                         allowed=risk_permission(command.risk), action=AuditAction.REPLACE_RISK,
                         changes={"risk": command.risk}, apply=lambda o: o.replace_risk(command.risk))


@dataclass(frozen=True)
class RaiseRequirement:
    opportunity_id: uuid.UUID
    requirement_id: uuid.UUID
    title: str
    description: str
    priority: Priority
    expected_version: int | None


async def raise_requirement(uow: UnitOfWork, command: RaiseRequirement, principal: Principal) -> Added:
    requirement = Requirement(id=command.requirement_id, title=command.title, description=command.description,
                              priority=command.priority, raised_by=principal.sub, raised_at=clock())
    opportunity = await _change(uow, principal, command.opportunity_id, expected_version=command.expected_version, allowed=is_team,
                                action=AuditAction.RAISE_REQUIREMENT, changes={"requirement": requirement},
                                apply=lambda o: o.raise_requirement(requirement))
    return Added(opportunity, requirement.id)


# -- gates, decisions, stages, outcome -----------------------------------------------------------

@dataclass(frozen=True)
class RequestGate:
    opportunity_id: uuid.UUID
    request_id: uuid.UUID
    gate: Gate
    expected_version: int | None
    credit_override_reason: str | None = None  # ATC over the account's credit limit: why, to go one tier up


async def request_gate(uow: UnitOfWork, command: RequestGate, principal: Principal) -> Added:
    policy: DecisionPolicy = await queries.decision_policy(uow.session)
    credit = await queries.credit_of_opportunity(uow.session, command.opportunity_id)
    now = clock()
    changes: dict[str, Any] = {"gate": command.gate.value, "request_id": str(command.request_id)}
    if command.credit_override_reason is not None:
        changes["credit_override_reason"] = command.credit_override_reason
    opportunity = await _change(
        uow, principal, command.opportunity_id, expected_version=command.expected_version, allowed=is_owner,
        action=AuditAction.REQUEST_GATE, changes=changes,
        apply=lambda o: o.request_gate(command.gate, policy=policy, request_id=command.request_id, by=principal.sub,
                                       now=now, credit=credit, credit_override_reason=command.credit_override_reason),
        now=now)
    return Added(opportunity, command.request_id)


@dataclass(frozen=True)
class Decide:
    opportunity_id: uuid.UUID
    decision_id: uuid.UUID
    gate: Gate
    outcome: Outcome
    conditions: str | None
    comment: str | None
    expected_version: int | None


async def decide(uow: UnitOfWork, command: Decide, principal: Principal) -> Added:
    credit = await queries.credit_of_opportunity(uow.session, command.opportunity_id)
    now = clock()
    opportunity = await _change(
        uow, principal, command.opportunity_id, expected_version=command.expected_version, allowed=any_decider,
        action=AuditAction.DECIDE, changes={"gate": command.gate.value, "outcome": command.outcome.value,
                                  "conditions": command.conditions, "comment": command.comment},
        apply=lambda o: o.decide(command.gate, command.outcome, decision_id=command.decision_id,
                                 decider=principal.sub, roles=principal.roles, conditions=command.conditions,
                                 comment=command.comment, now=now, credit=credit), now=now)
    return Added(opportunity, command.decision_id)


@dataclass(frozen=True)
class Advance:
    opportunity_id: uuid.UUID
    to: Stage
    expected_version: int | None


async def advance(uow: UnitOfWork, command: Advance, principal: Principal) -> Opportunity:
    probabilities = await queries.stage_probabilities(uow.session)
    now = clock()
    return await _change(uow, principal, command.opportunity_id, expected_version=command.expected_version,
                         allowed=is_owner, action=AuditAction.CHANGE_STAGE, changes={"to": command.to.value},
                         apply=lambda o: o.advance(command.to, probabilities=probabilities, by=principal.sub,
                                                   now=now), now=now)


@dataclass(frozen=True)
class Win:
    opportunity_id: uuid.UUID
    expected_version: int | None


async def win(uow: UnitOfWork, command: Win, principal: Principal) -> Opportunity:
    now = clock()
    return await _change(uow, principal, command.opportunity_id, expected_version=command.expected_version,
                         allowed=is_owner, action=AuditAction.WIN, changes={},
                         apply=lambda o: o.win(by=principal.sub, now=now), now=now)


@dataclass(frozen=True)
class Lose:
    opportunity_id: uuid.UUID
    reason: str
    competitor: str | None
    expected_version: int | None


async def lose(uow: UnitOfWork, command: Lose, principal: Principal) -> Opportunity:
    now = clock()
    return await _change(uow, principal, command.opportunity_id, expected_version=command.expected_version,
                         allowed=is_owner, action=AuditAction.LOSE,
                         changes={"reason": command.reason, "competitor": command.competitor},
                         apply=lambda o: o.lose(reason=command.reason, competitor=command.competitor,
                                                by=principal.sub, now=now), now=now)


@dataclass(frozen=True)
class Abandon:
    opportunity_id: uuid.UUID
    reason: str
    expected_version: int | None


async def abandon(uow: UnitOfWork, command: Abandon, principal: Principal) -> Opportunity:
    now = clock()
    return await _change(uow, principal, command.opportunity_id, expected_version=command.expected_version,
                         allowed=is_owner, action=AuditAction.ABANDON, changes={"reason": command.reason},
                         apply=lambda o: o.abandon(reason=command.reason, by=principal.sub, now=now), now=now)


# -- policies (admin) ----------------------------------------------------------------------------

async def _set_policy(uow: UnitOfWork, principal: Principal, name: str, document: Any,
                      expected_version: int | None) -> PolicyVersion:
    """Replaced whole; the expected version guards against overwriting a colleague's change."""
    now = clock()
    saved = await set_policy(uow.session, name, document, expected_version=expected_version, by=principal.sub,
                             at=now)
    uow.audit(AuditEntry(at=now, actor=principal.sub, action=f"configure-{name}", object_type=queries.AUDITED_POLICY,
                         object_id=queries.policy_object_id(name),
                         changes={"value": document, "version": saved.version}))
    await uow.commit()
    return saved


@dataclass(frozen=True)
class SetStageProbabilities:
    probabilities: StageProbabilities
    expected_version: int | None


async def set_stage_probabilities(uow: UnitOfWork, command: SetStageProbabilities,
                                  principal: Principal) -> PolicyVersion:
    """Applies to later stage changes; an opportunity keeps the probability it moved with."""
    return await _set_policy(uow, principal, queries.STAGE_PROBABILITIES, command.probabilities.to_json(),
                             command.expected_version)


@dataclass(frozen=True)
class SetDecisionThresholds:
    policy: DecisionPolicy
    expected_version: int | None


async def set_decision_thresholds(uow: UnitOfWork, command: SetDecisionThresholds,
                                  principal: Principal) -> PolicyVersion:
    """Applies to later gate requests; a request keeps the tier it was routed to."""
    return await _set_policy(uow, principal, queries.DECISION_THRESHOLDS, command.policy.to_json(),
                             command.expected_version)
