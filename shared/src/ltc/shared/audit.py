"""What an audit trail stores: a change's content as plain JSON, frozen as it was."""

from __future__ import annotations

from typing import Any

from pydantic_core import to_jsonable_python


def audit_details(value: Any) -> Any:
    """JSON-ready copy of `value`: objects that know their JSON form (`to_json()`) give it;
    enums, ids, decimals, dates, dataclasses and pydantic models are converted by pydantic;
    anything else is kept as its string."""
    if hasattr(value, "to_json"):
        return value.to_json()
    if isinstance(value, dict):
        return {str(key): audit_details(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [audit_details(item) for item in value]
    return to_jsonable_python(value, fallback=str)
