"""Routes only translate HTTP into commands and read models; the rules live in the domain."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel
from sqlalchemy import ColumnElement, String, and_, cast, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ltc.opportunities import handlers
from ltc.opportunities.adapters import repository
from ltc.opportunities.adapters.orm import audit_log
from ltc.opportunities.api.schemas import (
    AbandonRequest,
    AuditEntryRead,
    CompetitorIn,
    DecisionCreate,
    DecisionRead,
    DecisionThresholdsIO,
    GateRequestCreate,
    GateRequestRead,
    InsightUpdate,
    LoseRequest,
    OpportunityCreate,
    OpportunityRead,
    OpportunityUpdate,
    PipelineRead,
    RequirementIn,
    RiskIn,
    StageChange,
    StageProbabilitiesIO,
    StakeholderIn,
    TeamAssign,
    TermsUpdate,
    TierThresholdsIO,
    ValuePropositionIn,
    pipeline_row,
)
from ltc.opportunities.domain.gates import Tier
from ltc.opportunities.domain.model import OPEN_STAGES, Opportunity, Stage
from ltc.opportunities.domain.requirements import Requirement
from ltc.shared.api import (
    Cursor,
    IdempotencyKey,
    IfMatch,
    Limit,
    NoBody,
    Page,
    act_idempotently,
    create_idempotently,
    etag,
    paginate,
)
from ltc.shared.auth import Principal, Role, require_roles
from ltc.shared.db import UnitOfWork, current
from ltc.shared.errors import NotFound
from ltc.shared.service import ReadSession, Uow

router = APIRouter(tags=["opportunities"])

Seller = Annotated[Principal, Depends(require_roles(Role.AR, Role.ADMIN))]
Team = Annotated[Principal, Depends(require_roles(*handlers.TEAM_ROLES, Role.ADMIN))]
Decider = Annotated[Principal, Depends(require_roles(Role.APPROVER_L1, Role.APPROVER_L2, Role.APPROVER_L3))]
Admin = Annotated[Principal, Depends(require_roles(Role.ADMIN))]
Reader = Annotated[Principal, Depends(require_roles(*handlers.TEAM_ROLES, *handlers.SEE_ALL_ROLES))]

OPPORTUNITY = "/opportunities/{opportunity_id}"


def _opportunity(opportunity: Opportunity, response: Response) -> OpportunityRead:
    response.headers["ETag"] = etag(opportunity.version)
    return OpportunityRead.of(opportunity)


async def _changed(uow: UnitOfWork, opportunity_id: uuid.UUID, response: Response) -> Opportunity:
    """The opportunity as the command in this unit of work left it (no second transaction to re-read it)."""
    opportunity = await current(uow.session, Opportunity, opportunity_id)
    if opportunity is None:
        raise NotFound("opportunity", opportunity_id)
    response.headers["ETag"] = etag(opportunity.version)
    return opportunity


async def _run(uow: UnitOfWork, opportunity_id: uuid.UUID, response: Response,
               command: Callable[[], Awaitable[Any]]) -> OpportunityRead:
    async with uow:
        await command()
        return OpportunityRead.of(await _changed(uow, opportunity_id, response))


async def _act(uow: UnitOfWork, principal: Principal, key: str | None, action: str, body: BaseModel,
               opportunity_id: uuid.UUID, command: Callable[[], Awaitable[Any]],
               response: Response) -> OpportunityRead:
    """A stage move or a close, once per Idempotency-Key: a retried `win` gets its answer, not a 409."""
    async def answer() -> OpportunityRead:
        return OpportunityRead.of(await _changed(uow, opportunity_id, response))

    return await act_idempotently(uow, principal.sub, key, f"POST /opportunities/{opportunity_id}/{action}", body,
                                  opportunity_id, command, then=answer)


async def _create_part(uow: UnitOfWork, principal: Principal, opportunity_id: uuid.UUID, key: str | None,
                       kind: str, body: BaseModel, response: Response,
                       create: Callable[[uuid.UUID], Awaitable[None]]) -> tuple[Opportunity, uuid.UUID]:
    """An item added to the opportunity, once per Idempotency-Key; its URL in Location."""
    changed: list[Opportunity] = []

    async def answer(_new_id: uuid.UUID) -> None:
        changed.append(await _changed(uow, opportunity_id, response))

    new_id = await create_idempotently(uow, principal=principal.sub, key=key,
                                       endpoint=f"POST {OPPORTUNITY}/{kind}".replace("{opportunity_id}",
                                                                                    str(opportunity_id)),
                                       body=body, create=create, then=answer)
    response.headers["Location"] = f"/api/v1/opportunities/{opportunity_id}/{kind}/{new_id}"
    return changed[0], new_id


# -- the opportunity ---------------------------------------------------------------------------

@router.post("/opportunities", status_code=201, response_model=OpportunityRead,
             summary="Open an opportunity without a lead, e.g. from a tender")
async def create_opportunity(body: OpportunityCreate, uow: Uow, principal: Seller, response: Response,
                             idempotency_key: IdempotencyKey = None) -> OpportunityRead:
    budget = body.budget.to_money() if body.budget else None
    opened: list[Opportunity] = []

    async def answer(opportunity_id: uuid.UUID) -> None:
        opened.append(await _changed(uow, opportunity_id, response))

    opportunity_id = await create_idempotently(
        uow, principal=principal.sub, key=idempotency_key, endpoint="POST /opportunities", body=body,
        create=lambda new_id: handlers.create_opportunity(
            uow, handlers.CreateOpportunity(new_id, body.title, body.account_name, body.account_id, body.need,
                                            budget, body.start_date, body.expected_close_date), principal),
        then=answer,
    )
    response.headers["Location"] = f"/api/v1/opportunities/{opportunity_id}"
    return OpportunityRead.of(opened[0])


async def _visible(session: AsyncSession, principal: Principal, opportunity_id: uuid.UUID) -> Opportunity:
    opportunity = await repository.get_opportunity(session, opportunity_id)
    if not handlers.may_see(principal, opportunity):
        raise NotFound("opportunity", opportunity_id)
    return opportunity


@router.get(OPPORTUNITY, response_model=OpportunityRead)
async def read_opportunity(opportunity_id: uuid.UUID, session: ReadSession, principal: Reader,
                           response: Response) -> OpportunityRead:
    return _opportunity(await _visible(session, principal, opportunity_id), response)


def _visible_to(principal: Principal) -> ColumnElement[bool] | None:
    if principal.has_any(*handlers.SEE_ALL_ROLES):
        return None
    return or_(Opportunity.owner == principal.sub, Opportunity.sr == principal.sub, Opportunity.fr == principal.sub)


@router.get("/opportunities", response_model=Page[OpportunityRead])
async def list_opportunities(
    session: ReadSession, principal: Reader,
    lead_id: uuid.UUID | None = None, stage: Stage | None = None, owner: str | None = None,
    pending_tier: Annotated[Tier | None, Query(description="opportunities with a gate request waiting at this tier: "
                                                           "an approver's to-do list")] = None,
    limit: Limit = 50, cursor: Cursor = None,
) -> Page[OpportunityRead]:
    stmt = select(Opportunity)
    if (visible := _visible_to(principal)) is not None:
        stmt = stmt.where(visible)
    filters = ((Opportunity.lead_id, lead_id), (Opportunity.stage, stage), (Opportunity.owner, owner),
               (Opportunity.pending_gate_tier, pending_tier.value if pending_tier else None))
    for column, value in filters:
        if value is not None:
            stmt = stmt.where(column == value)
    rows, next_cursor = await paginate(session, stmt, created_at=Opportunity.created_at, ident=Opportunity.id,
                                       limit=limit, cursor=cursor)
    return Page[OpportunityRead](items=[OpportunityRead.of(o) for o in rows], next_cursor=next_cursor)


@router.patch(OPPORTUNITY, response_model=OpportunityRead,
              summary="Change title, need, budget, start or expected close date (AR); needs If-Match")
async def update_opportunity(opportunity_id: uuid.UUID, body: OpportunityUpdate, uow: Uow, principal: Seller,
                             response: Response, if_match: IfMatch = None) -> OpportunityRead:
    return await _run(uow, opportunity_id, response, lambda: handlers.update_details(
        uow, principal, opportunity_id, body.changes(), if_match))


@router.get(OPPORTUNITY + "/audit", response_model=list[AuditEntryRead], summary="Who changed what, and when")
async def read_audit(opportunity_id: uuid.UUID, session: ReadSession, principal: Reader) -> list[AuditEntryRead]:
    await _visible(session, principal, opportunity_id)
    rows = await session.execute(select(audit_log).where(audit_log.c.opportunity_id == opportunity_id)
                                 .order_by(audit_log.c.seq))
    return [AuditEntryRead(actor=r.actor, action=r.action, detail=r.detail, at=r.at) for r in rows]


# -- iron triangle, insight, value proposition ---------------------------------------------------

@router.put(OPPORTUNITY + "/team", response_model=OpportunityRead,
            summary="Assign the iron triangle (AR, SR, FR); every change is kept in team_history")
async def assign_team(opportunity_id: uuid.UUID, body: TeamAssign, uow: Uow, principal: Seller, response: Response,
                      if_match: IfMatch = None) -> OpportunityRead:
    return await _run(uow, opportunity_id, response, lambda: handlers.assign_team(
        uow, principal, opportunity_id, body.assignments(), if_match))


@router.put(OPPORTUNITY + "/insight", response_model=OpportunityRead,
            summary="Record insight: market, customer, product life-cycle, competition (AR)")
async def set_insight(opportunity_id: uuid.UUID, body: InsightUpdate, uow: Uow, principal: Seller,
                      response: Response, if_match: IfMatch = None) -> OpportunityRead:
    return await _run(uow, opportunity_id, response, lambda: handlers.set_insight(
        uow, principal, opportunity_id, body.to_insight(), if_match))


@router.put(OPPORTUNITY + "/value-proposition", response_model=OpportunityRead,
            summary="Record the value proposition (SR or AR)")
async def set_value_proposition(opportunity_id: uuid.UUID, body: ValuePropositionIn, uow: Uow, principal: Team,
                                response: Response, if_match: IfMatch = None) -> OpportunityRead:
    return await _run(uow, opportunity_id, response, lambda: handlers.set_value_proposition(
        uow, principal, opportunity_id, body.to_domain(), if_match))


@router.patch(OPPORTUNITY + "/terms", response_model=OpportunityRead,
              summary="Negotiate the terms: value, line items, payment terms (SR); milestones (FR)")
async def update_terms(opportunity_id: uuid.UUID, body: TermsUpdate, uow: Uow, principal: Team,
                       response: Response, if_match: IfMatch = None) -> OpportunityRead:
    return await _run(uow, opportunity_id, response, lambda: handlers.update_terms(
        uow, principal, opportunity_id, body.parts(), if_match))


# -- power map, competitors, risks, requirements -------------------------------------------------

def _one(items: tuple[Any, ...], item_id: uuid.UUID, kind: str) -> Any:
    found = next((i for i in items if i.id == item_id), None)
    if found is None:
        raise NotFound(kind, item_id)
    return found


@router.post(OPPORTUNITY + "/stakeholders", status_code=201, response_model=OpportunityRead,
             summary="Add a stakeholder to the power map (AR)")
async def add_stakeholder(opportunity_id: uuid.UUID, body: StakeholderIn, uow: Uow, principal: Seller,
                          response: Response, idempotency_key: IdempotencyKey = None) -> OpportunityRead:
    opportunity, _ = await _create_part(uow, principal, opportunity_id, idempotency_key, "stakeholders", body,
                                        response, lambda new_id: handlers.add_stakeholder(
                                            uow, principal, opportunity_id, body.to_domain(new_id)))
    return OpportunityRead.of(opportunity)


@router.put(OPPORTUNITY + "/stakeholders/{stakeholder_id}", response_model=OpportunityRead)
async def replace_stakeholder(opportunity_id: uuid.UUID, stakeholder_id: uuid.UUID, body: StakeholderIn, uow: Uow,
                              principal: Seller, response: Response, if_match: IfMatch = None) -> OpportunityRead:
    return await _run(uow, opportunity_id, response, lambda: handlers.replace_stakeholder(
        uow, principal, opportunity_id, body.to_domain(stakeholder_id), if_match))


@router.delete(OPPORTUNITY + "/stakeholders/{stakeholder_id}", response_model=OpportunityRead)
async def remove_stakeholder(opportunity_id: uuid.UUID, stakeholder_id: uuid.UUID, uow: Uow, principal: Seller,
                             response: Response, if_match: IfMatch = None) -> OpportunityRead:
    return await _run(uow, opportunity_id, response, lambda: handlers.remove_stakeholder(
        uow, principal, opportunity_id, stakeholder_id, if_match))


@router.post(OPPORTUNITY + "/competitors", status_code=201, response_model=OpportunityRead,
             summary="Record a competitor (AR)")
async def add_competitor(opportunity_id: uuid.UUID, body: CompetitorIn, uow: Uow, principal: Seller,
                         response: Response, idempotency_key: IdempotencyKey = None) -> OpportunityRead:
    opportunity, _ = await _create_part(uow, principal, opportunity_id, idempotency_key, "competitors", body,
                                        response, lambda new_id: handlers.add_competitor(
                                            uow, principal, opportunity_id, body.to_domain(new_id)))
    return OpportunityRead.of(opportunity)


@router.put(OPPORTUNITY + "/competitors/{competitor_id}", response_model=OpportunityRead)
async def replace_competitor(opportunity_id: uuid.UUID, competitor_id: uuid.UUID, body: CompetitorIn, uow: Uow,
                             principal: Seller, response: Response, if_match: IfMatch = None) -> OpportunityRead:
    return await _run(uow, opportunity_id, response, lambda: handlers.replace_competitor(
        uow, principal, opportunity_id, body.to_domain(competitor_id), if_match))


@router.delete(OPPORTUNITY + "/competitors/{competitor_id}", response_model=OpportunityRead)
async def remove_competitor(opportunity_id: uuid.UUID, competitor_id: uuid.UUID, uow: Uow, principal: Seller,
                            response: Response, if_match: IfMatch = None) -> OpportunityRead:
    return await _run(uow, opportunity_id, response, lambda: handlers.remove_competitor(
        uow, principal, opportunity_id, competitor_id, if_match))


@router.post(OPPORTUNITY + "/risks", status_code=201, response_model=OpportunityRead,
             summary="Add a risk to the register (AR any; FR delivery, SR technical risks)")
async def add_risk(opportunity_id: uuid.UUID, body: RiskIn, uow: Uow, principal: Team, response: Response,
                   idempotency_key: IdempotencyKey = None) -> OpportunityRead:
    opportunity, _ = await _create_part(uow, principal, opportunity_id, idempotency_key, "risks", body, response,
                                        lambda new_id: handlers.add_risk(uow, principal, opportunity_id,
                                                                         body.to_domain(new_id)))
    return OpportunityRead.of(opportunity)


@router.put(OPPORTUNITY + "/risks/{risk_id}", response_model=OpportunityRead,
            summary="Update a risk: mitigation, status...; risks are closed, never deleted")
async def replace_risk(opportunity_id: uuid.UUID, risk_id: uuid.UUID, body: RiskIn, uow: Uow, principal: Team,
                       response: Response, if_match: IfMatch = None) -> OpportunityRead:
    return await _run(uow, opportunity_id, response, lambda: handlers.replace_risk(
        uow, principal, opportunity_id, body.to_domain(risk_id), if_match))


@router.post(OPPORTUNITY + "/requirements", status_code=201, response_model=Requirement,
             summary="Record a need we cannot meet today; product development receives requirement.raised")
async def raise_requirement(opportunity_id: uuid.UUID, body: RequirementIn, uow: Uow, principal: Team,
                            response: Response, idempotency_key: IdempotencyKey = None) -> Requirement:
    opportunity, requirement_id = await _create_part(
        uow, principal, opportunity_id, idempotency_key, "requirements", body, response,
        lambda new_id: handlers.raise_requirement(uow, principal, opportunity_id, Requirement(
            id=new_id, title=body.title, description=body.description, priority=body.priority,
            raised_by=principal.sub, raised_at=handlers.clock())))
    return _one(opportunity.requirements, requirement_id, "requirement")


# -- gates, decisions, stages, outcome -------------------------------------------------------------

@router.post(OPPORTUNITY + "/gates", status_code=201, response_model=GateRequestRead,
             summary="Request ATB or ATC; 422 lists every missing prerequisite; routed to L1, L2 or L3")
async def request_gate(opportunity_id: uuid.UUID, body: GateRequestCreate, uow: Uow, principal: Seller,
                       response: Response, if_match: IfMatch = None,
                       idempotency_key: IdempotencyKey = None) -> GateRequestRead:
    async def create(new_id: uuid.UUID) -> None:
        await handlers.request_gate(uow, principal, opportunity_id, body.gate, if_match, new_id)
    opportunity, request_id = await _create_part(uow, principal, opportunity_id, idempotency_key, "gates", body,
                                                 response, create)
    return GateRequestRead.of(_one(opportunity.gate_requests, request_id, "gate request"))


@router.get(OPPORTUNITY + "/gates/{request_id}", response_model=GateRequestRead)
async def read_gate_request(opportunity_id: uuid.UUID, request_id: uuid.UUID, session: ReadSession,
                            principal: Reader, response: Response) -> GateRequestRead:
    opportunity = await _visible(session, principal, opportunity_id)
    response.headers["ETag"] = etag(opportunity.version)
    return GateRequestRead.of(_one(opportunity.gate_requests, request_id, "gate request"))


@router.post(OPPORTUNITY + "/decisions", status_code=201, response_model=DecisionRead,
             summary="Approve, reject, send back or escalate the pending ATB/ATC request, at your tier")
async def decide(opportunity_id: uuid.UUID, body: DecisionCreate, uow: Uow, principal: Decider, response: Response,
                 if_match: IfMatch = None, idempotency_key: IdempotencyKey = None) -> DecisionRead:
    async def create(new_id: uuid.UUID) -> None:
        await handlers.decide(uow, principal, opportunity_id, gate=body.gate, outcome=body.outcome,
                              conditions=body.conditions, comment=body.comment, if_match=if_match, decision_id=new_id)
    decided: list[Opportunity] = []

    async def answer(_new_id: uuid.UUID) -> None:
        decided.append(await _changed(uow, opportunity_id, response))

    new_id = await create_idempotently(uow, principal=principal.sub, key=idempotency_key,
                                       endpoint=f"POST /opportunities/{opportunity_id}/decisions", body=body,
                                       create=create, then=answer)
    opportunity = decided[0]
    request = next(r for r in opportunity.gate_requests if any(d.id == new_id for d in r.decisions))
    response.headers["Location"] = f"/api/v1/opportunities/{opportunity_id}/gates/{request.id}"
    return DecisionRead(gate_request_id=request.id, gate=request.gate, request_status=request.status,
                        decision=_one(request.decisions, new_id, "decision"))


@router.post(OPPORTUNITY + "/stage", response_model=OpportunityRead,
             summary="Move one stage forward or back (AR); bidding and negotiating need an approved ATB")
async def change_stage(opportunity_id: uuid.UUID, body: StageChange, uow: Uow, principal: Seller,
                       response: Response, if_match: IfMatch = None,
                       idempotency_key: IdempotencyKey = None) -> OpportunityRead:
    return await _act(uow, principal, idempotency_key, "stage", body, opportunity_id,
                      lambda: handlers.advance(uow, principal, opportunity_id, body.to, if_match), response)


@router.post(OPPORTUNITY + "/win", response_model=OpportunityRead,
             summary="Close as won on the terms approved at ATC; hands over to contracts")
async def win_opportunity(opportunity_id: uuid.UUID, uow: Uow, principal: Seller, response: Response,
                          if_match: IfMatch = None, idempotency_key: IdempotencyKey = None) -> OpportunityRead:
    return await _act(uow, principal, idempotency_key, "win", NoBody(), opportunity_id,
                      lambda: handlers.win(uow, principal, opportunity_id, if_match), response)


@router.post(OPPORTUNITY + "/lose", response_model=OpportunityRead,
             summary="Close as lost, with the reason and the competitor who won")
async def lose_opportunity(opportunity_id: uuid.UUID, body: LoseRequest, uow: Uow, principal: Seller,
                           response: Response, if_match: IfMatch = None,
                           idempotency_key: IdempotencyKey = None) -> OpportunityRead:
    return await _act(uow, principal, idempotency_key, "lose", body, opportunity_id, lambda: handlers.lose(
        uow, principal, opportunity_id, body.reason, body.competitor, if_match), response)


@router.post(OPPORTUNITY + "/abandon", response_model=OpportunityRead,
             summary="Stop pursuing the opportunity, with the reason")
async def abandon_opportunity(opportunity_id: uuid.UUID, body: AbandonRequest, uow: Uow, principal: Seller,
                              response: Response, if_match: IfMatch = None,
                              idempotency_key: IdempotencyKey = None) -> OpportunityRead:
    return await _act(uow, principal, idempotency_key, "abandon", body, opportunity_id, lambda: handlers.abandon(
        uow, principal, opportunity_id, body.reason, if_match), response)


# -- pipeline and forecast -------------------------------------------------------------------------

@router.get("/pipeline", response_model=PipelineRead,
            summary="Counts, values and probability-weighted values per currency, by stage, owner or close month")
async def pipeline(session: ReadSession, principal: Reader,
                   group_by: Literal["stage", "owner", "close_month"] = "stage",
                   include_closed: Annotated[bool, Query(description="also count won, lost and abandoned")] = False,
                   owner: str | None = None) -> PipelineRead:
    key: ColumnElement[Any] = {
        "stage": cast(Opportunity.stage, String),
        "owner": Opportunity.owner,
        "close_month": func.to_char(Opportunity.expected_close_date, "YYYY-MM"),
    }[group_by]
    conditions = [] if include_closed else [Opportunity.stage.in_(OPEN_STAGES)]
    if (visible := _visible_to(principal)) is not None:
        conditions.append(visible)
    if owner is not None:
        conditions.append(Opportunity.owner == owner)
    stmt = (select(key.label("key"), Opportunity.value_currency, func.count(),
                   func.sum(Opportunity.value_amount),
                   func.sum(Opportunity.value_amount * Opportunity.probability / 100))
            .where(and_(True, *conditions))
            .group_by(key, Opportunity.value_currency)
            .order_by(key, Opportunity.value_currency))
    rows = (await session.execute(stmt)).all()
    return PipelineRead(group_by=group_by, rows=[pipeline_row(*row) for row in rows])


# -- configuration (admin) -------------------------------------------------------------------------

@router.get("/config/stage-probabilities", response_model=StageProbabilitiesIO, tags=["configuration"])
async def read_stage_probabilities(session: ReadSession, principal: Reader,
                                   response: Response) -> StageProbabilitiesIO:
    value, version = await repository.read_setting(session, repository.PROBABILITIES)
    response.headers["ETag"] = etag(version)
    return StageProbabilitiesIO(**value)


@router.put("/config/stage-probabilities", response_model=StageProbabilitiesIO, tags=["configuration"],
            summary="Set the win probability of each open stage (admin); applies to later stage changes")
async def set_stage_probabilities(body: StageProbabilitiesIO, uow: Uow, principal: Admin, response: Response,
                                  if_match: IfMatch = None) -> StageProbabilitiesIO:
    value = repository.probabilities_to_json(body.to_domain())
    async with uow:
        version = await handlers.save_setting(uow, principal, repository.PROBABILITIES, value, if_match)
    response.headers["ETag"] = etag(version)
    return StageProbabilitiesIO(**value)


@router.get("/config/decision-thresholds", response_model=DecisionThresholdsIO, tags=["configuration"])
async def read_decision_thresholds(session: ReadSession, principal: Reader,
                                   response: Response) -> DecisionThresholdsIO:
    value, version = await repository.read_setting(session, repository.THRESHOLDS)
    response.headers["ETag"] = etag(version)
    return DecisionThresholdsIO(thresholds={c: TierThresholdsIO(**b) for c, b in value.items()})


@router.put("/config/decision-thresholds", response_model=DecisionThresholdsIO, tags=["configuration"],
            summary="Set per currency the deal values from which gates go to L2 and L3 (admin)")
async def set_decision_thresholds(body: DecisionThresholdsIO, uow: Uow, principal: Admin, response: Response,
                                  if_match: IfMatch = None) -> DecisionThresholdsIO:
    value = {c: b.model_dump(mode="json") for c, b in body.thresholds.items()}
    repository.thresholds_from_json(value)  # refuses thresholds that make no sense, naming each
    async with uow:
        version = await handlers.save_setting(uow, principal, repository.THRESHOLDS, value, if_match)
    response.headers["ETag"] = etag(version)
    return body
