"""The command handlers' own rules, without a database: who owns a captured lead."""

import uuid

import pytest

from ltc.leads import handlers
from ltc.leads.domain.accounts import Tier
from ltc.leads.domain.model import Channel
from ltc.shared.errors import Forbidden, status_of
from ltc.shared.roles import Principal
from tests.unit.leads.samples import ACCOUNT


def _who(sub: str, *roles: str) -> Principal:
    return Principal(sub=sub, roles=frozenset(roles))


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
