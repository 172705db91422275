"""Write the JSON Schema of every event payload to `schemas/`, release it to `schemas/released/`,
and write the AsyncAPI catalogue to `docs/asyncapi.yaml` (`make schemas`, from a checkout of the
repository).

ERP consumers build against these files; a contract test fails when a model changes without
them being regenerated and committed.

Releasing. `schemas/released/<ce type>/<n>.json` holds every published version of a type's
schema, numbered 1, 2, ... in the order they were published (the history before this directory
existed was taken from the schema files as committed on main, each distinct committed version
one release). A run appends the current schema as the next number when it differs from the
latest released one, and never rewrites or removes a released file: what was published stays
what it was, and the next commit on main publishes it. `tests/contract/test_schema_evolution.py`
then holds the current schema of each type to every earlier release of it, both ways
(FULL_TRANSITIVE): today's readers read every event written under an earlier version (a replay
reads from the start), and readers built on any earlier version read what is written now. So a
payload may gain optional fields and nothing else; a field made required, removed, retyped or an
enum narrowed or widened is a new version of the type (`ltc.<x>.v2`), published beside the old
one for an overlap in which producers write both. Schemas stay open (no `additionalProperties:
false`): a reader ignores the fields it does not know, which is what lets a payload grow.
"""

from __future__ import annotations

import json
from pathlib import Path

from ltc.shared.devstack.cli import repo_root
from ltc.shared.messages import EVENT_TYPES, EventPayload, asyncapi

SCHEMA_DIR = Path(__file__).parent / "schemas"
RELEASED_DIR = SCHEMA_DIR / "released"


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


def released_versions(ce_type: str, released_dir: Path = RELEASED_DIR) -> list[Path]:
    """The released schemas of a type, oldest first."""
    return sorted((released_dir / ce_type).glob("*.json"), key=lambda p: int(p.stem))


def release(ce_type: str, text: str, released_dir: Path = RELEASED_DIR) -> Path | None:
    """Append `text` as the type's next released version unless it is the latest one already."""
    versions = released_versions(ce_type, released_dir)
    if versions and versions[-1].read_text() == text:
        return None
    target = released_dir / ce_type / f"{int(versions[-1].stem) + 1 if versions else 1}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("x") as file:  # "x": a released file is never overwritten
        file.write(text)
    return target


def main() -> None:
    SCHEMA_DIR.mkdir(exist_ok=True)
    for stale in SCHEMA_DIR.glob("*.json"):
        if stale.stem not in EVENT_TYPES:
            stale.unlink()  # its releases stay in released/
    released = []
    for ce_type, payload in sorted(EVENT_TYPES.items()):
        text = render(ce_type, payload)
        (SCHEMA_DIR / f"{ce_type}.json").write_text(text)
        if (path := release(ce_type, text)) is not None:
            released.append(path)
    print(f"wrote {len(EVENT_TYPES)} schemas to {SCHEMA_DIR}")
    for path in released:
        print(f"released {path.parent.name} version {path.stem}")
    root = repo_root()
    (root / "docs").mkdir(exist_ok=True)
    (root / "docs/asyncapi.yaml").write_text(asyncapi.render(root / "tests/contract/samples"))
    print(f"wrote {root / 'docs/asyncapi.yaml'}")


if __name__ == "__main__":
    main()
