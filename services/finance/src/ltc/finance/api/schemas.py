"""Request and response bodies, named by role (`PaymentCreate`, `InvoiceRead`, ...)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, ClassVar, Literal
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator

from ltc.finance.config import finance_settings
from ltc.finance.domain.adjustments import (
    CashTolerance,
    Decision,
    Refund,
    RefundStatus,
    WriteOff,
    WriteOffKind,
    WriteOffRequest,
)
from ltc.finance.domain.bank import CONFIDENCE, BankStatement, BankTransaction, MatchRule, TransactionStatus
from ltc.finance.domain.billing_plan import BillingPlan, Instalment, InstalmentStatus
from ltc.finance.domain.invoice import CreditNote, Invoice, InvoiceStatus, breakdown_payload, line_payload
from ltc.finance.domain.journal import AccountCodes, DocumentType, JournalLine, canonical_tax_key
from ltc.finance.domain.lines import LineCredit
from ltc.finance.domain.parties import Address, SellerIdentity
from ltc.finance.domain.payment import Payment, PaymentStatus
from ltc.finance.domain.receivables import Bucket, DunningLevel, Exposure, OpenItem, bucket_of
from ltc.finance.handlers import Action, Audited, ScheduledRun
from ltc.shared.api import Happened, Versioned
from ltc.shared.controls import DATE_IN_FUTURE, FUTURE_TOLERANCE
from ltc.shared.messages import Lineage, MoneyPayload
from ltc.shared.messages.base import CurrencyCode, DecimalStr, LinePayload
from ltc.shared.messages.contracts_events import Trigger
from ltc.shared.messages.finance_events import InvoiceLinePayload, TaxBreakdownPayload
from ltc.shared.money import Money
from ltc.shared.policy import PolicyVersion
from ltc.shared.tiers import Tier

# The date rule as the OpenAPI states it (ltc.shared.controls.require_happened).
_NOT_AFTER_TOMORROW = f"not after today + {FUTURE_TOLERANCE.days} day (rule `{DATE_IN_FUTURE}`)"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# An invoice's number as it is printed (`INV-2026-000001`) and cited on a remittance advice.
InvoiceNumber = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]


class _NamesAnInvoice(_Strict):
    """A body that may name its invoice by number (accepted since issue 14; see
    `ltc.shared.api.request_hash` for why that matters to its idempotency record)."""

    ADDED_LATER: ClassVar[tuple[str, ...]] = ("invoice_number",)

    invoice_number: InvoiceNumber | None = None


class PaymentCreate(_NamesAnInvoice):
    bank_reference: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] = Field(
        description="the bank's reference of the credit; the same reference is never counted twice: sent again "
                    "with the same amount, currency, payer and value date it answers 200 with the first payment, "
                    "with any of them different 409 `bank-reference-conflict` naming the fields and the payment")
    payer: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
    amount: MoneyPayload
    value_date: Happened
    invoice_id: UUID | None = Field(default=None, description="pay this invoice; the surplus is held unapplied")
    invoice_number: InvoiceNumber | None = Field(
        default=None, description="instead of invoice_id: pay the invoice with this number, as the remittance advice "
                                  "cites it; both is a 422 `invoice-named-twice`, a number no invoice has a 422 "
                                  "`invoice-number-unknown` naming this field")
    contract_id: UUID | None = Field(
        default=None, description="without an invoice: pay this contract's open invoices, oldest due first; with "
                                  "one, the invoice must be of this contract")
    account_id: UUID | None = Field(
        default=None, description="without an invoice or contract_id: pay the account's open invoices, oldest due "
                                  "first across its contracts; with one, it must be of this account")
    end_to_end_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] | None = \
        Field(default=None, description=(
            "the end-to-end id the payer's bank gave the transfer (from the remittance advice): the statement entry "
            "carrying it (or this bank reference) confirms the payment"))

    ADDED_LATER: ClassVar[tuple[str, ...]] = ("invoice_number", "end_to_end_id")


class PaymentApplicationCreate(_NamesAnInvoice):
    invoice_id: UUID | None = Field(
        default=None, description="apply the held cash to this invoice; without it (or invoice_number), oldest due "
                                  "first across the payment's account (or contract)")
    invoice_number: InvoiceNumber | None = Field(
        default=None, description="instead of invoice_id: the invoice with this number; both is a 422 "
                                  "`invoice-named-twice`, a number no invoice has a 422 `invoice-number-unknown`")
    applied_on: Happened | None = Field(default=None, description=f"the day the cash is applied, "
                                                                 f"{_NOT_AFTER_TOMORROW}; today when left out")


class LineCreditIn(_Strict):
    position: int = Field(ge=1, description="the invoice line's position")
    quantity: DecimalStr | None = Field(default=None, description="credit this much of the line's quantity")
    net: MoneyPayload | None = Field(default=None, description="or credit this net amount of the line (a price "
                                                               "reduction); neither: all that is left of the line")

    def to_domain(self) -> LineCredit:
        return LineCredit(self.position, self.quantity, self.net.amount if self.net is not None else None,
                          self.net.currency if self.net is not None else None)


class CreditNoteCreate(_Strict):
    """What to credit. An invoice with lines is credited line by line (`lines`; none: every line, whole),
    each credit line bearing its invoice line's VAT; `amount` (gross) is credited pro rata over the lines
    only on an invoice that bears no VAT (422 `credit-by-lines` on one that does) and is required on an
    invoice issued before invoices had lines (422 `credit-by-amount`)."""

    ADDED_LATER: ClassVar[tuple[str, ...]] = ("lines",)

    amount: MoneyPayload | None = None
    lines: list[LineCreditIn] | None = Field(default=None, min_length=1, max_length=500)
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]


class ScheduledRunCreate(_Strict):
    as_of: date = Field(description="run billing on dates and dunning as the scheduled job would on this day: today "
                                    f"or a past day to catch up, {_NOT_AFTER_TOMORROW}")


CountryCode = Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, pattern="^[A-Za-z]{2}$")]


class AddressRead(BaseModel):
    line1: str
    line2: str | None = None
    postal_code: str | None = None
    city: str
    country: str = Field(description="ISO 3166-1 alpha-2")


class BillToRead(BaseModel):
    """The customer's billing identity as finance knew it when the invoice was issued (from leads'
    `account.created` / `account.updated`); a later change of the account does not rewrite it."""

    legal_name: str
    registration_id: str | None = None
    tax_id: str | None = Field(default=None, description="the buyer's VAT id")
    address: AddressRead
    contact_name: str | None = None
    contact_email: str | None = None
    erp_customer_id: str | None = None
    buyer_reference: str | None = Field(default=None, description="the buyer reference / PO number")


class SellerRead(BaseModel):
    """Who issued the invoice: the `seller-identity` policy in force when it was issued."""

    legal_name: str
    tax_id: str | None = Field(default=None, description="the seller's VAT id")
    registration_id: str | None = None
    address: AddressRead


class InvoiceRead(Versioned):
    id: UUID
    number: str
    contract_id: UUID
    account_id: UUID | None
    lineage: Lineage
    instalment: str
    amount: MoneyPayload
    paid_amount: MoneyPayload = Field(description="cash applied; part of it may still wait for the bank "
                                                  "(`unconfirmed_amount`)")
    credited_amount: MoneyPayload
    written_off_amount: MoneyPayload = Field(description="settled by write-offs (small balances, bad debts)")
    unconfirmed_amount: MoneyPayload = Field(description=(
        "of `paid_amount`, cash of payments no bank statement has shown yet: while it is not zero a covered invoice "
        "is `in_payment`, not `paid`"))
    open_amount: MoneyPayload = Field(description="amount - paid - credited - written off")
    issue_date: date
    due_date: date
    status: InvoiceStatus = Field(description=(
        "`issued`, `partially_paid`; `in_payment`: nothing open but some of the cash is not on a bank statement yet; "
        "`paid` (cash the bank confirmed covers it, with any credits and write-offs); `credited` (settled by credit "
        "notes alone); `written_off` (settled without cash). A returned payment re-opens it"))
    paid_on: date | None
    created_at: datetime
    bill_to: BillToRead | None = Field(
        default=None, description="the customer's billing identity when the invoice was issued; null when finance "
                                  "knew none (or for an invoice issued before finance kept it)")
    seller: SellerRead | None = Field(
        default=None, description="our identity as the seller when the invoice was issued; null for an invoice "
                                  "issued before finance kept it")
    payment_reference: str | None = Field(default=None, description=(
        "the ISO 11649 structured creditor reference (`RF94INV2026000001`) the customer quotes when paying, so the "
        "payment names its invoice"))
    net: MoneyPayload | None = Field(default=None, description="the sum of the lines' nets (null for an invoice "
                                                               "issued before invoices had lines)")
    tax: MoneyPayload | None = Field(default=None, description="the VAT: the sum of the breakdown's rows")
    lines: list[InvoiceLinePayload] = Field(description="what the invoice bills of each contract line, net of VAT")
    tax_breakdown: list[TaxBreakdownPayload] = Field(description=(
        "per VAT category and rate: the taxable amount and its VAT, rounded once per row, half up"))

    @classmethod
    def of(cls, invoice: Invoice) -> InvoiceRead:
        return cls(
            id=invoice.id, number=invoice.number, contract_id=invoice.contract_id, account_id=invoice.account_id,
            lineage=invoice.lineage(), instalment=invoice.instalment, amount=MoneyPayload.of(invoice.amount),
            paid_amount=MoneyPayload.of(invoice.paid), credited_amount=MoneyPayload.of(invoice.credited),
            written_off_amount=MoneyPayload.of(invoice.written_off),
            unconfirmed_amount=MoneyPayload.of(invoice.unconfirmed), open_amount=MoneyPayload.of(invoice.open_amount),
            issue_date=invoice.issue_date, due_date=invoice.due_date, status=invoice.status, paid_on=invoice.paid_on,
            created_at=invoice.created_at, version=invoice.version,
            bill_to=BillToRead.model_validate(invoice.bill_to) if invoice.bill_to is not None else None,
            seller=SellerRead.model_validate(invoice.seller) if invoice.seller is not None else None,
            net=MoneyPayload.of(invoice.net) if invoice.net is not None else None,
            tax=MoneyPayload.of(invoice.tax) if invoice.tax is not None else None,
            payment_reference=invoice.payment_reference,
            lines=[line_payload(line, invoice.currency) for line in invoice.lines],
            tax_breakdown=[breakdown_payload(row) for row in invoice.tax_breakdown],
        )


class ApplicationRead(BaseModel):
    invoice_id: UUID
    contract_id: UUID
    amount: MoneyPayload
    applied_on: date
    applied_by: str


class PaymentRead(Versioned):
    id: UUID
    bank_reference: str
    payer: str
    amount: MoneyPayload
    value_date: date
    invoice_id: UUID | None
    contract_id: UUID | None
    account_id: UUID | None
    lineage: Lineage
    applications: list[ApplicationRead]
    applied: MoneyPayload
    unapplied: MoneyPayload
    recorded_by: str
    created_at: datetime
    status: PaymentStatus = Field(description=(
        "`recorded` (typed in, not on a bank statement yet), `confirmed` (a statement entry shows it), `returned` "
        "(the bank sent it back: it pays nothing, what it paid is open again)"))
    end_to_end_id: str | None
    bank_transaction_id: UUID | None = Field(description="the statement entry that showed it")
    confirmed_on: date | None
    returned_on: date | None
    return_reason: str | None = Field(description="the bank's ISO 20022 return reason code, or the clerk's words")

    @classmethod
    def of(cls, payment: Payment) -> PaymentRead:
        return cls(
            id=payment.id, bank_reference=payment.bank_reference, payer=payment.payer,
            amount=MoneyPayload.of(payment.amount), value_date=payment.value_date, invoice_id=payment.invoice_id,
            contract_id=payment.contract_id, account_id=payment.account_id, lineage=payment.lineage(),
            applications=[
                ApplicationRead(invoice_id=a.invoice_id, contract_id=a.contract_id,
                                amount=MoneyPayload.of(Money(a.amount, payment.currency)), applied_on=a.applied_on,
                                applied_by=a.applied_by)
                for a in payment.applications
            ],
            applied=MoneyPayload.of(payment.applied), unapplied=MoneyPayload.of(payment.unapplied),
            recorded_by=payment.recorded_by, created_at=payment.created_at, version=payment.version,
            status=payment.status, end_to_end_id=payment.end_to_end_id,
            bank_transaction_id=payment.bank_transaction_id, confirmed_on=payment.confirmed_on,
            returned_on=payment.returned_on, return_reason=payment.return_reason,
        )


class InstalmentRead(BaseModel):
    id: UUID
    name: str
    percent: DecimalStr
    amount: MoneyPayload
    trigger: Trigger
    milestone_id: UUID | None
    due_days: int
    invoice_on: date | None
    status: InstalmentStatus
    invoice_id: UUID | None
    held: str | None = Field(default=None, description=(
        "why an instalment that is due is not invoiced yet (e.g. the customer's billing identity or a tax rule is "
        "missing); it is invoiced as soon as that is fixed"))

    @classmethod
    def of(cls, instalment: Instalment, currency: str) -> InstalmentRead:
        return cls(
            id=instalment.id, name=instalment.name, percent=instalment.percent,
            amount=MoneyPayload.of(Money(instalment.amount, currency)), trigger=instalment.trigger,
            milestone_id=instalment.milestone_id, due_days=instalment.due_days, invoice_on=instalment.invoice_on,
            status=instalment.status,
            invoice_id=instalment.invoice_id, held=instalment.hold_reason,
        )


class BillingPlanRead(Versioned):
    id: UUID
    contract_id: UUID
    account_id: UUID | None
    account_name: str | None
    lineage: Lineage
    contract_version: int
    signed_on: date
    value: MoneyPayload = Field(description="net of VAT, as the lines and instalments are")
    lines: list[LinePayload] = Field(description="the contract's lines as signed or last amended")
    instalments: list[InstalmentRead]
    invoiced: MoneyPayload = Field(description="net: the instalments invoiced")
    invoiced_gross: MoneyPayload = Field(description="gross: what the issued invoices are for, VAT included")
    collected: MoneyPayload = Field(description="gross cash applied")
    credited: MoneyPayload = Field(description="gross, by credit notes")
    open_balance: MoneyPayload = Field(description="invoiced (gross), neither collected nor credited")
    lead_created_on: date | None
    won_on: date | None
    first_invoiced_on: date | None
    fully_paid_on: date | None
    created_at: datetime

    @classmethod
    def of(cls, plan: BillingPlan) -> BillingPlanRead:
        return cls(
            id=plan.id, contract_id=plan.contract_id, account_id=plan.account_id, account_name=plan.account_name,
            lineage=plan.lineage(), contract_version=plan.contract_version,
            signed_on=plan.signed_on, value=MoneyPayload.of(plan.value),
            instalments=[InstalmentRead.of(i, plan.currency) for i in plan.instalments],
            lines=[LinePayload.of(line) for line in plan.lines],
            invoiced_gross=MoneyPayload.of(plan.invoiced_gross_money),
            invoiced=MoneyPayload.of(plan.invoiced), collected=MoneyPayload.of(plan.collected),
            credited=MoneyPayload.of(plan.credited), open_balance=MoneyPayload.of(plan.open_balance),
            lead_created_on=plan.lead_created_on, won_on=plan.won_on, first_invoiced_on=plan.first_invoiced_on,
            fully_paid_on=plan.fully_paid_on,
            created_at=plan.created_at, version=plan.version,
        )


class CreditNoteRead(BaseModel):
    id: UUID
    number: str
    invoice_id: UUID
    invoice_number: str
    contract_id: UUID
    account_id: UUID | None
    amount: MoneyPayload = Field(description="gross: net + tax")
    reason: str
    issue_date: date
    issued_by: str
    created_at: datetime
    net: MoneyPayload | None = Field(default=None, description="null on a note of an invoice without lines")
    tax: MoneyPayload | None = None
    lines: list[InvoiceLinePayload] = Field(description="what the note takes back of each invoice line")
    tax_breakdown: list[TaxBreakdownPayload]

    @classmethod
    def of(cls, note: CreditNote) -> CreditNoteRead:
        return cls(id=note.id, number=note.number, invoice_id=note.invoice_id, invoice_number=note.invoice_number,
                   contract_id=note.contract_id, account_id=note.account_id, amount=MoneyPayload.of(note.amount),
                   reason=note.reason, issue_date=note.issue_date, issued_by=note.issued_by,
                   created_at=note.created_at, net=MoneyPayload.of(note.net) if note.net is not None else None,
                   tax=MoneyPayload.of(note.tax) if note.tax is not None else None,
                   lines=[line_payload(line, note.currency) for line in note.lines],
                   tax_breakdown=[breakdown_payload(row) for row in note.tax_breakdown])


class OpenInvoiceRead(BaseModel):
    invoice_id: UUID
    number: str
    contract_id: UUID
    account_id: UUID | None
    issue_date: date
    due_date: date
    days_past_due: int
    bucket: Bucket
    open_amount: MoneyPayload
    dunning_level: DunningLevel | None = Field(description="the last dunning step taken, if any")

    @classmethod
    def of(cls, item: OpenItem, as_of: date) -> OpenInvoiceRead:
        days = item.days_past_due(as_of)
        return cls(invoice_id=item.invoice_id, number=item.number, contract_id=item.contract_id,
                   account_id=item.account_id, issue_date=item.issue_date, due_date=item.due_date,
                   days_past_due=days, bucket=bucket_of(days), open_amount=MoneyPayload.of(item.open_amount),
                   dunning_level=item.dunning_level)


class AgingBuckets(BaseModel):
    """The open amount in each aging bucket (days past due on the as-of date); every bucket is present."""

    model_config = ConfigDict(populate_by_name=True)

    current: MoneyPayload = Field(alias=Bucket.CURRENT.value, description="not yet due, or due on the as-of date")
    days_1_30: MoneyPayload = Field(alias=Bucket.DAYS_1_30.value)
    days_31_60: MoneyPayload = Field(alias=Bucket.DAYS_31_60.value)
    days_61_90: MoneyPayload = Field(alias=Bucket.DAYS_61_90.value)
    over_90: MoneyPayload = Field(alias=Bucket.OVER_90.value)

    @classmethod
    def of(cls, buckets: dict[Bucket, Money]) -> AgingBuckets:
        return cls.model_validate({str(b): MoneyPayload.of(m) for b, m in buckets.items()})


class AgingRead(BaseModel):
    currency: CurrencyCode
    buckets: AgingBuckets
    total_open: MoneyPayload = Field(description="the sum of the buckets and of the open invoices listed")
    unapplied_cash: MoneyPayload = Field(description="cash received and not yet applied to an invoice")
    net_exposure: MoneyPayload = Field(description="total open less unapplied cash")
    invoices: list[OpenInvoiceRead]


class ReceivablesRead(BaseModel):
    as_of: date
    account_id: UUID | None
    contract_id: UUID | None
    currencies: list[AgingRead]

    @classmethod
    def of(cls, *, as_of: date, account_id: UUID | None, contract_id: UUID | None,
           exposures: list[Exposure]) -> ReceivablesRead:
        return cls(as_of=as_of, account_id=account_id, contract_id=contract_id, currencies=[AgingRead(
            currency=e.currency, buckets=AgingBuckets.of(e.buckets),
            total_open=MoneyPayload.of(e.total_open), unapplied_cash=MoneyPayload.of(e.unapplied_cash),
            net_exposure=MoneyPayload.of(e.net_exposure), invoices=[OpenInvoiceRead.of(i, as_of) for i in e.items],
        ) for e in exposures])


class DunnedInvoiceRead(BaseModel):
    invoice_id: UUID
    number: str
    contract_id: UUID
    dunning_level: DunningLevel
    days_overdue: int
    open_amount: MoneyPayload


class ScheduledRunRead(BaseModel):
    as_of: date
    invoices_issued: list[UUID]
    dunned: list[DunnedInvoiceRead]

    @classmethod
    def of(cls, result: ScheduledRun) -> ScheduledRunRead:
        return cls(as_of=result.as_of, invoices_issued=result.invoiced, dunned=[
            DunnedInvoiceRead(invoice_id=i.invoice_id, number=i.number, contract_id=i.contract_id, dunning_level=level,
                              days_overdue=(result.as_of - i.due_date).days, open_amount=i.open_amount.to_json())
            for i, level in result.dunned])


class JournalLineRead(BaseModel):
    entry_id: str
    posting_date: date
    document_type: DocumentType
    document_id: UUID
    document_number: str
    account_code: str
    debit: DecimalStr
    credit: DecimalStr
    currency: CurrencyCode
    contract_id: UUID | None
    account_id: UUID | None
    description: str

    @classmethod
    def of(cls, line: JournalLine) -> JournalLineRead:
        return cls(**vars(line))


class JournalRead(BaseModel):
    start: date = Field(serialization_alias="from")
    end: date = Field(serialization_alias="to")
    lines: list[JournalLineRead]


class HistoryEntryRead(BaseModel):
    """One change in the audit trail: the object itself, or one filed under it (a payment under an invoice)."""

    model_config = ConfigDict(from_attributes=True)

    id: UUID
    action: Action
    actor: str = Field(description="the user's id, or `event:<type>` for a change an event made")
    at: datetime
    object_type: Audited
    object_id: UUID
    changes: dict[str, Any]


AccountCode = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]


def _tax_key(key: str) -> str:
    canonical_tax_key(key)  # named here, the refusal names the key; spelt canonically below
    return key


# How the journal splits revenue and posts VAT (`ltc.finance.domain.journal`), as the OpenAPI states it.
_REVENUE = "the default revenue account: the net of a line whose product and VAT category are not mapped"
_UNAPPLIED = "a liability: cash received and not yet applied to an invoice"
_WRITE_OFF = "the expense account a written-off receivable (a small balance or a bad debt) is debited to"
_VAT_PAYABLE = ("the default tax account (a liability): the VAT of a category and rate `tax_accounts` does not "
                "map; its own account, like the other four roles")
_TAX_ACCOUNTS = ('`"<category>:<rate>"` (EN 16931 category, rate in percent: `S:19`, `S:7`, `S:5.5`) to the '
                 "account the VAT of that breakdown row is posted to; unmapped: `vat_payable`")
_BY_PRODUCT = ("a line's product or service code to the account its net is posted to; checked before "
               "`revenue_by_category`")
_BY_CATEGORY = ("a line's VAT category (`S`, `Z`, `E`, `AE`, `K`, `G`, `O`) to the account its net is posted to "
                "when its product is not mapped; unmapped: `revenue`")
_MAP_RULE = "; never the receivable, cash or unapplied cash account (422 `account-codes-not-distinct`)"
_MAP_SIZE = 500
TaxKey = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20),
                   AfterValidator(_tax_key)]
ProductCode = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
CategoryKey = Literal["S", "Z", "E", "AE", "K", "G", "O"]


class AccountCodesPayload(_Strict):
    """The ERP accounts the journal lines post to: each role has its own; revenue is split by line
    (its product's account, else its VAT category's, else `revenue`) and VAT posted by category and
    rate (its `tax_accounts` entry, else `vat_payable`). The maps may share accounts among themselves
    and with `revenue` and `vat_payable`. A version stored before a field existed reads it as the
    environment's (`LTC_FINANCE_ACCOUNT_*`, version 0)."""

    receivable: AccountCode
    revenue: AccountCode = Field(description=_REVENUE)
    cash: AccountCode
    unapplied_cash: AccountCode = Field(description=_UNAPPLIED)
    vat_payable: AccountCode | None = Field(
        default=None, description=f"{_VAT_PAYABLE}; left out: `LTC_FINANCE_ACCOUNT_VAT_PAYABLE` (version 0's)")
    write_off: AccountCode | None = Field(
        default=None, description=f"{_WRITE_OFF}; left out: `LTC_FINANCE_ACCOUNT_WRITE_OFF` (version 0's)")
    tax_accounts: dict[TaxKey, AccountCode] = Field(default_factory=dict, max_length=_MAP_SIZE,
                                                    description=_TAX_ACCOUNTS + _MAP_RULE,
                                                    examples=[{"S:19": "2201", "S:7": "2202"}])
    revenue_by_product: dict[ProductCode, AccountCode] = Field(default_factory=dict, max_length=_MAP_SIZE,
                                                               description=_BY_PRODUCT + _MAP_RULE,
                                                               examples=[{"LIC-CORE": "4010", "SVC-INST": "4020"}])
    revenue_by_category: dict[CategoryKey, AccountCode] = Field(default_factory=dict, max_length=_MAP_SIZE,
                                                                description=_BY_CATEGORY + _MAP_RULE,
                                                                examples=[{"E": "4030", "G": "4040"}])

    @field_validator("tax_accounts")
    @classmethod
    def _one_key_per_rate(cls, accounts: dict[str, str]) -> dict[str, str]:
        # `S:19.0` is `S:19`: stored as the journal looks it up, and two spellings of one rate refused.
        spelt: dict[str, str] = {}
        for key, code in accounts.items():
            canonical = canonical_tax_key(key)
            if canonical in spelt:
                raise ValueError(f"{key!r} and {spelt[canonical]!r} are both {canonical}")
            spelt[canonical] = key
        return {canonical_tax_key(key): code for key, code in accounts.items()}

    @classmethod
    def of(cls, codes: AccountCodes) -> AccountCodesPayload:
        return cls(**codes.to_json())

    def to_domain(self) -> AccountCodes:
        return AccountCodes(receivable=self.receivable, revenue=self.revenue, cash=self.cash,
                            unapplied_cash=self.unapplied_cash,
                            vat_payable=self.vat_payable or finance_settings().account_vat_payable,
                            write_off=self.write_off or finance_settings().account_write_off,
                            tax_accounts=dict(self.tax_accounts), revenue_by_product=dict(self.revenue_by_product),
                            revenue_by_category=dict(self.revenue_by_category))


