"""Credit exposure's command and event handlers (rules in ltc.finance.domain.credit).

Finance recomputes an account's exposure from its own tables whenever something that moves it
happened: a contract signed or amended (the signed value), an invoice issued, credited or written
off, cash received, applied or returned. It reacts to its own events on `ltc.finance` for most of
them, so the handlers that make those changes need not know of credit at all, and publishes
`account.credit_changed` only for the currencies whose figures differ from what it last published:
a redelivery or a replay publishes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from functools import wraps
from typing import TypeVar

from ltc.finance import handlers
from ltc.finance.adapters import credit_queries
from ltc.finance.domain.credit import CreditFigures, CreditLimit, CreditPublished, CreditStanding
from ltc.shared.audit import AuditEntry
from ltc.shared.db import UnitOfWork
from ltc.shared.messages.contracts_events import ContractAmended, ContractSigned
from ltc.shared.messages.envelope import Envelope
from ltc.shared.messages.finance_events import (
    InvoiceCredited,
    InvoiceIssued,
    InvoiceWrittenOff,
    PaymentApplied,
    PaymentReceived,
    PaymentReturned,
)
from ltc.shared.money import Money
from ltc.shared.roles import Principal
from ltc.shared.rules import STALE_VERSION, NotFound, StaleVersion

# The audit trail's object: an account's credit, filed under the account's id.
AUDITED_CREDIT = "account_credit"


class CreditAction(StrEnum):
    LIMIT_SET = "credit_limit_set"
    EXPOSURE_CHANGED = "credit_exposure_changed"


class IfMatchRequired(Exception):
    """A limit is set already: changing it must name the version read (the API answers 428)."""


@dataclass(frozen=True)
class SetCreditLimit:
    account_id: uuid.UUID
    limit: Money
    reason: str
    expected_version: int | None
    if_match_sent: bool  # the first limit of a currency needs none; a change does


def _figures_audit(limit: Money | None, figures: CreditFigures) -> dict[str, object]:
    return {"currency": figures.currency, "credit_limit": limit, "exposure": figures.exposure,
            "open_receivables": figures.open_receivables, "signed_not_invoiced": figures.signed_not_invoiced,
            "available": figures.available(limit)}


async def set_credit_limit(uow: UnitOfWork, cmd: SetCreditLimit, principal: Principal) -> CreditStanding:
    """Set the account's limit in one currency and publish it with the exposure as it is now."""
    session = uow.session
    if not await credit_queries.account_known(session, cmd.account_id):
        raise NotFound("account", cmd.account_id)
    await credit_queries.lock_account(session, cmd.account_id)
    now = handlers.clock()
    limit = (await credit_queries.limits(session, cmd.account_id, for_update=True)).get(cmd.limit.currency)
    before = None if limit is None else limit.limit
    if limit is None:
        if cmd.expected_version is not None:
            raise StaleVersion(STALE_VERSION, f"no credit limit in {cmd.limit.currency} is set; nothing has "
                                              f"version {cmd.expected_version}")
        limit = CreditLimit(account_id=cmd.account_id, limit=cmd.limit, reason=cmd.reason, by=principal.sub, now=now)
        session.add(limit)
    elif not cmd.if_match_sent:
        raise IfMatchRequired
    else:
        limit.change(cmd.limit, reason=cmd.reason, by=principal.sub, now=now, expected_version=cmd.expected_version)
    figures = (await credit_queries.figures(session, cmd.account_id)).get(cmd.limit.currency,
                                                                           CreditFigures.zero(cmd.limit.currency))
    published = await _published(uow, cmd.account_id, cmd.limit.currency)
    uow.publish(published.publish(limit.limit, figures, cause="limit_set", now=now))
    uow.audit(AuditEntry(now, principal.sub, CreditAction.LIMIT_SET, AUDITED_CREDIT, cmd.account_id, {
        **_figures_audit(limit.limit, figures), "before": before, "reason": limit.reason}))
    await uow.commit()
    return CreditStanding(cmd.account_id, figures, limit)


async def _published(uow: UnitOfWork, account_id: uuid.UUID, currency: str) -> CreditPublished:
    row = (await credit_queries.published(uow.session, account_id)).get(currency)
    if row is None:
        row = CreditPublished(account_id=account_id, currency=currency)
        uow.session.add(row)
    return row


async def recompute_exposure(uow: UnitOfWork, account_ids: Iterable[uuid.UUID | None], actor: str) -> None:
    """Publish each currency of these accounts whose figures differ from the last published."""
    for account_id in sorted({a for a in account_ids if a is not None}, key=str):
        await credit_queries.lock_account(uow.session, account_id)
        limits = await credit_queries.limits(uow.session, account_id)
        current = await credit_queries.figures(uow.session, account_id)
        published = await credit_queries.published(uow.session, account_id)
        for currency in sorted(current.keys() | published.keys()):
            figures = current.get(currency, CreditFigures.zero(currency))
            limit = limits[currency].limit if currency in limits else None
            row = published.get(currency) or CreditPublished(account_id=account_id, currency=currency)
            if not row.differs(limit, figures):
                continue
            if currency not in published:
                uow.session.add(row)
            now = handlers.clock()
            uow.publish(row.publish(limit, figures, cause="exposure_changed", now=now))
            uow.audit(AuditEntry(now, actor, CreditAction.EXPOSURE_CHANGED, AUDITED_CREDIT, account_id,
                                 _figures_audit(limit, figures)))


def _by_event(envelope: Envelope) -> str:
    return f"event:{envelope.type}"


# A contract event whose billing-plan handler runs first.
ContractEvent = TypeVar("ContractEvent", ContractSigned, ContractAmended)


def and_recompute_exposure(handler: Callable[[UnitOfWork, ContractEvent, Envelope], Awaitable[None]]
                           ) -> Callable[[UnitOfWork, ContractEvent, Envelope], Awaitable[None]]:
    """`handler` (which plans the contract's billing), then the exposure of the contract's account, in
    the same transaction: the signed value counts as soon as finance holds it."""
    @wraps(handler)
    async def handle(uow: UnitOfWork, event: ContractEvent, envelope: Envelope) -> None:
        await handler(uow, event, envelope)
        await uow.session.flush()
        account_id = await credit_queries.account_of_contract(uow.session, event.contract_id)
        await recompute_exposure(uow, [account_id], _by_event(envelope))
    return handle


async def on_invoice_changed(uow: UnitOfWork, event: InvoiceIssued | InvoiceCredited | InvoiceWrittenOff,
                             envelope: Envelope) -> None:
    """An invoice issued, credited or written off: its account's receivables moved."""
    account_id = event.account_id or await credit_queries.account_of_contract(uow.session, event.contract_id)
    await recompute_exposure(uow, [account_id], _by_event(envelope))


async def on_cash_moved(uow: UnitOfWork, event: PaymentReceived | PaymentApplied | PaymentReturned,
                        envelope: Envelope) -> None:
    """Cash received, applied or returned: the receivables of the invoices it paid (or paid no more) moved."""
    paid = event.reopened if isinstance(event, PaymentReturned) else event.applications
    accounts = await credit_queries.accounts_of_invoices(uow.session, [a.invoice_id for a in paid])
    await recompute_exposure(uow, [getattr(event, "account_id", None), *accounts], _by_event(envelope))
