"""Event schemas evolve safely: each type's current schema against every earlier released version
of it (`schemas/released/<type>/<n>.json`), both ways, transitively (FULL_TRANSITIVE).

- backward: today's readers read every earlier event (a replay reads from the start): an event
  written under an earlier version is valid under the current schema;
- forward: readers built on any earlier version read what is written now: an event written under
  the current schema is valid under every earlier version.

Events are generated from the writer's schema with hypothesis-jsonschema and validated with
jsonschema against the reader's; the golden samples are fixed examples. A writer writes its
declared fields and no others (our producers serialise their models), so events are generated
from the writer's schema closed (`additionalProperties: false` on every object, generation only),
and read with the reader's schema as published: open, so a reader ignores fields it does not
know. Patterns are read as JSON Schema says (ECMA-262, where `\\d` is an ASCII digit; Python's
`re`, which jsonschema uses, would take any Unicode digit).

A change that cannot keep both directions is a new version of the type, published beside the old
one; the breaks history holds from before this check are listed in KNOWN_BREAKS with the reason.
"""

from __future__ import annotations

import inspect
import json
import re
import types
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, Phase, find, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample
from hypothesis.internal.conjecture import utils as conjecture_utils
from hypothesis_jsonschema import _from_schema, from_schema

from ltc.shared.messages import EVENT_TYPES
from ltc.shared.messages.export import RELEASED_DIR, SCHEMA_DIR, release, released_versions, render

SAMPLES = Path(__file__).parent / "samples"

# Events tried per direction and version pair; the whole file stays well under a minute on two cores.
EXAMPLES = 20

# Breaks committed before this check existed: (type, earlier released version, direction) -> why.
# Each is still detected (test below), so the list cannot outlive the break it excuses.
KNOWN_BREAKS: dict[tuple[str, int, str], str] = {
    ("ltc.contract.signed.v1", 1, "forward"):
        "de9803b added the 'date' trigger to payment_schedule instalments; a reader built on version 1 "
        "(triggers 'signing' and 'milestone') refuses an instalment due on a date",
    ("ltc.contract.amended.v1", 1, "forward"):
        "de9803b added the 'date' trigger to payment_schedule instalments, as in contract.signed",
    ("ltc.contract.drafted.v1", 1, "forward"):
        "d22b463 (published in 46cbcc6) made opportunity_id nullable for direct contracts (origin 'direct'); "
        "a reader built on version 1 requires a UUID there",
}

DIRECTIONS = ("backward", "forward")


# hypothesis-jsonschema 0.23.1 (the latest) drives Hypothesis' private `many` helper through
# more()/reject(); the Hypothesis this workspace runs has it as `with many(...) as e: for _ in e:`.
# The adapter below makes the old calls walk the new helper; it is installed only while the library
# still makes them and Hypothesis no longer offers them.
class _LegacyMany:
    _DONE = object()

    def __init__(self, data: Any, **kwargs: Any) -> None:
        self._many = conjecture_utils.many(data, **kwargs)
        self._many.__enter__()
        self._steps = iter(self._many)

    def more(self) -> bool:
        if next(self._steps, self._DONE) is self._DONE:
            self._many.__exit__(None, None, None)
            return False
        return True

    def reject(self, why: str | None = None) -> None:
        self._many.reject(why)


class _CompatUtils(types.SimpleNamespace):
    many = _LegacyMany

    def __getattr__(self, name: str) -> Any:
        return getattr(conjecture_utils, name)


if not hasattr(conjecture_utils.many, "more") and ".more()" in inspect.getsource(_from_schema):
    _from_schema.cu = _CompatUtils()


# --- the schemas ---------------------------------------------------------------------------------

def current(ce_type: str) -> dict:
    return json.loads(render(ce_type, EVENT_TYPES[ce_type]))


def earlier_releases(ce_type: str) -> list[tuple[int, dict]]:
    now = render(ce_type, EVENT_TYPES[ce_type])
    return [(int(p.stem), json.loads(p.read_text())) for p in released_versions(ce_type) if p.read_text() != now]


PAIRS = [(ce_type, n) for ce_type in sorted(EVENT_TYPES) for n, _ in earlier_releases(ce_type)]


def _walk(node: Any, change) -> Any:
    if isinstance(node, dict):
        return change({key: _walk(value, change) for key, value in node.items()})
    if isinstance(node, list):
        return [_walk(value, change) for value in node]
    return node


