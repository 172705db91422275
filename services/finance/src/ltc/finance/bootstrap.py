"""Wires the finance service: its routes, the events it reacts to, its mappers, its scheduled job."""

from __future__ import annotations

import asyncio
from pathlib import Path

import structlog

from ltc.finance import credit, handlers
from ltc.finance.adapters.orm import start_mappers
from ltc.finance.api.collections import router as collections_router
from ltc.finance.api.credit import router as credit_router
from ltc.finance.api.routes import router
from ltc.finance.config import finance_settings
from ltc.shared.consumer import Subscription
from ltc.shared.messages.contracts_events import ContractAmended, ContractMilestoneAccepted, ContractSigned
from ltc.shared.messages.finance_events import (
    InvoiceCredited,
    InvoiceIssued,
    InvoiceWrittenOff,
    PaymentApplied,
    PaymentReceived,
    PaymentReturned,
)
from ltc.shared.messages.leads_events import AccountCreated, AccountUpdated, LeadCreated
from ltc.shared.messages.opportunities_events import OpportunityWon
from ltc.shared.service import Runtime, ServiceSpec, create_app

log = structlog.get_logger()


async def scheduled_run(runtime: Runtime) -> None:
    """Bill instalments due by date and advance dunning as of today, then sleep; one run per interval."""
    while True:
        async with runtime.unit_of_work() as uow:
            result = await handlers.run_schedule(uow, handlers.RunSchedule(), handlers.SCHEDULED_RUN)
        log.info("scheduled run", as_of=str(result.as_of), invoiced=len(result.invoiced), dunned=len(result.dunned))
        await asyncio.sleep(finance_settings().scheduled_run_seconds)


SPEC = ServiceSpec(
    name="finance",
    default_port=8004,
    service_dir=Path(__file__).resolve().parent,
    routers=[router, credit_router, collections_router],
    description="Cash: billing plans from signed and amended contracts, invoices on signing, milestone acceptance "
                "or date, credit notes, payments applied to invoices, contracts or accounts, receivables aging, "
                "dunning, ERP journal lines, and the contract reported fully paid once its value is collected.",
    subscription=Subscription(
        topics=("ltc.contracts", "ltc.opportunities", "ltc.leads", "ltc.finance"),
        handlers={
            ContractSigned.ce_type(): credit.and_recompute_exposure(handlers.on_contract_signed),
            ContractMilestoneAccepted.ce_type(): handlers.on_contract_milestone_accepted,
            ContractAmended.ce_type(): credit.and_recompute_exposure(handlers.on_contract_amended),
            OpportunityWon.ce_type(): handlers.on_opportunity_won,
            LeadCreated.ce_type(): handlers.on_lead_created,
            AccountCreated.ce_type(): handlers.on_account_created,
            AccountUpdated.ce_type(): handlers.on_account_updated,
            # Credit exposure follows finance's own events (ltc.finance.credit).
            InvoiceIssued.ce_type(): credit.on_invoice_changed,
            InvoiceCredited.ce_type(): credit.on_invoice_changed,
            InvoiceWrittenOff.ce_type(): credit.on_invoice_changed,
            PaymentReceived.ce_type(): credit.on_cash_moved,
            PaymentApplied.ce_type(): credit.on_cash_moved,
            PaymentReturned.ce_type(): credit.on_cash_moved,
        },
    ),
    start_mappers=start_mappers,
    extra_workers=[scheduled_run],
)


def app():  # noqa: ANN201 - uvicorn factory: `uvicorn --factory ltc.finance.bootstrap:app`
    return create_app(SPEC)
