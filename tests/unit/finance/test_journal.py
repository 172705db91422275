"""Journal lines for the ERP: every document a balanced double entry on the configured codes,
revenue split by line and VAT posted by category and rate."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ltc.finance.domain.billing_plan import BillingPlan
from ltc.finance.domain.invoice import Invoice
from ltc.finance.domain.journal import (
    AccountCodes,
    JournalLine,
    UnbalancedDocument,
    canonical_tax_key,
    credit_note_lines,
    invoice_lines,
    journal,
)
from ltc.finance.domain.lines import InvoiceLine
from ltc.finance.domain.tax import InvoiceTotals, TaxBreakdown, TaxedLine
from ltc.shared.lines import SalesLine, TaxCategory, Vat
from ltc.shared.money import Money, minor_unit_exponent
from ltc.shared.rules import RuleViolation
from ltc.shared.testing.deal import BILLING
from tests.unit.finance.samples import (
    LATER,
    LINEAGE,
    NOW,
    PAC,
    SIGNED,
    amendable,
    credit,
    eur,
    issue_due,
    pay,
    schedule_line,
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
    assert CODES.to_json() == {"receivable": "1100", "revenue": "4000", "cash": "1000", "unapplied_cash": "2150",
                               "vat_payable": "2200", "write_off": "6900", "tax_accounts": {}, "revenue_by_product": {},
                               "revenue_by_category": {}}
    assert AccountCodes.from_json(CODES.to_json()) == CODES
    assert AccountCodes.from_json(MAPPED.to_json()) == MAPPED


def test_a_document_stored_with_the_four_role_codes_loads_with_the_keys_it_predates_defaulted():
    old = {"receivable": "1210", "revenue": "4100", "cash": "1010", "unapplied_cash": "2160"}
    assert AccountCodes.from_json(old) == AccountCodes("1210", "4100", "1010", "2160")
    environment = AccountCodes("1100", "4000", "1000", "2150", vat_payable="1776", tax_accounts={"S:7": "1771"})
    loaded = AccountCodes.from_json(old, defaults=environment)
    assert (loaded.receivable, loaded.vat_payable, loaded.tax_accounts, loaded.revenue_by_product) == (
        "1210", "1776", {"S:7": "1771"}, {})


def test_each_role_posts_to_its_own_account():
    CODES.require_distinct()
    with pytest.raises(RuleViolation) as failure:
        AccountCodes(receivable="1100", revenue="4000", cash="1100", unapplied_cash="2150").require_distinct()
    assert failure.value.rule == "account-codes-not-distinct"
    assert [e["field"] for e in failure.value.errors] == ["receivable", "cash"]


def test_vat_payable_is_a_role_of_its_own_and_the_maps_never_name_receivable_cash_or_unapplied_cash():
    MAPPED.require_distinct()  # maps sharing accounts among themselves and with revenue / VAT payable
    with pytest.raises(RuleViolation) as failure:
        replace(CODES, vat_payable="2150").require_distinct()
    assert [e["field"] for e in failure.value.errors] == ["unapplied_cash", "vat_payable"]
    with pytest.raises(RuleViolation) as failure:
        replace(MAPPED, tax_accounts={"S:19": "1100"}, revenue_by_product={"LIC": "1000"},
                revenue_by_category={"E": "2150"}).require_distinct()
    assert failure.value.rule == "account-codes-not-distinct"
    assert [(e["field"], e["message"]) for e in failure.value.errors] == [
        ("tax_accounts.S:19", "1100 is the receivable account"), ("revenue_by_product.LIC", "1000 is the cash account"),
        ("revenue_by_category.E", "2150 is the unapplied_cash account")]


@pytest.mark.parametrize(("key", "canonical"), [("S:19", "S:19"), ("S:19.00", "S:19"), (" S:5.50 ", "S:5.5"),
                                                ("Z:0", "Z:0"), ("E:0.0", "E:0"), ("O", "O")])
def test_a_tax_key_is_a_category_and_a_rate_it_can_bear_spelt_one_way(key, canonical):
    assert canonical_tax_key(key) == canonical


@pytest.mark.parametrize("key", ["S", "S:0", "S:x", "S:NaN", "Z:5", "O:0", "X:19", "s:19", "19"])
def test_a_tax_key_naming_nothing_a_line_can_bear_is_refused_naming_the_field(key):
    with pytest.raises(ValueError, match="S:19"):
        canonical_tax_key(key)
    with pytest.raises(RuleViolation) as failure:
        replace(CODES, tax_accounts={key: "2201"}).require_distinct()
    assert failure.value.rule == "account-codes-invalid"
    assert [e["field"] for e in failure.value.errors] == [f"tax_accounts.{key}"]


def test_unknown_categories_and_blank_product_codes_are_refused_naming_the_field():
    with pytest.raises(RuleViolation) as failure:
        replace(CODES, revenue_by_category={"X": "4100"}, revenue_by_product={" ": "4100"},
                tax_accounts={"S:19.0": "2201"}).require_distinct()
    assert failure.value.rule == "account-codes-invalid"
    assert [e["field"] for e in failure.value.errors] == ["tax_accounts.S:19.0", "revenue_by_category.X",
                                                          "revenue_by_product. "]


# -- revenue by line, VAT by category and rate --------------------------------------------------

S19 = Vat(TaxCategory.STANDARD, Decimal("19"))
S7 = Vat(TaxCategory.STANDARD, Decimal("7"))
S55 = Vat(TaxCategory.STANDARD, Decimal("5.5"))
S20 = Vat(TaxCategory.STANDARD, Decimal("20"))
ZERO = Vat(TaxCategory.ZERO, Decimal(0))
EXEMPT = Vat(TaxCategory.EXEMPT, Decimal(0), "Exempt under article 135")
REVERSE = Vat(TaxCategory.REVERSE_CHARGE, Decimal(0), "Reverse charge")
EXPORT = Vat(TaxCategory.EXPORT, Decimal(0), "Export outside the EU")
OUT_OF_SCOPE = Vat(TaxCategory.OUT_OF_SCOPE, None, "Not subject to VAT")
VATS = [S19, S7, S55, S20, ZERO, EXEMPT, REVERSE, EXPORT, OUT_OF_SCOPE]
BUYER = BILLING  # the sample deal's French operator: the reverse-charge lines need its VAT id

# Products and categories mapped, some to one account (the maps may share), S:7 to its own tax account.
MAPPED = replace(CODES, tax_accounts={"S:19": "2201", "S:7": "2202"},
                 revenue_by_product={"LIC": "4010", "SVC": "4020", "HW": "4010"},
                 revenue_by_category={"E": "4030", "S": "4040", "G": "4030"})


def _plan(lines: Sequence[SalesLine], percents: Sequence[int]) -> BillingPlan:
    value = sum((line.net for line in lines), Money.zero(lines[0].net.currency))
    parts = value.split([Decimal(p) for p in percents])
    schedule = [schedule_line(f"part {i + 1}", str(p), part) for i, (p, part) in enumerate(zip(percents, parts,
                                                                                             strict=True))]
    return BillingPlan(id=uuid.uuid4(), contract_id=uuid.uuid4(), account_id=uuid.uuid4(), lineage=LINEAGE,
                       signed_on=SIGNED, value=value, schedule=schedule, now=NOW, lines=lines)


def _invoices(lines: Sequence[SalesLine], percents: Sequence[int] = (100,)) -> tuple[BillingPlan, list[Invoice]]:
    plan = _plan(lines, percents)
    return plan, [plan.invoice(i, invoice_id=uuid.uuid4(), number=f"INV-{n}", issue_date=SIGNED, now=NOW,
                               vat_of=lambda line: line.vat, bill_to=BUYER)
                  for n, i in enumerate(plan.invoiceable(SIGNED))]


def _line(position: int, net: str, vat: Vat, code: str | None = None, currency: str = "EUR") -> SalesLine:
    return SalesLine(position, f"line {position}", Decimal(1), "C62", Money(Decimal(net), currency), code=code,
                     vat=vat)


@dataclass(frozen=True)
class LinedCreditNote:
    """A credit note as it is with lines (`CreditNote.lines`, `tax_breakdown`, `net`, `tax`; `amount` gross)."""

    lines: tuple[InvoiceLine, ...]
    tax_breakdown: tuple[TaxBreakdown, ...]
    net: Money
    tax: Money
    amount: Money
    id: uuid.UUID
    number: str
    invoice_number: str
    contract_id: uuid.UUID
    account_id: uuid.UUID | None
    currency: str
    reason: str = "wrong unit price"
    issue_date: date = date(2026, 12, 5)

    @classmethod
    def on(cls, invoice: Invoice, lines: Sequence[InvoiceLine]) -> "LinedCreditNote":
        totals = InvoiceTotals.of([TaxedLine(Money(line.net, invoice.currency), line.vat) for line in lines],
                                  buyer_tax_id=BUYER["tax_id"])
        return cls(tuple(lines), totals.breakdown, totals.net, totals.tax, totals.gross, uuid.uuid4(),
                   f"CN-{invoice.number}", invoice.number, invoice.contract_id, invoice.account_id, invoice.currency)


def _sides(lines: Sequence[JournalLine], debit: bool) -> dict[str, Decimal]:
    sums: dict[str, Decimal] = {}
    for line in lines:
        amount = line.debit if debit else line.credit
        if amount:
            sums[line.account_code] = sums.get(line.account_code, Decimal(0)) + amount
    return sums


def test_an_invoice_credits_revenue_by_product_then_category_then_the_default_and_vat_by_rate():
    # LIC (product mapped, S 19) / a category-mapped exempt line / an unmapped product in S 7 (its
    # category S is mapped) / an unmapped reverse-charge line without a code (default revenue).
    _, [invoice] = _invoices([_line(1, "1000.00", S19, "LIC"), _line(2, "300.00", EXEMPT, "TRAINING"),
                              _line(3, "200.00", S7, "DOCS"), _line(4, "50.00", REVERSE),
                              _line(5, "100.00", S19, "HW")])
    lines = invoice_lines(invoice, MAPPED)
    assert [(l.account_code, l.debit, l.credit) for l in lines] == [
        ("1100", Decimal("1873.00"), Decimal("0.00")),  # the gross: 1650.00 net + 223.00 VAT
        ("4010", Decimal("0.00"), Decimal("1100.00")),  # lines 1 and 5: their products share an account
        ("4030", Decimal("0.00"), Decimal("300.00")),  # line 2: its category E
        ("4040", Decimal("0.00"), Decimal("200.00")),  # line 3: DOCS unmapped, category S is
        ("4000", Decimal("0.00"), Decimal("50.00")),  # line 4: neither mapped
        ("2201", Decimal("0.00"), Decimal("209.00")),  # S 19 % of 1100.00
        ("2202", Decimal("0.00"), Decimal("14.00")),  # S 7 % of 200.00
    ]
    assert [l.description for l in lines][1:] == [
        f"invoice {invoice.number}, instalment part 1: revenue, line 1, 5",
        f"invoice {invoice.number}, instalment part 1: revenue, line 2",
        f"invoice {invoice.number}, instalment part 1: revenue, line 3",
        f"invoice {invoice.number}, instalment part 1: revenue, line 4",
        f"invoice {invoice.number}, instalment part 1: VAT S 19%",
        f"invoice {invoice.number}, instalment part 1: VAT S 7%"]
    # Unmapped, everything goes to the default accounts: one revenue line and one VAT line.
    assert [(l.account_code, l.debit, l.credit) for l in invoice_lines(invoice, CODES)] == [
        ("1100", Decimal("1873.00"), Decimal("0.00")), ("4000", Decimal("0.00"), Decimal("1650.00")),
        ("2200", Decimal("0.00"), Decimal("223.00"))]


def test_a_credit_note_with_lines_is_the_mirror_and_one_without_posts_its_amount_to_revenue():
    plan, [invoice] = _invoices([_line(1, "1000.00", S19, "LIC"), _line(2, "300.00", EXEMPT)])
    note = LinedCreditNote.on(invoice, [replace(invoice.lines[0], net=Decimal("100.00"))])
    assert [(l.account_code, l.debit, l.credit) for l in credit_note_lines(note, MAPPED)] == [
        ("4010", Decimal("100.00"), Decimal("0.00")), ("2201", Decimal("19.00"), Decimal("0.00")),
        ("1100", Decimal("0.00"), Decimal("119.00"))]
    old_plan, [old_invoice] = _invoices([_line(1, "500.00", EXPORT)])
    old = credit(old_plan, old_invoice, eur("20.00"))
    old_lines = [(l.account_code, l.debit, l.credit) for l in credit_note_lines(old, MAPPED)]
    if getattr(old, "lines", ()):  # credit notes now carry the lines they take back
        assert old_lines == [("4030", Decimal("20.00"), Decimal("0.00")), ("1100", Decimal("0.00"), Decimal("20.00"))]
    else:
        assert old_lines == [("4000", Decimal("20.00"), Decimal("0.00")), ("1100", Decimal("0.00"), Decimal("20.00"))]


def test_a_credit_notes_vat_row_below_zero_posts_on_the_other_side_and_the_entry_still_balances():
    # The last note on a row takes back exactly the tax left, which earlier notes' rounding overshot.
    _, [invoice] = _invoices([_line(1, "0.12", Vat(TaxCategory.STANDARD, Decimal("17")))])
    row = replace(invoice.tax_breakdown[0], taxable=eur("0.03"), tax=eur("-0.01"))
    note = replace(LinedCreditNote.on(invoice, [replace(invoice.lines[0], net=Decimal("0.03"))]),
                   tax_breakdown=(row,), tax=eur("-0.01"), amount=eur("0.02"))
    assert [(l.account_code, l.debit, l.credit) for l in credit_note_lines(note, CODES)] == [
        ("4000", Decimal("0.03"), Decimal("0.00")), ("2200", Decimal("0.00"), Decimal("0.01")),
        ("1100", Decimal("0.00"), Decimal("0.02"))]


def test_an_invoice_issued_before_lines_posts_its_whole_amount_to_revenue():
    _, [invoice] = _invoices([_line(1, "300.00", S19)])
    invoice.lines, invoice.tax_breakdown, invoice.net_amount, invoice.tax_amount = (), (), None, None
    assert [(l.account_code, l.debit, l.credit, l.description) for l in invoice_lines(invoice, MAPPED)] == [
        ("1100", Decimal("357.00"), Decimal("0.00"), f"invoice {invoice.number}, instalment part 1"),
        ("4000", Decimal("0.00"), Decimal("357.00"), f"invoice {invoice.number}, instalment part 1")]


def test_a_document_whose_lines_and_vat_miss_its_amount_is_refused_not_posted_askew():
    _, [invoice] = _invoices([_line(1, "300.00", S19)])
    invoice.amount_due = Decimal("357.01")
    with pytest.raises(UnbalancedDocument, match="357.00 EUR, not its amount 357.01"):
        invoice_lines(invoice, CODES)


# -- properties over random invoices, credit notes and payments ---------------------------------

EXAMPLES = 200
CURRENCIES = ["EUR", "JPY", "BHD", "USD"]
SCHEDULES = [(100,), (30, 70), (30, 60, 10), (50, 50), (1, 99)]
CODES_SOLD = ["LIC", "SVC", "HW", "DOCS", None]
ACCOUNTS = ["4000", "4010", "4020", "4030", "2200", "2201", "2202"]  # never 1100, 1000 or 2150


@st.composite
def account_codes(draw) -> AccountCodes:
    rates = ["S:19", "S:7", "S:5.5", "S:20", "Z:0", "E:0"]
    return replace(CODES,
                   tax_accounts=draw(st.dictionaries(st.sampled_from(rates), st.sampled_from(ACCOUNTS), max_size=4)),
                   revenue_by_product=draw(st.dictionaries(st.sampled_from(["LIC", "SVC", "HW", "NONE-SOLD"]),
                                                           st.sampled_from(ACCOUNTS), max_size=3)),
                   revenue_by_category=draw(st.dictionaries(st.sampled_from([c.value for c in TaxCategory]),
                                                            st.sampled_from(ACCOUNTS), max_size=4)))


@st.composite
def deals(draw) -> tuple[BillingPlan, list[Invoice]]:
    currency = draw(st.sampled_from(CURRENCIES))
    quantum = Decimal(1).scaleb(-minor_unit_exponent(currency))
    # Lines outside the scope of VAT are invoiced on their own (BR-O-11): a deal is of O lines or of none.
    pool = draw(st.sampled_from([VATS[:-1], VATS[-1:]]))
    lines = [SalesLine(position, f"line {position}", Decimal(draw(st.integers(1, 12))), "C62",
                       Money(Decimal(draw(st.integers(1, 10**7))) * quantum, currency),
                       code=draw(st.sampled_from(CODES_SOLD)), vat=draw(st.sampled_from(pool)))
             for position in range(1, draw(st.integers(1, 8)) + 1)]
    percents = draw(st.sampled_from(SCHEDULES))
    value = sum((line.net for line in lines), Money.zero(currency))
    assume(all(not part.is_zero() for part in value.split([Decimal(p) for p in percents])))
    return _invoices(lines, percents)


def _expected_revenue(lines: Sequence[InvoiceLine], codes: AccountCodes, currency: str) -> dict[str, Decimal]:
    """The documented order: the product's account, else the category's, else the default."""
    expected: dict[str, Decimal] = {}
    for line in lines:
        if line.code in codes.revenue_by_product:
            account = codes.revenue_by_product[line.code]
        elif line.vat.category.value in codes.revenue_by_category:
            account = codes.revenue_by_category[line.vat.category.value]
        else:
            account = codes.revenue
        expected[account] = expected.get(account, Decimal(0)) + line.net
    return {a: Money(v, currency).amount for a, v in expected.items() if v}


def _expected_tax(rows: Sequence[TaxBreakdown], codes: AccountCodes) -> dict[str, Decimal]:
    expected: dict[str, Decimal] = {}
    for row in rows:
        if row.tax.amount:
            rate = "" if row.rate is None else ":" + format(row.rate.normalize(), "f")
            account = codes.tax_accounts.get(f"{row.category.value}{rate}", codes.vat_payable)
            expected[account] = expected.get(account, Decimal(0)) + row.tax.amount
    return expected


def _check_entry(entry: Sequence[JournalLine], currency: str) -> None:
    """Balanced exactly, in the currency's minor unit, never a negative or a two-sided line."""
    exponent = -minor_unit_exponent(currency)
    assert sum(l.debit for l in entry) == sum(l.credit for l in entry)
    for line in entry:
        assert line.currency == currency
        assert line.debit.as_tuple().exponent == line.credit.as_tuple().exponent == exponent
        assert line.debit >= 0 and line.credit >= 0 and not (line.debit and line.credit)