class AccountCodesDocument(BaseModel):
    """One version of the account codes, every field present."""

    receivable: str
    revenue: str = Field(description=_REVENUE)
    cash: str
    unapplied_cash: str = Field(description=_UNAPPLIED)
    vat_payable: str = Field(description=_VAT_PAYABLE)
    write_off: str = Field(description=_WRITE_OFF)
    tax_accounts: dict[str, str] = Field(description=_TAX_ACCOUNTS, examples=[{"S:19": "2201", "S:7": "2202"}])
    revenue_by_product: dict[str, str] = Field(description=_BY_PRODUCT)
    revenue_by_category: dict[str, str] = Field(description=_BY_CATEGORY)


class AccountCodesRead(AccountCodesDocument, Versioned):
    """The account codes in force, with the version (ETag) an admin's change is based on."""

    @classmethod
    def of(cls, version: PolicyVersion) -> AccountCodesRead:
        return cls(**AccountCodes.from_json(version.document).to_json(), version=version.version)


class AccountCodesVersionRead(Versioned):
    updated_by: str
    updated_at: datetime
    account_codes: AccountCodesDocument

    @classmethod
    def of(cls, version: PolicyVersion) -> AccountCodesVersionRead:
        assert version.set_by is not None and version.set_at is not None, "version 0 is not stored"
        return cls(version=version.version, updated_by=version.set_by, updated_at=version.set_at,
                   account_codes=AccountCodesDocument(**AccountCodes.from_json(version.document).to_json()))


_Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
_Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]


class AddressPayload(_Strict):
    line1: _Text
    line2: _Text | None = None
    postal_code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20)] | None = None
    city: _Text
    country: CountryCode = Field(description="ISO 3166-1 alpha-2 (any case; kept in upper case)")

    @classmethod
    def of(cls, address: Address) -> AddressPayload:
        return cls(line1=address.line1, line2=address.line2, postal_code=address.postal_code, city=address.city,
                   country=address.country)

    def to_domain(self) -> Address:
        return Address(line1=self.line1, line2=self.line2, postal_code=self.postal_code, city=self.city,
                       country=self.country)


class SellerIdentityPayload(_Strict):
    """Who our invoices name as the seller: snapshotted on every invoice issued from then on."""

    legal_name: _Text
    tax_id: _Code | None = Field(default=None, description="our VAT id")
    registration_id: _Code | None = Field(default=None, description="our company registration id")
    address: AddressPayload

    @classmethod
    def of(cls, identity: SellerIdentity) -> SellerIdentityPayload:
        return cls(legal_name=identity.legal_name, tax_id=identity.tax_id, registration_id=identity.registration_id,
                   address=AddressPayload.of(identity.address))

    def to_domain(self) -> SellerIdentity:
        return SellerIdentity(legal_name=self.legal_name, tax_id=self.tax_id, registration_id=self.registration_id,
                              address=self.address.to_domain())


