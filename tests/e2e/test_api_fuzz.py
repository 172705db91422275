"""The OpenAPI documents, fuzzed: schemathesis against each running service on the real database.

Positive and negative data (`--mode all`), the examples, coverage and fuzzing phases, with a
token holding every role so that role checks do not stop the requests at the door. The checks:
no server error, every status and content type documented, every answer valid against its
documented schema (problems included: their `type` must be one the operation lists). Bounded
(`LTC_FUZZ_EXAMPLES` cases per operation, default 10) so the suite stays inside CI's time;
`make fuzz` runs it larger.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ltc.shared.auth import mint_token
from ltc.shared.roles import Role
from tests.e2e.support import four_services

pytestmark = pytest.mark.e2e

CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
EXAMPLES = int(os.environ.get("LTC_FUZZ_EXAMPLES", "10"))


@pytest.fixture(scope="module")
async def fuzzed(make_database, kafka_bootstrap, tmp_path_factory):
    """The four services on databases of their own: the fuzzer changes what it may (an admin's
    policies among them), which the other end-to-end tests must not meet. Without workers: the
    fuzzer speaks HTTP only, and no consumer of theirs competes with the flows' services."""
    async with four_services(make_database, kafka_bootstrap, tmp_path_factory, "fuzz",
                             {"LTC_RUN_WORKERS": "false"}) as urls:
        yield urls


@pytest.mark.parametrize("service", ["leads", "opportunities", "contracts", "finance"])
def test_every_answer_is_the_documented_one(fuzzed, service, tmp_path):
    token = mint_token("fuzzer", [role.value for role in Role])
    report = tmp_path / "report.json"
    command = [
        str(Path(sys.executable).parent / "schemathesis"), "run", f"{fuzzed[service]}/openapi.json",
        "--header", f"Authorization: Bearer {token}", "--checks", CHECKS, "--mode", "all",
        "--phases", "examples,coverage,fuzzing", "--max-examples", str(EXAMPLES), "--seed", "20261202",
        "--generation-database", "none", "--no-color", "--max-failures", "50", "--workers", "1",
        "--report", "json", "--report-json-path", str(report),
    ]
    run = subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=tmp_path)
    summary = _summary(report)
    print(f"\n[fuzz] {service}: {summary}")
    assert run.returncode == 0, f"schemathesis found failures in {service}:\n{run.stdout[-12000:]}\n{run.stderr[-2000:]}"
    assert summary["cases"] > 0 and summary["failures"] == summary["errors"] == 0


def _summary(report: Path) -> dict[str, int]:
    if not report.exists():
        return {"cases": 0}
    data = json.loads(report.read_text())
    cases = data.get("test_cases", {})
    return {"operations": len(data.get("valid_rates", {})), "cases": cases.get("generated", 0),
            "failures": cases.get("unique_failures", 0), "errors": len(data.get("errors", []))}
