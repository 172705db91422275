"""The audit trail: who changed what, when — readable as a lead's (or account's) history."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any


def _plain(value: Any) -> Any:
    """JSON-ready: the audit keeps values as they were, not live objects."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (uuid.UUID, Decimal)):
        return str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


class AuditEntry:
    def __init__(self, *, entity: str, entity_id: uuid.UUID, action: str, actor: str, at: datetime,
                 changes: dict[str, Any] | None = None, lead_id: uuid.UUID | None = None,
                 account_id: uuid.UUID | None = None) -> None:
        self.id = uuid.uuid4()
        self.entity = entity
        self.entity_id = entity_id
        self.lead_id = lead_id
        self.account_id = account_id
        self.action = action
        self.actor = actor
        self.at = at
        self.changes = _plain(changes or {})
