"""Accounts and contacts on plain objects."""

import importlib.util
import json
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from ltc.leads.domain.accounts import (
    COUNTRY_UNKNOWN,
    Account,
    BillingIdentity,
    Contact,
    DecisionRole,
    Tier,
    billing_identity,
    contact_snapshot,
)
from ltc.leads.domain.countries import ISO_3166_ALPHA_2
from ltc.shared.errors import RuleViolation
from ltc.shared.messages.leads_events import AccountCreated, AccountUpdated
from ltc.shared.taxids import TAX_ID_INVALID
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


# The billing identity


def _billing(tax_id: str | None = "DE136695976", country: str = "DE", **fields) -> dict:
    return {"legal_name": "ACME Telecom GmbH", "registration_id": "HRB 123456", "tax_id": tax_id,
            "address": {"line1": "Friedrichstrasse 100", "line2": None, "postal_code": "10117", "city": "Berlin",
                        "country": country},
            "contact_name": "Petra Schmidt", "contact_email": "ap@acme.example", "erp_customer_id": "C-100234",
            "buyer_reference": "PO-2026-0042", **fields}


def _refusal(fields: dict) -> RuleViolation:
    with pytest.raises(RuleViolation) as failure:
        billing_identity(fields)
    return failure.value


@pytest.mark.parametrize(("tax_id", "country"), [
    ("DE136695976", "DE"), ("DE 136 695 976", "DE"), ("FR40303265045", "FR"), ("FR 40 303 265 045", "FR"),
    ("EL094259216", "GR"),  # Greece's VAT prefix is EL
    ("FR40303265045", "DE"),  # registered for VAT in France, billed in Germany: the prefix decides
    ("136695976", "DE"),  # no prefix: the address's country's check
    ("CHE-116.281.710 MWST", "CH"), ("GB980780684", "GB"),
    ("91110000600037341L", "CN"),  # python-stdnum checks CN's unified social credit code
])
def test_a_vat_id_valid_for_its_country_is_kept_as_given(tax_id, country):
    identity = billing_identity(_billing(tax_id, country))
    assert identity is not None and identity.tax_id == tax_id and identity.address.country == country


@pytest.mark.parametrize(("tax_id", "country"), [
    ("DE136695977", "DE"), ("DE12345", "DE"), ("FR40303265046", "FR"), ("FRXX303265045", "FR"),
    ("136695977", "DE"), ("91110000600037341X", "CN"), ("DE136695977", "US"),
])
def test_a_malformed_vat_id_is_refused_naming_the_field(tax_id, country):
    refusal = _refusal(_billing(tax_id, country))
    assert refusal.rule == TAX_ID_INVALID == "tax-id-invalid"
    assert [e["field"] for e in refusal.errors] == ["billing.tax_id"]


def test_a_country_without_a_known_vat_check_keeps_its_id_unchecked():
    """python-stdnum knows no VAT check for the US (nor for other countries without one): nothing says
    such an id is wrong, so it is kept as given."""
    assert billing_identity(_billing("12-3456789", "US")).tax_id == "12-3456789"
    assert billing_identity(_billing(None, "US")).tax_id is None


def test_the_country_is_iso_3166_alpha_2_in_any_case():
    assert billing_identity(_billing(country="de")).address.country == "DE"
    for code in ("XX", "UK", "EL", "EU", "D1"):
        refusal = _refusal(_billing(None, code))
        assert refusal.rule == COUNTRY_UNKNOWN == "country-unknown"
        assert [e["field"] for e in refusal.errors] == ["billing.address.country"]


def test_the_country_list_is_the_iso_3166_list_of_the_time_zone_database_too():
    spec = importlib.util.find_spec("tzdata")
    tab = Path(spec.origin).parent / "zoneinfo" / "iso3166.tab" if spec and spec.origin else None
    if tab is None or not tab.exists():
        pytest.skip("tzdata is not installed")
    listed = {line.split("\t")[0] for line in tab.read_text().splitlines() if line and not line.startswith("#")}
    assert listed == ISO_3166_ALPHA_2 and len(ISO_3166_ALPHA_2) == 249


def test_no_billing_identity_is_none():
    assert billing_identity(None) is None


def test_a_new_account_raises_account_created_with_its_billing_identity():
    identity = billing_identity(_billing())
    account = Account(id=uuid.uuid4(), name="ACME", industry=None, owner="ar-1", created_at=NOW, billing=identity)
    [event] = account.events
    assert isinstance(event, AccountCreated) and event.subject() == str(account.id)
    assert event.topic == "ltc.leads" and event.ce_type() == "ltc.account.created.v1"
    assert (event.name, event.owner, event.created_at) == ("ACME", "ar-1", NOW)
    assert event.billing is not None and event.billing.model_dump() == identity.to_json()
    assert event.billing.tax_id == "DE136695976" and event.billing.address.country == "DE"
    bare = Account(id=uuid.uuid4(), name="Bare", industry=None, owner="ar-1", created_at=NOW)
    assert bare.events[0].billing is None


def test_every_change_raises_account_updated_with_the_whole_account_and_a_no_op_none():
    account = Account(id=uuid.uuid4(), name="ACME", industry=None, owner="ar-1", created_at=NOW)
    account.events.clear()
    later = NOW + timedelta(days=1)
    changed = account.update_account({"billing": _billing()}, now=later)
    assert set(changed) == {"billing"} and changed["billing"]["from"] is None
    [event] = account.events
    assert isinstance(event, AccountUpdated) and event.changed == ["billing"] and event.updated_at == later
    assert event.billing is not None and event.billing.buyer_reference == "PO-2026-0042"

    account.events.clear()
    assert account.update_account({"billing": _billing(), "name": "ACME"}, now=later) == {}
    assert account.events == []  # the same billing identity again changes nothing

    changed = account.update_account({"billing": _billing(buyer_reference="PO-2027-0001"), "tier": Tier.KEY},
                                     now=later)
    assert set(changed) == {"billing", "tier"}
    [event] = account.events
    assert event.changed == ["billing", "tier"] and event.billing.buyer_reference == "PO-2027-0001"

    account.events.clear()
    account.update_account({"billing": None}, now=later)
    assert account.billing is None and account.events[0].billing is None


def test_an_invalid_billing_identity_changes_nothing():
    account = Account(id=uuid.uuid4(), name="ACME", industry=None, owner="ar-1", created_at=NOW,
                      billing=billing_identity(_billing()))
    account.events.clear()
    with pytest.raises(RuleViolation):
        account.update_account({"name": "ACME AG", "billing": _billing("DE136695977")}, now=NOW)
    assert account.name == "ACME" and account.billing.tax_id == "DE136695976" and account.events == []


def test_the_billing_identity_round_trips_through_its_json():
    identity = billing_identity(_billing())
    assert BillingIdentity.from_json(json.loads(json.dumps(identity.to_json()))) == identity
