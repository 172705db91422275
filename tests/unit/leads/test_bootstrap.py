"""The API description: its numbers are the rules' own constants."""

from ltc.leads import bootstrap
from ltc.leads.domain import duplicates, relationships, scoring
from ltc.leads.domain.model import Criterion


def test_the_description_states_the_rules_the_domain_applies():
    text = bootstrap.description()
    assert bootstrap.SPEC.description == bootstrap.DESCRIPTION == text
    assert relationships.trust_formula() in text and scoring.score_rule() in text
    assert "(" + ", ".join(c.value for c in Criterion) + ")" in text
    assert f"(0–{scoring.max_score()}," in text and "at least\n80 % similar" in text


def test_a_changed_constant_changes_the_description(monkeypatch):
    monkeypatch.setattr(duplicates, "SIMILAR", 0.9)
    monkeypatch.setattr(scoring, "SELF_GENERATED_POINTS", 5)
    monkeypatch.setattr(relationships, "BREADTH_SATURATION", 5)
    text = bootstrap.description()
    assert "90 % similar" in text and "self-generated channel 5" in text and "(0–95," in text
    assert "in the last 365 days/5)" in text
