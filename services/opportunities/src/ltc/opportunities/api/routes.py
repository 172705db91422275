"""Routes only translate HTTP into commands and read models; the rules live in the domain."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from ltc.opportunities import handlers
from ltc.opportunities.adapters import queries, repository
from ltc.opportunities.api.schemas import (
    CREDIT_RULE,
    AbandonRequest,
    AuditEntryRead,
    CompetitorIn,
    DecisionCreate,
    DecisionRead,
    DecisionThresholdsIO,
    DecisionThresholdsRead,
    GateRequestCreate,
    GateRequestRead,
    InsightUpdate,
    LoseRequest,
    OpportunityCreate,
    OpportunityRead,
    OpportunityUpdate,
    PipelineRead,
    PipelineRow,
    RequirementIn,
    RiskIn,
    StageChange,
    StageProbabilitiesIO,
    StageProbabilitiesRead,
    StakeholderIn,
    TeamAssign,
    TermsUpdate,
    ValuePropositionIn,
)
from ltc.opportunities.domain.gates import Tier
from ltc.opportunities.domain.model import Opportunity
from ltc.opportunities.domain.requirements import Requirement
from ltc.opportunities.domain.stages import AFTER_ATB, OPEN_STAGES, Stage
from ltc.shared.api import (
    Cursor,
    ExpectedVersion,
    IdempotencyKey,
    Limit,
    NoBody,
    Once,
    Page,
    etag,
    run,
)
from ltc.shared.auth import require_roles
from ltc.shared.policy import PolicyVersion
from ltc.shared.roles import Principal, Role
from ltc.shared.rules import NotFound
from ltc.shared.service import ReadSession, Uow

router = APIRouter(tags=["opportunities"])

Seller = Annotated[Principal, Depends(require_roles(Role.AR, Role.ADMIN))]
Team = Annotated[Principal, Depends(require_roles(*queries.TEAM_ROLES, Role.ADMIN))]
Decider = Annotated[Principal, Depends(require_roles(Role.APPROVER_L1, Role.APPROVER_L2, Role.APPROVER_L3))]
Admin = Annotated[Principal, Depends(require_roles(Role.ADMIN))]
Reader = Annotated[Principal, Depends(require_roles(*queries.TEAM_ROLES, *queries.SEE_ALL_ROLES))]

OPPORTUNITY = "/opportunities/{opportunity_id}"
R = TypeVar("R")
TIERS = [tier.value for tier in Tier]


def _read(response: Response) -> Callable[[Opportunity], OpportunityRead]:
    """The answer of a change: the opportunity as the command left it, with its ETag."""
    def answer(opportunity: Opportunity) -> OpportunityRead:
        response.headers["ETag"] = etag(opportunity.version)
        return OpportunityRead.of(opportunity)
    return answer


def _added(response: Response, kind: str, read: Callable[[handlers.Added], R]) -> Callable[[handlers.Added], R]:
    """The answer of an item added to the opportunity: its URL in Location."""
    def answer(added: handlers.Added) -> R:
        response.headers["ETag"] = etag(added.opportunity.version)
        response.headers["Location"] = f"/api/v1/opportunities/{added.opportunity.id}/{kind}/{added.item_id}"
        return read(added)
    return answer


def _endpoint(opportunity_id: uuid.UUID, action: str) -> str:
    """An action's name in its idempotency records (unchanged, so keys recorded earlier still replay)."""
    return f"POST /opportunities/{opportunity_id}/{action}"


def _once_added(key: str | None, kind: str, body: BaseModel, opportunity_id: uuid.UUID,
                item_id: uuid.UUID) -> Once[handlers.Added]:
    """Add an item once per Idempotency-Key; a replay answers with the item the first run added."""
    async def load(session: AsyncSession, earlier_item_id: uuid.UUID) -> handlers.Added:
        return handlers.Added(await repository.get_opportunity(session, opportunity_id), earlier_item_id)
    return Once(key, _endpoint(opportunity_id, kind), body, item_id, load)


def _once_acting(key: str | None, action: str, body: BaseModel, opportunity_id: uuid.UUID) -> Once[Opportunity]:
    """A stage move or a close once per Idempotency-Key: a retried `win` gets its answer, not a 409."""
    return Once(key, _endpoint(opportunity_id, action), body, opportunity_id, repository.get_opportunity)


