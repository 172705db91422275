"""Imperative mapping: the domain classes stay plain Python, SQLAlchemy learns them here."""

from __future__ import annotations

import functools

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import registry, relationship

from ltc.finance.domain.adjustments import Decision, Refund, RefundStatus, WriteOff, WriteOffKind, WriteOffRequest
from ltc.finance.domain.bank import BankStatement, BankTransaction, MatchRule, TransactionStatus
from ltc.finance.domain.billing_plan import BillingPlan, Instalment, InstalmentStatus
from ltc.finance.domain.collections import Dispute, DisputeOutcome, DisputeStatus, PromiseStatus, PromiseToPay
from ltc.finance.domain.credit import CreditLimit, CreditPublished
from ltc.finance.domain.invoice import CreditNote, Invoice, InvoiceStatus
from ltc.finance.domain.lines import InvoiceLine
from ltc.finance.domain.payment import Application, Payment, PaymentStatus
from ltc.finance.domain.receivables import Dunning, DunningLevel
from ltc.finance.domain.tax import TaxBreakdown
from ltc.shared.db import JsonDocument, map_aggregate, str_enum
from ltc.shared.lines import SalesLine
from ltc.shared.messages.contracts_events import Trigger
from ltc.shared.tiers import Tier

metadata = MetaData()
mapper_registry = registry(metadata=metadata)


def _money() -> Numeric:
    # Four places hold every ISO 4217 minor unit; Money re-quantizes to the currency's own.
    return Numeric(20, 4)


