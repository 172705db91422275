"""Credit notes, dunning, account-level cash application, amendments and date triggers,
and what finance learns from earlier stages (account managers, lead-to-cash dates).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, UUID

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

MONEY = sa.Numeric(20, 4)


def upgrade() -> None:
    op.add_column("billing_plans", sa.Column("account_name", sa.String(300)))
    op.add_column("billing_plans", sa.Column("credited_amount", MONEY, nullable=False, server_default="0"))
    op.add_column("billing_plans", sa.Column("contract_version", sa.Integer, nullable=False, server_default="1"))
    op.add_column("billing_plans", sa.Column("accepted_milestones", ARRAY(UUID(as_uuid=True)), nullable=False,
                                             server_default="{}"))
    for column in ("lead_created_on", "won_on", "first_invoiced_on"):
        op.add_column("billing_plans", sa.Column(column, sa.Date))
    op.execute("UPDATE billing_plans p SET first_invoiced_on = "
               "(SELECT min(issue_date) FROM invoices i WHERE i.contract_id = p.contract_id)")

    op.add_column("instalments", sa.Column("invoice_on", sa.Date))
    op.drop_constraint("uq_instalments_plan_id_position", "instalments", type_="unique")
    op.create_unique_constraint("uq_instalments_plan_id_name", "instalments", ["plan_id", "name"])

    op.add_column("invoices", sa.Column("credited_amount", MONEY, nullable=False, server_default="0"))

    op.alter_column("payments", "contract_id", nullable=True)
    for column in ("account_id", "lead_id", "opportunity_id", "lineage_contract_id"):
        op.add_column("payments", sa.Column(column, UUID(as_uuid=True)))
    op.add_column("payments", sa.Column("version", sa.Integer, nullable=False, server_default="1"))
    op.create_index("ix_payments_account_id", "payments", ["account_id"])
    op.execute("UPDATE payments p SET account_id = b.account_id, lead_id = b.lead_id, "
               "opportunity_id = b.opportunity_id, lineage_contract_id = b.contract_id "
               "FROM billing_plans b WHERE b.contract_id = p.contract_id")

    op.add_column("payment_applications", sa.Column("contract_id", UUID(as_uuid=True)))
    op.add_column("payment_applications", sa.Column("applied_on", sa.Date))
    op.add_column("payment_applications", sa.Column("applied_by", sa.String(200)))
    op.add_column("payment_applications", sa.Column("at_receipt", sa.Boolean, nullable=False,
                                                    server_default=sa.true()))
    op.execute("UPDATE payment_applications a SET contract_id = i.contract_id FROM invoices i WHERE i.id = a.invoice_id")
    op.execute("UPDATE payment_applications a SET applied_on = p.value_date, applied_by = p.recorded_by "
               "FROM payments p WHERE p.id = a.payment_id")
    for column in ("contract_id", "applied_on", "applied_by"):
        op.alter_column("payment_applications", column, nullable=False)

    op.create_table(
        "credit_notes",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("number", sa.String(40), nullable=False),
        sa.Column("invoice_id", UUID(as_uuid=True), sa.ForeignKey("invoices.id"), nullable=False),
        sa.Column("invoice_number", sa.String(40), nullable=False),
        sa.Column("contract_id", UUID(as_uuid=True), nullable=False),
        sa.Column("account_id", UUID(as_uuid=True)),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("credit_amount", MONEY, nullable=False),
        sa.Column("reason", sa.String(1000), nullable=False),
        sa.Column("issue_date", sa.Date, nullable=False),
        sa.Column("issued_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("number", name="uq_credit_notes_number"),
    )
    for column in ("invoice_id", "contract_id", "created_at"):
        op.create_index(f"ix_credit_notes_{column}", "credit_notes", [column])
    op.create_table(
        "credit_note_sequences",
        sa.Column("year", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("last_number", sa.Integer, nullable=False),
    )
    op.create_table(
        "invoice_dunning",
        sa.Column("invoice_id", UUID(as_uuid=True), sa.ForeignKey("invoices.id"), primary_key=True),
        sa.Column("level", sa.String(40)),
        sa.Column("dunned_on", sa.Date),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_table(
        "opportunities_won",
        sa.Column("opportunity_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("account_id", UUID(as_uuid=True)),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("won_on", sa.Date, nullable=False),
    )
    op.create_index("ix_opportunities_won_account_id", "opportunities_won", ["account_id"])
    op.create_index("ix_opportunities_won_owner", "opportunities_won", ["owner"])
    op.create_table(
        "leads_created",
        sa.Column("lead_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("created_on", sa.Date, nullable=False),
    )


def downgrade() -> None:
    for table in ("leads_created", "opportunities_won", "invoice_dunning", "credit_note_sequences", "credit_notes"):
        op.drop_table(table)
    for column in ("at_receipt", "applied_by", "applied_on", "contract_id"):
        op.drop_column("payment_applications", column)
    op.drop_index("ix_payments_account_id", "payments")
    for column in ("version", "lineage_contract_id", "opportunity_id", "lead_id", "account_id"):
        op.drop_column("payments", column)
    op.alter_column("payments", "contract_id", nullable=False)
    op.drop_column("invoices", "credited_amount")
    op.drop_constraint("uq_instalments_plan_id_name", "instalments", type_="unique")
    op.create_unique_constraint("uq_instalments_plan_id_position", "instalments", ["plan_id", "position"])
    op.drop_column("instalments", "invoice_on")
    for column in ("first_invoiced_on", "won_on", "lead_created_on", "accepted_milestones", "contract_version",
                   "credited_amount", "account_name"):
        op.drop_column("billing_plans", column)