def ecma(schema: dict) -> dict:
    """Patterns as ECMA-262 reads them: `\\d` is [0-9]."""
    def change(node: dict) -> dict:
        if isinstance(node.get("pattern"), str):
            node["pattern"] = re.sub(r"(?<!\\)\\d", "[0-9]", node["pattern"])
        return node
    return _walk(schema, change)


def as_written(schema: dict) -> dict:
    """The writer's schema as a producer writes it: no undeclared fields; lists of at most 3 (plenty to
    compare items, and generation stays quick)."""
    def change(node: dict) -> dict:
        if "properties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
        if node.get("type") == "array":
            node["maxItems"] = min(node.get("maxItems", 3), 3)
        return node
    return _walk(ecma(schema), change)


_ANNOTATIONS = {"title", "description", "default", "examples", "$comment", "$id", "$schema", "deprecated",
                "readOnly", "writeOnly", "$defs"}


def meaning(schema: dict) -> Any:
    """What a schema accepts, as a value: references inlined, annotations dropped, unordered lists sorted.
    Two schemas with the same meaning accept exactly the same events."""
    schema = ecma(schema)
    defs = schema.get("$defs", {})

    def walk(node: Any, seen: tuple[str, ...]) -> Any:
        if isinstance(node, list):
            return [walk(value, seen) for value in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            ref = node["$ref"]
            if ref in seen or not ref.startswith("#/$defs/"):
                return {"$ref": ref}  # recursive or foreign: compared as written
            return walk({**defs[ref.removeprefix("#/$defs/")], **{k: v for k, v in node.items() if k != "$ref"}},
                        (*seen, ref))
        out = {}
        for key, value in node.items():
            if key in _ANNOTATIONS or key.startswith("x-"):
                continue
            if key == "properties":
                out[key] = {name: walk(sub, seen) for name, sub in value.items()}
            elif key in ("required", "enum"):
                out[key] = sorted(value, key=json.dumps)
            else:
                out[key] = walk(value, seen)
        return out

    return walk(schema, ())


def reader(schema: dict) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(ecma(schema), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


_SETTINGS = settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
                     phases=[Phase.generate], suppress_health_check=list(HealthCheck))


def unreadable_event(writer: dict, read_with: dict) -> dict | None:
    """An event the writer's schema allows and the reader's refuses, or None if none was found."""
    if meaning(writer) == meaning(read_with):
        return None  # they accept the same events
    validator = reader(read_with)
    events = from_schema(as_written(writer), custom_formats={"uuid": st.uuids().map(str)})
    try:
        return find(events, lambda event: not validator.is_valid(event), settings=_SETTINGS)
    except NoSuchExample:
        return None


def direction(old: dict, new: dict, which: str) -> tuple[dict, dict]:
    """(writer, reader) of a direction: backward, the new schema reads old events; forward, the reverse."""
    return (old, new) if which == "backward" else (new, old)


def explain(event: dict, read_with: dict) -> str:
    errors = "; ".join(f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message[:200]}"
                       for e in reader(read_with).iter_errors(event))
    return f"{errors}\nevent: {json.dumps(event, ensure_ascii=False)[:1500]}"


# --- what is released ----------------------------------------------------------------------------

def test_every_type_is_released_and_its_latest_release_is_the_committed_schema():
    for ce_type in EVENT_TYPES:
        versions = released_versions(ce_type)
        assert [int(p.stem) for p in versions] == list(range(1, len(versions) + 1)), ce_type
        assert versions, f"{ce_type} is not released: run `make schemas`"
        assert versions[-1].read_text() == (SCHEMA_DIR / f"{ce_type}.json").read_text(), (
            f"{ce_type}: the committed schema is not its latest release: run `make schemas` and commit the result")


def test_released_schemas_are_json_schemas_that_let_readers_ignore_unknown_fields():
    closed = []
    for path in sorted(RELEASED_DIR.glob("*/*.json")):
        schema = json.loads(path.read_text())
        jsonschema.Draft202012Validator.check_schema(schema)

        def find_closed(node: dict, path=path) -> dict:
            if node.get("additionalProperties") is False or node.get("unevaluatedProperties") is False:
                closed.append(str(path.relative_to(RELEASED_DIR)))
            return node
        _walk(schema, find_closed)
    assert not closed, f"a closed object makes every added field a break for older readers: {closed}"


