"""The AsyncAPI 3.0 catalogue of every topic and event type, generated from the payload models.

ERP and finance integrators read `docs/asyncapi.yaml`; `make schemas` rewrites it and a contract
test fails when the committed document no longer matches the models. Each message's payload is
its published JSON Schema by reference (`shared/src/ltc/shared/messages/schemas/<type>.json`, the
file consumers generate code from), not a copy. The Kafka bindings (0.5.0) say what the broker
side looks like: the record key of each message (its payload's `subject_field`, by reference to
that property), the partitions of each topic, and the consumer group of every service reading a
channel (from `topology`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from ltc.shared.messages import EVENT_TYPES, TOPICS, dlq_topic
from ltc.shared.messages.topology import DEFAULT_PARTITIONS, PRODUCERS, readers_of

# Where the schemas are seen from docs/asyncapi.yaml: references are relative to the document.
SCHEMA_REF_BASE = "../shared/src/ltc/shared/messages/schemas/"
KAFKA_BINDING_VERSION = "0.5.0"
# The JSON Schema dialect the schema files declare (their `$schema`).
SCHEMA_FORMAT = "application/schema+json;version=draft-2020-12"

_CLOUDEVENTS_HEADERS = {
    "type": "object",
    "required": ["ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "ce_subject", "content-type"],
    "properties": {
        "ce_specversion": {"type": "string", "const": "1.0"},
        "ce_id": {"type": "string", "description": "unique per event; consumers deduplicate on it"},
        "ce_source": {"type": "string", "description": "the producing service"},
        "ce_type": {"type": "string", "description": "e.g. ltc.lead.converted.v1"},
        "ce_time": {"type": "string", "format": "date-time"},
        "ce_subject": {"type": "string", "description": "the aggregate id, also the Kafka key"},
        "content-type": {"type": "string", "const": "application/json"},
        "ce_correlationid": {"type": "string", "description": "follows one business flow across services"},
        "ce_traceparent": {"type": "string", "description": "W3C trace context of the producing span"},
    },
}


def _message_name(ce_type: str) -> str:
    return ce_type.removeprefix("ltc.").replace(".", "_")


def schema_ref(ce_type: str, pointer: str = "") -> str:
    return f"{SCHEMA_REF_BASE}{ce_type}.json" + (f"#{pointer}" if pointer else "")


def _channel_bindings(topic: str) -> dict[str, Any]:
    return {"kafka": {"topic": topic, "partitions": DEFAULT_PARTITIONS, "bindingVersion": KAFKA_BINDING_VERSION}}


def build(example_dir: Path) -> dict[str, Any]:
    """The document; each message's example is its golden sample from `example_dir`."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for ce_type, payload in sorted(EVENT_TYPES.items()):
        name = _message_name(ce_type)
        message: dict[str, Any] = {
            "name": ce_type,
            "title": payload.__name__,
            "summary": (payload.__doc__ or ce_type).strip().splitlines()[0],
            "description": f"Kafka key and `ce_subject`: the payload's `{payload.subject_field}`, so the events of "
                           "one aggregate stay in order on one partition.",
            "contentType": "application/json",
            "headers": {"$ref": "#/components/schemas/CloudEventsHeaders"},
            "payload": {"schemaFormat": SCHEMA_FORMAT, "schema": {"$ref": schema_ref(ce_type)}},
            "bindings": {"kafka": {
                "key": {"$ref": schema_ref(ce_type, f"/properties/{payload.subject_field}")},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }},
        }
        example = example_dir / f"{ce_type}.json"
        if example.exists():
            message["examples"] = [{"name": "golden-sample", "payload": json.loads(example.read_text())}]
        messages[name] = message
    for topic in TOPICS:
        on_topic = sorted(_message_name(t) for t, p in EVENT_TYPES.items() if p.topic == topic)
        channel_id = topic.replace(".", "_")
        readers = readers_of(topic)
        channels[channel_id] = {
            "address": topic,
            "description": f"Events of the {PRODUCERS[topic]} service, keyed by aggregate id (ordered per aggregate). "
                           f"{DEFAULT_PARTITIONS} partitions unless LTC_KAFKA_PARTITIONS says otherwise; read by "
                           + (", ".join(f"`{g.group_id}`" for g in readers) or "no service") + ".",
            "messages": {m: {"$ref": f"#/components/messages/{m}"} for m in on_topic},
            "bindings": _channel_bindings(topic),
        }
        operations[f"publish_{channel_id}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "summary": f"{PRODUCERS[topic]} publishes through its transactional outbox (idempotent producer, acks=all)",
            "messages": [{"$ref": f"#/channels/{channel_id}/messages/{m}"} for m in on_topic],
        }
        for group in readers:
            handled = sorted(_message_name(t) for t in group.handles if EVENT_TYPES[t].topic == topic)
            operations[f"consume_{channel_id}_by_{group.service}"] = {
                "action": "receive",
                "channel": {"$ref": f"#/channels/{channel_id}"},
                "summary": f"{group.service} reads {topic} in consumer group {group.group_id} (LTC_CONSUMER_GROUP "
                           "overrides it; its replicas share the group and split the partitions); it acts on "
                           "the messages listed and skips the others.",
                "messages": [{"$ref": f"#/channels/{channel_id}/messages/{m}"} for m in handled],
                "bindings": {"kafka": {"groupId": {"type": "string", "enum": [group.group_id]},
                                       "bindingVersion": KAFKA_BINDING_VERSION}},
            }
        channels[f"{channel_id}_dlq"] = {
            "address": dlq_topic(topic),
            "description": f"Records from {topic} that a consumer could never process: the original record with "
                           "dlq_reason, dlq_detail, dlq_consumer and dlq_original_topic/partition/offset headers.",
            "bindings": _channel_bindings(dlq_topic(topic)),
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Lead to Cash events",
            "version": "1.0.0",
            "description": "Every hand-over between the leads, opportunities, contracts and finance services. "
                           "CloudEvents 1.0 in Kafka binary mode; every payload carries `lineage` (lead_id, "
                           "opportunity_id, contract_id as known). Each type's schema stays compatible both ways "
                           "with every version of it published before (FULL_TRANSITIVE; unknown fields are "
                           "ignored); a change that cannot is a new type version published beside the old.",
        },
        "defaultContentType": "application/json",
        "servers": {"local": {"host": "127.0.0.1:59092", "protocol": "kafka",
                              "description": "the broker `make run` starts"}},
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": {"CloudEventsHeaders": _CLOUDEVENTS_HEADERS}},
    }


def render(example_dir: Path) -> str:
    return yaml.safe_dump(build(example_dir), sort_keys=False, allow_unicode=True, width=120)
