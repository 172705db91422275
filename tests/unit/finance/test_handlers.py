"""Handler rules that refuse a command before it touches the database, and the service's one clock."""

import uuid
from datetime import UTC, date, datetime

import pytest

from ltc.finance import handlers
from ltc.finance.domain.journal import AccountCodes
from ltc.shared.roles import Principal
from ltc.shared.rules import RuleViolation
from tests.unit.finance.samples import eur

CLERK = Principal("clerk-1", frozenset({"finance"}))


class _NoDatabase:
    """A unit of work whose session fails the test if a handler reaches it."""

    @property
    def session(self):
        raise AssertionError("the command should have been refused before any query")

    def audit(self, entry):
        raise AssertionError("a refused command records nothing")


@pytest.fixture
def clock(monkeypatch):
    day = datetime(2027, 3, 1, 23, 30, tzinfo=UTC)
    monkeypatch.setattr(handlers, "clock", lambda: day)
    return day


def test_today_is_the_date_of_the_one_clock(clock):
    assert handlers.today() == date(2027, 3, 1)


async def test_a_payment_names_what_it_pays():
    command = handlers.RecordPayment(uuid.uuid4(), "BANK-1", "ACME", eur("10.00"), date(2027, 3, 1), None, None)
    with pytest.raises(RuleViolation) as failure:
        await handlers.record_payment(_NoDatabase(), command, CLERK)
    assert failure.value.rule == "payment-target-required"
    assert [e["field"] for e in failure.value.errors] == ["invoice_id", "invoice_number", "contract_id", "account_id"]


async def test_an_invoice_named_by_id_and_by_number_is_refused_before_the_database_is_touched():
    command = handlers.RecordPayment(uuid.uuid4(), "BANK-1", "ACME", eur("10.00"), date(2027, 3, 1), uuid.uuid4(),
                                     None, invoice_number="INV-2027-000001")
    with pytest.raises(RuleViolation) as failure:
        await handlers.record_payment(_NoDatabase(), command, CLERK)
    assert failure.value.rule == "invoice-named-twice"
    assert [e["field"] for e in failure.value.errors] == ["invoice_id", "invoice_number"]


async def test_a_run_for_a_day_not_yet_come_is_refused_by_the_clock(clock):
    with pytest.raises(RuleViolation) as failure:
        await handlers.run_schedule(_NoDatabase(), handlers.RunSchedule(date(2027, 3, 3)), handlers.SCHEDULED_RUN)
    assert (failure.value.rule, failure.value.errors[0]["field"]) == ("date-in-future", "as_of")


async def test_account_codes_shared_by_two_roles_are_refused_before_they_are_stored():
    codes = AccountCodes(receivable="1100", revenue="1100", cash="1000", unapplied_cash="2150")
    with pytest.raises(RuleViolation) as failure:
        await handlers.set_account_codes(_NoDatabase(), handlers.SetAccountCodes(codes, expected_version=0),
                                         Principal("ops", frozenset({"admin"})))
    assert failure.value.rule == "account-codes-not-distinct"