# The answers that are not the opportunity (a gate request, a decision, a requirement) still carry
# the opportunity's ETag: the version to send as If-Match for the next change.
OPPORTUNITY_ETAG = {"ETag": {"description": "the opportunity's version after this answer, for `If-Match`",
                             "schema": {"type": "string"}}}
MONTH = r"^[0-9]{4}-(0[1-9]|1[0-2])$"
Owner = Annotated[str | None, Query(min_length=1, max_length=200, description="the owning AR's user id")]


def _one(items: tuple[Any, ...], item_id: uuid.UUID, kind: str) -> Any:
    found = next((i for i in items if i.id == item_id), None)
    if found is None:
        raise NotFound(kind, item_id)
    return found


# -- the opportunity ---------------------------------------------------------------------------

@router.post("/opportunities", status_code=201, response_model=OpportunityRead,
             summary="Open an opportunity without a lead, e.g. from a tender")
async def create_opportunity(body: OpportunityCreate, uow: Uow, principal: Seller, response: Response,
                             idempotency_key: IdempotencyKey = None) -> OpportunityRead:
    command = handlers.CreateOpportunity(uuid.uuid4(), body.title, body.account_name, body.account_id, body.need,
                                         body.budget.to_money() if body.budget else None, body.start_date,
                                         body.expected_close_date)

    def answer(opportunity: Opportunity) -> OpportunityRead:
        response.headers["Location"] = f"/api/v1/opportunities/{opportunity.id}"
        return _read(response)(opportunity)

    return await run(uow, handlers.create_opportunity, command, principal, answer=answer,
                     once=Once(idempotency_key, "POST /opportunities", body, command.opportunity_id,
                               repository.get_opportunity))


@router.get(OPPORTUNITY, response_model=OpportunityRead, summary="Read an opportunity, with its ETag")
async def read_opportunity(opportunity_id: uuid.UUID, session: ReadSession, principal: Reader,
                           response: Response) -> OpportunityRead:
    return _read(response)(await queries.visible_opportunity(session, principal, opportunity_id))


@router.get("/opportunities", response_model=Page[OpportunityRead],
            summary="The opportunities you may see, oldest first: the one a lead became (lead_id), an account's, "
                    "a stage's, an owner's, an approver's to-do list (pending_tier), those closing in some months")
async def list_opportunities(
    session: ReadSession, principal: Reader,
    lead_id: Annotated[uuid.UUID | None, Query(description="the opportunity this converted lead became: at most one "
                                                           "item (none while the conversion is on its way)")] = None,
    account_id: Annotated[uuid.UUID | None, Query(description="the account's opportunities (its id in the leads "
                                                              "service)")] = None,
    stage: Stage | None = None,
    owner: Owner = None,
    pending_tier: Annotated[Tier | None, Query(description="opportunities with a gate request waiting at this tier: "
                                                           "an approver's to-do list")] = None,
    close_month_from: Annotated[str | None, Query(pattern=MONTH, description="expected to close in this month "
                                                                             "(YYYY-MM) or later")] = None,
    close_month_to: Annotated[str | None, Query(pattern=MONTH, description="expected to close in this month "
                                                                           "(YYYY-MM) or earlier")] = None,
    limit: Limit = 50, cursor: Cursor = None,
) -> Page[OpportunityRead]:
    closing = queries.CloseMonths.of(close_month_from, close_month_to)
    rows, next_cursor = await queries.opportunity_page(session, principal, lead_id=lead_id, account_id=account_id,
                                                       stage=stage, owner=owner, pending_tier=pending_tier,
                                                       closing=closing, limit=limit, cursor=cursor)
    return Page[OpportunityRead](items=[OpportunityRead.of(o) for o in rows], next_cursor=next_cursor)


@router.patch(OPPORTUNITY, response_model=OpportunityRead,
              summary="Change title, need, budget, start or expected close date (AR)")
async def update_opportunity(opportunity_id: uuid.UUID, body: OpportunityUpdate, uow: Uow, principal: Seller,
                             response: Response, version: ExpectedVersion) -> OpportunityRead:
    command = handlers.UpdateDetails(opportunity_id, body.changes(), version)
    return await run(uow, handlers.update_details, command, principal, answer=_read(response))


