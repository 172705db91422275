"""Who may change a lead, an account or an activity: decided from the token and the object only."""

import uuid
from datetime import UTC, datetime

import pytest

from ltc.leads.adapters import queries
from ltc.leads.domain.accounts import Account, Tier
from ltc.leads.domain.activities import Activity, ActivityKind
from ltc.leads.domain.model import Channel, Lead
from ltc.shared.roles import Principal

NOW = datetime(2026, 11, 1, tzinfo=UTC)
ACCOUNT = Account(id=uuid.uuid4(), name="ACME", industry=None, owner="ar-1", created_at=NOW)


def _who(sub: str, *roles: str) -> Principal:
    return Principal(sub=sub, roles=frozenset(roles))


def _lead(owner: str | None) -> Lead:
    return Lead(id=uuid.uuid4(), account_id=ACCOUNT.id, title="t", need="n", channel=Channel.TENDER, tier=Tier.NORMAL,
                owner=owner, now=NOW)


@pytest.mark.parametrize(("principal", "owner", "allowed"), [
    (_who("ar-1", "ar"), "ar-1", True),
    (_who("ar-2", "ar"), "ar-1", False),
    (_who("ar-2", "ar"), None, True),
    (_who("admin", "admin"), "ar-1", True),
    (_who("sr-1", "sr"), None, False),
    (_who("ar-1", "fr"), "ar-1", False),  # owning the lead is not enough without the role
    (_who("erp", "integration"), "ar-1", False),
])
def test_who_may_change_a_lead(principal, owner, allowed):
    assert queries.may_change_lead(principal, _lead(owner)) is allowed


def test_only_the_owner_or_an_admin_changes_an_account():
    assert queries.may_change_account(_who("ar-1", "ar"), ACCOUNT)
    assert queries.may_change_account(_who("root", "admin"), ACCOUNT)
    assert not queries.may_change_account(_who("ar-2", "ar"), ACCOUNT)


@pytest.mark.parametrize(("principal", "allowed"), [
    (_who("sr-1", "sr"), True),  # whoever planned it
    (_who("fr-1", "fr"), False),
    (_who("ar-1", "ar"), False),  # owning the account is not planning the activity
    (_who("root", "admin"), True),
])
def test_only_the_author_or_an_admin_changes_an_activity(principal, allowed):
    activity = Activity(id=uuid.uuid4(), kind=ActivityKind.SUMMIT, account_id=ACCOUNT.id, lead_id=None, contact_ids=[],
                        subject="s", planned_on=None, plan=None, created_by="sr-1", now=NOW)
    assert queries.may_change_activity(principal, activity) is allowed
