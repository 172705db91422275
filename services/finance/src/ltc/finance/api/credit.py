"""Credit limits and exposure over HTTP: finance sets a limit per account and currency; finance,
integration, admin and the account's manager read the exposure against it."""

from __future__ import annotations

import uuid
from datetime import datetime
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy.ext.asyncio import AsyncSession

from ltc.finance import credit
from ltc.finance.adapters import credit_queries, queries
from ltc.finance.domain.credit import MAX_CREDIT_LIMIT, CreditStanding
from ltc.shared.api import etag, expected_version, run
from ltc.shared.auth import Principal, Role, require_roles
from ltc.shared.db import audit_history
from ltc.shared.errors import ProblemError
from ltc.shared.messages import MoneyPayload
from ltc.shared.rules import NotFound
from ltc.shared.service import ReadSession, Uow

router = APIRouter()

CreditSetter = Annotated[Principal, Depends(require_roles(Role.FINANCE))]
CreditReader = Annotated[Principal, Depends(require_roles(Role.FINANCE, Role.INTEGRATION, Role.ADMIN, Role.AR))]

EXPOSURE_RULE = (
    "exposure = open receivables + signed not invoiced. Open receivables: what is open on the account's invoices "
    "in the currency (gross payable less paid, credited and written off; VAT included). Signed not invoiced: per "
    "billing plan, the contract value less the invoiced instalments (net, as the value is; an invoice moves its "
    "net out of here and its gross into the receivables). available = limit - exposure (negative: over the "
    "limit); no limit set: no limit (`credit_limit` and `available` null). Every change of the figures of a "
    "currency is published as `account.credit_changed`."
)


class CreditLimitSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    credit_limit: MoneyPayload = Field(description=f"at least 0 (0: no credit) and below {MAX_CREDIT_LIMIT}; "
                                                   "its currency is the one the limit is for (rule "
                                                   "`credit-limit-invalid` names `credit_limit.amount`)")
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)] = Field(
        description="why the limit is set, kept with it and in the account's credit history")


class CreditRead(BaseModel):
    """One currency of an account's credit: the limit set and the exposure against it now."""

    account_id: uuid.UUID
    currency: str
    credit_limit: MoneyPayload | None = Field(description="null: no limit set in this currency, so none applies")
    exposure: MoneyPayload = Field(description="open receivables + signed not invoiced")
    open_receivables: MoneyPayload = Field(description="open on the account's invoices, gross")
    signed_not_invoiced: MoneyPayload = Field(description="signed contract value not invoiced yet, net")
    available: MoneyPayload | None = Field(description="limit - exposure; negative: over the limit")
    version: int | None = Field(description="the limit's version (null: none set); its ETag changes it")
    etag: str | None = Field(description="send it as If-Match to change the limit")
    reason: str | None
    set_by: str | None
    set_at: datetime | None

    @classmethod
    def of(cls, standing: CreditStanding) -> CreditRead:
        limit, figures = standing.limit, standing.figures
        available = standing.available
        return cls(account_id=standing.account_id, currency=standing.currency,
                   credit_limit=MoneyPayload.of(limit.limit) if limit is not None else None,
                   exposure=MoneyPayload.of(figures.exposure), open_receivables=MoneyPayload.of(figures.open_receivables),
                   signed_not_invoiced=MoneyPayload.of(figures.signed_not_invoiced),
                   available=MoneyPayload.of(available) if available is not None else None,
                   version=limit.version if limit is not None else None,
                   etag=etag(limit.version) if limit is not None else None,
                   reason=limit.reason if limit is not None else None,
                   set_by=limit.set_by if limit is not None else None,
                   set_at=limit.set_at if limit is not None else None)


class AccountCreditRead(BaseModel):
    account_id: uuid.UUID
    currencies: list[CreditRead] = Field(description="every currency the account has a limit, invoices or "
                                                     "contracts in, by ISO code")


class CreditHistoryEntryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    action: credit.CreditAction
    actor: str = Field(description="the user's id, or `event:<type>` for a recomputation an event caused")
    at: datetime
    changes: dict[str, Any]


def _credit_read(response: Response, standing: CreditStanding) -> CreditRead:
    if standing.limit is not None:
        response.headers["ETag"] = etag(standing.limit.version)
    return CreditRead.of(standing)


@router.put("/accounts/{account_id}/credit-limit", response_model=CreditRead, tags=["credit"],
            summary="Set the account's credit limit in one currency and publish it with the exposure",
            description="The first limit of a currency needs no If-Match; changing it needs the ETag of the limit "
                        "you read (428 `if-match-required` without it, 412 `stale-etag` when it changed since). "
                        "The limit is audited and published as `account.credit_changed` (cause `limit_set`); "
                        "opportunities refuses an ATC that would take the account over it. " + EXPOSURE_RULE)
async def set_credit_limit(account_id: uuid.UUID, body: CreditLimitSet, uow: Uow, principal: CreditSetter,
                           response: Response,
                           if_match: Annotated[str | None, Header(alias="If-Match")] = None) -> CreditRead:
    command = credit.SetCreditLimit(account_id=account_id, limit=body.credit_limit.to_money(), reason=body.reason,
                                    expected_version=expected_version(if_match, required=False),
                                    if_match_sent=if_match is not None)
    try:
        return await run(uow, credit.set_credit_limit, command, principal, answer=partial(_credit_read, response))
    except credit.IfMatchRequired:
        raise ProblemError(428, "if-match-required", "Precondition required",
                           f"a credit limit in {command.limit.currency} is set: send If-Match with its ETag "
                           "from your last read") from None


async def _visible_account(session: AsyncSession, principal: Principal, account_id: uuid.UUID) -> None:
    await queries.require_visible(session, principal, account_id, "account", account_id)
    if not await credit_queries.account_known(session, account_id):
        raise NotFound("account", account_id)


@router.get("/accounts/{account_id}/credit", response_model=AccountCreditRead, tags=["credit"],
            summary="The account's credit per currency: limit, exposure, open receivables, signed not invoiced, "
                    "available",
            description="As the figures are now (what `account.credit_changed` last said may lag by an event). An "
                        "account manager reads the accounts they won an opportunity on. " + EXPOSURE_RULE)
async def read_credit(account_id: uuid.UUID, session: ReadSession, principal: CreditReader) -> AccountCreditRead:
    await _visible_account(session, principal, account_id)
    standings = await credit_queries.standings(session, account_id)
    return AccountCreditRead(account_id=account_id, currencies=[CreditRead.of(s) for s in standings])


@router.get("/accounts/{account_id}/credit/history", response_model=list[CreditHistoryEntryRead], tags=["credit"],
            summary="Every limit set (who, why, the figures then) and every change of exposure published, oldest first")
async def credit_history(account_id: uuid.UUID, session: ReadSession,
                         principal: CreditReader) -> list[CreditHistoryEntryRead]:
    await _visible_account(session, principal, account_id)
    rows = await audit_history(session, account_id, object_types=[credit.AUDITED_CREDIT])
    return [CreditHistoryEntryRead.model_validate(row) for row in rows]
