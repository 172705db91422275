from ltc.contracts.adapters.orm import metadata
from ltc.shared.migrations import run_migrations

run_migrations(metadata)
