"""Duplicate leads: the same account with an open lead for what reads as the same need."""

from __future__ import annotations

from dataclasses import dataclass
from difflib import SequenceMatcher

from ltc.leads.domain.model import Lead

# Measured on normalised text (case, spacing): "Core network upgrade" and "core-network upgrade"
# match; "Core upgrade" and "Billing migration" do not.
SIMILAR = 0.8


@dataclass(frozen=True)
class Candidate:
    lead_id: str
    title: str
    similarity: float


def _normal(text: str) -> str:
    return " ".join("".join(ch if ch.isalnum() else " " for ch in text.casefold()).split())


def _similarity(a: str, b: str) -> float:
    a, b = _normal(a), _normal(b)
    if not a or not b:
        return 0.0
    return SequenceMatcher(None, a, b).ratio()


def duplicate_candidates(*, title: str, need: str, open_leads: list[Lead]) -> list[Candidate]:
    """Open leads of the same account whose title or need is at least SIMILAR to the new one's."""
    found = []
    for lead in open_leads:
        if not lead.is_open:
            continue
        score = max(_similarity(title, lead.title), _similarity(need, lead.need))
        if score >= SIMILAR:
            found.append(Candidate(str(lead.id), lead.title, round(score, 2)))
    return sorted(found, key=lambda c: -c.similarity)
