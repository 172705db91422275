"""Command and event handlers: load → authorize → domain → audit → unit of work commit."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from ltc.opportunities.adapters import repository
from ltc.opportunities.domain.gates import DecisionPolicy, Gate, GateRequest, Outcome
from ltc.opportunities.domain.model import Opportunity, Stage
from ltc.opportunities.domain.risks import Risk, RiskCategory
from ltc.shared.api import check_if_match
from ltc.shared.audit import audit_details
from ltc.shared.auth import Principal, Role
from ltc.shared.db import UnitOfWork
from ltc.shared.errors import ConcurrencyConflict, Forbidden, NotFound
from ltc.shared.messages.envelope import Envelope
from ltc.shared.messages.leads_events import LeadConverted
from ltc.shared.money import Money

T = TypeVar("T")

# Deciders and operators see every opportunity; the team sees the ones it is on.
SEE_ALL_ROLES = (Role.ADMIN, Role.INTEGRATION, Role.APPROVER_L1, Role.APPROVER_L2, Role.APPROVER_L3)
TEAM_ROLES = (Role.AR, Role.SR, Role.FR)


def clock() -> datetime:
    return datetime.now(UTC)


def may_see(principal: Principal, opportunity: Opportunity) -> bool:
    return opportunity.team_member(principal.sub) or principal.has_any(*SEE_ALL_ROLES)


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


async def visible_opportunity(uow: UnitOfWork, principal: Principal, opportunity_id: uuid.UUID, *,
                              lock: bool) -> Opportunity:
    opportunity = await repository.get_opportunity(uow.session, opportunity_id, for_update=lock)
    if not may_see(principal, opportunity):
        raise NotFound("opportunity", opportunity_id)  # never confirm that someone else's opportunity exists
    return opportunity


async def change(uow: UnitOfWork, principal: Principal, opportunity_id: uuid.UUID, *, if_match: str | None,
                 if_match_required: bool, allowed: Callable[[Principal, Opportunity], bool], action: str,
                 detail: dict[str, Any], apply: Callable[[Opportunity], T]) -> T:
    """The one path of every change: visible, permitted, current, applied, audited, committed."""
    opportunity = await visible_opportunity(uow, principal, opportunity_id, lock=True)
    if not allowed(principal, opportunity):
        if allowed is is_owner:
            raise Forbidden("not-opportunity-owner",
                             "only the owning account manager or an admin may do this on the opportunity")
        raise Forbidden("not-permitted-on-opportunity", f"your part in the opportunity's team may not {action}")
    check_if_match(if_match, opportunity.version, required=if_match_required)
    result = apply(opportunity)
    await repository.record_audit(uow.session, opportunity_id=opportunity.id, actor=principal.sub, action=action,
                                  detail=detail, at=clock())
    await uow.commit()
    return result


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


async def create_opportunity(uow: UnitOfWork, cmd: CreateOpportunity, principal: Principal) -> None:
    """Directly, without a lead: e.g. a tender that reached us."""
    now = clock()
    uow.session.add(Opportunity(id=cmd.opportunity_id, lead_id=None, account_id=cmd.account_id,
                                account_name=cmd.account_name, title=cmd.title, need=cmd.need, budget=cmd.budget,
                                start_date=cmd.start_date, expected_close_date=cmd.expected_close_date,
                                owner=principal.sub, now=now,
                                probabilities=await repository.stage_probabilities(uow.session)))
    await repository.record_audit(uow.session, opportunity_id=cmd.opportunity_id, actor=principal.sub,
                                  action="create", detail=audit_details(cmd), at=now)
    await uow.commit()


async def on_lead_converted(uow: UnitOfWork, event: LeadConverted, envelope: Envelope) -> None:
    """One opportunity per converted lead, owned by the lead's account manager."""
    if await repository.find_by_lead(uow.session, event.lead_id) is not None:
        return
    now = clock()
    opportunity = Opportunity(
        id=uuid.uuid4(), lead_id=event.lead_id, account_id=event.account_id, account_name=event.account_name,
        title=event.title, need=event.need, budget=event.budget.to_money(), start_date=event.start_date,
        owner=event.owner, now=now, probabilities=await repository.stage_probabilities(uow.session),
    )
    uow.session.add(opportunity)
    await repository.record_audit(uow.session, opportunity_id=opportunity.id, actor=envelope.source,
                                  action="create-from-lead", detail={"lead_id": str(event.lead_id),
                                                                     "message_id": envelope.id}, at=now)


def risk_permission(risk: Risk) -> Callable[[Principal, Opportunity], bool]:
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


def terms_permission(parts: set[str]) -> Callable[[Principal, Opportunity], bool]:
    """The SR prices (value, line items, payment terms); the FR plans delivery (milestones)."""
    def allowed(principal: Principal, opportunity: Opportunity) -> bool:
        if is_owner(principal, opportunity):
            return True
        if principal.sub == opportunity.sr and "milestones" not in parts:
            return True
        return principal.sub == opportunity.fr and parts == {"milestones"}
    return allowed


