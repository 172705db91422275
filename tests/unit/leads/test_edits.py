"""Field-by-field edits: what changed, for the audit, and which fields may not be blanked."""

from types import SimpleNamespace

import pytest

from ltc.leads.domain.edits import apply_changes, require_values
from ltc.shared.errors import RuleViolation


def test_only_real_changes_are_applied_and_reported():
    target = SimpleNamespace(name="a", region=None)
    assert apply_changes(target, {"name": "a", "region": "EMEA"}) == {"region": {"from": None, "to": "EMEA"}}
    assert target.region == "EMEA"


def test_required_fields_cannot_be_blanked():
    require_values({"name": "x", "notes": None}, "name")
    with pytest.raises(RuleViolation) as failure:
        require_values({"name": "  ", "tier": None}, "name", "tier")
    assert [e["field"] for e in failure.value.errors] == ["name", "tier"]
