"""The parties an invoice names: the customer it bills (its bill-to) and ourselves, the seller.

Finance keeps its own copy of each account as leads last published it (`account.created`,
`account.updated`, each the whole account), and an invoice snapshots the bill-to and the seller
identity as they are when it is issued: a later change of either never rewrites an issued invoice.

The copy's order: an account event carries the time of the state it describes (`created_at` of a
creation, `updated_at` of an update). An event replaces the copy when its state is newer; an
update as old as the copy replaces it too (the creation and a first update in one instant), a
creation never replaces a copy already there at the same time or later. So an event redelivered or
replayed late, older than what finance holds, changes nothing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from ltc.shared.taxids import check_vat_id


class AccountChange(StrEnum):
    """Which account event a copy was taken from."""

    CREATED = "created"
    UPDATED = "updated"


def supersedes(held_as_of: datetime | None, incoming_as_of: datetime, change: AccountChange) -> bool:
    """Whether an account event of `incoming_as_of` replaces a copy of `held_as_of` (None: no copy)."""
    if held_as_of is None:
        return True
    if change is AccountChange.UPDATED:
        return incoming_as_of >= held_as_of
    return incoming_as_of > held_as_of


@dataclass(frozen=True)
class Address:
    line1: str
    city: str
    country: str  # ISO 3166-1 alpha-2
    line2: str | None = None
    postal_code: str | None = None


@dataclass(frozen=True)
class SellerIdentity:
    """Who issues our invoices: configuration (the `seller-identity` policy), snapshotted on each."""

    legal_name: str
    tax_id: str | None
    address: Address
    registration_id: str | None = None

    def check(self) -> None:
        """Our VAT id is checked as the customers' are (`tax-id-invalid` naming `tax_id`)."""
        if self.tax_id:
            check_vat_id(self.tax_id, self.address.country, field="tax_id")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> SellerIdentity:
        address = document["address"]
        return cls(legal_name=document["legal_name"], tax_id=document.get("tax_id"),
                   registration_id=document.get("registration_id"),
                   address=Address(line1=address["line1"], line2=address.get("line2"),
                                   postal_code=address.get("postal_code"), city=address["city"],
                                   country=address["country"]))