class SellerIdentityRead(Versioned):
    """The seller identity in force, with the version (ETag) an admin's change is based on."""

    legal_name: str
    tax_id: str | None
    registration_id: str | None
    address: AddressRead

    @classmethod
    def of(cls, version: PolicyVersion) -> SellerIdentityRead:
        return cls.model_validate({**SellerIdentity.from_json(version.document).to_json(),
                                   "version": version.version})


class SellerIdentityVersionRead(Versioned):
    updated_by: str
    updated_at: datetime
    seller_identity: SellerIdentityPayload

    @classmethod
    def of(cls, version: PolicyVersion) -> SellerIdentityVersionRead:
        assert version.set_by is not None and version.set_at is not None, "version 0 is not stored"
        return cls(version=version.version, updated_by=version.set_by, updated_at=version.set_at,
                   seller_identity=SellerIdentityPayload.of(SellerIdentity.from_json(version.document)))


class TaxRuleIn(_Strict):
    """One row of the tax rules: when every condition given holds, a line bears this VAT."""

    category: Literal["S", "Z", "E", "AE", "K", "G", "O"] = Field(description="EN 16931 VAT category (UNTDID 5305)")
    rate: DecimalStr | None = Field(default=None, description="percent: positive for S, 0 for Z, E, AE, K and G, "
                                                              "none for O")
    exemption_reason: _Text | None = Field(default=None, description="required for E, AE, K, G and O")
    seller_country: _Code | None = Field(default=None, description="ISO 3166-1 alpha-2; none: any")
    buyer_in: list[_Code] | None = Field(default=None, description="countries or group names; none: any")
    buyer_not_in: list[_Code] | None = None
    same_country: bool | None = Field(default=None, description="seller and buyer in one country")
    buyer_has_tax_id: bool | None = None
    supply: Literal["goods", "services"] | None = None