@router.get(OPPORTUNITY + "/audit", response_model=list[AuditEntryRead], summary="Who changed what, and when")
async def read_audit(opportunity_id: uuid.UUID, session: ReadSession, principal: Reader) -> list[AuditEntryRead]:
    await queries.visible_opportunity(session, principal, opportunity_id)
    return [AuditEntryRead.of(entry) for entry in await queries.audit_of(session, opportunity_id)]


# -- iron triangle, insight, value proposition ---------------------------------------------------

@router.put(OPPORTUNITY + "/team", response_model=OpportunityRead,
            summary="Assign the iron triangle (AR, SR, FR); every change is kept in team_history")
async def assign_team(opportunity_id: uuid.UUID, body: TeamAssign, uow: Uow, principal: Seller, response: Response,
                      version: ExpectedVersion) -> OpportunityRead:
    command = handlers.AssignTeam(opportunity_id, body.assignments(), version)
    return await run(uow, handlers.assign_team, command, principal, answer=_read(response))


@router.put(OPPORTUNITY + "/insight", response_model=OpportunityRead,
            summary="Record insight: market, customer, product life-cycle, competition (AR)")
async def set_insight(opportunity_id: uuid.UUID, body: InsightUpdate, uow: Uow, principal: Seller,
                      response: Response, version: ExpectedVersion) -> OpportunityRead:
    command = handlers.SetInsight(opportunity_id, body.to_insight(), version)
    return await run(uow, handlers.set_insight, command, principal, answer=_read(response))


@router.put(OPPORTUNITY + "/value-proposition", response_model=OpportunityRead,
            summary="Record the value proposition (SR or AR)")
async def set_value_proposition(opportunity_id: uuid.UUID, body: ValuePropositionIn, uow: Uow, principal: Team,
                                response: Response, version: ExpectedVersion) -> OpportunityRead:
    command = handlers.SetValueProposition(opportunity_id, body.to_domain(), version)
    return await run(uow, handlers.set_value_proposition, command, principal, answer=_read(response))


@router.patch(OPPORTUNITY + "/terms", response_model=OpportunityRead,
              summary="Negotiate the terms: value, line items, payment terms (SR); milestones (FR)")
async def update_terms(opportunity_id: uuid.UUID, body: TermsUpdate, uow: Uow, principal: Team,
                       response: Response, version: ExpectedVersion) -> OpportunityRead:
    command = handlers.UpdateTerms(opportunity_id, body.parts(), version)
    return await run(uow, handlers.update_terms, command, principal, answer=_read(response))


# -- power map, competitors, risks, requirements -------------------------------------------------

def _opportunity_of(response: Response, kind: str) -> Callable[[handlers.Added], OpportunityRead]:
    return _added(response, kind, lambda added: OpportunityRead.of(added.opportunity))


@router.post(OPPORTUNITY + "/stakeholders", status_code=201, response_model=OpportunityRead,
             summary="Add a stakeholder to the power map (AR); answers the opportunity, Location names the "
                     "stakeholder")
async def add_stakeholder(opportunity_id: uuid.UUID, body: StakeholderIn, uow: Uow, principal: Seller,
                          response: Response, version: ExpectedVersion,
                          idempotency_key: IdempotencyKey = None) -> OpportunityRead:
    command = handlers.AddStakeholder(opportunity_id, body.to_domain(uuid.uuid4()), version)
    return await run(uow, handlers.add_stakeholder, command, principal,
                     answer=_opportunity_of(response, "stakeholders"),
                     once=_once_added(idempotency_key, "stakeholders", body, opportunity_id, command.stakeholder.id))


@router.put(OPPORTUNITY + "/stakeholders/{stakeholder_id}", response_model=OpportunityRead,
            summary="Replace a stakeholder of the power map (AR)")
async def replace_stakeholder(opportunity_id: uuid.UUID, stakeholder_id: uuid.UUID, body: StakeholderIn, uow: Uow,
                              principal: Seller, response: Response, version: ExpectedVersion) -> OpportunityRead:
    command = handlers.ReplaceStakeholder(opportunity_id, body.to_domain(stakeholder_id), version)
    return await run(uow, handlers.replace_stakeholder, command, principal, answer=_read(response))


@router.delete(OPPORTUNITY + "/stakeholders/{stakeholder_id}", response_model=OpportunityRead,
               summary="Remove a stakeholder from the power map (AR); who reported to them reports to nobody known")
