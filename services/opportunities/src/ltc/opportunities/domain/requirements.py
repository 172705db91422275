"""Customer needs we cannot meet today, handed to product development."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Priority(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


@dataclass(frozen=True)
class Requirement:
    """A customer need we cannot meet today, handed to product development."""

    id: uuid.UUID
    title: str
    description: str
    priority: Priority
    raised_by: str
    raised_at: datetime