class TaxRulesPayload(_Strict):
    """Which VAT a line bears, by seller and buyer country: rows tried in order, the first that applies
    decides (a line with an agreed VAT keeps it). Groups name sets of countries (e.g. EU)."""

    groups: dict[str, list[_Code]] = Field(default_factory=dict, max_length=50)
    rules: list[TaxRuleIn] = Field(min_length=1, max_length=500)

    def document(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class TaxRulesRead(Versioned, TaxRulesPayload):
    """The tax rules in force (version 0: the built-in table for a German seller)."""

    model_config = ConfigDict(extra="ignore")

    @classmethod
    def of(cls, version: PolicyVersion) -> TaxRulesRead:
        return cls.model_validate({**version.document, "version": version.version})


class TaxRulesVersionRead(Versioned):
    updated_by: str
    updated_at: datetime
    tax_rules: TaxRulesPayload

    @classmethod
    def of(cls, version: PolicyVersion) -> TaxRulesVersionRead:
        assert version.set_by is not None and version.set_at is not None, "version 0 is not stored"
        return cls(version=version.version, updated_by=version.set_by, updated_at=version.set_at,
                   tax_rules=TaxRulesPayload.model_validate(version.document))


class BankTransactionRead(BaseModel):
    """One entry of a statement and what became of it."""

    id: UUID
    position: int
    reference: str = Field(description="the bank's reference of the entry: the payment's bank_reference")
    amount: MoneyPayload
    credit: bool = Field(description="cash in (a debit is kept for review)")
    value_date: date
    booking_date: date | None
    counterparty_name: str | None
    counterparty_iban: str | None
    end_to_end_id: str | None
    creditor_reference: str | None = Field(description="the structured ISO 11649 reference the payer quoted")
    remittance: str | None = Field(description="the free text the payer wrote")
    return_reason: str | None
    status: TransactionStatus = Field(description=(
        "`matched`: confirmed a payment typed in before, or recorded as a payment (by the rules, or by a clerk from "
        "suspense: several payments for a split); `suspense`: cash nobody can identify yet, kept for a clerk; "
        "`return`: a debit returning one of our payments; `to_review`: any other debit; `sent_back`: a suspense "
        "credit a clerk returned to its payer"))
    rule: MatchRule | None = Field(description="the rule that matched it")
    confidence: Literal["certain", "high", "medium"] | None
    invoice_id: UUID | None
    payment_id: UUID | None = Field(description="the payment it confirmed, became or returned (the first part's, "
                                                "for a split)")
    resolved_by: str | None = Field(default=None, description="the clerk who allocated or sent back suspense cash")
    resolution_note: str | None = None

    @classmethod
    def of(cls, t: BankTransaction) -> BankTransactionRead:
        return cls(id=t.id, position=t.position, reference=t.reference, amount=MoneyPayload.of(t.money),
                   credit=t.credit, value_date=t.value_date, booking_date=t.booking_date,
                   counterparty_name=t.counterparty_name, counterparty_iban=t.counterparty_iban,
                   end_to_end_id=t.end_to_end_id, creditor_reference=t.creditor_reference, remittance=t.remittance,
                   return_reason=t.return_reason, status=t.status, rule=t.rule,
                   confidence=CONFIDENCE[t.rule] if t.rule is not None else None, invoice_id=t.invoice_id,
                   payment_id=t.payment_id, resolved_by=t.resolved_by, resolution_note=t.resolution_note)


class BankStatementRead(BaseModel):
    id: UUID
    statement_id: str = Field(description="the bank's id of the statement")
    account_iban: str
    message_type: str = Field(description="the ISO 20022 message and version, e.g. camt.053.001.08")
    created_at: datetime | None
    imported_by: str
    imported_at: datetime
    matched: int
    suspense: int
    to_review: int
    transactions: list[BankTransactionRead]

    @classmethod
    def of(cls, s: BankStatement) -> BankStatementRead:
        count = {status: sum(t.status is status for t in s.transactions) for status in TransactionStatus}
        return cls(id=s.id, statement_id=s.statement_id, account_iban=s.account_iban, message_type=s.message_type,
                   created_at=s.created_at, imported_by=s.imported_by, imported_at=s.imported_at,
                   matched=count[TransactionStatus.MATCHED], suspense=count[TransactionStatus.SUSPENSE],
                   to_review=count[TransactionStatus.TO_REVIEW],
                   transactions=[BankTransactionRead.of(t) for t in s.transactions])


class StatementImportRead(BaseModel):
    """What a file's import did: each of its statements, as imported now or before."""

    statements: list[BankStatementRead]
    new: list[bool] = Field(description="per statement: imported by this request (false: the earlier import's answer)")


class PaymentReturnCreate(_Strict):
    returned_on: Happened = Field(description=f"the day the bank took the cash back; {_NOT_AFTER_TOMORROW}")
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)] = Field(
        description="the bank's ISO 20022 return reason code (AC04, MD06, ...) or a short reason")


