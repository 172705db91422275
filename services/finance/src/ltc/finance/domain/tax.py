"""VAT on an invoice as EN 16931 computes it, and which VAT a line bears, from configuration.

Categories are EN 16931's (UNTDID 5305 subset): S standard, Z zero rated, E exempt (with a
reason), AE reverse charge, K intra-community supply, G export outside the EU, O outside the scope
of VAT. Each needs what EN 16931 requires of it: a positive rate for S, a rate of 0 for Z, E, AE,
K and G, no rate for O; an exemption reason for E, AE, K, G and O; the buyer's VAT id for AE and K.

Totals (BR-CO-10 to BR-CO-16): the invoice's net is the sum of its lines' nets; per category and
rate, the taxable amount is the sum of those lines' nets and its tax is that amount times the rate,
rounded once, to the currency's minor unit, half up (never line by line, so an invoice of many
small lines owes what one line of their sum would); the total tax is the sum of those; gross is
net plus tax; payable is gross minus what was paid.

Which category and rate a line bears is configuration (`TaxRules`), by the seller's and the
buyer's country and whether the buyer has a VAT id: an admin maintains it as data, no code
change for a new rate or a new country.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from ltc.shared.lines import NEEDS_BUYER_TAX_ID, SalesLine, TaxCategory, Vat
from ltc.shared.money import Money, minor_unit_exponent
from ltc.shared.rules import RuleViolation

TAX_CATEGORY_INCOMPLETE = "tax-category-incomplete"
REVERSE_CHARGE_WITHOUT_BUYER_TAX_ID = "reverse-charge-without-buyer-tax-id"
TAX_RULES_INVALID = "tax-rules-invalid"
NO_TAX_RULE = "no-tax-rule"
BILL_TO_UNKNOWN = "bill-to-unknown"
OUT_OF_SCOPE_MIXED = "out-of-scope-mixed"


@dataclass(frozen=True)
class TaxedLine:
    net: Money
    vat: Vat


@dataclass(frozen=True)
class TaxBreakdown:
    """One row of the invoice's VAT breakdown (EN 16931 BG-23)."""

    category: TaxCategory
    rate: Decimal | None
    taxable: Money
    tax: Money
    exemption_reason: str | None


@dataclass(frozen=True)
class InvoiceTotals:
    net: Money
    breakdown: tuple[TaxBreakdown, ...]
    tax: Money
    gross: Money
    paid: Money
    payable: Money

    @classmethod
    def of(cls, lines: Sequence[TaxedLine], *, paid: Money | None = None, buyer_tax_id: str | None = None,
           field: str = "lines") -> InvoiceTotals:
        if not lines:
            raise RuleViolation(TAX_CATEGORY_INCOMPLETE, "an invoice has at least one line")
        currency = lines[0].net.currency
        problems = [p for i, line in enumerate(lines) for p in line.vat.problems(f"{field}[{i}].vat")]
        if problems:
            raise RuleViolation(TAX_CATEGORY_INCOMPLETE, "; ".join(f"{p['field']}: {p['message']}" for p in problems),
                                errors=problems)
        categories = {line.vat.category for line in lines}
        if TaxCategory.OUT_OF_SCOPE in categories and len(categories) > 1:
            raise RuleViolation(OUT_OF_SCOPE_MIXED, "lines outside the scope of VAT (O) are invoiced on their own "
                                "(EN 16931 BR-O-11): not with lines of "
                                + ", ".join(sorted(c.value for c in categories - {TaxCategory.OUT_OF_SCOPE})),
                                errors=[{"field": field, "message": "category O with other categories"}])
        if not (buyer_tax_id or "").strip() and any(line.vat.category in NEEDS_BUYER_TAX_ID for line in lines):
            raise RuleViolation(REVERSE_CHARGE_WITHOUT_BUYER_TAX_ID,
                                "a reverse-charge or intra-community line needs the buyer's VAT id",
                                errors=[{"field": "buyer.tax_id", "message": "required by categories AE and K"}])
        zero = Money(Decimal(0), currency)
        groups: dict[tuple[TaxCategory, Decimal | None], list[TaxedLine]] = {}
        for line in lines:
            groups.setdefault((line.vat.category, line.vat.rate), []).append(line)
        breakdown = []
        for (category, rate), members in groups.items():
            taxable = sum((m.net for m in members), zero)
            breakdown.append(TaxBreakdown(category, rate, taxable, tax_of(taxable, rate),
                                          next((m.vat.exemption_reason for m in members if m.vat.exemption_reason),
                                               None)))
        net = sum((line.net for line in lines), zero)
        tax = sum((row.tax for row in breakdown), zero)
        paid = paid or zero
        return cls(net, tuple(breakdown), tax, net + tax, paid, net + tax - paid)


def tax_of(taxable: Money, rate: Decimal | None) -> Money:
    """The VAT of one category and rate: the taxable amount times the rate, rounded once, half up."""
    if not rate:
        return Money(Decimal(0), taxable.currency)
    quantum = Decimal(1).scaleb(-minor_unit_exponent(taxable.currency))
    return Money((taxable.amount * rate / 100).quantize(quantum, rounding=ROUND_HALF_UP), taxable.currency)


