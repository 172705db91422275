"""Journal lines for the ERP: every document a balanced double entry on the configured codes."""

from datetime import date
from decimal import Decimal

import pytest

from ltc.finance.domain.journal import AccountCodes, journal
from ltc.shared.rules import RuleViolation
from tests.unit.finance.samples import (
    LATER,
    PAC,
    SIGNED,
    amendable,
    credit,
    eur,
    issue_due,
    pay,
)

CODES = AccountCodes(receivable="1100", revenue="4000", cash="1000", unapplied_cash="2150")


def test_journal_entries_balance_and_use_the_configured_codes():
    plan, [advance] = amendable()
    note = credit(plan, advance, eur("20.00"), on=date(2026, 12, 2))
    payment = pay([plan], [advance], eur("400.00"), contract_id=plan.contract_id, on=date(2026, 12, 3))
    [pac] = plan.accept_milestone(PAC)
    [pac_invoice] = issue_due(plan, date(2027, 2, 1))
    payment.apply_unapplied(invoices=[advance, pac_invoice], plans={plan.contract_id: plan}, invoice_id=None,
                            on=date(2027, 2, 2), by="clerk", today=LATER)
    lines = journal(invoices=[advance, pac_invoice], credit_notes=[note], payments=[payment], codes=CODES,
                    start=SIGNED, end=date(2027, 12, 31))
    entries: dict[str, list] = {}
    for line in lines:
        entries.setdefault(line.entry_id, []).append(line)
    for entry in entries.values():
        assert sum(l.debit for l in entry) == sum(l.credit for l in entry) > 0
    summary = [(l.posting_date, l.document_type, l.account_code, l.debit, l.credit) for l in lines]
    assert summary == [
        (SIGNED, "invoice", "1100", Decimal("300.00"), Decimal("0.00")),
        (SIGNED, "invoice", "4000", Decimal("0.00"), Decimal("300.00")),
        (date(2026, 12, 2), "credit_note", "4000", Decimal("20.00"), Decimal("0.00")),
        (date(2026, 12, 2), "credit_note", "1100", Decimal("0.00"), Decimal("20.00")),
        (date(2026, 12, 3), "payment", "1000", Decimal("400.00"), Decimal("0.00")),
        (date(2026, 12, 3), "payment", "1100", Decimal("0.00"), Decimal("280.00")),
        (date(2026, 12, 3), "payment", "2150", Decimal("0.00"), Decimal("120.00")),
        (date(2027, 2, 1), "invoice", "1100", Decimal("700.00"), Decimal("0.00")),
        (date(2027, 2, 1), "invoice", "4000", Decimal("0.00"), Decimal("700.00")),
        (date(2027, 2, 2), "payment", "2150", Decimal("120.00"), Decimal("0.00")),
        (date(2027, 2, 2), "payment", "1100", Decimal("0.00"), Decimal("120.00")),
    ]
    only_february = journal(invoices=[advance, pac_invoice], credit_notes=[note], payments=[payment], codes=CODES,
                            start=date(2027, 2, 1), end=date(2027, 2, 28))
    assert {l.posting_date for l in only_february} == {date(2027, 2, 1), date(2027, 2, 2)}
    assert len(only_february) == 4


# -- account codes ------------------------------------------------------------------------------

def test_account_codes_travel_as_the_json_document_the_policy_keeps():
    assert CODES.to_json() == {"receivable": "1100", "revenue": "4000", "cash": "1000", "unapplied_cash": "2150"}
    assert AccountCodes.from_json(CODES.to_json()) == CODES


def test_each_role_posts_to_its_own_account():
    CODES.require_distinct()
    with pytest.raises(RuleViolation) as failure:
        AccountCodes(receivable="1100", revenue="4000", cash="1100", unapplied_cash="2150").require_distinct()
    assert failure.value.rule == "account-codes-not-distinct"
    assert [e["field"] for e in failure.value.errors] == ["receivable", "cash"]
