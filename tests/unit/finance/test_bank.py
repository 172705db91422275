"""What an entry of a bank statement says about the invoice it pays."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from ltc.finance.domain.bank import BankEntry, Clue, MatchRule, clues
from ltc.finance.domain.invoice import creditor_reference
from ltc.shared.money import Money

REFERENCE = creditor_reference("INV-2026-000042")


def _entry(structured: str | None = None, text: str | None = None) -> BankEntry:
    return BankEntry(reference="B-1", amount=Money(Decimal("10.00"), "EUR"), credit=True, value_date=date(2026, 12, 2),
                     creditor_reference=structured, remittance=text)


@pytest.mark.parametrize(("entry", "expected"), [
    (_entry(structured=REFERENCE), [Clue(MatchRule.CREDITOR_REFERENCE, REFERENCE)]),
    (_entry(text=f"invoice {REFERENCE[:4]} {REFERENCE[4:8]} {REFERENCE[8:].lower()}"),
     [Clue(MatchRule.CREDITOR_REFERENCE, REFERENCE)]),
    (_entry(text="pays inv 2026 000042 and INV-2026-000043"),
     [Clue(MatchRule.INVOICE_NUMBER, "INV-2026-000042"), Clue(MatchRule.INVOICE_NUMBER, "INV-2026-000043")]),
    (_entry(structured=REFERENCE, text="INV-2026-000042"),
     [Clue(MatchRule.CREDITOR_REFERENCE, REFERENCE), Clue(MatchRule.INVOICE_NUMBER, "INV-2026-000042")]),
    # A reference whose check digits are wrong is no reference: the cash waits in suspense.
    (_entry(structured="RF00INV2026000042"), []),
    (_entry(text="December rent"), []),
], ids=["structured", "spaced-in-free-text", "numbers", "reference-first", "bad-check-digits", "nothing"])
def test_the_references_an_entry_carries_in_the_order_the_rules_try_them(entry, expected):
    assert clues(entry) == expected