async def remove_stakeholder(opportunity_id: uuid.UUID, stakeholder_id: uuid.UUID, uow: Uow, principal: Seller,
                             response: Response, version: ExpectedVersion) -> OpportunityRead:
    command = handlers.RemoveStakeholder(opportunity_id, stakeholder_id, version)
    return await run(uow, handlers.remove_stakeholder, command, principal, answer=_read(response))


@router.post(OPPORTUNITY + "/competitors", status_code=201, response_model=OpportunityRead,
             summary="Record a competitor (AR); answers the opportunity, Location names the competitor")
async def add_competitor(opportunity_id: uuid.UUID, body: CompetitorIn, uow: Uow, principal: Seller,
                         response: Response, version: ExpectedVersion,
                         idempotency_key: IdempotencyKey = None) -> OpportunityRead:
    command = handlers.AddCompetitor(opportunity_id, body.to_domain(uuid.uuid4()), version)
    return await run(uow, handlers.add_competitor, command, principal,
                     answer=_opportunity_of(response, "competitors"),
                     once=_once_added(idempotency_key, "competitors", body, opportunity_id, command.competitor.id))


@router.put(OPPORTUNITY + "/competitors/{competitor_id}", response_model=OpportunityRead,
            summary="Replace what is known of a competitor (AR)")
async def replace_competitor(opportunity_id: uuid.UUID, competitor_id: uuid.UUID, body: CompetitorIn, uow: Uow,
                             principal: Seller, response: Response, version: ExpectedVersion) -> OpportunityRead:
    command = handlers.ReplaceCompetitor(opportunity_id, body.to_domain(competitor_id), version)
    return await run(uow, handlers.replace_competitor, command, principal, answer=_read(response))


@router.delete(OPPORTUNITY + "/competitors/{competitor_id}", response_model=OpportunityRead,
               summary="Remove a competitor (AR)")
async def remove_competitor(opportunity_id: uuid.UUID, competitor_id: uuid.UUID, uow: Uow, principal: Seller,
                            response: Response, version: ExpectedVersion) -> OpportunityRead:
    command = handlers.RemoveCompetitor(opportunity_id, competitor_id, version)
    return await run(uow, handlers.remove_competitor, command, principal, answer=_read(response))


@router.post(OPPORTUNITY + "/risks", status_code=201, response_model=OpportunityRead,
             summary="Add a risk to the register (AR any; FR delivery, SR technical risks); answers the opportunity")
async def add_risk(opportunity_id: uuid.UUID, body: RiskIn, uow: Uow, principal: Team, response: Response,
                   version: ExpectedVersion, idempotency_key: IdempotencyKey = None) -> OpportunityRead:
    command = handlers.AddRisk(opportunity_id, body.to_domain(uuid.uuid4()), version)
    return await run(uow, handlers.add_risk, command, principal, answer=_opportunity_of(response, "risks"),
                     once=_once_added(idempotency_key, "risks", body, opportunity_id, command.risk.id))


@router.put(OPPORTUNITY + "/risks/{risk_id}", response_model=OpportunityRead,
            summary="Update a risk: mitigation, status...; risks are closed, never deleted")
async def replace_risk(opportunity_id: uuid.UUID, risk_id: uuid.UUID, body: RiskIn, uow: Uow, principal: Team,
                       response: Response, version: ExpectedVersion) -> OpportunityRead:
    command = handlers.ReplaceRisk(opportunity_id, body.to_domain(risk_id), version)
    return await run(uow, handlers.replace_risk, command, principal, answer=_read(response))


@router.post(OPPORTUNITY + "/requirements", status_code=201, response_model=Requirement,
             responses={201: {"headers": OPPORTUNITY_ETAG}},
             summary="Record a need we cannot meet today; product development receives requirement.raised")
async def raise_requirement(opportunity_id: uuid.UUID, body: RequirementIn, uow: Uow, principal: Team,
                            response: Response, version: ExpectedVersion,
                            idempotency_key: IdempotencyKey = None) -> Requirement:
    command = handlers.RaiseRequirement(opportunity_id, uuid.uuid4(), body.title, body.description, body.priority,
                                        version)
    return await run(uow, handlers.raise_requirement, command, principal,
                     answer=_added(response, "requirements",
                                   lambda added: _one(added.opportunity.requirements, added.item_id, "requirement")),
                     once=_once_added(idempotency_key, "requirements", body, opportunity_id, command.requirement_id))


# -- gates, decisions, stages, outcome -------------------------------------------------------------