async def request_gate(uow: UnitOfWork, principal: Principal, opportunity_id: uuid.UUID, gate: Gate,
                       if_match: str | None, request_id: uuid.UUID) -> GateRequest:
    policy: DecisionPolicy = await repository.decision_policy(uow.session)
    now = clock()
    return await change(uow, principal, opportunity_id, if_match=if_match, if_match_required=False,
                        allowed=is_owner, action="request-gate", detail={"gate": gate.value,
                                                                         "request_id": str(request_id)},
                        apply=lambda o: o.request_gate(gate, policy=policy, request_id=request_id,
                                                       by=principal.sub, now=now))


async def decide(uow: UnitOfWork, principal: Principal, opportunity_id: uuid.UUID, *, gate: Gate, outcome: Outcome,
                 conditions: str | None, comment: str | None, if_match: str | None, decision_id: uuid.UUID) -> None:
    now = clock()
    await change(uow, principal, opportunity_id, if_match=if_match, if_match_required=False,
                 allowed=any_decider, action="decide",
                 detail={"gate": gate.value, "outcome": outcome.value, "conditions": conditions, "comment": comment},
                 apply=lambda o: o.decide(gate, outcome, decision_id=decision_id, decider=principal.sub,
                                          roles=principal.roles, conditions=conditions, comment=comment, now=now))


async def advance(uow: UnitOfWork, principal: Principal, opportunity_id: uuid.UUID, to: Stage,
                  if_match: str | None) -> None:
    probabilities = await repository.stage_probabilities(uow.session)
    now = clock()
    await change(uow, principal, opportunity_id, if_match=if_match, if_match_required=False, allowed=is_owner,
                 action="change-stage", detail={"to": to.value},
                 apply=lambda o: o.advance(to, probabilities=probabilities, by=principal.sub, now=now))


async def save_setting(uow: UnitOfWork, principal: Principal, key: str, value: Any, if_match: str | None) -> int:
    """An admin setting, replaced whole; If-Match guards against overwriting a colleague's change."""
    _, version = await repository.read_setting(uow.session, key)
    check_if_match(if_match, version, required=True)
    now = clock()
    new_version = await repository.write_setting(uow.session, key, value, version=version, by=principal.sub, at=now)
    if new_version is None:
        raise ConcurrencyConflict("the setting was changed by someone else; read it again")
    await repository.record_audit(uow.session, opportunity_id=None, actor=principal.sub, action=f"configure-{key}",
                                  detail={"value": value, "version": new_version}, at=now)
    await uow.commit()
    return new_version



async def update_details(uow: UnitOfWork, principal: Principal, opportunity_id: uuid.UUID, changes: dict[str, Any],
                         if_match: str | None) -> None:
    await change(uow, principal, opportunity_id, if_match=if_match, if_match_required=True, allowed=is_owner,
                 action="update-details", detail=audit_details(changes),
                 apply=lambda o: o.update_details(**changes))


async def assign_team(uow: UnitOfWork, principal: Principal, opportunity_id: uuid.UUID,
                      assignments: dict[Any, str], if_match: str | None) -> None:
    now = clock()
    await change(uow, principal, opportunity_id, if_match=if_match, if_match_required=True, allowed=is_owner,
                 action="assign-team", detail={role.value: user for role, user in assignments.items()},
                 apply=lambda o: o.assign_team(assignments, by=principal.sub, now=now))


async def set_insight(uow: UnitOfWork, principal: Principal, opportunity_id: uuid.UUID, insight: Any,
                      if_match: str | None) -> None:
    await change(uow, principal, opportunity_id, if_match=if_match, if_match_required=True, allowed=is_owner,
                 action="set-insight", detail=audit_details({"insight": insight}), apply=lambda o: o.set_insight(insight))


async def set_value_proposition(uow: UnitOfWork, principal: Principal, opportunity_id: uuid.UUID, proposition: Any,
                                if_match: str | None) -> None:
    await change(uow, principal, opportunity_id, if_match=if_match, if_match_required=True, allowed=is_solution,
                 action="set-value-proposition", detail=audit_details({"value_proposition": proposition}),
                 apply=lambda o: o.set_value_proposition(proposition))


async def update_terms(uow: UnitOfWork, principal: Principal, opportunity_id: uuid.UUID, parts: dict[str, Any],
                       if_match: str | None) -> None:
    await change(uow, principal, opportunity_id, if_match=if_match, if_match_required=True,
                 allowed=terms_permission(set(parts)), action="update-terms", detail=audit_details(parts),
                 apply=lambda o: o.update_terms(**parts))


