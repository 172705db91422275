from ltc.leads.adapters.orm import metadata
from ltc.shared.db import audit_metadata
from ltc.shared.migrations import run_migrations

# Since 0004 the shared audit trail lives in this database too.
run_migrations(metadata, audit_metadata)
