"""The competitors bidding for the same deal, as the team sees them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass


@dataclass(frozen=True)
class Competitor:
    id: uuid.UUID
    name: str
    strengths: str
    weaknesses: str
    likely_offer: str
