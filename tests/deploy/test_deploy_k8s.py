"""The Kubernetes manifests, offline: they parse, build, validate against the Kubernetes schemas,
and agree with the code (images, commands, ports, probes, env vars, topics, ACLs)."""

from __future__ import annotations

import os
import re

import kubernetes_validate  # dev dependency: ships the Kubernetes JSON schemas, works offline
import pytest

from ltc.shared.devstack.services import DEFAULT_PORTS
from ltc.shared.messages import dlq_topic
from ltc.shared.settings import settings_for
from tests.deploy.deploy_support import (
    BASE,
    CUSTOM_API_VERSIONS,
    DRIVER_ENV,
    KUBERNETES_VERSION,
    KUSTOMIZE_ROOTS,
    OVERLAYS,
    SERVICES,
    TRACING_ENV_PREFIX,
    all_topics,
    by_kind,
    collect_resources,
    console_scripts,
    consumed_topics,
    consumer_group,
    health_paths,
    kustomize_command,
    load_all,
    load_generator,
    produced_topics,
    render,
    render_simply,
    settings_env_names,
    spec,
    yaml_files,
)

ROOT_IDS = [str(p.relative_to(BASE.parent)) for p in KUSTOMIZE_ROOTS]


@pytest.fixture(params=KUSTOMIZE_ROOTS, ids=ROOT_IDS, scope="module")
def docs(request) -> tuple[dict, ...]:
    return render(request.param)


@pytest.fixture(scope="module")
def production() -> tuple[dict, ...]:
    (overlay,) = [p for p in OVERLAYS if p.name == "production"]
    return render(overlay)


def containers(docs, component: str | None = None):
    """(service, component, container, pod spec, workload) for every Deployment and Job."""
    for doc in docs:
        if doc["kind"] not in ("Deployment", "Job"):
            continue
        labels = doc["spec"]["template"]["metadata"]["labels"]
        if component and labels["app.kubernetes.io/component"] != component:
            continue
        pod = doc["spec"]["template"]["spec"]
        for c in pod["containers"]:
            yield labels["app.kubernetes.io/name"], labels["app.kubernetes.io/component"], c, pod, doc


# --- parsing, building, schemas ------------------------------------------------------------------

def test_every_yaml_file_parses():
    files = yaml_files()
    assert len(files) > 10
    for path in files:
        assert load_all(path), f"{path} holds no document"


def test_overlays_exist():
    assert [p.name for p in OVERLAYS] == ["production"]


@pytest.mark.parametrize("root", KUSTOMIZE_ROOTS, ids=ROOT_IDS)
def test_kustomization_resources_and_patches_exist_and_parse(root):
    def walk(directory):
        kustomization = load_all(directory / "kustomization.yaml")[0]
        assert kustomization["kind"] == "Kustomization"
        for entry in kustomization.get("resources", []):
            path = (directory / entry).resolve()
            assert path.exists(), f"{directory}/kustomization.yaml lists missing {entry}"
            if path.is_dir():
                walk(path)
            else:
                assert all("kind" in d and "apiVersion" in d for d in load_all(path)), path
        for patch in kustomization.get("patches", []):
            if "path" in patch:
                assert load_all(directory / patch["path"]), patch["path"]
    walk(root)
    assert collect_resources(root)


def test_kustomize_builds():
    if kustomize_command() is None:
        pytest.skip("neither kustomize nor kubectl on PATH: the other tests check the output of "
                    "deploy_support.render_simply instead")
    for root in KUSTOMIZE_ROOTS:
        assert render(root)


@pytest.mark.parametrize("root", KUSTOMIZE_ROOTS, ids=ROOT_IDS)
def test_the_fallback_renderer_agrees_with_kustomize(root):
    if kustomize_command() is None:
        pytest.skip("no kustomize to compare with")

    def key(doc):
        return doc["kind"], doc["metadata"]["name"]

    assert sorted(render_simply(root), key=key) == sorted(render(root), key=key)


def test_builtin_kinds_validate_against_the_kubernetes_schemas(docs):
    custom = 0
    for doc in docs:
        if doc["apiVersion"] in CUSTOM_API_VERSIONS:
            assert doc["kind"] in CUSTOM_API_VERSIONS[doc["apiVersion"]], (doc["apiVersion"], doc["kind"])
            custom += 1
            continue
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{doc['kind']}/{doc['metadata']['name']}: {exc.message} at {list(exc.path)}")
    assert custom > 0


def test_no_secret_values_in_the_manifests(docs):
    assert not by_kind(docs, "Secret"), "secrets are created outside the repository"
    for service, _, c, _, _ in containers(docs):
        for env in c.get("env", []):
            if any(word in env["name"] for word in ("SECRET", "PASSWORD", "TOKEN")):
                assert "valueFrom" in env and "secretKeyRef" in env["valueFrom"], (service, env)
    for cm in by_kind(docs, "ConfigMap").values():
        for key, value in cm["data"].items():
            assert not any(word in key for word in ("SECRET", "PASSWORD")), key
            assert "@" not in value, f"credentials in {cm['metadata']['name']}.{key}?"


