"""Event contracts: the committed JSON Schemas are what the code produces, and each event type's
golden sample is accepted by both the producer's model and the published schema."""

import importlib
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest
import yaml
from pydantic import ValidationError

from ltc.shared.messages import EVENT_TYPES, TOPICS, asyncapi, topology
from ltc.shared.messages.envelope import Envelope
from ltc.shared.messages.export import SCHEMA_DIR, render

SAMPLES = Path(__file__).parent / "samples"


def test_every_event_type_has_a_committed_schema_and_a_sample():
    assert sorted(p.stem for p in SCHEMA_DIR.glob("*.json")) == sorted(EVENT_TYPES)
    assert sorted(p.stem for p in SAMPLES.glob("*.json")) == sorted(EVENT_TYPES)


def test_event_types_are_named_and_versioned():
    for ce_type, payload in EVENT_TYPES.items():
        assert re.fullmatch(r"ltc\.[a-z]+(?:_[a-z]+)*\.[a-z]+(?:_[a-z]+)*\.v[1-9][0-9]*", ce_type), ce_type
        assert payload.topic in TOPICS and payload.subject_field in payload.model_fields


@pytest.mark.parametrize("ce_type", sorted(EVENT_TYPES))
def test_committed_schema_matches_the_model(ce_type):
    committed = (SCHEMA_DIR / f"{ce_type}.json").read_text()
    assert committed == render(ce_type, EVENT_TYPES[ce_type]), "run `make schemas` and commit the result"


@pytest.mark.parametrize("ce_type", sorted(EVENT_TYPES))
def test_golden_sample_is_valid_on_both_sides(ce_type):
    sample = json.loads((SAMPLES / f"{ce_type}.json").read_text())
    schema = json.loads((SCHEMA_DIR / f"{ce_type}.json").read_text())
    jsonschema.validate(sample, schema)  # what an ERP consumer checks
    parsed = EVENT_TYPES[ce_type].model_validate(sample)  # what our consumers read
    assert parsed.model_dump(mode="json") == sample  # and what our producers write


def test_payloads_only_grow_consumers_ignore_added_fields():
    sample = json.loads((SAMPLES / "ltc.lead.converted.v1.json").read_text())
    EVENT_TYPES["ltc.lead.converted.v1"].model_validate({**sample, "added_in_a_later_version": 1})


def test_money_never_travels_as_a_float():
    sample = json.loads((SAMPLES / "ltc.invoice.issued.v1.json").read_text())
    sample["amount"]["amount"] = 300000.1
    with pytest.raises(ValidationError) as refused:
        EVENT_TYPES["ltc.invoice.issued.v1"].model_validate(sample)
    assert [e["loc"] for e in refused.value.errors()] == [("amount", "amount")]


def test_envelope_uses_cloudevents_binary_headers_and_round_trips():
    envelope = Envelope(id="e-1", type="ltc.lead.converted.v1", source="leads", subject="lead-1",
                        time=datetime(2026, 11, 2, 9, 30, tzinfo=UTC), data={"x": "1"},
                        correlation_id="corr-1", traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
    key, value, headers = envelope.to_kafka()
    names = dict(headers)
    assert key == b"lead-1" and json.loads(value) == {"x": "1"}
    for header in ("ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "ce_subject",
                   "ce_correlationid", "ce_traceparent"):
        assert header in names
    assert names["content-type"] == b"application/json" and names["ce_specversion"] == b"1.0"
    back = Envelope.from_kafka(key, value, headers)
    assert (back.id, back.type, back.subject, back.correlation_id, back.traceparent, back.data) == (
        "e-1", "ltc.lead.converted.v1", "lead-1", "corr-1", envelope.traceparent, {"x": "1"})


def test_the_committed_asyncapi_catalogue_is_current_and_every_reference_resolves():
    docs = Path(__file__).parents[2] / "docs"
    committed = (docs / "asyncapi.yaml").read_text()
    assert committed == asyncapi.render(SAMPLES), "run `make schemas` and commit docs/asyncapi.yaml"
    document = yaml.safe_load(committed)
    assert document["asyncapi"] == "3.0.0"

    def resolve(ref: str) -> object:
        location, _, pointer = ref.partition("#")
        # A file reference is relative to the document; a missing file is a dangling reference.
        node: object = json.loads((docs / location).read_text()) if location else document
        for part in filter(None, pointer.split("/")):
            node = node[part]  # a KeyError is a dangling reference
        return node

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if "$ref" in node:
                resolve(node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)
    messages = document["components"]["messages"]
    assert sorted(m["name"] for m in messages.values()) == sorted(EVENT_TYPES)
    assert all(m["examples"][0]["payload"] for m in messages.values())
    for message in messages.values():
        payload = EVENT_TYPES[message["name"]]
        # The payload is the published schema file itself, and the key the payload's subject field.
        assert resolve(message["payload"]["schema"]["$ref"]) == json.loads(
            (SCHEMA_DIR / f"{message['name']}.json").read_text())
        assert message["bindings"]["kafka"]["key"]["$ref"].endswith(f"#/properties/{payload.subject_field}")
    for channel in document["channels"].values():
        assert channel["bindings"]["kafka"]["partitions"] == topology.DEFAULT_PARTITIONS
        assert channel["bindings"]["kafka"]["topic"] == channel["address"]


def test_every_consumer_group_reads_what_the_services_subscribe_to():
    """The shared library imports no service, so topology lists their subscriptions: here they are held
    to the services' own."""
    assert sorted(topology.PRODUCERS) == sorted(TOPICS)
    groups = {group.service: group for group in topology.CONSUMER_GROUPS}
    for service in sorted(set(topology.PRODUCERS.values())):
        subscription = importlib.import_module(f"ltc.{service}.bootstrap").SPEC.subscription
        if subscription is None:
            assert service not in groups, service
            continue
        group = groups[service]
        assert group.topics == subscription.topics, service
        assert sorted(group.handles) == sorted(subscription.handlers), service
        assert all(EVENT_TYPES[t].topic in group.topics for t in group.handles), service
    assert set(groups) <= set(topology.PRODUCERS.values())