async def add_stakeholder(uow: UnitOfWork, principal: Principal, opportunity_id: uuid.UUID, stakeholder: Any) -> None:
    await change(uow, principal, opportunity_id, if_match=None, if_match_required=False, allowed=is_owner,
                 action="add-stakeholder", detail=audit_details({"stakeholder": stakeholder}),
                 apply=lambda o: o.add_stakeholder(stakeholder))


async def replace_stakeholder(uow: UnitOfWork, principal: Principal, opportunity_id: uuid.UUID, stakeholder: Any,
                              if_match: str | None) -> None:
    await change(uow, principal, opportunity_id, if_match=if_match, if_match_required=True, allowed=is_owner,
                 action="replace-stakeholder", detail=audit_details({"stakeholder": stakeholder}),
                 apply=lambda o: o.replace_stakeholder(stakeholder))


async def remove_stakeholder(uow: UnitOfWork, principal: Principal, opportunity_id: uuid.UUID,
                             stakeholder_id: uuid.UUID, if_match: str | None) -> None:
    await change(uow, principal, opportunity_id, if_match=if_match, if_match_required=True, allowed=is_owner,
                 action="remove-stakeholder", detail={"stakeholder_id": str(stakeholder_id)},
                 apply=lambda o: o.remove_stakeholder(stakeholder_id))


async def add_competitor(uow: UnitOfWork, principal: Principal, opportunity_id: uuid.UUID, competitor: Any) -> None:
    await change(uow, principal, opportunity_id, if_match=None, if_match_required=False, allowed=is_owner,
                 action="add-competitor", detail=audit_details({"competitor": competitor}),
                 apply=lambda o: o.add_competitor(competitor))


async def replace_competitor(uow: UnitOfWork, principal: Principal, opportunity_id: uuid.UUID, competitor: Any,
                             if_match: str | None) -> None:
    await change(uow, principal, opportunity_id, if_match=if_match, if_match_required=True, allowed=is_owner,
                 action="replace-competitor", detail=audit_details({"competitor": competitor}),
                 apply=lambda o: o.replace_competitor(competitor))


async def remove_competitor(uow: UnitOfWork, principal: Principal, opportunity_id: uuid.UUID,
                            competitor_id: uuid.UUID, if_match: str | None) -> None:
    await change(uow, principal, opportunity_id, if_match=if_match, if_match_required=True, allowed=is_owner,
                 action="remove-competitor", detail={"competitor_id": str(competitor_id)},
                 apply=lambda o: o.remove_competitor(competitor_id))


async def add_risk(uow: UnitOfWork, principal: Principal, opportunity_id: uuid.UUID, risk: Any) -> None:
    await change(uow, principal, opportunity_id, if_match=None, if_match_required=False,
                 allowed=risk_permission(risk), action="add-risk", detail=audit_details({"risk": risk}),
                 apply=lambda o: o.add_risk(risk))


async def replace_risk(uow: UnitOfWork, principal: Principal, opportunity_id: uuid.UUID, risk: Any,
                       if_match: str | None) -> None:
    await change(uow, principal, opportunity_id, if_match=if_match, if_match_required=True,
                 allowed=risk_permission(risk), action="replace-risk", detail=audit_details({"risk": risk}),
                 apply=lambda o: o.replace_risk(risk))


async def raise_requirement(uow: UnitOfWork, principal: Principal, opportunity_id: uuid.UUID,
                            requirement: Any) -> None:
    await change(uow, principal, opportunity_id, if_match=None, if_match_required=False, allowed=is_team,
                 action="raise-requirement", detail=audit_details({"requirement": requirement}),
                 apply=lambda o: o.raise_requirement(requirement))


async def win(uow: UnitOfWork, principal: Principal, opportunity_id: uuid.UUID, if_match: str | None) -> None:
    now = clock()
    await change(uow, principal, opportunity_id, if_match=if_match, if_match_required=False, allowed=is_owner,
                 action="win", detail={}, apply=lambda o: o.win(by=principal.sub, now=now))


async def lose(uow: UnitOfWork, principal: Principal, opportunity_id: uuid.UUID, reason: str,
               competitor: str | None, if_match: str | None) -> None:
    now = clock()
    await change(uow, principal, opportunity_id, if_match=if_match, if_match_required=False, allowed=is_owner,
                 action="lose", detail={"reason": reason, "competitor": competitor},
                 apply=lambda o: o.lose(reason=reason, competitor=competitor, by=principal.sub, now=now))


async def abandon(uow: UnitOfWork, principal: Principal, opportunity_id: uuid.UUID, reason: str,
                  if_match: str | None) -> None:
    now = clock()
    await change(uow, principal, opportunity_id, if_match=if_match, if_match_required=False, allowed=is_owner,
                 action="abandon", detail={"reason": reason},
                 apply=lambda o: o.abandon(reason=reason, by=principal.sub, now=now))
