"""The sample deal every end-to-end driver carries to cash (the e2e tests, the fault batch, the
benchmark): one set of request bodies, so the three cannot drift apart.

A 5G core for a telecom operator, 999,999.99 EUR net paid 30/60/10 on signing, preliminary and final
acceptance: the shares do not divide evenly, so the invoices prove the parts add up exactly. Three
lines (the core's equipment, integration hours at a discount, a support year) are pro-rated over
the three invoices. The buyer is a French operator with a VAT id, the seller German: under the
default tax rules the goods are an intra-community supply (K) and the services reverse-charged
(AE), so no VAT is charged and each invoice's gross is its net.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

VALUE = "999999.99"
INSTALMENTS = {"advance": Decimal("299999.99"), "preliminary acceptance": Decimal("599999.99"),
               "final acceptance": Decimal("100000.01")}

INSIGHT: dict[str, Any] = {
    "market": {"situation": "new", "notes": "first 5G core of the operator"},
    "customer": {"segment": "telecom operators", "region_value": "national", "strategy": "5G leadership",
                 "pains": "core capacity"},
    "product": {"phase": "growth", "notes": "cloud-native core"},
    "competition": {"industry_situation": "two incumbents", "customer_competitors": "two mobile operators",
                    "our_goals": "reference customer", "our_strategy": "migration without downtime",
                    "our_strengths": "automation", "our_weaknesses": "late to market"},
}
VALUE_PROPOSITION: dict[str, Any] = {
    "unique_advantages": "zero-downtime migration", "unique_value": "capacity without a new site",
    "need_met": "fully", "need_met_notes": "all traffic classes", "differentiation": "single vendor stack",
}
STAKEHOLDERS: list[dict[str, Any]] = [
    {"name": name, "title": role, "decision_role": role, "influence": 5, "attitude": "supporter",
     "relationship": "good"}
    for role, name in (("decision_maker", "CTO Li"), ("economic_buyer", "CFO Wang"))
]
# The SR's part of the terms: the value, its one line and the schedule.
TERMS: dict[str, Any] = {
    "value": {"amount": VALUE, "currency": "EUR"},
    "line_items": [
        {"position": 1, "code": "5GC-HW", "description": "5G core network equipment", "quantity": "3", "unit": "C62",
         "unit_price": {"amount": "233333.33", "currency": "EUR"}, "supply": "goods"},
        {"position": 2, "code": "5GC-INT", "description": "Integration and migration", "quantity": "200",
         "unit": "HUR", "unit_price": {"amount": "1250.00", "currency": "EUR"},
         "discount": {"amount": "10000.00", "currency": "EUR"}},
        {"position": 3, "code": "5GC-SUP", "description": "First-year support", "quantity": "12", "unit": "MON",
         "unit_price": {"amount": "5000.00", "currency": "EUR"}},
    ],
    "payment_terms": [
        {"name": "advance", "percent": "30", "trigger": "signing", "milestone": None, "due_days": 30},
        {"name": "preliminary acceptance", "percent": "60", "trigger": "milestone", "milestone": "PAC",
         "due_days": 45},
        {"name": "final acceptance", "percent": "10", "trigger": "milestone", "milestone": "FAC", "due_days": 45},
    ],
}


# The customer's billing identity: what its invoices name as the bill-to.
BILLING: dict[str, Any] = {
    "legal_name": "Télécom Opérateur SA", "registration_id": "303 265 045 RCS Paris", "tax_id": "FR40303265045",
    "address": {"line1": "10 rue de la Fibre", "postal_code": "75015", "city": "Paris", "country": "FR"},
    "contact_name": "Comptabilité fournisseurs", "contact_email": "factures@operateur.example",
    "erp_customer_id": "C-10042", "buyer_reference": "PO-5GC-2026",
}


def account(name: str) -> dict[str, Any]:
    """The body that creates the deal's account."""
    return {"name": name, "billing": BILLING}


def milestones(today: date) -> dict[str, Any]:
    """The FR's part of the terms: the two acceptances, planned ahead of `today`."""
    return {"milestones": [
        {"name": "PAC", "planned_date": (today + timedelta(days=90)).isoformat(), "acceptance_type": "preliminary"},
        {"name": "FAC", "planned_date": (today + timedelta(days=270)).isoformat(), "acceptance_type": "final"},
    ]}