@router.post(OPPORTUNITY + "/gates", status_code=201, response_model=GateRequestRead,
             responses={201: {"headers": OPPORTUNITY_ETAG}},
             summary=f"Request ATB or ATC; 422 lists every missing prerequisite; routed to {', '.join(TIERS[:-1])} "
                     f"or {TIERS[-1]}; an ATC over the account's credit limit needs an override, one tier higher",
             description=CREDIT_RULE)
async def request_gate(opportunity_id: uuid.UUID, body: GateRequestCreate, uow: Uow, principal: Seller,
                       response: Response, version: ExpectedVersion,
                       idempotency_key: IdempotencyKey = None) -> GateRequestRead:
    command = handlers.RequestGate(opportunity_id, uuid.uuid4(), body.gate, version, body.credit_override_reason)
    return await run(uow, handlers.request_gate, command, principal,
                     answer=_added(response, "gates", lambda added: GateRequestRead.of(
                         _one(added.opportunity.gate_requests, added.item_id, "gate request"))),
                     once=_once_added(idempotency_key, "gates", body, opportunity_id, command.request_id))


@router.get(OPPORTUNITY + "/gates/{request_id}", response_model=GateRequestRead,
            responses={200: {"headers": OPPORTUNITY_ETAG}},
            summary="Read a gate request and its decisions")
async def read_gate_request(opportunity_id: uuid.UUID, request_id: uuid.UUID, session: ReadSession,
                            principal: Reader, response: Response) -> GateRequestRead:
    opportunity = await queries.visible_opportunity(session, principal, opportunity_id)
    response.headers["ETag"] = etag(opportunity.version)
    return GateRequestRead.of(_one(opportunity.gate_requests, request_id, "gate request"))


@router.post(OPPORTUNITY + "/decisions", status_code=201, response_model=DecisionRead,
             responses={201: {"headers": OPPORTUNITY_ETAG}},
             summary="Approve, reject, send back or escalate the pending ATB/ATC request, at your tier; "
                     "Location names the gate request")
async def decide(opportunity_id: uuid.UUID, body: DecisionCreate, uow: Uow, principal: Decider, response: Response,
                 version: ExpectedVersion, idempotency_key: IdempotencyKey = None) -> DecisionRead:
    command = handlers.Decide(opportunity_id, uuid.uuid4(), body.gate, body.outcome, body.conditions, body.comment,
                              version)

    def answer(added: handlers.Added) -> DecisionRead:
        request = next(r for r in added.opportunity.gate_requests if any(d.id == added.item_id for d in r.decisions))
        response.headers["ETag"] = etag(added.opportunity.version)
        response.headers["Location"] = f"/api/v1/opportunities/{opportunity_id}/gates/{request.id}"
        return DecisionRead(gate_request_id=request.id, gate=request.gate, request_status=request.status,
                            decision=_one(request.decisions, added.item_id, "decision"))

    return await run(uow, handlers.decide, command, principal, answer=answer,
                     once=_once_added(idempotency_key, "decisions", body, opportunity_id, command.decision_id))


@router.post(OPPORTUNITY + "/stage", response_model=OpportunityRead,
             summary="Move one stage forward or back (AR); "
                     + " and ".join(s.value for s in OPEN_STAGES if s in AFTER_ATB) + " need an approved ATB")
async def change_stage(opportunity_id: uuid.UUID, body: StageChange, uow: Uow, principal: Seller,
                       response: Response, version: ExpectedVersion,
                       idempotency_key: IdempotencyKey = None) -> OpportunityRead:
    command = handlers.Advance(opportunity_id, body.to, version)
    return await run(uow, handlers.advance, command, principal, answer=_read(response),
                     once=_once_acting(idempotency_key, "stage", body, opportunity_id))


@router.post(OPPORTUNITY + "/win", response_model=OpportunityRead,
             summary="Close as won on the terms approved at ATC; hands over to contracts")
async def win_opportunity(opportunity_id: uuid.UUID, uow: Uow, principal: Seller, response: Response,
                          version: ExpectedVersion, idempotency_key: IdempotencyKey = None) -> OpportunityRead:
    command = handlers.Win(opportunity_id, version)
    return await run(uow, handlers.win, command, principal, answer=_read(response),
                     once=_once_acting(idempotency_key, "win", NoBody(), opportunity_id))


@router.post(OPPORTUNITY + "/lose", response_model=OpportunityRead,
             summary="Close as lost, with the reason and the competitor who won")
