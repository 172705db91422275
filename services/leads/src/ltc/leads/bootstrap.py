"""Wires the leads service: its routes, the events it reacts to, its mappers."""

from __future__ import annotations

from pathlib import Path

from ltc.leads import handlers
from ltc.leads.adapters.orm import start_mappers
from ltc.leads.api.routes import router
from ltc.leads.domain import duplicates, relationships, scoring
from ltc.leads.domain.model import Criterion
from ltc.shared.consumer import Subscription
from ltc.shared.messages.finance_events import ContractFullyPaid
from ltc.shared.messages.opportunities_events import OpportunityCreated, OpportunityLost, OpportunityWon
from ltc.shared.service import ServiceSpec, create_app


def description() -> str:
    """The API's introduction; its numbers come from the rules' own constants, so they cannot drift."""
    return f"""Accounts, contacts and leads: capture, cross-checked grading, pain points, visits and the
other connection-keeping activities, relationship strength, the lead score, conversion into
opportunities, and the outcome of each lead once its cash is collected.

**Roles.** `ar` and `admin` change accounts and leads: an AR only its own leads or unassigned ones
(another AR's lead is readable, changing it answers 403). `sr` and `fr` read everything and plan and
record activities. `integration` reads.

**Grading.** `initial` → `credible` needs each lead criterion
({", ".join(c.value for c in Criterion)}) backed by evidence (source, who, when) from at least one
person who is neither us (the grader, the owner) nor the lead's informant (`reported_by`): the cross-check.
`credible` → `opportunity` needs a positive budget (money) and a start date. One step at a time.

**Relationship strength** (per contact, shown on every contact as `relationship`), from the trust
formula trust = competence × reliability × connection × time:
{relationships.trust_formula()}.
Only done activities (an outcome recorded) on or before today count.

**Lead score** (0–{scoring.max_score()}, on every lead as `score` with its parts explained):
{scoring.score_rule()}.

**Duplicates.** Capturing a lead for an account with an open lead whose title or need is at least
{round(duplicates.SIMILAR * 100)} % similar answers 409 `duplicate-lead` listing the candidates, unless
`confirm_distinct` is true.
"""


DESCRIPTION = description()

SPEC = ServiceSpec(
    name="leads",
    default_port=8001,
    service_dir=Path(__file__).resolve().parent,
    routers=[router],
    description=DESCRIPTION,
    subscription=Subscription(
        topics=("ltc.opportunities", "ltc.finance"),
        handlers={
            OpportunityCreated.ce_type(): handlers.on_opportunity_created,
            OpportunityWon.ce_type(): handlers.on_opportunity_won,
            OpportunityLost.ce_type(): handlers.on_opportunity_lost,
            ContractFullyPaid.ce_type(): handlers.on_contract_fully_paid,
        },
    ),
    start_mappers=start_mappers,
)


def app():  # noqa: ANN201 - uvicorn factory: `uvicorn --factory ltc.leads.bootstrap:app`
    return create_app(SPEC)
