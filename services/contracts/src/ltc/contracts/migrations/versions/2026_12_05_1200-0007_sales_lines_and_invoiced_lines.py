"""Sales lines: a contract's lines carry their currency, and what finance invoiced of each is kept.

A line is now the shared sales line (position, code, unit, discount, goods or services, VAT,
milestone) whose price is money. The lines stored on a contract before knew no currency, the
contract's value did; each gets the value's here, so the column reads on its own. Everything else
a stored line lacks reads as the default (position = its place in the list, unit C62, a service,
no discount, VAT or milestone): nothing to write for it, and the lines in the versions' and the
amendments' terms read with the currency of the terms they are part of.

`invoiced_lines` holds what each invoice or credit note bills of each contract line (from
`invoice.issued` and `invoice.credited`), the floor an amendment keeps a line at.

The downgrade drops `invoiced_lines`. The lines keep their new keys: the previous revision reads
a line's description, quantity and unit price, still written as they were, and ignores the rest.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
        UPDATE contracts SET line_items = (
            SELECT jsonb_agg(CASE WHEN item ? 'currency' THEN item
                                  ELSE item || jsonb_build_object('currency', value_currency) END ORDER BY n)
            FROM jsonb_array_elements(line_items) WITH ORDINALITY AS lines(item, n))
        WHERE jsonb_array_length(line_items) > 0
    """)
    op.create_table(
        "invoiced_lines",
        sa.Column("document_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("contract_id", UUID(as_uuid=True), nullable=False),
        sa.Column("document_type", sa.String(20), nullable=False),
        sa.Column("document_number", sa.Text, nullable=False),
        sa.Column("quantity", sa.Numeric, nullable=False),
        sa.Column("net_amount", sa.Numeric(20, 4), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_invoiced_lines_contract_id", "invoiced_lines", ["contract_id"])


def downgrade() -> None:
    op.drop_index("ix_invoiced_lines_contract_id", table_name="invoiced_lines")
    op.drop_table("invoiced_lines")
