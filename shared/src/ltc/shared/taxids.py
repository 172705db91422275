"""VAT ids checked as their country's tax authority defines them, with python-stdnum.

One rule for every party an invoice names (the customer's billing identity in leads, our own
seller identity in finance): an id with an EU country prefix (EL for Greece, XI for Northern
Ireland) is checked as that country's; any other against the party's country, where python-stdnum
has a VAT check for it (CH, GB, NO, CN's unified social credit code, ...). A country it knows no
check for (US, for one) keeps the id as given: nothing says it is wrong.
"""

from __future__ import annotations

from typing import Any

from stdnum import get_cc_module
from stdnum.eu import vat as eu_vat
from stdnum.exceptions import ValidationError as NumberInvalid

from ltc.shared.rules import RuleViolation

TAX_ID_INVALID = "tax-id-invalid"


def check_vat_id(tax_id: str, country: str, *, field: str) -> None:
    """Raise `tax-id-invalid` naming `field` when `tax_id` fails its country's check."""
    prefix = tax_id.strip()[:2].upper()
    if prefix.lower() in eu_vat.MEMBER_STATES or prefix == "EL":
        checker: Any = eu_vat
        where = f"the {prefix} VAT check"
    else:
        checker = get_cc_module(country.lower(), "vat")
        where = f"the VAT check of {country}"
        if checker is None:
            return
    try:
        checker.validate(tax_id)
    except NumberInvalid as exc:
        raise RuleViolation(TAX_ID_INVALID, f"{tax_id!r} is not a valid VAT id: it fails {where} ({exc})",
                            errors=[{"field": field, "message": f"fails {where}: {exc}"}]) from None
