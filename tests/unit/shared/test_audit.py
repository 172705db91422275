"""Audit details are stored as plain JSON, frozen as they were."""

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum

from ltc.shared.audit import audit_details


class Grade(StrEnum):
    CREDIBLE = "credible"


@dataclass(frozen=True)
class Stakeholder:
    name: str
    influence: int


class Milestone:
    def to_json(self) -> dict:
        return {"name": "PAC"}


def test_values_become_plain_json():
    ident = uuid.uuid4()
    details = audit_details({
        "grade": Grade.CREDIBLE, "id": ident, "amount": Decimal("1200000.50"), "on": date(2027, 1, 15),
        "at": datetime(2026, 11, 27, 9, 30, tzinfo=UTC), "who": Stakeholder("Li", 5), "steps": (Milestone(),),
        "other": object,
    })
    assert details["grade"] == "credible" and details["id"] == str(ident)
    assert details["amount"] == "1200000.50" and details["on"] == "2027-01-15"
    assert details["at"].startswith("2026-11-27T09:30:00")
    assert details["who"] == {"name": "Li", "influence": 5} and details["steps"] == [{"name": "PAC"}]
    assert isinstance(details["other"], str)
    json.dumps(details)  # storable as JSONB as it is
