"""The shared audit trail and policy store: `contract_audit` and `contract_policy` move into them.

Every row of `contract_audit` becomes an `audit_trail` entry about its contract (object_type
"contract"; the part it concerns, e.g. an amendment, stays named in its changes), in the old seq
order; every version of `contract_policy` becomes a version of the policy "contract-policy", with
its number, document, setter and time, so ETags and history read as before.

The downgrade copies both back. It refuses when the old tables cannot hold what is there: an
entry about something other than a contract, an action or actor longer than their old columns,
or a policy of another name. Correlation ids, which the old table never had, are not kept.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

from ltc.shared.db import create_audit_trail, drop_audit_trail
from ltc.shared.policy import create_policy_versions, drop_policy_versions

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

OBJECT_TYPE = "contract"
POLICY_NAME = "contract-policy"


def upgrade() -> None:
    create_audit_trail(op)
    # Identity values are drawn as the ordered rows are inserted: seq order is the old order.
    op.execute(f"""
        INSERT INTO audit_trail (id, at, actor, action, object_type, object_id, filed_under, changes, correlation_id)
        SELECT gen_random_uuid(), at, actor, action, '{OBJECT_TYPE}', contract_id, '{{}}', details, NULL
        FROM contract_audit ORDER BY seq
    """)
    op.drop_table("contract_audit")

    create_policy_versions(op)
    op.execute(f"""
        INSERT INTO policy_versions (name, version, document, set_by, set_at)
        SELECT '{POLICY_NAME}', version, document, updated_by, updated_at FROM contract_policy ORDER BY version
    """)
    op.drop_table("contract_policy")


def _refuse_if_any(sql: str, why: str) -> None:
    if op.get_bind().execute(sa.text(sql)).first() is not None:
        raise RuntimeError(f"downgrade of 0005 refused: {why}; nothing was changed")


def downgrade() -> None:
    _refuse_if_any(f"SELECT 1 FROM audit_trail WHERE object_type <> '{OBJECT_TYPE}' OR length(action) > 60 "
                   "OR length(actor) > 200",
                   "the audit trail holds entries the old contract_audit table cannot hold")
    _refuse_if_any(f"SELECT 1 FROM policy_versions WHERE name <> '{POLICY_NAME}'",
                   "the policy store holds policies other than the contract policy")

    op.create_table(
        "contract_audit",
        sa.Column("seq", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("contract_id", UUID(as_uuid=True), nullable=False),
        sa.Column("action", sa.String(60), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("details", JSONB, nullable=False),
    )
    op.create_index("ix_contract_audit_contract_id", "contract_audit", ["contract_id"])
    op.execute("""
        INSERT INTO contract_audit (contract_id, action, actor, at, details)
        SELECT object_id, action, actor, at, changes FROM audit_trail ORDER BY seq
    """)
    drop_audit_trail(op)

    op.create_table(
        "contract_policy",
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("document", JSONB, nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.execute(f"""
        INSERT INTO contract_policy (version, document, updated_by, updated_at)
        SELECT version, document, set_by, set_at FROM policy_versions WHERE name = '{POLICY_NAME}' ORDER BY version
    """)
    drop_policy_versions(op)