def _by_entry(lines: Sequence[JournalLine]) -> dict[str, list[JournalLine]]:
    entries: dict[str, list[JournalLine]] = {}
    for line in lines:
        entries.setdefault(line.entry_id, []).append(line)
    return entries


@settings(max_examples=EXAMPLES, deadline=None)
@given(deals(), account_codes())
def test_every_invoice_balances_with_revenue_by_account_summing_to_its_net_and_vat_to_its_tax(deal, codes):
    _, invoices = deal
    for invoice in invoices:
        entry = invoice_lines(invoice, codes)
        _check_entry(entry, invoice.currency)
        assert entry[0].account_code == codes.receivable and entry[0].debit == invoice.amount.amount
        credits = entry[1:]
        revenue = [l for l in credits if "revenue" in l.description]
        tax = [l for l in credits if "VAT" in l.description]
        assert len(revenue) + len(tax) == len(credits)
        assert sum(l.credit for l in revenue) == invoice.net.amount
        assert sum(l.credit for l in tax) == invoice.tax.amount
        assert _sides(revenue, debit=False) == _expected_revenue(invoice.lines, codes, invoice.currency)
        assert _sides(tax, debit=False) == _expected_tax(invoice.tax_breakdown, codes)
        assert len({l.account_code for l in revenue}) == len(revenue), "one revenue line per account"


