"""The command handlers' own rules, without a database: who owns a captured lead, how changes are filed."""

import uuid

import pytest

from ltc.leads import handlers
from ltc.leads.domain.accounts import Contact, Tier
from ltc.leads.domain.activities import Activity, ActivityKind
from ltc.leads.domain.model import Channel
from ltc.shared.errors import Forbidden, status_of
from ltc.shared.roles import Principal
from tests.unit.leads.samples import ACCOUNT, NOW, sample_lead


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


class _Trail:
    """Stands in for the unit of work: keeps what the handler audits."""

    def __init__(self) -> None:
        self.entries = []

    def audit(self, entry) -> None:
        self.entries.append(entry)


def _activity(lead_id: uuid.UUID | None) -> Activity:
    return Activity(id=uuid.uuid4(), kind=ActivityKind.ROUTINE_VISIT, account_id=ACCOUNT.id, lead_id=lead_id,
                    contact_ids=[], subject="visit", planned_on=None, plan=None, created_by="sr-1", now=NOW)


def test_each_change_is_filed_under_the_account_and_lead_whose_history_shows_it(monkeypatch):
    monkeypatch.setattr(handlers, "clock", lambda: NOW)
    lead = sample_lead()
    contact = Contact(id=uuid.uuid4(), account_id=ACCOUNT.id, name="Li", title=None, decision_role=None, kpis=[],
                      pains=[], communication_style=None, notes=None, email=None, phone=None, created_by="ar-1",
                      now=NOW)
    on_lead, on_account = _activity(lead.id), _activity(None)
    trail = _Trail()
    for about in (ACCOUNT, contact, lead, on_lead, on_account):
        handlers._audit(trail, about, "updated", "ar-1", {"x": 1})
    assert [(e.object_type, e.object_id, e.filed_under) for e in trail.entries] == [
        ("account", ACCOUNT.id, ()),
        ("contact", contact.id, (ACCOUNT.id,)),
        ("lead", lead.id, (ACCOUNT.id,)),
        ("activity", on_lead.id, (lead.id, ACCOUNT.id)),
        ("activity", on_account.id, (ACCOUNT.id,)),
    ]
    assert {(e.at, e.actor, e.action) for e in trail.entries} == {(NOW, "ar-1", "updated")}