def test_generated_base_is_current():
    stale = [str(p) for p, text in load_generator().render().items() if not p.exists() or p.read_text() != text]
    assert not stale, f"run `uv run python deploy/k8s/generate.py`: stale {stale}"


def test_generator_service_table_matches_the_code():
    table = load_generator().SERVICES
    assert set(table) == set(SERVICES)
    for service, (port, produced, consumed) in table.items():
        assert port == DEFAULT_PORTS[service]
        assert {produced} == produced_topics(service)
        assert set(consumed) == consumed_topics(service)


@pytest.mark.parametrize("service", SERVICES)
def test_service_specs_import_and_agree(service):
    service_spec = spec(service)
    assert service_spec.name == service and service_spec.default_port == DEFAULT_PORTS[service]
    subscription = service_spec.subscription
    assert set(subscription.topics if subscription else ()) == consumed_topics(service)


# --- workloads agree with the code ---------------------------------------------------------------

def test_each_service_has_api_worker_and_migration_job(docs):
    deployments, jobs = by_kind(docs, "Deployment"), by_kind(docs, "Job")
    for service in SERVICES:
        assert f"{service}-api" in deployments and f"{service}-worker" in deployments
        assert f"{service}-migrate" in jobs
        assert service in by_kind(docs, "Service") and service in by_kind(docs, "NetworkPolicy")
        assert f"{service}-config" in by_kind(docs, "ConfigMap")


def test_images_and_commands_are_the_services_console_scripts(docs):
    expected = {"api": "serve", "worker": "worker", "migrate": "migrate"}
    seen = set()
    for service, component, c, _, _ in containers(docs):
        image = c["image"].rsplit("/", 1)[-1]
        name, _, tag = image.partition(":")
        assert name == f"ltc-{service}" and f"ltc-{service}" in console_scripts(service), c["image"]
        assert tag and tag != "latest", f"{c['image']}: pin a tag"
        assert c["args"] == [expected[component]], (service, component, c["args"])
        seen.add((service, component))
    assert seen == {(s, c) for s in SERVICES for c in expected}


def test_ports_probes_and_scrape_targets_agree_with_the_code(docs):
    services = by_kind(docs, "Service")
    for service, _, c, _, workload in containers(docs, "api"):
        port = DEFAULT_PORTS[service]
        assert c["ports"] == [{"name": "http", "containerPort": port, "protocol": "TCP"}]
        paths = health_paths(service)
        assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"} and "/readyz" in paths
        assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"} and "/healthz" in paths
        annotations = workload["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/port"] == str(port) and annotations["prometheus.io/path"] == "/metrics"
        svc = services[service]
        assert svc["spec"]["ports"][0]["port"] == port and svc["spec"]["ports"][0]["targetPort"] == "http"
        assert svc["spec"]["selector"] == workload["spec"]["selector"]["matchLabels"]
    for service, _, c, _, _ in containers(docs, "worker"):
        assert "readinessProbe" not in c, "a worker takes no traffic"
        # `ltc-<service> worker` serves /healthz, /readyz and /metrics on the service's port.
        assert c["ports"][0]["containerPort"] == DEFAULT_PORTS[service]
        assert c["livenessProbe"]["httpGet"]["path"] in health_paths(service)


def test_pod_monitor_scrapes_metrics_on_the_http_port(production):
    (monitor,) = by_kind(production, "PodMonitor").values()
    (components,) = monitor["spec"]["selector"]["matchExpressions"]
    assert components["key"] == "app.kubernetes.io/component" and set(components["values"]) == {"api", "worker"}
    assert monitor["spec"]["podMetricsEndpoints"] == [{"port": "http", "path": "/metrics", "interval": "15s"}]


def _environment(docs, service: str, c: dict) -> dict[str, str]:
    configmaps = by_kind(docs, "ConfigMap")
    env: dict[str, str] = {}
    for source in c.get("envFrom", []):
        env.update(configmaps[source["configMapRef"]["name"]]["data"])
    for item in c.get("env", []):
        env[item["name"]] = item["value"] if "value" in item else f"<from {item['valueFrom']}>"
    return env


def test_env_var_names_are_the_ones_the_code_reads(docs):
    for service, component, c, _, _ in containers(docs):
        unknown = set(_environment(docs, service, c)) - settings_env_names(service) - DRIVER_ENV
        unknown = {n for n in unknown if not n.startswith(TRACING_ENV_PREFIX)}
        assert not unknown, f"{service}-{component} sets env vars no code reads: {sorted(unknown)}"


