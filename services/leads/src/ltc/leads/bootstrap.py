"""Wires the leads service: its routes, the events it reacts to, its mappers."""

from __future__ import annotations

from pathlib import Path

from ltc.leads import handlers
from ltc.leads.adapters.orm import start_mappers
from ltc.leads.api.routes import router
from ltc.shared.consumer import Subscription
from ltc.shared.messages.finance_events import ContractFullyPaid
from ltc.shared.messages.opportunities_events import OpportunityCreated, OpportunityWon
from ltc.shared.service import ServiceSpec, create_app

SPEC = ServiceSpec(
    name="leads",
    default_port=8001,
    service_dir=Path(__file__).resolve().parent,
    routers=[router],
    description="Accounts and leads: capture, cross-checked grading, conversion into opportunities, "
                "and the outcome of each lead once its cash is collected.",
    subscription=Subscription(
        topics=("ltc.opportunities", "ltc.finance"),
        handlers={
            OpportunityCreated.ce_type(): handlers.on_opportunity_created,
            OpportunityWon.ce_type(): handlers.on_opportunity_won,
            ContractFullyPaid.ce_type(): handlers.on_contract_fully_paid,
        },
    ),
    start_mappers=start_mappers,
)


def app():  # noqa: ANN201 - uvicorn factory: `uvicorn --factory ltc.leads.bootstrap:app`
    return create_app(SPEC)