async def lose_opportunity(opportunity_id: uuid.UUID, body: LoseRequest, uow: Uow, principal: Seller,
                           response: Response, version: ExpectedVersion,
                           idempotency_key: IdempotencyKey = None) -> OpportunityRead:
    command = handlers.Lose(opportunity_id, body.reason, body.competitor, version)
    return await run(uow, handlers.lose, command, principal, answer=_read(response),
                     once=_once_acting(idempotency_key, "lose", body, opportunity_id))


@router.post(OPPORTUNITY + "/abandon", response_model=OpportunityRead,
             summary="Stop pursuing the opportunity, with the reason")
async def abandon_opportunity(opportunity_id: uuid.UUID, body: AbandonRequest, uow: Uow, principal: Seller,
                              response: Response, version: ExpectedVersion,
                              idempotency_key: IdempotencyKey = None) -> OpportunityRead:
    command = handlers.Abandon(opportunity_id, body.reason, version)
    return await run(uow, handlers.abandon, command, principal, answer=_read(response),
                     once=_once_acting(idempotency_key, "abandon", body, opportunity_id))


# -- pipeline and forecast -------------------------------------------------------------------------

@router.get("/pipeline", response_model=PipelineRead,
            summary="Counts, values and probability-weighted values per currency, by stage, owner or close month")
async def pipeline(session: ReadSession, principal: Reader, group_by: queries.GroupBy = "stage",
                   include_closed: Annotated[bool, Query(description="also count won, lost and abandoned")] = False,
                   owner: Owner = None) -> PipelineRead:
    lines = await queries.pipeline(session, principal, group_by=group_by, include_closed=include_closed, owner=owner)
    return PipelineRead(group_by=group_by, rows=[PipelineRow.of(line) for line in lines])


# -- configuration (admin) -------------------------------------------------------------------------

def _stage_probabilities(response: Response, policy: PolicyVersion) -> StageProbabilitiesRead:
    response.headers["ETag"] = etag(policy.version)
    return StageProbabilitiesRead(**policy.document, version=policy.version)


def _decision_thresholds(response: Response, policy: PolicyVersion) -> DecisionThresholdsRead:
    response.headers["ETag"] = etag(policy.version)
    return DecisionThresholdsRead.of(policy.document, policy.version)


@router.get("/config/stage-probabilities", response_model=StageProbabilitiesRead, tags=["configuration"],
            summary="The win probability of each open stage, with its ETag")
async def read_stage_probabilities(session: ReadSession, principal: Reader,
                                   response: Response) -> StageProbabilitiesRead:
    return _stage_probabilities(response, await queries.policy(session, queries.STAGE_PROBABILITIES))


@router.put("/config/stage-probabilities", response_model=StageProbabilitiesRead, tags=["configuration"],
            summary="Set the win probability of each open stage (admin); applies to later stage changes")
async def set_stage_probabilities(body: StageProbabilitiesIO, uow: Uow, principal: Admin, response: Response,
                                  version: ExpectedVersion) -> StageProbabilitiesRead:
    command = handlers.SetStageProbabilities(body.to_domain(), version)
    return await run(uow, handlers.set_stage_probabilities, command, principal,
                     answer=lambda saved: _stage_probabilities(response, saved))


@router.get("/config/decision-thresholds", response_model=DecisionThresholdsRead, tags=["configuration"],
            summary="Per currency the deal values from which gates go to L2 and L3, with their ETag")
async def read_decision_thresholds(session: ReadSession, principal: Reader,
                                   response: Response) -> DecisionThresholdsRead:
    return _decision_thresholds(response, await queries.policy(session, queries.DECISION_THRESHOLDS))


@router.put("/config/decision-thresholds", response_model=DecisionThresholdsRead, tags=["configuration"],
            summary="Set per currency the deal values from which gates go to L2 and L3 (admin)")
async def set_decision_thresholds(body: DecisionThresholdsIO, uow: Uow, principal: Admin, response: Response,
                                  version: ExpectedVersion) -> DecisionThresholdsRead:
    # The domain refuses thresholds that make no sense, naming each, before the version is compared.
    command = handlers.SetDecisionThresholds(body.to_domain(), version)
    return await run(uow, handlers.set_decision_thresholds, command, principal,
                     answer=lambda saved: _decision_thresholds(response, saved))