@settings(max_examples=EXAMPLES, deadline=None)
@given(deals(), account_codes(), st.data())
def test_every_credit_note_is_the_balanced_mirror_of_what_it_takes_back(deal, codes, data):
    _, invoices = deal
    for invoice in invoices:
        chosen = data.draw(st.lists(st.sampled_from(invoice.lines), min_size=1, unique_by=lambda l: l.position))
        quantum = Decimal(1).scaleb(-minor_unit_exponent(invoice.currency))
        taken = [replace(line, net=Decimal(data.draw(st.integers(1, int(line.net / quantum)))) * quantum)
                 for line in chosen]
        note = LinedCreditNote.on(invoice, taken)
        entry = credit_note_lines(note, codes)
        _check_entry(entry, note.currency)
        assert entry[-1].account_code == codes.receivable and entry[-1].credit == note.amount.amount
        revenue = [l for l in entry if "revenue" in l.description]
        tax = [l for l in entry if "VAT" in l.description]
        assert sum(l.debit for l in revenue) == note.net.amount
        assert sum(l.debit for l in tax) == note.tax.amount
        assert _sides(revenue, debit=True) == _expected_revenue(taken, codes, note.currency)
        assert _sides(tax, debit=True) == _expected_tax(note.tax_breakdown, codes)


