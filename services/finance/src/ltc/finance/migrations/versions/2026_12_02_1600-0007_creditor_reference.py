"""Every invoice carries its ISO 11649 structured creditor reference (`payment_reference`), which
the customer quotes when paying: `RF`, two check digits, the invoice number without dashes.

Invoices issued before 0007 get theirs computed from their number (the rule is written out here,
as it was when this revision shipped); the downgrade drops the column (the references are
derived from the numbers, nothing is lost).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op
from stdnum.iso7064 import mod_97_10

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _reference(number: str) -> str:
    body = number.replace("-", "").upper()
    return f"RF{mod_97_10.calc_check_digits(body + 'RF')}{body}"


def upgrade() -> None:
    op.add_column("invoices", sa.Column("payment_reference", sa.String(35)))
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, number FROM invoices")).all()
    for row in rows:
        bind.execute(sa.text("UPDATE invoices SET payment_reference = :ref WHERE id = :id"),
                     {"ref": _reference(row.number), "id": row.id})
    op.create_index("ix_invoices_payment_reference", "invoices", ["payment_reference"])


def downgrade() -> None:
    op.drop_index("ix_invoices_payment_reference", table_name="invoices")
    op.drop_column("invoices", "payment_reference")
