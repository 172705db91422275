"""Write the JSON Schema of every event payload to `schemas/` and the AsyncAPI catalogue to
`docs/asyncapi.yaml` (`make schemas`, from a checkout of the repository).

ERP consumers build against these files; a contract test fails when a model changes without
them being regenerated and committed.
"""

from __future__ import annotations

import json
from pathlib import Path

from ltc.shared.devstack.cli import repo_root
from ltc.shared.messages import EVENT_TYPES, EventPayload, asyncapi

SCHEMA_DIR = Path(__file__).parent / "schemas"


def schema_of(ce_type: str, payload: type[EventPayload]) -> dict:
    schema = payload.model_json_schema(mode="serialization")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://ltc.example/schemas/events/{ce_type}.json",
        "x-ce-type": ce_type,
        "x-topic": payload.topic,
        "x-kafka-key": payload.subject_field,
        **schema,
    }


def render(ce_type: str, payload: type[EventPayload]) -> str:
    return json.dumps(schema_of(ce_type, payload), indent=2, sort_keys=True) + "\n"


def main() -> None:
    SCHEMA_DIR.mkdir(exist_ok=True)
    for stale in SCHEMA_DIR.glob("*.json"):
        if stale.stem not in EVENT_TYPES:
            stale.unlink()
    for ce_type, payload in sorted(EVENT_TYPES.items()):
        (SCHEMA_DIR / f"{ce_type}.json").write_text(render(ce_type, payload))
    print(f"wrote {len(EVENT_TYPES)} schemas to {SCHEMA_DIR}")
    root = repo_root()
    (root / "docs").mkdir(exist_ok=True)
    (root / "docs/asyncapi.yaml").write_text(asyncapi.render(root / "tests/contract/samples"))
    print(f"wrote {root / 'docs/asyncapi.yaml'}")


if __name__ == "__main__":
    main()
