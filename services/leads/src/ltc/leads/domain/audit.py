"""The audit trail: who changed what, when — readable as a lead's (or account's) history."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from ltc.shared.audit import audit_details


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
        self.changes = audit_details(changes or {})
