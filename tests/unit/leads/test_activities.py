"""An activity's life on the plain object: planned, then done or cancelled."""

import uuid
from datetime import timedelta

import pytest

from ltc.leads.domain.activities import Activity, ActivityKind, ActivityStatus
from ltc.shared.errors import DomainError, RuleViolation
from tests.unit.leads.samples import ACCOUNT, NOW, TODAY


def test_activity_outcome_rules():
    activity = Activity(id=uuid.uuid4(), kind=ActivityKind.EXECUTIVE_VISIT, account_id=ACCOUNT.id, lead_id=None,
                        contact_ids=[], subject="CEO visit", planned_on=TODAY, plan={"objectives": ["trust"]},
                        created_by="ar-1", now=NOW)
    with pytest.raises(RuleViolation) as failure:
        activity.record_outcome({}, occurred_on=TODAY + timedelta(days=1), next_step_on=TODAY, now=NOW)
    assert {e["field"] for e in failure.value.errors} == {"occurred_on", "next_step_on"}
    activity.record_outcome({"spin": {"situation": "growing"}}, occurred_on=TODAY, next_step_on=None, now=NOW)
    assert activity.status is ActivityStatus.DONE and activity.occurred_on == TODAY
    with pytest.raises(DomainError) as closed:
        activity.replan(subject="x", planned_on=None, plan=None, contact_ids=None, now=NOW)
    assert closed.value.rule == "activity-closed"
