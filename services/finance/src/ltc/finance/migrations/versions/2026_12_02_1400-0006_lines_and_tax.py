"""Billing by line, with VAT: the plan keeps the contract's lines and what is billed of each, an
invoice and a credit note their lines, VAT breakdown, net and tax (an invoice also what credit
notes took back of each line and VAT row), an instalment why it is held.

A plan opened before 0006 had no lines: it gets one, "Contracted value", 1 × its value, and what
its issued invoices billed of it (their net was their amount: there was no VAT); `invoiced_gross`
is what its invoices are for. An invoice or credit note issued before 0006 keeps no lines and no net or tax:
what it said when issued is not rewritten.

The downgrade refuses while any invoice has lines or VAT (they would be lost).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    empty = sa.text("'[]'::jsonb")
    op.add_column("billing_plans", sa.Column("lines", postgresql.JSONB(), nullable=False, server_default=empty))
    op.add_column("billing_plans", sa.Column("line_milestones", postgresql.JSONB(), nullable=False,
                                             server_default=sa.text("'{}'::jsonb")))
    op.add_column("billing_plans", sa.Column("line_billed", postgresql.JSONB(), nullable=False,
                                             server_default=sa.text("'{}'::jsonb")))
    op.add_column("billing_plans", sa.Column("invoiced_gross", sa.Numeric(20, 4), nullable=False,
                                             server_default="0"))
    op.add_column("instalments", sa.Column("hold_reason", sa.Text()))
    op.add_column("invoices", sa.Column("lines", postgresql.JSONB(), nullable=False, server_default=empty))
    op.add_column("invoices", sa.Column("tax_breakdown", postgresql.JSONB(), nullable=False, server_default=empty))
    op.add_column("invoices", sa.Column("net_amount", sa.Numeric(20, 4)))
    op.add_column("invoices", sa.Column("tax_amount", sa.Numeric(20, 4)))
    op.add_column("invoices", sa.Column("line_credited", postgresql.JSONB(), nullable=False,
                                        server_default=sa.text("'{}'::jsonb")))
    op.add_column("invoices", sa.Column("row_credited", postgresql.JSONB(), nullable=False,
                                        server_default=sa.text("'{}'::jsonb")))
    op.add_column("credit_notes", sa.Column("lines", postgresql.JSONB(), nullable=False, server_default=empty))
    op.add_column("credit_notes", sa.Column("tax_breakdown", postgresql.JSONB(), nullable=False,
                                            server_default=empty))
    op.add_column("credit_notes", sa.Column("net_amount", sa.Numeric(20, 4)))
    op.add_column("credit_notes", sa.Column("tax_amount", sa.Numeric(20, 4)))
    op.execute(sa.text("""
        WITH billed AS (
            SELECT p.id, coalesce(sum(i.amount), 0) AS net,
                   coalesce((SELECT sum(v.amount_due) FROM invoices v WHERE v.contract_id = p.contract_id), 0) AS gross
            FROM billing_plans p LEFT JOIN instalments i ON i.plan_id = p.id AND i.status = 'invoiced'
            GROUP BY p.id)
        UPDATE billing_plans p SET
            lines = jsonb_build_array(jsonb_build_object(
                'position', 1, 'description', 'Contracted value', 'quantity', '1', 'unit', 'C62',
                'unit_price', jsonb_build_object('amount', p.value_amount::text, 'currency', p.currency),
                'code', NULL, 'discount', NULL, 'supply', 'services', 'vat', NULL, 'milestone', NULL)),
            line_billed = CASE WHEN billed.net = 0 THEN '{}'::jsonb ELSE jsonb_build_object('1', jsonb_build_object(
                'net', billed.net::text,
                'quantity', CASE WHEN billed.net = p.value_amount THEN '1'
                                 ELSE round(billed.net / p.value_amount, 6)::text END)) END,
            invoiced_gross = billed.gross
        FROM billed WHERE billed.id = p.id
    """))
    for table, column in (("billing_plans", "lines"), ("invoices", "lines"), ("invoices", "tax_breakdown"),
                          ("invoices", "line_credited"), ("invoices", "row_credited"), ("credit_notes", "lines"),
                          ("credit_notes", "tax_breakdown"),
                          ("billing_plans", "line_milestones"), ("billing_plans", "line_billed"),
                          ("billing_plans", "invoiced_gross")):
        op.alter_column(table, column, server_default=None)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT EXISTS (SELECT FROM invoices WHERE lines <> '[]'::jsonb)")).scalar():
        raise RuntimeError("invoices carry lines and VAT the schema before 0006 cannot hold; "
                           "downgrading would lose what they said when issued")
    for table, column in (("credit_notes", "tax_amount"), ("credit_notes", "net_amount"),
                          ("credit_notes", "tax_breakdown"), ("credit_notes", "lines"), ("invoices", "row_credited"),
                          ("invoices", "line_credited"),
                          ("invoices", "tax_amount"), ("invoices", "net_amount"), ("invoices", "tax_breakdown"),
                          ("invoices", "lines"), ("instalments", "hold_reason"), ("billing_plans", "invoiced_gross"),
                          ("billing_plans", "line_billed"), ("billing_plans", "line_milestones"),
                          ("billing_plans", "lines")):
        op.drop_column(table, column)
