"""The benchmark suite still runs end to end: tiny parameters, a few seconds of load, no thresholds.

It starts its own Kafka (the suite's events must not reach the other tests' consumer groups) and
uses the session's PostgreSQL server with databases of its own, which it drops at the end.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def test_the_suite_prints_its_table_and_writes_json_and_chart(postgres_admin_dsn, tmp_path):
    out = tmp_path / "out"
    completed = subprocess.run(
        [sys.executable, str(ROOT / "bench/suite.py"), "--pg-admin-dsn", postgres_admin_dsn, "--out", str(out),
         "--reps", "1", "--warmup-seconds", "0.2", "--clients", "2", "--rest-seconds", "0.5",
         "--hop-rates", "20", "--hop-seconds", "0.5", "--hop-min-count", "10", "--flow-rates", "1", "--flow-seconds", "1",
         "--partitions", "2"],
        capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "| Part | Load | Figure | System | Raw limit underneath | Ratio | Target |" in completed.stdout
    for part in ("REST write POST /leads", "Event hop", "Full flows"):
        assert part in completed.stdout
    result = json.loads((out / "bench.json").read_text())
    assert {"rest", "hop", "flows", "machine", "versions"} <= result.keys()
    assert set(result["hop"]) == {"1", "2"} and set(result["flows"]) == {"1", "2"}
    assert (out / "bench.png").stat().st_size > 0
