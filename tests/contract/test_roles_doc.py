"""docs/roles.md is the table the code gives (make docs writes it)."""

from __future__ import annotations

import runpy
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_roles_table_is_the_one_the_routes_declare():
    generator = runpy.run_path(str(ROOT / "docs/roles.py"))
    assert (ROOT / "docs/roles.md").read_text() == generator["table"](), "docs/roles.md is stale: run make docs"
