"""Routes only translate HTTP into commands and read models; the rules live in the domain."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response
from ltc.opportunities import handlers
from ltc.opportunities.adapters import repository
from ltc.opportunities.api.schemas import (
    AbandonRequest,
    CommercialTermsIn,
    LoseRequest,
    OpportunityCreate,
    OpportunityRead,
)
from ltc.opportunities.domain.model import Opportunity, Stage
from ltc.shared.api import Cursor, IdempotencyKey, IfMatch, Limit, Page, create_idempotently, etag, paginate
from ltc.shared.auth import Principal, Role, require_roles
from ltc.shared.db import UnitOfWork
from ltc.shared.errors import NotFound
from ltc.shared.service import ReadSession, Uow
from sqlalchemy import select

router = APIRouter(tags=["opportunities"])

Seller = Annotated[Principal, Depends(require_roles(Role.AR, Role.ADMIN))]
Reader = Annotated[Principal, Depends(require_roles(Role.AR, *handlers.SEE_ALL_ROLES))]


def _opportunity(opportunity: Opportunity, response: Response) -> OpportunityRead:
    response.headers["ETag"] = etag(opportunity.version)
    return OpportunityRead.of(opportunity)


async def _reread(uow: UnitOfWork, opportunity_id: uuid.UUID, response: Response, *,
                  created: bool = False) -> OpportunityRead:
    async with uow:
        opportunity = await repository.get_opportunity(uow.session, opportunity_id)
    if created:
        response.headers["Location"] = f"/api/v1/opportunities/{opportunity_id}"
    return _opportunity(opportunity, response)


@router.post("/opportunities", status_code=201, response_model=OpportunityRead,
             summary="Open an opportunity without a lead, e.g. from a tender")
async def create_opportunity(body: OpportunityCreate, uow: Uow, principal: Seller, response: Response,
                             idempotency_key: IdempotencyKey = None) -> OpportunityRead:
    budget = body.budget.to_money() if body.budget else None
    opportunity_id = await create_idempotently(
        uow, principal=principal.sub, key=idempotency_key, endpoint="POST /opportunities", body=body,
        create=lambda new_id: handlers.create_opportunity(
            uow, handlers.CreateOpportunity(new_id, body.title, body.account_name, body.account_id, body.need,
                                            budget, body.start_date), principal),
    )
    return await _reread(uow, opportunity_id, response, created=True)


@router.get("/opportunities/{opportunity_id}", response_model=OpportunityRead)
async def read_opportunity(opportunity_id: uuid.UUID, session: ReadSession, principal: Reader,
                           response: Response) -> OpportunityRead:
    opportunity = await repository.get_opportunity(session, opportunity_id)
    if not handlers.may_see(principal, opportunity.owner):
        raise NotFound("opportunity", opportunity_id)
    return _opportunity(opportunity, response)


@router.get("/opportunities", response_model=Page[OpportunityRead])
async def list_opportunities(
    session: ReadSession, principal: Reader,
    lead_id: uuid.UUID | None = None, stage: Stage | None = None, owner: str | None = None,
    limit: Limit = 50, cursor: Cursor = None,
) -> Page[OpportunityRead]:
    stmt = select(Opportunity)
    if not principal.has_any(*handlers.SEE_ALL_ROLES):
        stmt = stmt.where(Opportunity.owner == principal.sub)
    for column, value in ((Opportunity.lead_id, lead_id), (Opportunity.stage, stage), (Opportunity.owner, owner)):
        if value is not None:
            stmt = stmt.where(column == value)
    rows, next_cursor = await paginate(session, stmt, created_at=Opportunity.created_at, ident=Opportunity.id,
                                       limit=limit, cursor=cursor)
    return Page[OpportunityRead](items=[OpportunityRead.of(o) for o in rows], next_cursor=next_cursor)


@router.post("/opportunities/{opportunity_id}/win", response_model=OpportunityRead,
             summary="Close as won with the agreed commercial terms; hands over to contracts")
async def win_opportunity(opportunity_id: uuid.UUID, body: CommercialTermsIn, uow: Uow, principal: Seller,
                          response: Response, if_match: IfMatch = None) -> OpportunityRead:
    async with uow:
        await handlers.win_opportunity(uow, opportunity_id, body.to_terms(), if_match, principal)
    return await _reread(uow, opportunity_id, response)


@router.post("/opportunities/{opportunity_id}/lose", response_model=OpportunityRead,
             summary="Close as lost, with the reason and the competitor who won")
async def lose_opportunity(opportunity_id: uuid.UUID, body: LoseRequest, uow: Uow, principal: Seller,
                           response: Response, if_match: IfMatch = None) -> OpportunityRead:
    async with uow:
        await handlers.lose_opportunity(uow, opportunity_id, body.reason, body.competitor, if_match, principal)
    return await _reread(uow, opportunity_id, response)


@router.post("/opportunities/{opportunity_id}/abandon", response_model=OpportunityRead,
             summary="Stop pursuing the opportunity, with the reason")
async def abandon_opportunity(opportunity_id: uuid.UUID, body: AbandonRequest, uow: Uow, principal: Seller,
                              response: Response, if_match: IfMatch = None) -> OpportunityRead:
    async with uow:
        await handlers.abandon_opportunity(uow, opportunity_id, body.reason, if_match, principal)
    return await _reread(uow, opportunity_id, response)