@dataclass(frozen=True)
class TaxRule:
    """When a line bears `vat`: every condition given must hold (None: any)."""

    vat: Vat
    seller_country: str | None = None
    buyer_in: frozenset[str] | None = None  # the buyer's country is one of these
    buyer_not_in: frozenset[str] | None = None
    same_country: bool | None = None
    buyer_has_tax_id: bool | None = None
    supply: str | None = None  # "goods" or "services"

    def applies(self, *, seller_country: str, buyer_country: str, buyer_has_tax_id: bool, supply: str) -> bool:
        return ((self.seller_country is None or self.seller_country == seller_country)
                and (self.buyer_in is None or buyer_country in self.buyer_in)
                and (self.buyer_not_in is None or buyer_country not in self.buyer_not_in)
                and (self.same_country is None or self.same_country == (seller_country == buyer_country))
                and (self.buyer_has_tax_id is None or self.buyer_has_tax_id == buyer_has_tax_id)
                and (self.supply is None or self.supply == supply))


@dataclass(frozen=True)
class TaxRules:
    """An ordered table: the first rule that applies decides. Named country groups (e.g. `EU`)
    keep the table short; they are data too."""

    rules: tuple[TaxRule, ...]

    def vat_for(self, *, seller_country: str, buyer_country: str, buyer_tax_id: str | None,
                supply: str) -> Vat:
        facts = {"seller_country": seller_country, "buyer_country": buyer_country,
                 "buyer_has_tax_id": bool((buyer_tax_id or "").strip()), "supply": supply}
        for rule in self.rules:
            if rule.applies(**facts):
                return rule.vat
        raise RuleViolation(NO_TAX_RULE, f"no tax rule covers a sale of {supply} from {seller_country} to "
                            f"{buyer_country}", errors=[{"field": "buyer.country", "message": "no tax rule"}])

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> TaxRules:
        groups = {name: frozenset(members) for name, members in document.get("groups", {}).items()}

        def countries(value: Any) -> frozenset[str] | None:
            if value is None:
                return None
            names = [value] if isinstance(value, str) else list(value)
            return frozenset(c for name in names for c in groups.get(name, {name}))

        rules = []
        problems = []
        for i, row in enumerate(document.get("rules", [])):
            try:
                rate = row.get("rate")
                vat = Vat(TaxCategory(row["category"]), None if rate is None else Decimal(str(rate)),
                          row.get("exemption_reason"))
            except (KeyError, ValueError, ArithmeticError) as exc:
                problems.append({"field": f"rules.{i}", "message": f"not a VAT category and rate: {exc}"})
                continue
            problems += vat.problems(f"rules.{i}")
            rules.append(TaxRule(vat, row.get("seller_country"), countries(row.get("buyer_in")),
                                 countries(row.get("buyer_not_in")), row.get("same_country"),
                                 row.get("buyer_has_tax_id"), row.get("supply")))
        if problems or not rules:
            raise RuleViolation(TAX_RULES_INVALID, "the tax rules are not valid",
                                errors=problems or [{"field": "rules", "message": "at least one rule"}])
        return cls(tuple(rules))


EU = ("AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT", "LT", "LU",
      "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK")

# The built-in table, version 0 of the `tax-rules` policy: a German seller. Domestic sales at the
# standard rate; to a business elsewhere in the EU, goods as intra-community supplies and services
# under reverse charge; to the rest of the world, export. A seller elsewhere replaces the table.
DEFAULT_TAX_RULES: dict[str, Any] = {
    "groups": {"EU": sorted(EU)},
    "rules": [
        {"seller_country": "DE", "same_country": True, "category": "S", "rate": "19"},
        {"buyer_in": ["EU"], "buyer_has_tax_id": True, "supply": "goods", "category": "K", "rate": "0",
         "exemption_reason": "Intra-Community supply"},
        {"buyer_in": ["EU"], "buyer_has_tax_id": True, "supply": "services", "category": "AE", "rate": "0",
         "exemption_reason": "Reverse charge"},
        {"buyer_in": ["EU"], "buyer_has_tax_id": False, "seller_country": "DE", "category": "S", "rate": "19"},
        {"buyer_not_in": ["EU"], "category": "G", "rate": "0", "exemption_reason": "Export outside the EU"},
    ],
}


def vat_deciding(rules: TaxRules, seller: dict[str, Any], bill_to: dict[str, Any] | None
                 ) -> Callable[[SalesLine], Vat]:
    """Which VAT a line bears on an invoice to `bill_to`: the VAT agreed for the line if any, else the
    tax rules' for the seller's and the buyer's country."""
    def vat_of(line: SalesLine) -> Vat:
        if line.vat is not None:
            return line.vat
        if bill_to is None:
            raise RuleViolation(BILL_TO_UNKNOWN, "the customer's billing identity is not known yet: an invoice "
                                "names its bill-to (leads' account billing) and its VAT depends on its country")
        return rules.vat_for(seller_country=seller["address"]["country"],
                             buyer_country=bill_to["address"]["country"], buyer_tax_id=bill_to.get("tax_id"),
                             supply=line.supply.value)
    return vat_of
