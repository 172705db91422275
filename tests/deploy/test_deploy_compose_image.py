"""The container image, `deploy/compose.yaml`, the Grafana dashboard and `deploy/README.md`, offline."""

from __future__ import annotations

import json
import re

import pytest
from prometheus_client import Counter, Gauge, Histogram

from ltc.shared import metrics as ltc_metrics
from ltc.shared.devstack.services import DEFAULT_PORTS
from ltc.shared.messages import TOPICS, dlq_topic
from tests.deploy.deploy_support import (
    DEPLOY,
    DRIVER_ENV,
    ROOT,
    SERVICES,
    TRACING_ENV_PREFIX,
    all_topics,
    console_scripts,
    env_literals_in_runtime_code,
    extra_settings,
    load_all,
    settings_defaults,
    settings_env_names,
)

DOCKERFILE = DEPLOY / "docker" / "Dockerfile"
COMPOSE = DEPLOY / "compose.yaml"
README = DEPLOY / "README.md"
DASHBOARD = DEPLOY / "grafana" / "ltc-dashboard.json"



def _exported_metrics() -> set[str]:
    """Every series name the services export, as a dashboard queries it (from the code, so a new
    metric without a panel fails the dashboard test)."""
    suffix = {Counter: "_total", Histogram: "_bucket", Gauge: ""}
    return {metric._name + suffix[type(metric)] for metric in vars(ltc_metrics).values()
            if type(metric) in suffix}


METRICS = _exported_metrics()


@pytest.fixture(scope="module")
def compose() -> dict:
    (doc,) = load_all(COMPOSE)
    return doc


# --- image -----------------------------------------------------------------------------------------

def test_dockerfile_builds_from_the_lock_without_dev_dependencies_as_non_root():
    text = DOCKERFILE.read_text()
    instructions = [line.split()[0] for line in text.splitlines() if line and not line.startswith(("#", " "))]
    assert instructions.count("FROM") == 2, "multi-stage: build, runtime"
    assert 'uv sync --frozen --no-dev --no-editable --package "ltc-${SERVICE}"' in text
    assert "COPY pyproject.toml uv.lock ./" in text
    for member in ("shared", *(f"services/{s}" for s in SERVICES)):
        assert f"COPY {member}/pyproject.toml {member}/pyproject.toml" in text, member
    users = re.findall(r"^USER (\S+)$", text, re.M)
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert 'ENTRYPOINT ["/app/.venv/bin/ltc-service"]' in text and 'ln -s "ltc-${SERVICE}"' in text
    assert "LTC_HOST=0.0.0.0" in text
    for service in SERVICES:
        assert f"ltc-{service}" in console_scripts(service)


def test_dockerignore_sends_only_the_lock_manifests_and_sources():
    lines = [line for line in (ROOT / ".dockerignore").read_text().splitlines() if line and not line.startswith("#")]
    assert lines[0] == "**"
    assert {line for line in lines if line.startswith("!")} == {"!pyproject.toml", "!uv.lock", "!shared/", "!services/"}


# --- compose ---------------------------------------------------------------------------------------

def test_compose_has_kafka_a_database_and_a_migration_per_service(compose):
    services = compose["services"]
    kafka = services["kafka"]
    assert "controller" in kafka["environment"]["KAFKA_PROCESS_ROLES"] and "healthcheck" in kafka
    for service in SERVICES:
        assert "healthcheck" in services[f"{service}-db"]
        migrate, app = services[f"{service}-migrate"], services[service]
        assert migrate["command"] == ["migrate"] and app["command"] == ["serve"]
        assert app["depends_on"][f"{service}-migrate"]["condition"] == "service_completed_successfully"
        assert app["depends_on"]["kafka-topics"]["condition"] == "service_completed_successfully"
        assert migrate["depends_on"][f"{service}-db"]["condition"] == "service_healthy"


