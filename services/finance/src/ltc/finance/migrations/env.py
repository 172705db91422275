from ltc.finance.adapters.orm import metadata
from ltc.shared.db import audit_metadata
from ltc.shared.migrations import run_migrations
from ltc.shared.policy import policy_metadata

# Since 0004 the shared audit trail and policy store live in this database too.
run_migrations(metadata, audit_metadata, policy_metadata)
