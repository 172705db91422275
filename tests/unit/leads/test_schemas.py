"""The API's bodies state the rules' bounds from the domain's constants, and read the domain's records as typed ones."""

import uuid
from decimal import Decimal

import pytest
from pydantic import ValidationError

from ltc.leads.api.schemas import TRUST_FORMULA, ContactCreate, LeadRead, LeadScoreRead, RelationshipRead
from ltc.leads.domain.accounts import HIGHEST_RATING, LOWEST_RATING, NEUTRAL_RATING
from ltc.leads.domain.model import Criterion, Evidence, LeadOutcome, PainStatus
from ltc.leads.domain.relationships import trust_formula
from ltc.leads.domain.scoring import ScorePartName, max_score, score_lead
from ltc.shared.money import Money
from tests.unit.leads.samples import NOW, TODAY, sample_lead


def test_the_relationship_explains_the_formula_the_domain_applies():
    assert TRUST_FORMULA == trust_formula()
    assert RelationshipRead.model_fields["formula"].default == trust_formula()


def test_ratings_are_bounded_as_the_contact_rates_them():
    body = ContactCreate(account_id=uuid.uuid4(), name="Li")
    assert body.competence_rating == body.reliability_rating == NEUTRAL_RATING
    for outside in (LOWEST_RATING - 1, HIGHEST_RATING + 1):
        with pytest.raises(ValidationError):
            ContactCreate(account_id=uuid.uuid4(), name="Li", competence_rating=outside)
    description = ContactCreate.model_fields["competence_rating"].description
    assert description.startswith(f"{LOWEST_RATING}–{HIGHEST_RATING}:")


def test_a_score_total_is_at_most_the_score_rule_allows():
    LeadScoreRead(total=max_score(), parts=[])
    with pytest.raises(ValidationError):
        LeadScoreRead(total=max_score() + 1, parts=[])


def test_a_lead_reads_as_typed_records_with_its_etag():
    lead = sample_lead(owner="ar-1")
    lead.version = 4
    pain = lead.add_pain(pain_id=uuid.uuid4(), description="congestion", contact_id=None, by="ar-1", now=NOW)
    lead.advance_pain(uuid.UUID(pain["id"]), to=PainStatus.ACKNOWLEDGED, note="CTO agreed", by="ar-1", now=NOW)
    lead.grade_credible([Evidence(c, "minutes", "CTO", TODAY) for c in Criterion], by="ar-1", now=NOW)
    lead.grade_opportunity(budget=Money(Decimal("10.00"), "EUR"), start_date=TODAY, by="ar-1", now=NOW)
    lead.disqualify(reason="budget moved", by="ar-1", now=NOW)
    read = LeadRead.of(lead, score_lead(lead, contact_strengths={}))
    body = read.model_dump(mode="json", by_alias=True)
    assert (body["version"], body["etag"], body["outcome"]) == (4, '"4"', LeadOutcome.DISQUALIFIED)
    assert [(h["from"], h["to"]) for h in body["grade_history"]] == [
        ("initial", "credible"), ("credible", "opportunity"), ("opportunity", "disqualified")]
    assert len(body["grade_history"][0]["evidence"]) == 3
    assert body["grade_history"][1]["budget"] == {"amount": "10.00", "currency": "EUR"}
    assert body["grade_history"][2]["reason"] == "budget moved"
    assert [s["to"] for s in body["pains"][0]["history"]] == ["discovered", "acknowledged"]
    assert {p["name"] for p in body["score"]["parts"]} == set(ScorePartName)
