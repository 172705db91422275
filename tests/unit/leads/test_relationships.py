"""The trust formula on plain values, and its prose built from its constants."""

from datetime import timedelta
from decimal import Decimal

from ltc.leads.domain import relationships
from ltc.leads.domain.activities import ActivityKind
from ltc.leads.domain.relationships import Contacted, relationship_strength
from tests.unit.leads.samples import TODAY


def test_no_activity_means_no_relationship():
    r = relationship_strength(competence_rating=5, reliability_rating=5, contacts=[], today=TODAY)
    assert r.strength == 0 and r.connection == 0 and r.time == 0


def test_the_trust_formula_with_every_input_at_its_maximum_is_100():
    # 6 activities in 90 days, 4 kinds, a summit, known for a year: every factor is 1.
    kinds = [ActivityKind.SUMMIT, ActivityKind.ROUTINE_VISIT, ActivityKind.TOPIC_EXCHANGE, ActivityKind.SITE_VISIT]
    contacts = [Contacted(kinds[i % 4], TODAY - timedelta(days=10 * i)) for i in range(6)]
    contacts.append(Contacted(ActivityKind.ROUTINE_VISIT, TODAY - timedelta(days=400)))
    r = relationship_strength(competence_rating=5, reliability_rating=5, contacts=contacts, today=TODAY)
    assert (r.frequency, r.breadth, r.depth, r.time) == (1, 1, 1, 1)
    assert r.strength == 100


def test_the_trust_formula_computed_by_hand():
    # One routine visit 15 days ago, ratings 4 and 3:
    # frequency 1/6, breadth 1/4, depth 0.2 → connection 0.2056; time (0 months + 1)/12;
    # 100 × (0.8 × 0.6 × 0.20556 × 0.08333)^(1/4) = 30.11 → 30.
    contacts = [Contacted(ActivityKind.ROUTINE_VISIT, TODAY - timedelta(days=15))]
    r = relationship_strength(competence_rating=4, reliability_rating=3, contacts=contacts, today=TODAY)
    assert r.connection == Decimal("0.206") and r.time == Decimal("0.083")
    assert r.strength == 30


def test_more_and_deeper_contact_builds_a_stronger_relationship():
    shallow = [Contacted(ActivityKind.ROUTINE_VISIT, TODAY - timedelta(days=5))]
    deeper = shallow + [Contacted(ActivityKind.EXECUTIVE_VISIT, TODAY - timedelta(days=40))]
    older = [Contacted(ActivityKind.ROUTINE_VISIT, TODAY - timedelta(days=5)),
             Contacted(ActivityKind.ROUTINE_VISIT, TODAY - timedelta(days=200))]

    def strength(contacts: list[Contacted]) -> int:
        return relationship_strength(competence_rating=3, reliability_rating=3, contacts=contacts,
                                     today=TODAY).strength

    assert strength(deeper) > strength(shallow)
    assert strength(older) > strength(shallow)  # time: 日久见人心


def test_future_activities_do_not_count_yet():
    r = relationship_strength(competence_rating=3, reliability_rating=3,
                              contacts=[Contacted(ActivityKind.SUMMIT, TODAY + timedelta(days=1))], today=TODAY)
    assert r.strength == 0 and r.activities_counted == 0


def test_the_published_trust_formula_is_the_one_relationship_strength_applies():
    assert relationships.trust_formula() == (
        "strength = round(100 × (competence × reliability × connection × time)^(1/4)); "
        "competence = competence_rating/5; reliability = reliability_rating/5; "
        "connection = (frequency + breadth + depth)/3 with frequency = min(1, done activities in the last 90 days/6), "
        "breadth = min(1, distinct activity kinds in the last 365 days/4), depth = deepest kind in the last 365 days "
        "(routine_visit 0.2, executive_letter 0.3, exhibition_forum 0.3, topic_exchange 0.5, site_visit 0.6, "
        "joint_team_event 0.6, company_inspection 0.8, joint_release 0.8, executive_visit 0.9, summit 1.0); "
        "time = min(1, (whole months since the first done activity + 1)/12)")


def test_the_trust_formula_states_each_constant():
    text = relationships.trust_formula()
    for kind, depth in relationships.DEPTH.items():
        assert f"{kind.value} {depth}" in text
    assert (f"in the last {relationships.FREQUENCY_WINDOW.days} days/{relationships.FREQUENCY_SATURATION})"
            in text)
    assert f"in the last {relationships.BREADTH_WINDOW.days} days/{relationships.BREADTH_SATURATION})" in text
    assert f"+ 1)/{relationships.TIME_SATURATION_MONTHS})" in text and f"^(1/{relationships.ROOT})" in text


def test_a_changed_constant_changes_the_strength_and_the_formula_alike(monkeypatch):
    monkeypatch.setattr(relationships, "FREQUENCY_SATURATION", 3)
    monkeypatch.setattr(relationships, "DEPTH", {**relationships.DEPTH, ActivityKind.ROUTINE_VISIT: Decimal("0.4")})
    text = relationships.trust_formula()
    assert "in the last 90 days/3)" in text and "routine_visit 0.4" in text
    visits = [Contacted(ActivityKind.ROUTINE_VISIT, TODAY - timedelta(days=d)) for d in (1, 2, 3)]
    r = relationship_strength(competence_rating=3, reliability_rating=3, contacts=visits, today=TODAY)
    assert r.frequency == 1 and r.depth == Decimal("0.4")