def test_release_appends_a_changed_schema_and_never_rewrites_one(tmp_path):
    assert release("ltc.x.y.v1", "{}\n", tmp_path).name == "1.json"
    assert release("ltc.x.y.v1", "{}\n", tmp_path) is None  # unchanged: nothing new
    assert release("ltc.x.y.v1", '{"type": "object"}\n', tmp_path).name == "2.json"
    assert release("ltc.x.y.v1", "{}\n", tmp_path).name == "3.json"  # back to the first: still a new release
    assert (tmp_path / "ltc.x.y.v1/1.json").read_text() == "{}\n"
    assert [p.name for p in released_versions("ltc.x.y.v1", tmp_path)] == ["1.json", "2.json", "3.json"]


def test_known_breaks_name_released_versions():
    for ce_type, version, which in KNOWN_BREAKS:
        assert which in DIRECTIONS and (ce_type, version) in PAIRS, (ce_type, version, which)


# --- compatibility, both ways, with every earlier release --------------------------------------------

@pytest.mark.parametrize("which", DIRECTIONS)
@pytest.mark.parametrize(("ce_type", "version"), PAIRS, ids=[f"{t}@{n}" for t, n in PAIRS])
def test_the_current_schema_is_compatible_with_every_earlier_release(ce_type, version, which):
    old = dict(earlier_releases(ce_type))[version]
    writer, read_with = direction(old, current(ce_type), which)
    event = unreadable_event(writer, read_with)
    known = KNOWN_BREAKS.get((ce_type, version, which))
    if known:
        assert event is not None, f"listed as a known break but compatible now; drop it from KNOWN_BREAKS: {known}"
        return
    if event is not None:
        who = (f"today's readers cannot read an event written under released version {version} of {ce_type}"
               if which == "backward" else
               f"readers built on released version {version} of {ce_type} cannot read an event written now")
        pytest.fail(f"{who}: publish the change as a new type version instead\n{explain(event, read_with)}")


@pytest.mark.parametrize(("ce_type", "version"), PAIRS, ids=[f"{t}@{n}" for t, n in PAIRS])
def test_every_earlier_release_reads_todays_golden_sample(ce_type, version):
    old = dict(earlier_releases(ce_type))[version]
    sample = json.loads((SAMPLES / f"{ce_type}.json").read_text())
    if not reader(old).is_valid(sample):
        assert (ce_type, version, "forward") in KNOWN_BREAKS, explain(sample, old)


# --- the check can fail -------------------------------------------------------------------------------

def _add_required_field(schema: dict) -> dict:
    return {**schema, "properties": {**schema["properties"], "approved_by": {"type": "string"}},
            "required": [*schema["required"], "approved_by"]}


def _remove_field(schema: dict) -> dict:
    properties = {k: v for k, v in schema["properties"].items() if k != "reason"}
    return {**schema, "properties": properties, "required": [r for r in schema["required"] if r != "reason"]}


def _priority_enum(values: list[str]):
    def change(schema: dict) -> dict:
        priority = schema["properties"]["priority"]
        assert set(values) != set(priority["enum"])
        return {**schema, "properties": {**schema["properties"], "priority": {**priority, "enum": values}}}
    return change


def _retype_title(schema: dict) -> dict:
    return {**schema, "properties": {**schema["properties"], "title": {"type": "integer"}}}


def _optional_field(schema: dict) -> dict:
    return {**schema, "properties": {**schema["properties"], "note": {"anyOf": [{"type": "string"}, {"type": "null"}],
                                                                      "default": None}}}


VARIANTS = {
    # name: (type, change, directions it breaks)
    "a new required field": ("ltc.lead.graded.v1", _add_required_field, {"backward"}),
    "a field removed": ("ltc.lead.disqualified.v1", _remove_field, {"forward"}),
    "an enum narrowed": ("ltc.requirement.raised.v1", lambda s: _priority_enum(
        s["properties"]["priority"]["enum"][:-1])(s), {"backward"}),
    "an enum widened": ("ltc.requirement.raised.v1", lambda s: _priority_enum(
        [*s["properties"]["priority"]["enum"], "urgent"])(s), {"forward"}),
    "a field retyped": ("ltc.requirement.raised.v1", _retype_title, {"backward", "forward"}),
    "an optional field added": ("ltc.lead.disqualified.v1", _optional_field, set()),
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_the_check_finds_an_incompatible_change(variant):
    ce_type, change, breaks = VARIANTS[variant]
    old = current(ce_type)
    new = change(old)
    found = {which for which in DIRECTIONS if unreadable_event(*direction(old, new, which)) is not None}
    assert found == breaks, variant
