"""Routes only translate HTTP into commands and read models; the rules live in the domain."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response
from ltc.contracts import handlers
from ltc.contracts.adapters import repository
from ltc.contracts.api.schemas import AcceptMilestoneRequest, ContractRead, SignRequest
from ltc.contracts.domain.model import Contract, ContractStatus
from ltc.shared.api import Cursor, IfMatch, Limit, Page, etag, paginate
from ltc.shared.auth import Principal, Role, require_roles
from ltc.shared.db import UnitOfWork
from ltc.shared.errors import NotFound
from ltc.shared.service import ReadSession, Uow
from sqlalchemy import select

router = APIRouter(tags=["contracts"])

Reader = Annotated[Principal, Depends(require_roles(Role.AR, *handlers.READ_ALL_ROLES))]
Signer = Annotated[Principal, Depends(require_roles(Role.AR, Role.ADMIN))]
Acceptor = Annotated[Principal, Depends(require_roles(Role.FR, Role.ADMIN))]


def _contract(contract: Contract, response: Response) -> ContractRead:
    response.headers["ETag"] = etag(contract.version)
    return ContractRead.of(contract)


async def _reread(uow: UnitOfWork, contract_id: uuid.UUID, response: Response) -> ContractRead:
    async with uow:
        contract = await repository.get_contract(uow.session, contract_id)
    return _contract(contract, response)


@router.get("/contracts/{contract_id}", response_model=ContractRead)
async def read_contract(contract_id: uuid.UUID, session: ReadSession, principal: Reader,
                        response: Response) -> ContractRead:
    contract = await repository.get_contract(session, contract_id)
    if not handlers.may_see(principal, contract.owner):
        raise NotFound("contract", contract_id)
    return _contract(contract, response)


@router.get("/contracts", response_model=Page[ContractRead])
async def list_contracts(session: ReadSession, principal: Reader, opportunity_id: uuid.UUID | None = None,
                         status: ContractStatus | None = None, limit: Limit = 50,
                         cursor: Cursor = None) -> Page[ContractRead]:
    stmt = select(Contract)
    if not principal.has_any(*handlers.READ_ALL_ROLES):
        stmt = stmt.where(Contract.owner == principal.sub)
    if opportunity_id is not None:
        stmt = stmt.where(Contract.opportunity_id == opportunity_id)
    if status is not None:
        stmt = stmt.where(Contract.status == status)
    rows, next_cursor = await paginate(session, stmt, created_at=Contract.created_at, ident=Contract.id,
                                       limit=limit, cursor=cursor)
    return Page[ContractRead](items=[ContractRead.of(c) for c in rows], next_cursor=next_cursor)


@router.post("/contracts/{contract_id}/sign", response_model=ContractRead,
             summary="Record the signing of a draft contract; publishes its payment schedule")
async def sign_contract(contract_id: uuid.UUID, body: SignRequest, uow: Uow, principal: Signer,
                        response: Response, if_match: IfMatch = None) -> ContractRead:
    async with uow:
        await handlers.sign_contract(
            uow, handlers.SignContract(contract_id, body.signatories, body.signed_on, if_match), principal)
    return await _reread(uow, contract_id, response)


@router.post("/contracts/{contract_id}/milestones/{milestone_id}/accept", response_model=ContractRead,
             summary="Record the customer's acceptance of a delivery milestone")
async def accept_milestone(contract_id: uuid.UUID, milestone_id: uuid.UUID, body: AcceptMilestoneRequest,
                           uow: Uow, principal: Acceptor, response: Response,
                           if_match: IfMatch = None) -> ContractRead:
    async with uow:
        await handlers.accept_milestone(
            uow, handlers.AcceptMilestone(contract_id, milestone_id, body.accepted_on, body.certificate_ref, if_match),
            principal)
    return await _reread(uow, contract_id, response)
