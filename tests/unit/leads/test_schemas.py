"""The API's bodies state the rules' bounds from the domain's constants."""

import uuid

import pytest
from pydantic import ValidationError

from ltc.leads.api.schemas import TRUST_FORMULA, ContactCreate, LeadScoreRead, RelationshipRead
from ltc.leads.domain.accounts import HIGHEST_RATING, LOWEST_RATING, NEUTRAL_RATING
from ltc.leads.domain.relationships import trust_formula
from ltc.leads.domain.scoring import max_score


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
