"""Wires the opportunities service: its routes, the events it reacts to, its mappers."""

from __future__ import annotations

from pathlib import Path

from ltc.opportunities import handlers
from ltc.opportunities.adapters.orm import start_mappers
from ltc.opportunities.api.routes import router
from ltc.shared.consumer import Subscription
from ltc.shared.messages.finance_events import AccountCreditChanged
from ltc.shared.messages.leads_events import LeadConverted
from ltc.shared.service import ServiceSpec, create_app

SPEC = ServiceSpec(
    name="opportunities",
    default_port=8002,
    service_dir=Path(__file__).resolve().parent,
    routers=[router],
    description="Opportunities: opened from converted leads or directly (e.g. a tender), worked by the "
                "iron triangle (insight, value proposition, power map, competitors, risks), taken through the "
                "ATB and ATC gates by the three decision tiers, and closed as won on the approved commercial "
                "terms, lost, or abandoned; weighted pipeline and forecast.",
    subscription=Subscription(
        topics=("ltc.leads", "ltc.finance"),
        handlers={LeadConverted.ce_type(): handlers.on_lead_converted,
                  AccountCreditChanged.ce_type(): handlers.on_account_credit_changed},
    ),
    start_mappers=start_mappers,
)


def app():  # noqa: ANN201 - uvicorn factory: `uvicorn --factory ltc.opportunities.bootstrap:app`
    return create_app(SPEC)
