"""Who may change a lead or an account, and who owns what is captured: decided from the token only."""

import uuid
from datetime import UTC, datetime

import pytest

from ltc.leads import handlers
from ltc.leads.domain.accounts import Account, Tier
from ltc.leads.domain.model import Channel, Lead
from ltc.shared.auth import Principal
from ltc.shared.errors import Forbidden, status_of

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
    assert handlers.may_change_lead(principal, _lead(owner)) is allowed


def test_only_the_owner_or_an_admin_changes_an_account():
    assert handlers.may_change_account(_who("ar-1", "ar"), ACCOUNT)
    assert handlers.may_change_account(_who("root", "admin"), ACCOUNT)
    assert not handlers.may_change_account(_who("ar-2", "ar"), ACCOUNT)


def _capture(**changes) -> handlers.CaptureLead:
    return handlers.CaptureLead(uuid.uuid4(), ACCOUNT.id, "t", "n", Channel.TENDER, Tier.NORMAL, **changes)


def test_the_capturer_owns_the_lead_unless_it_says_otherwise():
    ar = _who("ar-1", "ar")
    assert handlers._owner_at_capture(_capture(), ar) == "ar-1"
    assert handlers._owner_at_capture(_capture(owner=None, owner_given=True), ar) is None
    assert handlers._owner_at_capture(_capture(owner="ar-2", owner_given=True), _who("root", "admin")) == "ar-2"
    with pytest.raises(Forbidden) as refused:
        handlers._owner_at_capture(_capture(owner="ar-2", owner_given=True), ar)
    assert (status_of(refused.value), refused.value.rule) == (403, "owner-assignment")
