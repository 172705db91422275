"""Wires the contracts service: its routes, the events it reacts to, its mappers."""

from __future__ import annotations

from pathlib import Path

from ltc.contracts import handlers
from ltc.contracts.adapters.orm import start_mappers
from ltc.contracts.api.routes import router
from ltc.shared.consumer import Subscription
from ltc.shared.messages.finance_events import ContractFullyPaid, InvoiceCredited, InvoiceIssued
from ltc.shared.messages.opportunities_events import OpportunityWon
from ltc.shared.service import ServiceSpec, create_app

SPEC = ServiceSpec(
    name="contracts",
    default_port=8003,
    service_dir=Path(__file__).resolve().parent,
    routers=[router],
    description="Contracts: drafted from won opportunities, signed with their payment schedule, executed "
                "through customer acceptance of delivery milestones, closed once delivered and fully paid.",
    subscription=Subscription(
        topics=("ltc.opportunities", "ltc.finance"),
        handlers={
            OpportunityWon.ce_type(): handlers.on_opportunity_won,
            ContractFullyPaid.ce_type(): handlers.on_contract_fully_paid,
            InvoiceIssued.ce_type(): handlers.on_invoice_issued,
            InvoiceCredited.ce_type(): handlers.on_invoice_credited,
        },
    ),
    start_mappers=start_mappers,
)


def app():  # noqa: ANN201 - uvicorn factory: `uvicorn --factory ltc.contracts.bootstrap:app`
    return create_app(SPEC)