class WriteOffCreate(_Strict):
    amount: MoneyPayload | None = Field(default=None, description=(
        "at most the currency's small-balance tolerance (`/config/cash-tolerance`) and what is open; left out: all "
        "that is open. More is a bad debt (422 `write-off-above-tolerance`)"))
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]


class WriteOffRead(BaseModel):
    id: UUID
    invoice_id: UUID
    invoice_number: str
    contract_id: UUID
    account_id: UUID | None
    amount: MoneyPayload
    kind: WriteOffKind
    reason: str
    written_off_on: date
    decided_by: str
    decision_tier: str | None
    bank_transaction_id: UUID | None = Field(description="the statement entry whose shortfall it settled")
    created_at: datetime

    @classmethod
    def of(cls, w: WriteOff) -> WriteOffRead:
        return cls(id=w.id, invoice_id=w.invoice_id, invoice_number=w.invoice_number, contract_id=w.contract_id,
                   account_id=w.account_id, amount=MoneyPayload.of(w.amount), kind=w.kind, reason=w.reason,
                   written_off_on=w.written_off_on, decided_by=w.decided_by, decision_tier=w.decision_tier,
                   bank_transaction_id=w.bank_transaction_id, created_at=w.created_at)


class AllocationIn(_Strict):
    """One part of a suspense credit: the invoice (by id or number), contract or account it pays."""

    amount: MoneyPayload
    invoice_id: UUID | None = None
    invoice_number: InvoiceNumber | None = None
    contract_id: UUID | None = None
    account_id: UUID | None = Field(default=None, description="pay the account's open invoices oldest due first; "
                                                              "what they cannot take is held as unapplied cash")


