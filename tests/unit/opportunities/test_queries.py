"""Who sees which opportunity, as the read side and the handlers decide it."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from ltc.opportunities.adapters import queries
from ltc.opportunities.domain.model import Opportunity
from ltc.opportunities.domain.team import TeamRole
from ltc.shared.roles import Principal
from ltc.shared.rules import InvalidInput

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def who(sub: str, *roles: str) -> Principal:
    return Principal(sub=sub, roles=frozenset(roles))


@pytest.fixture
def opportunity() -> Opportunity:
    opportunity = Opportunity(id=uuid.uuid4(), lead_id=None, account_id=None, account_name="ACME", title="t",
                              need="n", budget=None, start_date=None, owner="alice", now=NOW)
    opportunity.assign_team({TeamRole.SR: "sam", TeamRole.FR: "fay"}, by="alice", now=NOW)
    return opportunity


def test_the_team_sees_its_opportunity_and_deciders_see_all(opportunity: Opportunity) -> None:
    assert queries.may_see(who("fay", "fr"), opportunity)
    assert not queries.may_see(who("other-fr", "fr"), opportunity)
    assert queries.may_see(who("victor", "approver_l1"), opportunity)


def test_who_sees_everything_needs_no_filter_and_the_team_is_filtered_by_name() -> None:
    for role in queries.SEE_ALL_ROLES:
        assert queries.visible_to(who("someone", role)) is None
    for role in queries.TEAM_ROLES:
        assert queries.visible_to(who("someone", role)) is not None


@pytest.mark.parametrize(("currency", "value", "weighted", "expected"), [
    ("EUR", "300.0100", "60.0050", ("300.01", "60.01")),
    ("EUR", "300.0100", "60.0049", ("300.01", "60.00")),
    ("JPY", "1000.0000", "250.5000", ("1000", "251")),
    ("BHD", "1.2340", "0.1234", ("1.234", "0.123")),
])
def test_pipeline_amounts_are_shown_in_the_currencys_minor_unit_the_weighted_rounded_half_up(
        currency: str, value: str, weighted: str, expected: tuple[str, str]) -> None:
    line = queries.PipelineLine.of("validating", currency, 2, Decimal(value), Decimal(weighted))
    assert (str(line.value), str(line.weighted)) == expected


def test_a_group_without_any_value_shows_no_currency_and_no_amounts() -> None:
    line = queries.PipelineLine.of("validating", None, 1, None, None)
    assert (line.currency, line.value, line.weighted, line.count) == (None, None, None, 1)
    assert queries.PipelineLine.of("bidding", "EUR", 1, None, Decimal(0)).currency is None


def test_a_policy_is_filed_in_the_audit_trail_under_a_stable_id() -> None:
    assert queries.policy_object_id("stage_probabilities") == queries.policy_object_id("stage_probabilities")
    assert queries.policy_object_id("stage_probabilities") != queries.policy_object_id("decision_thresholds")
    assert queries.policy_object_id("stage_probabilities") == uuid.uuid5(
        uuid.NAMESPACE_URL, "https://ltc.example/policies/stage_probabilities")


@pytest.mark.parametrize(("first", "last", "start", "end"), [
    ("2027-03", "2027-03", date(2027, 3, 1), date(2027, 4, 1)),
    ("2027-11", "2027-12", date(2027, 11, 1), date(2028, 1, 1)),
    (None, "2027-01", None, date(2027, 2, 1)),
    ("2027-01", None, date(2027, 1, 1), None),
])
def test_close_months_are_a_range_of_whole_months(first: str | None, last: str | None, start: date | None,
                                                  end: date | None) -> None:
    assert queries.CloseMonths.of(first, last) == queries.CloseMonths(start, end)


def test_no_close_months_filter_nothing_and_a_reversed_range_names_its_end() -> None:
    assert queries.CloseMonths.of(None, None) is None
    with pytest.raises(InvalidInput) as exc:
        queries.CloseMonths.of("2027-05", "2027-04")
    assert exc.value.field == "close_month_to"


@pytest.mark.parametrize(("first", "last", "field"), [("0000-01", None, "close_month_from"),
                                                      (None, "0000-12", "close_month_to")])
def test_a_month_the_calendar_does_not_have_is_the_callers_input(first, last, field) -> None:
    # Found by the API fuzzer: year 0000 has the form YYYY-MM and answered a 500.
    with pytest.raises(InvalidInput) as exc:
        queries.CloseMonths.of(first, last)
    assert exc.value.field == field


def test_the_last_month_of_the_calendar_closes_the_range_at_its_end() -> None:
    assert queries.CloseMonths.of("9999-01", "9999-12") == queries.CloseMonths(date(9999, 1, 1), None)
