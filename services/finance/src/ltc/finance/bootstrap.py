"""Wires the finance service: its routes, the events it reacts to, its mappers."""

from __future__ import annotations

from pathlib import Path

from ltc.finance import handlers
from ltc.finance.adapters.orm import start_mappers
from ltc.finance.api.routes import router
from ltc.shared.consumer import Subscription
from ltc.shared.messages.contracts_events import ContractMilestoneAccepted, ContractSigned
from ltc.shared.service import ServiceSpec, create_app

SPEC = ServiceSpec(
    name="finance",
    default_port=8004,
    service_dir=Path(__file__).resolve().parent,
    routers=[router],
    description="Cash: billing plans from signed contracts, invoices on signing and milestone acceptance, "
                "payments applied to invoices, and the contract reported fully paid once its value is collected.",
    subscription=Subscription(
        topics=("ltc.contracts",),
        handlers={
            ContractSigned.ce_type(): handlers.on_contract_signed,
            ContractMilestoneAccepted.ce_type(): handlers.on_contract_milestone_accepted,
        },
    ),
    start_mappers=start_mappers,
)


def app():  # noqa: ANN201 - uvicorn factory: `uvicorn --factory ltc.finance.bootstrap:app`
    return create_app(SPEC)