@settings(max_examples=EXAMPLES, deadline=None)
@given(deals(), account_codes(), st.data())
def test_every_entry_of_a_random_journal_balances_payments_too(deal, codes, data):
    plan, invoices = deal
    currency = plan.currency
    quantum = Decimal(1).scaleb(-minor_unit_exponent(currency))
    gross = sum((i.amount for i in invoices), Money.zero(currency))
    received = Money(Decimal(data.draw(st.integers(1, int(gross.amount / quantum) * 2))) * quantum, currency)
    payment = pay([plan], invoices, received, contract_id=plan.contract_id, on=date(2026, 12, 3))
    notes = [LinedCreditNote.on(invoice, invoice.lines[:1]) for invoice in invoices]
    lines = journal(invoices=invoices, credit_notes=notes, payments=[payment], codes=codes, start=SIGNED,
                    end=date(2027, 12, 31))
    entries = _by_entry(lines)
    assert len(entries) == 2 * len(invoices) + 1
    for entry in entries.values():
        _check_entry(entry, currency)
    [receipt] = [e for key, e in entries.items() if key.startswith("payment:")]
    assert _sides(receipt, debit=True) == {codes.cash: received.amount}
    posted_receivable = sum(l.debit - l.credit for l in lines if l.account_code == codes.receivable)
    assert posted_receivable == sum((i.open_amount.amount for i in invoices), Decimal(0)) - sum(
        (n.amount.amount for n in notes), Decimal(0))