def test_compose_images_ports_probes_and_env_agree_with_the_code(compose):
    for service in SERVICES:
        port = DEFAULT_PORTS[service]
        for name in (service, f"{service}-migrate"):
            container = compose["services"][name]
            assert container["image"].split(":")[0] == f"ltc-{service}"
            build = container["build"]
            assert build["dockerfile"] == "deploy/docker/Dockerfile" and build["context"] == ".."
            assert build["args"] == {"SERVICE": service, "PORT": str(port)}
            env = container["environment"]
            unknown = {n for n in set(env) - settings_env_names(service) - DRIVER_ENV
                       if not n.startswith(TRACING_ENV_PREFIX)}
            assert not unknown, f"{name} sets env vars no code reads: {sorted(unknown)}"
            assert env[f"LTC_{service.upper()}_DATABASE_URL"] == f"postgresql+asyncpg://{service}-db:5432/{service}"
            assert env["LTC_HOST"] == "0.0.0.0" and env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
            assert env["LTC_JWT_SECRET"].startswith("${LTC_JWT_SECRET:?")
        app = compose["services"][service]
        assert app["environment"][f"LTC_{service.upper()}_PORT"] == str(port)
        assert app["ports"] == [f"${{LTC_PUBLISH_HOST:-127.0.0.1}}:{port}:{port}"]
        assert f"http://127.0.0.1:{port}/readyz" in " ".join(app["healthcheck"]["test"])


def test_compose_creates_every_topic_and_dead_letter_topic(compose):
    script = compose["services"]["kafka-topics"]["command"][0]
    (loop,) = re.findall(r"for topic in ([^;]+);", script)
    assert set(loop.split()) == set(TOPICS)
    assert '--topic "$$topic.dlq"' in script and dlq_topic("x") == "x.dlq"
    assert {t for t in all_topics() if not t.endswith(".dlq")} <= set(TOPICS)
    assert compose["services"]["kafka"]["environment"]["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"


def test_compose_holds_no_secret_values(compose):
    for name, container in compose["services"].items():
        for key, value in (container.get("environment") or {}).items():
            if any(word in key for word in ("SECRET", "PASSWORD")):
                assert str(value).startswith("${") and ":?" in str(value), (name, key)


# --- dashboard -------------------------------------------------------------------------------------

def test_dashboard_queries_the_metrics_the_services_export():
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    used = {m for e in exprs for m in re.findall(r"\bltc_[a-z_]+", e)}
    assert used == METRICS
    assert any('type="ltc.lead.converted.v1"' in e for e in exprs)
    assert any('type="ltc.contract.signed.v1"' in e for e in exprs)
    assert any("by (currency)" in e and "ltc_cash_collected_total" in e for e in exprs)
    assert any("by (service, route, status)" in e for e in exprs)
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))


# --- README ----------------------------------------------------------------------------------------

def _readme_rows() -> dict[str, str]:
    rows = {}
    for line in README.read_text().splitlines():
        match = re.match(r"\| `([A-Z0-9_<>]+)` \| ([^|]*) \|", line)
        if match:
            rows[match.group(1)] = match.group(2).strip()
    return rows


def _documented(default: object) -> str:
    if default is None:
        return "—"
    if isinstance(default, bool):
        return f"`{str(default).lower()}`"
    return f"`{default}`"


def test_readme_documents_every_environment_variable_with_its_default():
    rows = _readme_rows()
    for name, default in settings_defaults().items():
        if name in ("LTC_SERVICE_NAME", "LTC_PORT"):
            continue
        assert name in rows, f"deploy/README.md: no row for {name}"
        assert _documented(default) in rows[name], f"{name}: default {default!r} not in {rows[name]!r}"
    for field in ("DATABASE_URL", "PORT", "DB_POOL_SIZE"):
        assert f"LTC_<SERVICE>_{field}" in rows
    for service in SERVICES:
        for name, default in extra_settings(service).items():
            assert name in rows and _documented(default) in rows[name], name


def test_readme_documents_env_vars_read_outside_the_settings_classes():
    rows = _readme_rows()
    for name in env_literals_in_runtime_code():
        assert name in rows or f"{name}<SERVICE>" in rows, f"deploy/README.md: no row for {name}"
