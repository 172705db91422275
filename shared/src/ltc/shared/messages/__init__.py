"""Event messages: the CloudEvents envelope and one module of payload schemas per producing service.

`EVENT_TYPES` maps every CloudEvents `type` (e.g. `ltc.lead.converted.v1`) to its payload model;
a consumer treats a type missing from it as poison (dead letter) and a known type it has no
handler for as somebody else's business (skipped).
"""

from ltc.shared.messages import contracts_events, finance_events, leads_events, opportunities_events
from ltc.shared.messages.base import EventPayload, Lineage, MoneyPayload

_MODULES = (leads_events, opportunities_events, contracts_events, finance_events)

EVENT_TYPES: dict[str, type[EventPayload]] = {
    cls.ce_type(): cls
    for module in _MODULES
    for cls in vars(module).values()
    if isinstance(cls, type) and issubclass(cls, EventPayload) and cls is not EventPayload and "event_type" in cls.__dict__
}

TOPICS = ("ltc.leads", "ltc.opportunities", "ltc.contracts", "ltc.finance")


def dlq_topic(topic: str) -> str:
    return f"{topic}.dlq"


ALL_TOPICS = TOPICS + tuple(dlq_topic(t) for t in TOPICS)


__all__ = ["ALL_TOPICS", "EVENT_TYPES", "TOPICS", "EventPayload", "Lineage", "MoneyPayload", "dlq_topic"]
