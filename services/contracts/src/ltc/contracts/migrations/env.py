from sqlalchemy import MetaData

from ltc.contracts.adapters.orm import metadata
from ltc.shared.db import audit_metadata
from ltc.shared.migrations import run_migrations
from ltc.shared.policy import policy_metadata

# The shared audit trail and policy store live in this database too (since 0005): without them
# here, autogenerate would propose dropping them.
target = MetaData()
for source in (metadata, audit_metadata, policy_metadata):
    for table in source.tables.values():
        table.to_metadata(target)

run_migrations(target)
