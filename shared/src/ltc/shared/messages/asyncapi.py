"""The AsyncAPI 3.0 catalogue of every topic and event type, generated from the payload models.

ERP and finance integrators read `docs/asyncapi.yaml`; `make schemas` rewrites it and a contract
test fails when the committed document no longer matches the models.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from ltc.shared.messages import EVENT_TYPES, TOPICS, dlq_topic

_PRODUCERS = {"ltc.leads": "leads", "ltc.opportunities": "opportunities", "ltc.contracts": "contracts",
              "ltc.finance": "finance"}

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


def build(example_dir: Path) -> dict[str, Any]:
    """The document; each message's example is its golden sample from `example_dir`."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for ce_type, payload in sorted(EVENT_TYPES.items()):
        name = _message_name(ce_type)
        schema = payload.model_json_schema(mode="serialization", ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[name] = schema
        message: dict[str, Any] = {
            "name": ce_type,
            "title": payload.__name__,
            "summary": (payload.__doc__ or ce_type).strip().splitlines()[0],
            "contentType": "application/json",
            "headers": {"$ref": "#/components/schemas/CloudEventsHeaders"},
            "payload": {"$ref": f"#/components/schemas/{name}"},
            "bindings": {"kafka": {"key": {"type": "string", "description": f"the {payload.subject_field}"}}},
        }
        example = example_dir / f"{ce_type}.json"
        if example.exists():
            message["examples"] = [{"name": "golden-sample", "payload": json.loads(example.read_text())}]
        messages[name] = message
    schemas["CloudEventsHeaders"] = _CLOUDEVENTS_HEADERS
    for topic in TOPICS:
        on_topic = sorted(_message_name(t) for t, p in EVENT_TYPES.items() if p.topic == topic)
        channel_id = topic.replace(".", "_")
        channels[channel_id] = {
            "address": topic,
            "description": f"Events of the {_PRODUCERS[topic]} service, keyed by aggregate id (ordered per aggregate).",
            "messages": {m: {"$ref": f"#/components/messages/{m}"} for m in on_topic},
        }
        operations[f"publish_{channel_id}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "summary": f"{_PRODUCERS[topic]} publishes through its transactional outbox (idempotent producer, acks=all)",
            "messages": [{"$ref": f"#/channels/{channel_id}/messages/{m}"} for m in on_topic],
        }
        channels[f"{channel_id}_dlq"] = {
            "address": dlq_topic(topic),
            "description": f"Records from {topic} that a consumer could never process: the original record with "
                           "dlq_reason, dlq_detail, dlq_consumer and dlq_original_topic/partition/offset headers.",
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Lead to Cash events",
            "version": "1.0.0",
            "description": "Every hand-over between the leads, opportunities, contracts and finance services. "
                           "CloudEvents 1.0 in Kafka binary mode; payloads only ever gain fields; every payload "
                           "carries `lineage` (lead_id, opportunity_id, contract_id as known).",
        },
        "defaultContentType": "application/json",
        "servers": {"local": {"host": "127.0.0.1:59092", "protocol": "kafka",
                              "description": "the broker `make run` starts"}},
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }


def render(example_dir: Path) -> str:
    return yaml.safe_dump(build(example_dir), sort_keys=False, allow_unicode=True, width=120)
