"""Accounts and contacts on plain objects."""

import uuid

import pytest

from ltc.leads.domain.accounts import Account, Contact, DecisionRole, Tier, contact_snapshot
from ltc.shared.errors import RuleViolation
from tests.unit.leads.samples import ACCOUNT, NOW


def test_ratings_are_1_to_5():
    with pytest.raises(RuleViolation) as failure:
        Contact(id=uuid.uuid4(), account_id=ACCOUNT.id, name="Li", title=None, decision_role=None, kpis=[], pains=[],
                communication_style=None, notes=None, email=None, phone=None, competence_rating=6,
                created_by="ar-1", now=NOW)
    assert failure.value.errors[0]["field"] == "competence_rating"


def test_a_contact_is_handed_over_with_its_relationship_strength():
    contact = Contact(id=uuid.uuid4(), account_id=ACCOUNT.id, name="Li", title="CTO",
                      decision_role=DecisionRole.DECISION_MAKER, kpis=["uptime"], pains=["congestion"],
                      communication_style="data first", notes=None, email=None, phone=None, created_by="ar-1",
                      now=NOW)
    snapshot = contact_snapshot(contact, 42)
    assert (snapshot.contact_id, snapshot.decision_role, snapshot.relationship_strength) == (
        contact.id, "decision_maker", 42)
    assert snapshot.kpis == ["uptime"] and snapshot.pains == ["congestion"]


def test_an_account_change_reports_what_changed_and_keeps_required_fields():
    account = Account(id=uuid.uuid4(), name="ACME", industry=None, owner="ar-1", created_at=NOW)
    assert account.update_account({"name": "ACME", "tier": Tier.KEY}, now=NOW) == {
        "tier": {"from": Tier.NORMAL, "to": Tier.KEY}}
    with pytest.raises(RuleViolation) as failure:
        account.update_account({"owner": " "}, now=NOW)
    assert failure.value.rule == "value-required"
