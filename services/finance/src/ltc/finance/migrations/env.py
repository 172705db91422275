from ltc.finance.adapters.orm import metadata
from ltc.shared.migrations import run_migrations

run_migrations(metadata)
