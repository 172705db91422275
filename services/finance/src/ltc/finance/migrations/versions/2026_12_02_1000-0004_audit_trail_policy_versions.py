"""The shared audit trail (who changed which invoice, payment, credit note or billing plan, when and
how) and the shared policy store, where an admin keeps the ERP account codes with their history.

Finance kept neither before: nothing to copy. Until an admin sets account codes, the journal posts
to the environment's (`LTC_FINANCE_ACCOUNT_*`), version 0 of the policy.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

from ltc.shared.db import AUDIT_TABLE, create_audit_trail, drop_audit_trail
from ltc.shared.policy import create_policy_versions, drop_policy_versions, policy_versions

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_audit_trail(op)
    create_policy_versions(op)


def downgrade() -> None:
    # Before 0004 there was nowhere to keep either: a downgrade would delete the audit trail and
    # silently put the journal back on the environment's codes. Refuse while they hold anything.
    bind = op.get_bind()
    for table in (AUDIT_TABLE, policy_versions.name):
        if bind.execute(sa.text(f"SELECT EXISTS (SELECT FROM {table})")).scalar():
            raise RuntimeError(f"{table} holds rows that revision 0003 has no place for; "
                               "archive and empty it before downgrading below 0004")
    drop_policy_versions(op)
    drop_audit_trail(op)