class SuspenseAllocationCreate(_Strict):
    allocations: list[AllocationIn] = Field(min_length=1, max_length=100, description=(
        "adding up to exactly the credit (422 `allocations-do-not-add-up`); more than one is a split, each part its "
        "own payment (bank reference `<entry reference>/<n>`), confirmed by the entry"))
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)] | None = None


class SuspenseSendBackCreate(_Strict):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)] = Field(
        description="why the cash is not ours to keep (the payer owes nothing, a wrong beneficiary, ...)")


class CashTolerancePayload(_Strict):
    """How short of an invoice's open amount a matched payment may fall and still settle it, per
    currency; the difference is written off as a small balance (its own journal entry). A currency
    not listed has no tolerance. A clerk's small-balance write-off is bounded by the same amount."""

    tolerances: dict[CurrencyCode, DecimalStr] = Field(max_length=200, examples=[{"EUR": "1.00", "USD": "1.00"}])

    def document(self) -> dict[str, Any]:
        CashTolerance.from_json(self.model_dump(mode="json"))  # an amount the currency cannot hold is refused here
        return self.model_dump(mode="json")


class CashToleranceRead(Versioned, CashTolerancePayload):
    """The tolerances in force (version 0: none)."""

    model_config = ConfigDict(extra="ignore")

    @classmethod
    def of(cls, version: PolicyVersion) -> CashToleranceRead:
        return cls.model_validate({**version.document, "version": version.version})