billing_plans = Table(
    "billing_plans", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("contract_id", UUID(as_uuid=True), nullable=False),
    Column("account_id", UUID(as_uuid=True), index=True),
    Column("account_name", String(300)),
    Column("lead_id", UUID(as_uuid=True)),
    Column("opportunity_id", UUID(as_uuid=True)),
    Column("signed_on", Date, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("value_amount", _money(), nullable=False),
    Column("collected_amount", _money(), nullable=False),
    Column("credited_amount", _money(), nullable=False),
    Column("contract_version", Integer, nullable=False),
    Column("accepted_milestones", ARRAY(UUID(as_uuid=True)), nullable=False),
    Column("lead_created_on", Date),
    Column("won_on", Date),
    Column("first_invoiced_on", Date),
    Column("fully_paid_on", Date),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("version", Integer, nullable=False),
    # The contract's lines as signed or last amended, the milestones they are delivered with
    # (name -> id), and what the issued invoices bill of each (position -> net and quantity).
    Column("lines", JsonDocument(tuple[SalesLine, ...]), nullable=False),
    Column("line_milestones", JSONB, nullable=False),
    Column("line_billed", JSONB, nullable=False),
    Column("invoiced_gross", _money(), nullable=False),
    Column("written_off_amount", _money(), nullable=False),
    Column("unconfirmed_amount", _money(), nullable=False),
    UniqueConstraint("contract_id", name="uq_billing_plans_contract_id"),
)

instalments = Table(
    "instalments", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("plan_id", UUID(as_uuid=True), ForeignKey("billing_plans.id"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("name", String(300), nullable=False),
    Column("percent", Numeric(9, 4), nullable=False),
    Column("amount", _money(), nullable=False),
    Column("trigger", str_enum(Trigger), nullable=False),
    Column("milestone_id", UUID(as_uuid=True)),
    Column("due_days", Integer, nullable=False),
    Column("invoice_on", Date),
    Column("status", str_enum(InstalmentStatus), nullable=False),
    Column("invoice_id", UUID(as_uuid=True)),
    Column("hold_reason", Text),
    # An amendment re-orders instalments; their identity within a contract is the name.
    UniqueConstraint("plan_id", "name", name="uq_instalments_plan_id_name"),
)

invoices = Table(
    "invoices", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("number", String(40), nullable=False),
    Column("contract_id", UUID(as_uuid=True), ForeignKey("billing_plans.contract_id"), nullable=False, index=True),
    Column("account_id", UUID(as_uuid=True), index=True),
    Column("lead_id", UUID(as_uuid=True)),
    Column("opportunity_id", UUID(as_uuid=True)),
    Column("instalment_id", UUID(as_uuid=True), ForeignKey("instalments.id"), nullable=False),
    Column("instalment", String(300), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount_due", _money(), nullable=False),
    Column("paid_amount", _money(), nullable=False),
    Column("credited_amount", _money(), nullable=False),
    Column("issue_date", Date, nullable=False),
    Column("due_date", Date, nullable=False),
    Column("status", str_enum(InvoiceStatus), nullable=False, index=True),
    Column("paid_on", Date),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
    Column("version", Integer, nullable=False),
    # Snapshots taken on issue: the customer's billing identity (None when finance knew none) and ours.
    Column("bill_to", JSONB),
    Column("seller", JSONB),
    # Its lines and VAT; an invoice issued before invoices had them has none (and no net or tax).
    Column("lines", JsonDocument(tuple[InvoiceLine, ...]), nullable=False),
    Column("tax_breakdown", JsonDocument(tuple[TaxBreakdown, ...]), nullable=False),
    Column("net_amount", _money()),
    Column("tax_amount", _money()),
    # What credit notes took back: per line position (net, quantity) and per VAT row (tax).
    # The ISO 11649 creditor reference a payment quotes (null on invoices from before it existed).
    Column("payment_reference", String(35), index=True),
    Column("line_credited", JSONB, nullable=False),
    Column("row_credited", JSONB, nullable=False),
    # Since 0009: what write-offs settled, and the part of `paid_amount` no statement has shown yet.
    Column("written_off_amount", _money(), nullable=False),
    Column("unconfirmed_amount", _money(), nullable=False),
    UniqueConstraint("number", name="uq_invoices_number"),
    UniqueConstraint("instalment_id", name="uq_invoices_instalment_id"),
)

# Gap-free numbering: the row of the year is incremented under its row lock in the issuing
# transaction, so a rolled-back invoice gives its number back.
invoice_sequences = Table(
    "invoice_sequences", metadata,
    Column("year", Integer, primary_key=True, autoincrement=False),
    Column("last_number", Integer, nullable=False),
)

payments = Table(
    "payments", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("bank_reference", String(200), nullable=False),
    Column("payer", String(300), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("received_amount", _money(), nullable=False),
    Column("value_date", Date, nullable=False),
    Column("invoice_id", UUID(as_uuid=True), ForeignKey("invoices.id")),
    Column("contract_id", UUID(as_uuid=True), ForeignKey("billing_plans.contract_id"), index=True),
    Column("account_id", UUID(as_uuid=True), index=True),
    Column("lead_id", UUID(as_uuid=True)),
    Column("opportunity_id", UUID(as_uuid=True)),
    Column("lineage_contract_id", UUID(as_uuid=True)),
    Column("unapplied_amount", _money(), nullable=False),
    Column("recorded_by", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("version", Integer, nullable=False),
    # Since 0009: recorded -> confirmed (by the statement entry that showed it) -> returned.
    Column("status", str_enum(PaymentStatus), nullable=False, index=True),
    Column("end_to_end_id", String(200), index=True),
    Column("bank_transaction_id", UUID(as_uuid=True), index=True),
    Column("confirmed_on", Date),
    Column("returned_on", Date),
    Column("return_reason", String(40)),
    Column("returned_by_transaction_id", UUID(as_uuid=True)),
    Column("refunded_amount", _money(), nullable=False),  # since 0012
    # The last line against counting one bank payment twice, behind the handler's own check.
    UniqueConstraint("bank_reference", name="uq_payments_bank_reference"),
)

payment_applications = Table(
    "payment_applications", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("payment_id", UUID(as_uuid=True), ForeignKey("payments.id"), nullable=False, index=True),
    Column("position", Integer, nullable=False),
    Column("invoice_id", UUID(as_uuid=True), ForeignKey("invoices.id"), nullable=False, index=True),
    Column("contract_id", UUID(as_uuid=True), nullable=False),
    Column("amount", _money(), nullable=False),
    Column("applied_on", Date, nullable=False),
    Column("applied_by", String(200), nullable=False),
    Column("at_receipt", Boolean, nullable=False),
    UniqueConstraint("payment_id", "position", name="uq_payment_applications_payment_id_position"),
)

credit_notes = Table(
    "credit_notes", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("number", String(40), nullable=False),
    Column("invoice_id", UUID(as_uuid=True), ForeignKey("invoices.id"), nullable=False, index=True),
    Column("invoice_number", String(40), nullable=False),
    Column("contract_id", UUID(as_uuid=True), nullable=False, index=True),
    Column("account_id", UUID(as_uuid=True)),
    Column("currency", String(3), nullable=False),
    Column("credit_amount", _money(), nullable=False),
    Column("reason", String(1000), nullable=False),
    Column("issue_date", Date, nullable=False),
    Column("issued_by", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
    # Its lines and VAT; a note on an invoice issued before invoices had lines has none.
    Column("lines", JsonDocument(tuple[InvoiceLine, ...]), nullable=False),
    Column("tax_breakdown", JsonDocument(tuple[TaxBreakdown, ...]), nullable=False),
    Column("net_amount", _money()),
    Column("tax_amount", _money()),
    UniqueConstraint("number", name="uq_credit_notes_number"),
)

credit_note_sequences = Table(
    "credit_note_sequences", metadata,
    Column("year", Integer, primary_key=True, autoincrement=False),
    Column("last_number", Integer, nullable=False),
)

invoice_dunning = Table(
    "invoice_dunning", metadata,
    Column("invoice_id", UUID(as_uuid=True), ForeignKey("invoices.id"), primary_key=True),
    Column("level", str_enum(DunningLevel)),
    Column("dunned_on", Date),
    Column("version", Integer, nullable=False),
)

# What finance learns from the earlier stages: who manages an account (AR reads its receivables)
# and the dates that measure the lead-to-cash cycle.
opportunities_won = Table(
    "opportunities_won", metadata,
    Column("opportunity_id", UUID(as_uuid=True), primary_key=True),
    Column("account_id", UUID(as_uuid=True), index=True),
    Column("owner", String(200), nullable=False, index=True),
    Column("won_on", Date, nullable=False),
)

leads_created = Table(
    "leads_created", metadata,
    Column("lead_id", UUID(as_uuid=True), primary_key=True),
    Column("created_on", Date, nullable=False),
)

# Finance's own copy of each account, as leads last published it (ltc.finance.domain.parties):
# `as_of` is the time of the state copied, which orders the events.
accounts = Table(
    "accounts", metadata,
    Column("account_id", UUID(as_uuid=True), primary_key=True),
    Column("name", String(300), nullable=False),
    Column("owner", String(200), nullable=False),
    Column("billing", JSONB),
    Column("as_of", DateTime(timezone=True), nullable=False),
    Column("copied_from", String(40), nullable=False),
)


# An imported bank statement (one account's, once) and its entries, each with what became of it.
bank_statements = Table(
    "bank_statements", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("statement_id", String(200), nullable=False),
    Column("account_iban", String(60), nullable=False),
    Column("message_type", String(40), nullable=False),
    Column("created_at", DateTime(timezone=True)),
    Column("content_sha256", String(64), nullable=False),
    Column("imported_by", String(200), nullable=False),
    Column("imported_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("account_iban", "statement_id", name="uq_bank_statements_account_statement"),
)

bank_transactions = Table(
    "bank_transactions", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("statement_id", UUID(as_uuid=True), ForeignKey("bank_statements.id"), nullable=False, index=True),
    Column("position", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("reference", String(200), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount_value", _money(), nullable=False),
    Column("credit", Boolean, nullable=False),
    Column("value_date", Date, nullable=False),
    Column("booking_date", Date),
    Column("counterparty_name", String(300)),
    Column("counterparty_iban", String(60)),
    Column("end_to_end_id", String(200)),
    Column("creditor_reference", String(60)),
    Column("remittance", Text),
    Column("return_reason", String(40)),
    Column("status", str_enum(TransactionStatus), nullable=False, index=True),
    Column("rule", str_enum(MatchRule)),
    Column("invoice_id", UUID(as_uuid=True), ForeignKey("invoices.id")),
    Column("payment_id", UUID(as_uuid=True), ForeignKey("payments.id")),
    # Since 0009: who allocated a suspense credit by hand or sent it back, and why.
    Column("resolved_by", String(200)),
    Column("resolution_note", String(1000)),
)


write_offs = Table(
    "write_offs", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("invoice_id", UUID(as_uuid=True), ForeignKey("invoices.id"), nullable=False, index=True),
    Column("invoice_number", String(40), nullable=False),
    Column("contract_id", UUID(as_uuid=True), nullable=False, index=True),
    Column("account_id", UUID(as_uuid=True), index=True),
    Column("currency", String(3), nullable=False),
    Column("write_off_amount", _money(), nullable=False),
    Column("kind", str_enum(WriteOffKind), nullable=False),
    Column("reason", String(1000), nullable=False),
    Column("written_off_on", Date, nullable=False),
    Column("decided_by", String(200), nullable=False),
    Column("decision_tier", String(40)),
    Column("bank_transaction_id", UUID(as_uuid=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
)


# Credit exposure (ltc.finance.domain.credit): the limit finance set per account and currency, and
# the figures it last published for each, against which a recomputation decides whether to publish.
credit_limits = Table(
    "credit_limits", metadata,
    Column("account_id", UUID(as_uuid=True), primary_key=True),
    Column("currency", String(3), primary_key=True),
    Column("amount", _money(), nullable=False),
    Column("reason", String(1000), nullable=False),
    Column("set_by", String(200), nullable=False),
    Column("set_at", DateTime(timezone=True), nullable=False),
    Column("version", Integer, nullable=False),
)

credit_published = Table(
    "credit_published", metadata,
    Column("account_id", UUID(as_uuid=True), primary_key=True),
    Column("currency", String(3), primary_key=True),
    Column("limit_amount", _money()),
    Column("open_receivables_amount", _money(), nullable=False),
    Column("signed_not_invoiced_amount", _money(), nullable=False),
    Column("changed_at", DateTime(timezone=True)),
)


# Collections (ltc.finance.domain.collections): disputes and promises to pay, each at most one open
# per invoice (the partial unique indexes are the last line behind the handlers' own check).
invoice_disputes = Table(
    "invoice_disputes", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("invoice_id", UUID(as_uuid=True), ForeignKey("invoices.id"), nullable=False, index=True),
    Column("invoice_number", String(40), nullable=False),
    Column("contract_id", UUID(as_uuid=True), nullable=False),
    Column("account_id", UUID(as_uuid=True), index=True),
    Column("lead_id", UUID(as_uuid=True)),
    Column("opportunity_id", UUID(as_uuid=True)),
    Column("currency", String(3), nullable=False),
    Column("disputed_amount", _money(), nullable=False),
    Column("reason", String(1000), nullable=False),
    Column("status", str_enum(DisputeStatus), nullable=False, index=True),
    Column("opened_on", Date, nullable=False),
    Column("opened_by", String(200), nullable=False),
    Column("outcome", str_enum(DisputeOutcome)),
    Column("resolution", String(1000)),
    Column("resolved_on", Date),
    Column("resolved_by", String(200)),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
    Column("version", Integer, nullable=False),
    Index("uq_invoice_disputes_open", "invoice_id", unique=True, postgresql_where=text("status = 'open'")),
)

promises_to_pay = Table(
    "promises_to_pay", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("invoice_id", UUID(as_uuid=True), ForeignKey("invoices.id"), nullable=False, index=True),
    Column("invoice_number", String(40), nullable=False),
    Column("contract_id", UUID(as_uuid=True), nullable=False),
    Column("account_id", UUID(as_uuid=True), index=True),
    Column("lead_id", UUID(as_uuid=True)),
    Column("opportunity_id", UUID(as_uuid=True)),
    Column("currency", String(3), nullable=False),
    Column("promised_amount", _money(), nullable=False),
    Column("promised_date", Date, nullable=False),
    Column("paid_at_promise_amount", _money(), nullable=False),
    Column("status", str_enum(PromiseStatus), nullable=False, index=True),
    Column("recorded_on", Date, nullable=False),
    Column("recorded_by", String(200), nullable=False),
    Column("closed_on", Date),
    Column("paid_since_amount", _money()),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
    Column("version", Integer, nullable=False),
    Index("uq_promises_to_pay_open", "invoice_id", unique=True, postgresql_where=text("status = 'open'")),
)


# Cash paid back to customers, and bad debts waiting for their tier's decision (0012).
refunds = Table(
    "refunds", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("payment_id", UUID(as_uuid=True), ForeignKey("payments.id"), nullable=False, index=True),
    Column("bank_reference", String(200), nullable=False),
    Column("account_id", UUID(as_uuid=True), index=True),
    Column("lead_id", UUID(as_uuid=True)),
    Column("opportunity_id", UUID(as_uuid=True)),
    Column("contract_id", UUID(as_uuid=True)),
    Column("currency", String(3), nullable=False),
    Column("refund_amount", _money(), nullable=False),
    Column("beneficiary_name", String(300), nullable=False),
    Column("beneficiary_iban", String(34), nullable=False),
    Column("reason", String(1000), nullable=False),
    Column("status", str_enum(RefundStatus), nullable=False, index=True),
    Column("requested_by", String(200), nullable=False),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("decided_by", String(200)),
    Column("decided_at", DateTime(timezone=True)),
    Column("decision_note", String(1000)),
    Column("issued_on", Date),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
    Column("version", Integer, nullable=False),
)

write_off_requests = Table(
    "write_off_requests", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("invoice_id", UUID(as_uuid=True), ForeignKey("invoices.id"), nullable=False, index=True),
    Column("invoice_number", String(40), nullable=False),
    Column("contract_id", UUID(as_uuid=True), nullable=False),
    Column("account_id", UUID(as_uuid=True), index=True),
    Column("currency", String(3), nullable=False),
    Column("request_amount", _money(), nullable=False),
    Column("reason", String(1000), nullable=False),
    Column("tier", str_enum(Tier), nullable=False),
    Column("status", str_enum(Decision), nullable=False, index=True),
    Column("requested_by", String(200), nullable=False),
    Column("decided_by", String(200)),
    Column("decided_at", DateTime(timezone=True)),
    Column("decision_note", String(1000)),
    Column("write_off_id", UUID(as_uuid=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
    Column("version", Integer, nullable=False),
)


@functools.cache
def start_mappers() -> None:
    mapper_registry.map_imperatively(Instalment, instalments)
    map_aggregate(mapper_registry, BillingPlan, billing_plans, properties={
        # Async sessions cannot lazy-load: a plan always comes with its instalments.
        "instalments": relationship(Instalment, order_by=instalments.c.position, lazy="selectin",
                                    cascade="all, delete-orphan"),
    })
    map_aggregate(mapper_registry, Invoice, invoices)
    mapper_registry.map_imperatively(Application, payment_applications)
    map_aggregate(mapper_registry, CreditNote, credit_notes, versioned=False)
    map_aggregate(mapper_registry, WriteOff, write_offs, versioned=False)
    map_aggregate(mapper_registry, Refund, refunds)
    map_aggregate(mapper_registry, WriteOffRequest, write_off_requests)
    map_aggregate(mapper_registry, Dunning, invoice_dunning)
    mapper_registry.map_imperatively(BankTransaction, bank_transactions)
    mapper_registry.map_imperatively(BankStatement, bank_statements, properties={
        "transactions": relationship(BankTransaction, order_by=bank_transactions.c.position, lazy="selectin",
                                     cascade="all, delete-orphan"),
    })
    map_aggregate(mapper_registry, Payment, payments, properties={
        "applications": relationship(Application, order_by=payment_applications.c.position, lazy="selectin",
                                     cascade="all, delete-orphan"),
    })
    map_aggregate(mapper_registry, CreditLimit, credit_limits)
    map_aggregate(mapper_registry, CreditPublished, credit_published, versioned=False)
    map_aggregate(mapper_registry, Dispute, invoice_disputes)
    map_aggregate(mapper_registry, PromiseToPay, promises_to_pay)
