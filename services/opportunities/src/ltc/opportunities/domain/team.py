"""The iron triangle that works an opportunity: the AR owns it, the SR shapes the solution, the FR
the delivery; every change of who holds a role is kept."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class TeamRole(StrEnum):
    AR = "ar"
    SR = "sr"
    FR = "fr"


@dataclass(frozen=True)
class TeamChange:
    role: TeamRole
    previous: str | None
    assigned: str
    changed_by: str
    changed_at: datetime
