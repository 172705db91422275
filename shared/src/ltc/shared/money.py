"""Money as Decimal + ISO 4217 currency, and exact splitting of an amount into shares."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any

import iso4217

MAX_AMOUNT = Decimal(10) ** 16


class MoneyError(ValueError):
    """An amount or currency that is not valid money."""


def minor_unit_exponent(currency: str) -> int:
    """Decimal places of the currency's minor unit (EUR 2, JPY 0, BHD 3)."""
    try:
        exponent = iso4217.Currency(currency).exponent
    except (ValueError, KeyError):
        raise MoneyError(f"{currency!r} is not an ISO 4217 currency code") from None
    # Funds and precious metals carry no minor unit; treat them as 2 places like most currencies.
    return 2 if exponent is None else exponent


def validate_currency(currency: str) -> str:
    if not isinstance(currency, str) or len(currency) != 3 or not currency.isupper():
        raise MoneyError(f"{currency!r} is not an ISO 4217 currency code")
    minor_unit_exponent(currency)
    return currency


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        validate_currency(self.currency)
        try:
            amount = Decimal(self.amount)
        except (InvalidOperation, TypeError):
            raise MoneyError(f"{self.amount!r} is not a decimal amount") from None
        if not amount.is_finite():
            raise MoneyError("amount must be finite")
        # Every amount column is NUMERIC(20, 4): sixteen integer digits. Larger is not an amount
        # anyone invoices, and refused here it is the caller's 422, not the database's 500.
        if abs(amount) >= MAX_AMOUNT:
            raise MoneyError(f"amounts must be below {MAX_AMOUNT:,} in absolute value")
        quantum = Decimal(1).scaleb(-minor_unit_exponent(self.currency))
        if amount != amount.quantize(quantum):
            raise MoneyError(
                f"{self.currency} amounts have at most {minor_unit_exponent(self.currency)} decimal places"
            )
        object.__setattr__(self, "amount", amount.quantize(quantum))

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(Decimal(0), currency)

    def _same_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise MoneyError(f"currency mismatch: {self.currency} and {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount - other.amount, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same_currency(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same_currency(other)
        return self.amount <= other.amount

    def is_zero(self) -> bool:
        return self.amount == 0

    def to_json(self) -> dict[str, str]:
        return {"amount": str(self.amount), "currency": self.currency}

    @classmethod
    def from_json(cls, data: dict[str, str]) -> Money:
        return cls(Decimal(data["amount"]), data["currency"])

    def split(self, percentages: Sequence[Decimal]) -> list[Money]:
        """Split by percentages summing to 100 so the parts add up exactly (see `allocate`)."""
        shares = [Decimal(p) for p in percentages]
        if shares and sum(shares) != Decimal(100):
            raise MoneyError(f"shares must sum to 100, not {sum(shares)}")
        return self.allocate(shares)

    def allocate(self, weights: Sequence[Decimal]) -> list[Money]:
        """Split in proportion to positive `weights` so the parts add up exactly.

        Each part is rounded down to the minor unit; the remainder left by rounding goes to the
        last part, so every part but the last is exactly its share floored, and the sum is
        always the whole amount. (Contracts' instalments and finance's billing plans both come
        from here: they must never round differently.)
        """
        if not weights:
            raise MoneyError("at least one share is needed")
        shares = [Decimal(w) for w in weights]
        if any(w <= 0 for w in shares):
            raise MoneyError("every share must be positive")
        whole = sum(shares, Decimal(0))
        quantum = Decimal(1).scaleb(-minor_unit_exponent(self.currency))
        parts = [(self.amount * w / whole).quantize(quantum, rounding=ROUND_DOWN) for w in shares[:-1]]
        parts.append(self.amount - sum(parts, Decimal(0)))
        return [Money(part, self.currency) for part in parts]


class MoneyAttribute:
    """`paid = MoneyAttribute("paid_amount")`: an aggregate's amount column and its currency column
    read as one `Money`, written once here instead of a property per amount on every aggregate."""

    def __init__(self, amount: str, currency: str = "currency") -> None:
        self.amount = amount
        self.currency = currency

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: object, owner: type | None = None) -> Any:
        if obj is None:
            return self
        return Money(getattr(obj, self.amount), getattr(obj, self.currency))


class OptionalMoneyAttribute(MoneyAttribute):
    """A `MoneyAttribute` over nullable columns (a budget not known yet): `None` while either is
    NULL; assigning money, or `None`, writes both columns."""

    def __get__(self, obj: object, owner: type | None = None) -> Any:
        if obj is None:
            return self
        if getattr(obj, self.amount) is None or getattr(obj, self.currency) is None:
            return None
        return super().__get__(obj, owner)

    def __set__(self, obj: object, money: Money | None) -> None:
        setattr(obj, self.amount, money.amount if money is not None else None)
        setattr(obj, self.currency, money.currency if money is not None else None)
