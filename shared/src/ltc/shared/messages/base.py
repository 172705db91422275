"""Payload base classes shared by every event."""

from __future__ import annotations

import itertools
import re
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal
from uuid import UUID

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PrivateAttr,
    WithJsonSchema,
    model_validator,
)

from ltc.shared.lines import SalesLine, Supply, TaxCategory, Vat
from ltc.shared.money import Money, MoneyError, validate_currency

# The one rule for a decimal string, in the published schemas and in the validator alike. `[0-9]`,
# not `\d`: a JSON Schema `\d` means ASCII digits, Python's any Unicode digit ("١٢٣").
DECIMAL_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"
_DECIMAL = re.compile(DECIMAL_PATTERN)


def _decimal_string(value: Any) -> Any:
    if isinstance(value, str):
        # fullmatch: Python's `$` also matches before a trailing newline.
        if _DECIMAL.fullmatch(value) is None:
            raise ValueError(f'a decimal string such as "1234.50" is expected (pattern {DECIMAL_PATTERN})')
    elif isinstance(value, int | float):  # bool included
        # A float has already lost the cents it was meant to carry; an int is a spelling the
        # published schema does not allow, so a consumer checking it would refuse the event.
        raise ValueError('amounts are decimal strings such as "1234.50", not JSON numbers')
    # A Decimal is the service's own value (computed, read from the database): it passes.
    return value


DecimalStr = Annotated[
    Decimal,
    BeforeValidator(_decimal_string),
    # Fixed-point: str() writes exponents ("1E-7", "1E+3"), which the pattern refuses.
    PlainSerializer(lambda d: format(d, "f"), return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": DECIMAL_PATTERN}),
]

# The commercial terms' numbers, bounded the same way wherever terms are written (opportunities'
# terms under negotiation, contracts' drafts and amendments).
Percent = Annotated[DecimalStr, Field(gt=0, le=100, description='a share of the value, e.g. "30"')]
Quantity = Annotated[DecimalStr, Field(gt=0, lt=10**9)]
DueDays = Annotated[int, Field(ge=0, le=3650, description="days from the trigger to the due date")]

CurrencyCode = Annotated[
    str,
    BeforeValidator(lambda v: validate_currency(v) if isinstance(v, str) else v),
    WithJsonSchema({"type": "string", "pattern": "^[A-Z]{3}$", "description": "ISO 4217 code"}),
]


class MoneyPayload(BaseModel):
    """`{"amount": "1234.50", "currency": "EUR"}`."""

    model_config = ConfigDict(frozen=True)

    amount: DecimalStr
    currency: CurrencyCode

    @model_validator(mode="after")
    def _fits_the_currency(self) -> MoneyPayload:
        # "10.001 EUR" is not money: refuse it here, where the error can name the field.
        try:
            Money(self.amount, self.currency)
        except MoneyError as exc:
            raise ValueError(str(exc)) from None
        return self

    def to_money(self) -> Money:
        return Money(self.amount, self.currency)

    @classmethod
    def of(cls, money: Money) -> MoneyPayload:
        return cls(amount=money.amount, currency=money.currency)


class Lineage(BaseModel):
    """Where this event's flow came from, as far as the producing stage knows."""

    lead_id: UUID | None = None
    opportunity_id: UUID | None = None
    contract_id: UUID | None = None


_raised = itertools.count()


class EventPayload(BaseModel):
    """Base of every event payload. Fields are only ever added, so consumers ignore unknown ones."""

    model_config = ConfigDict(extra="ignore")

    event_type: ClassVar[str]
    version: ClassVar[int] = 1
    topic: ClassVar[str]
    # The payload field holding the aggregate id: the Kafka key and the CloudEvents subject.
    subject_field: ClassVar[str]

    lineage: Lineage = Field(default_factory=Lineage)

    # When the event was raised in this process: the outbox keeps that order across aggregates,
    # whatever order the aggregates were loaded in.
    _raised_order: int = PrivateAttr(default_factory=lambda: next(_raised))

    @property
    def raised_order(self) -> int:
        return self._raised_order

    @classmethod
    def ce_type(cls) -> str:
        return f"ltc.{cls.event_type}.v{cls.version}"

    def subject(self) -> str:
        return str(getattr(self, self.subject_field))


class VatPayload(BaseModel):
    """The VAT a line bears: an EN 16931 category (UNTDID 5305) and its rate in percent."""

    category: Literal["S", "Z", "E", "AE", "K", "G", "O"]
    rate: DecimalStr | None = Field(default=None, description="percent; none only for O (outside the scope)")
    exemption_reason: str | None = Field(default=None, description="required for E, AE, K, G and O")

    def to_vat(self) -> Vat:
        return Vat(TaxCategory(self.category), self.rate, self.exemption_reason)

    @classmethod
    def of(cls, vat: Vat) -> VatPayload:
        return cls(category=vat.category.value, rate=vat.rate, exemption_reason=vat.exemption_reason)


class LinePayload(BaseModel):
    """One line of what is sold, as agreed at ATC and kept on the contract (`ltc.shared.lines`): net
    of VAT; the lines of a contract add up to its value."""

    position: int = Field(ge=1)
    code: str | None = Field(default=None, description="the seller's product or service code")
    description: str
    quantity: DecimalStr
    unit: str = Field(description="UN/ECE Recommendation 20 unit code, e.g. C62 (one), HUR (hour)")
    unit_price: MoneyPayload = Field(description="net, per unit")
    discount: MoneyPayload | None = Field(default=None, description="an amount off the whole line")
    net: MoneyPayload = Field(description="quantity × unit price − discount")
    supply: Literal["goods", "services"] = "services"
    vat: VatPayload | None = Field(default=None, description="the VAT agreed for this line; none: the seller's tax "
                                                             "rules decide it on each invoice")
    milestone: str | None = Field(default=None, description="the delivery milestone the line is delivered (and "
                                                            "invoiced) with")

    def to_line(self) -> SalesLine:
        return SalesLine(position=self.position, code=self.code, description=self.description,
                         quantity=self.quantity, unit=self.unit, unit_price=self.unit_price.to_money(),
                         discount=self.discount.to_money() if self.discount is not None else None,
                         supply=Supply(self.supply), vat=self.vat.to_vat() if self.vat is not None else None,
                         milestone=self.milestone)

    @classmethod
    def of(cls, line: SalesLine) -> LinePayload:
        """Of a line whose net is exact money (a contracted line always is)."""
        return cls(**cls.parts_of(line), net=MoneyPayload.of(line.net))

    @staticmethod
    def parts_of(line: SalesLine) -> dict[str, Any]:
        """Every field but the net."""
        return {"position": line.position, "code": line.code, "description": line.description,
                "quantity": line.quantity, "unit": line.unit, "unit_price": MoneyPayload.of(line.unit_price),
                "discount": MoneyPayload.of(line.discount) if line.discount is not None else None,
                "supply": line.supply.value, "vat": VatPayload.of(line.vat) if line.vat is not None else None,
                "milestone": line.milestone}
