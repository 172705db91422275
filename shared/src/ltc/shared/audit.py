"""The audit trail every service keeps: who changed what object, when, how, under which request.

One entry shape, one table (`ltc.shared.db.audit_trail`) and one way to write it
(`UnitOfWork.audit(AuditEntry(...))`, committed in the same transaction as the change and its
events) in all four services, so an auditor reads leads, opportunities, contracts and receivables
the same way. An entry is filed under the object it is
about and under the aggregates whose history shows it (a contact under its account, an activity
under its lead and account).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic_core import to_jsonable_python


@dataclass(frozen=True)
class AuditEntry:
    """One change as the audit trail keeps it."""

    at: datetime
    actor: str
    action: str
    object_type: str
    object_id: uuid.UUID
    changes: Any = None
    filed_under: tuple[uuid.UUID, ...] = ()
    id: uuid.UUID = field(default_factory=uuid.uuid4)

    def row(self, correlation_id: str | None) -> dict[str, Any]:
        return {"id": self.id, "at": self.at, "actor": self.actor, "action": self.action,
                "object_type": self.object_type, "object_id": self.object_id,
                "filed_under": [i for i in dict.fromkeys(self.filed_under) if i is not None and i != self.object_id],
                "changes": audit_details(self.changes if self.changes is not None else {}),
                "correlation_id": correlation_id}


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