def test_the_environment_makes_valid_settings(docs, monkeypatch):
    for service, component, c, _, _ in containers(docs):
        env = _environment(docs, service, c)
        for key in list(env):
            if key.startswith("LTC_") or key == "KAFKA_BOOTSTRAP_SERVERS":
                monkeypatch.delenv(key, raising=False)
        for name in [n for n in os.environ if n.startswith("LTC_")]:
            monkeypatch.delenv(name)
        for key, value in env.items():
            # A secret reference stands for a value the cluster provides.
            monkeypatch.setenv(key, "from-a-secret" if value.startswith("<from") else value)
        settings = settings_for(service, DEFAULT_PORTS[service])
        assert settings.env != "development"
        assert settings.host == "0.0.0.0" and settings.port == DEFAULT_PORTS[service]
        assert settings.database_url.startswith("postgresql+asyncpg://") and f"{service}-db" in settings.database_url
        assert settings.run_workers is False, "in Kubernetes the workers run in their own Deployment"
        assert (settings.consumer_group or consumer_group(service)) == consumer_group(service)
        assert env["PGUSER"].startswith("<from") and env["PGPASSWORD"].startswith("<from")
        assert env.get("LTC_JWT_SECRET", "").startswith("<from")


# --- operability ---------------------------------------------------------------------------------

