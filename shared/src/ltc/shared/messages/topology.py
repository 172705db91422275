"""Who writes and who reads each topic, for the AsyncAPI catalogue's Kafka bindings.

The shared library imports no service, so the services' subscriptions are written down here, in
one place: the consumer group of each service, the topics it subscribes to and the event types it
acts on (every other type on those topics it skips). `tests/contract` compares this table with
each service's `SPEC.subscription`, so it cannot drift from what the services run.
"""

from __future__ import annotations

from dataclasses import dataclass

from ltc.shared.settings import ServiceSettings

# The service writing each topic (through its transactional outbox).
PRODUCERS: dict[str, str] = {
    "ltc.leads": "leads",
    "ltc.opportunities": "opportunities",
    "ltc.contracts": "contracts",
    "ltc.finance": "finance",
}

# Partitions per topic where nothing else is said: `ltc topics` creates every topic and
# dead-letter topic with LTC_KAFKA_PARTITIONS, by default this. A deployment may set its own
# (deploy/k8s renders KafkaTopic resources with theirs).
DEFAULT_PARTITIONS: int = ServiceSettings.model_fields["kafka_partitions"].default


def group_id(service: str) -> str:
    """A service's consumer group unless LTC_CONSUMER_GROUP names another (ltc.shared.service):
    its replicas share it and split the partitions among them."""
    return f"ltc-{service}"


@dataclass(frozen=True)
class ConsumerGroup:
    service: str
    topics: tuple[str, ...]
    handles: tuple[str, ...]  # CloudEvents types

    @property
    def group_id(self) -> str:
        return group_id(self.service)


CONSUMER_GROUPS: tuple[ConsumerGroup, ...] = (
    ConsumerGroup("leads", topics=("ltc.opportunities", "ltc.finance"),
                  handles=("ltc.opportunity.created.v1", "ltc.opportunity.won.v1", "ltc.opportunity.lost.v1",
                           "ltc.contract.fully_paid.v1")),
    ConsumerGroup("opportunities", topics=("ltc.leads", "ltc.finance"),
                  handles=("ltc.lead.converted.v1", "ltc.account.credit_changed.v1")),
    ConsumerGroup("contracts", topics=("ltc.opportunities", "ltc.finance"),
                  handles=("ltc.opportunity.won.v1", "ltc.contract.fully_paid.v1", "ltc.invoice.issued.v1",
                           "ltc.invoice.credited.v1")),
    ConsumerGroup("finance", topics=("ltc.contracts", "ltc.opportunities", "ltc.leads", "ltc.finance"),
                  handles=("ltc.contract.signed.v1", "ltc.contract.milestone_accepted.v1", "ltc.contract.amended.v1",
                           "ltc.opportunity.won.v1", "ltc.lead.created.v1", "ltc.account.created.v1",
                           "ltc.account.updated.v1", "ltc.invoice.issued.v1", "ltc.invoice.credited.v1",
                           "ltc.invoice.written_off.v1", "ltc.payment.received.v1", "ltc.payment.applied.v1",
                           "ltc.payment.returned.v1")),
)


def readers_of(topic: str) -> list[ConsumerGroup]:
    return [group for group in CONSUMER_GROUPS if topic in group.topics]