class CashToleranceVersionRead(Versioned):
    updated_by: str
    updated_at: datetime
    cash_tolerance: CashTolerancePayload

    @classmethod
    def of(cls, version: PolicyVersion) -> CashToleranceVersionRead:
        assert version.set_by is not None and version.set_at is not None, "version 0 is not stored"
        return cls(version=version.version, updated_by=version.set_by, updated_at=version.set_at,
                   cash_tolerance=CashTolerancePayload.model_validate(version.document))


class RefundCreate(_Strict):
    amount: MoneyPayload = Field(description="at most the payment's unapplied cash (422 `refund-exceeds-unapplied`)")
    beneficiary_name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
    beneficiary_iban: Annotated[str, StringConstraints(strip_whitespace=True, min_length=5, max_length=42)] = Field(
        description="checked as an IBAN (ISO 13616, 422 `iban-invalid`); stored without spaces")
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]


class DecisionCreate(_Strict):
    approve: bool
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)] | None = None


class RefundRead(Versioned):
    id: UUID
    payment_id: UUID
    bank_reference: str
    account_id: UUID | None
    lineage: Lineage
    amount: MoneyPayload
    beneficiary_name: str
    beneficiary_iban: str
    reason: str
    status: RefundStatus = Field(description=(
        "`issued` (paid back; at once up to the currency's `approve_above`), `pending_approval` (the amount is "
        "reserved from the payment's unapplied cash until a second finance person decides), `rejected` (unapplied "
        "again)"))
    requested_by: str
    requested_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    decision_note: str | None
    issued_on: date | None

    @classmethod
    def of(cls, r: Refund) -> RefundRead:
        return cls(id=r.id, payment_id=r.payment_id, bank_reference=r.bank_reference, account_id=r.account_id,
                   lineage=r.lineage(), amount=MoneyPayload.of(r.amount), beneficiary_name=r.beneficiary_name,
                   beneficiary_iban=r.beneficiary_iban, reason=r.reason, status=r.status,
                   requested_by=r.requested_by, requested_at=r.requested_at, decided_by=r.decided_by,
                   decided_at=r.decided_at, decision_note=r.decision_note, issued_on=r.issued_on, version=r.version)


class BadDebtCreate(_Strict):
    amount: MoneyPayload | None = Field(default=None, description="left out: all that is open on the invoice")
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]


class WriteOffRequestRead(Versioned):
    id: UUID
    invoice_id: UUID
    invoice_number: str
    contract_id: UUID
    account_id: UUID | None
    amount: MoneyPayload
    reason: str
    tier: Tier = Field(description="the decision tier the amount requires (`/config/bad-debt-tiers`; L3 for a "
                                   "currency without thresholds)")
    status: Decision
    requested_by: str
    created_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    decision_note: str | None
    write_off_id: UUID | None = Field(description="the write-off an approval made")

    @classmethod
    def of(cls, r: WriteOffRequest) -> WriteOffRequestRead:
        return cls(id=r.id, invoice_id=r.invoice_id, invoice_number=r.invoice_number, contract_id=r.contract_id,
                   account_id=r.account_id, amount=MoneyPayload.of(r.amount), reason=r.reason, tier=r.tier,
                   status=r.status, requested_by=r.requested_by, created_at=r.created_at, decided_by=r.decided_by,
                   decided_at=r.decided_at, decision_note=r.decision_note, write_off_id=r.write_off_id,
                   version=r.version)


class RefundApprovalPayload(_Strict):
    """Refunds up to these amounts are issued on the clerk's word; above them, or in a currency not
    listed, a second finance person approves (`refund-self-approved`)."""

    approve_above: dict[CurrencyCode, DecimalStr] = Field(max_length=200, examples=[{"EUR": "1000.00"}])


class BadDebtTiersPayload(_Strict):
    """The tier that decides a bad debt by its amount: L1 below `l2_from`, L2 below `l3_from`, L3
    from there; a currency without both thresholds goes to L3."""

    l2_from: dict[CurrencyCode, DecimalStr] = Field(max_length=200, examples=[{"EUR": "10000.00"}])
    l3_from: dict[CurrencyCode, DecimalStr] = Field(max_length=200, examples=[{"EUR": "100000.00"}])


class RefundApprovalRead(Versioned, RefundApprovalPayload):
    model_config = ConfigDict(extra="ignore")

    @classmethod
    def of(cls, version: PolicyVersion) -> RefundApprovalRead:
        return cls.model_validate({**version.document, "version": version.version})


class BadDebtTiersRead(Versioned, BadDebtTiersPayload):
    model_config = ConfigDict(extra="ignore")

    @classmethod
    def of(cls, version: PolicyVersion) -> BadDebtTiersRead:
        return cls.model_validate({**version.document, "version": version.version})