def test_resources_security_pdb_and_hpa(docs):
    pdbs, hpas = by_kind(docs, "PodDisruptionBudget"), by_kind(docs, "HorizontalPodAutoscaler")
    for service, component, c, pod, workload in containers(docs):
        assert c["resources"]["requests"].keys() >= {"cpu", "memory"} and "memory" in c["resources"]["limits"]
        assert pod["securityContext"]["runAsNonRoot"] is True and c["securityContext"]["runAsNonRoot"] is True
        assert c["securityContext"]["readOnlyRootFilesystem"] is True
        if workload["kind"] != "Deployment":
            continue
        name = workload["metadata"]["name"]
        labels = workload["spec"]["selector"]["matchLabels"]
        assert pdbs[name]["spec"]["selector"]["matchLabels"] == labels
        assert hpas[name]["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}


def test_workers_scale_no_further_than_the_partitions_they_consume(docs):
    partitions = {t["spec"]["topicName"]: t["spec"]["partitions"] for t in by_kind(docs, "KafkaTopic").values()}
    hpas = by_kind(docs, "HorizontalPodAutoscaler")
    for service in SERVICES:
        assert hpas[f"{service}-worker"]["spec"]["maxReplicas"] <= min(partitions[t] for t in consumed_topics(service))
        assert hpas[f"{service}-api"]["spec"]["maxReplicas"] > hpas[f"{service}-api"]["spec"]["minReplicas"]


def test_network_policy_allows_only_own_database_kafka_and_dns_out_and_own_api_in(docs):
    kafka = next(iter(by_kind(docs, "Kafka").values()))
    kafka_ports = {listener["port"] for listener in kafka["spec"]["kafka"]["listeners"]}
    for service in SERVICES:
        policy = by_kind(docs, "NetworkPolicy")[service]["spec"]
        assert policy["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == service
        assert set(policy["policyTypes"]) == {"Ingress", "Egress"}
        assert policy["ingress"] == [{"ports": [{"protocol": "TCP", "port": DEFAULT_PORTS[service]}]}]
        database, broker, dns = policy["egress"]
        assert database["to"] == [{"podSelector": {"matchLabels": {"cnpg.io/cluster": f"{service}-db"}}}]
        assert database["ports"] == [{"protocol": "TCP", "port": 5432}]
        assert broker["to"][0]["podSelector"]["matchLabels"]["strimzi.io/cluster"] == kafka["metadata"]["name"]
        assert {p["port"] for p in broker["ports"]} <= kafka_ports
        assert {p["port"] for p in dns["ports"]} == {53}


def test_each_service_has_its_own_cloudnativepg_cluster(docs):
    clusters = by_kind(docs, "Cluster")
    for service, _, c, _, _ in containers(docs):
        cluster = clusters[f"{service}-db"]
        assert cluster["apiVersion"] == "postgresql.cnpg.io/v1"
        assert cluster["spec"]["bootstrap"]["initdb"] == {"database": service, "owner": service}
        env = _environment(docs, service, c)
        # CloudNativePG names the read-write Service <cluster>-rw and the owner's secret <cluster>-app.
        assert env[f"LTC_{service.upper()}_DATABASE_URL"] == f"postgresql+asyncpg://{service}-db-rw:5432/{service}"
        assert {e["valueFrom"]["secretKeyRef"]["name"] for e in c["env"] if e["name"] in DRIVER_ENV} == {f"{service}-db-app"}


def test_production_backs_up_every_database(production):
    clusters, stores = by_kind(production, "Cluster"), by_kind(production, "ObjectStore")
    schedules = {s["spec"]["cluster"]["name"] for s in by_kind(production, "ScheduledBackup").values()}
    for service in SERVICES:
        (plugin,) = clusters[f"{service}-db"]["spec"]["plugins"]
        assert plugin["isWALArchiver"] is True and plugin["parameters"]["barmanObjectName"] in stores
        assert f"{service}-db" in schedules


# --- Kafka ---------------------------------------------------------------------------------------

def test_kafka_is_kraft_with_node_pools(docs):
    (kafka,) = by_kind(docs, "Kafka").values()
    assert kafka["apiVersion"] == "kafka.strimzi.io/v1" and "zookeeper" not in kafka["spec"]
    pools = [p for p in by_kind(docs, "KafkaNodePool").values()
             if p["metadata"]["labels"]["strimzi.io/cluster"] == kafka["metadata"]["name"]]
    roles = {r for p in pools for r in p["spec"]["roles"]}
    assert roles == {"controller", "broker"}
    assert sum(p["spec"]["replicas"] for p in pools if "broker" in p["spec"]["roles"]) >= 3
    assert kafka["spec"]["kafka"]["authorization"]["type"] == "simple"


def test_every_topic_the_code_uses_has_a_kafkatopic(docs):
    (kafka,) = by_kind(docs, "Kafka").values()
    topics = {t["spec"]["topicName"]: t for t in by_kind(docs, "KafkaTopic").values()}
    assert set(topics) == all_topics()
    for name, topic in topics.items():
        assert topic["apiVersion"] == "kafka.strimzi.io/v1"
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == kafka["metadata"]["name"]
        assert topic["spec"]["partitions"] >= 1 and topic["spec"]["replicas"] == 3
        assert topic["spec"]["config"]["min.insync.replicas"] == "2", name


def test_kafka_users_may_write_only_their_own_topic_and_read_what_they_consume(docs):
    users = by_kind(docs, "KafkaUser")
    assert set(users) == {f"ltc-{s}" for s in SERVICES}
    for service in SERVICES:
        user = users[f"ltc-{service}"]
        assert user["apiVersion"] == "kafka.strimzi.io/v1"
        grants: dict[tuple[str, str], set[str]] = {}
        for acl in user["spec"]["authorization"]["acls"]:
            assert acl["resource"].get("patternType", "literal") == "literal"
            grants.setdefault((acl["resource"]["type"], acl["resource"].get("name")), set()).update(acl["operations"])
        writes = {name for (kind, name), ops in grants.items() if kind == "topic" and "Write" in ops}
        reads = {name for (kind, name), ops in grants.items() if kind == "topic" and "Read" in ops}
        groups = {name for (kind, name), ops in grants.items() if kind == "group" and "Read" in ops}
        consumed = consumed_topics(service)
        assert writes == produced_topics(service) | {dlq_topic(t) for t in consumed}, service
        assert reads == consumed, service
        assert groups == {consumer_group(service)}
        assert not any(ops & {"All", "Delete", "Alter", "AlterConfigs", "Create"} for ops in grants.values())


def test_readme_acl_table_is_the_kafka_users(docs):
    readme = (BASE.parents[1] / "README.md").read_text()
    for service in SERVICES:
        (row,) = [line for line in readme.splitlines() if line.startswith(f"| `ltc-{service}` |")]
        _, writes, reads, group = [cell.strip() for cell in row.strip("|").split("|")]
        consumed = consumed_topics(service)
        assert set(re.findall(r"`([^`]+)`", writes)) == produced_topics(service) | {dlq_topic(t) for t in consumed}
        assert set(re.findall(r"`([^`]+)`", reads)) == consumed
        assert group == f"`{consumer_group(service)}`"


def test_databases_accept_every_connection_the_pods_may_open(docs):
    """Each process may open 2 x its pool size (pool + overflow, ltc.shared.db.make_engine)."""
    hpas, clusters = by_kind(docs, "HorizontalPodAutoscaler"), by_kind(docs, "Cluster")
    for service in SERVICES:
        worst = 10  # migrations, operators, psql
        for component in ("api", "worker"):
            (c,) = [c for s, comp, c, _, _ in containers(docs, component) if s == service]
            env = _environment(docs, service, c)
            pool = int(env.get(f"LTC_{service.upper()}_DB_POOL_SIZE", env.get("LTC_DB_POOL_SIZE", 10)))
            worst += hpas[f"{service}-{component}"]["spec"]["maxReplicas"] * 2 * pool
        limit = int(clusters[f"{service}-db"]["spec"]["postgresql"]["parameters"]["max_connections"])
        assert worst <= limit, f"{service}: pods may open {worst} connections, max_connections is {limit}"
