"""Render `deploy/k8s/base/` from the code: `uv run python deploy/k8s/generate.py` (`--check`: exit 1 if stale).

Ports come from `ltc.shared.devstack.services.DEFAULT_PORTS`, the topic each service produces from
its payload models, the topics it consumes from its bootstrap's `Subscription`. The base is plain
YAML (review it, diff it, patch it from an overlay); this script keeps the four services'
manifests identical in shape and in step with the code after a service subscribes to a new topic. `tests/deploy` fails when the committed base differs
from what this script renders, and checks names, ports, probes, env vars and topics against the code.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import yaml

BASE = Path(__file__).resolve().parent / "base"
REPO = BASE.parents[2]

KAFKA_CLUSTER = "ltc"
KAFKA_BOOTSTRAP = f"{KAFKA_CLUSTER}-kafka-bootstrap:9093"  # the TLS + SCRAM-SHA-512 listener
KAFKA_VERSION = "4.1.1"
TOPIC_PARTITIONS = 6  # consumers of a service scale up to this many worker replicas
DLQ_PARTITIONS = 1
IMAGE_TAG = "0.1.0"
KAFKA_CA_DIR = "/etc/ltc/kafka-ca"
API_DB_POOL_SIZE = 10
WORKER_DB_POOL_SIZE = 3
MAX_CONNECTIONS = 300  # >= 2 x (API max replicas x API pool + worker max replicas x worker pool) + headroom
PART_OF = "ltc"



def _consumed_topics(service: str) -> tuple[str, ...]:
    """`Subscription(topics=...)` in the service's bootstrap.py (read, not imported)."""
    source = REPO / "services" / service / "src" / "ltc" / service / "bootstrap.py"
    for node in ast.walk(ast.parse(source.read_text())):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Subscription":
            for keyword in node.keywords:
                if keyword.arg == "topics":
                    return tuple(ast.literal_eval(keyword.value))
    return ()


def _services() -> dict[str, tuple[int, str, tuple[str, ...]]]:
    """name: (HTTP port, topic it produces, topics it consumes), from the code."""
    from ltc.shared.devstack.services import DEFAULT_PORTS
    from ltc.shared.messages import EVENT_TYPES

    table = {}
    for name, port in DEFAULT_PORTS.items():
        (produced,) = {cls.topic for cls in EVENT_TYPES.values() if cls.__module__ == f"ltc.shared.messages.{name}_events"}
        table[name] = (port, produced, _consumed_topics(name))
    return table


SERVICES = _services()


def labels(service: str, component: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": service,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": PART_OF,
    }


def selector(service: str, component: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": service, "app.kubernetes.io/component": component}


def topic_resource_name(topic: str) -> str:
    return topic.replace(".", "-")


def configmap(service: str, port: int) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": f"{service}-config", "labels": labels(service, "config")},
        "data": {
            "LTC_ENV": "production",
            "LTC_HOST": "0.0.0.0",
            f"LTC_{service.upper()}_PORT": str(port),
            # No credentials in the URL: asyncpg takes PGUSER / PGPASSWORD from the environment,
            # which come from the CloudNativePG app secret (see the Deployments).
            f"LTC_{service.upper()}_DATABASE_URL": f"postgresql+asyncpg://{service}-db-rw:5432/{service}",
            "LTC_DB_POOL_SIZE": str(API_DB_POOL_SIZE),
            "KAFKA_BOOTSTRAP_SERVERS": KAFKA_BOOTSTRAP,
            # The Strimzi listener: SCRAM-SHA-512 over TLS, as the KafkaUser of this service.
            "LTC_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "LTC_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
            "LTC_KAFKA_SASL_USERNAME": f"ltc-{service}",
            "LTC_KAFKA_SSL_CAFILE": f"{KAFKA_CA_DIR}/ca.crt",
            "LTC_CONSUMER_GROUP": f"ltc-{service}",
            "LTC_RUN_WORKERS": "false",
            "LTC_RELAY_POLL_SECONDS": "1.0",
            "LTC_LOG_JSON": "true",
            "LTC_JWT_ISSUER": "ltc",
            "LTC_JWT_AUDIENCE": "ltc",
        },
    }


def env_from_secrets(service: str) -> list[dict]:
    return [
        # Created by CloudNativePG for the Cluster's application owner (bootstrap.initdb.owner).
        {"name": "PGUSER", "valueFrom": {"secretKeyRef": {"name": f"{service}-db-app", "key": "username"}}},
        {"name": "PGPASSWORD", "valueFrom": {"secretKeyRef": {"name": f"{service}-db-app", "key": "password"}}},
        # HS256 secret, created by the operator of the cluster (never in this repository). Optional:
        # a deployment that sets LTC_JWT_JWKS_URL (RS256, the production overlay) does not need it.
        {"name": "LTC_JWT_SECRET",
         "valueFrom": {"secretKeyRef": {"name": "ltc-jwt", "key": "secret", "optional": True}}},
        # Created by the Strimzi User Operator for the KafkaUser `ltc-<service>`.
        {"name": "LTC_KAFKA_SASL_PASSWORD",
         "valueFrom": {"secretKeyRef": {"name": f"ltc-{service}", "key": "password"}}},
    ]


def container_security() -> dict:
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    }


def pod_security() -> dict:
    return {"runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001, "fsGroup": 10001,
            "seccompProfile": {"type": "RuntimeDefault"}}


def container(service: str, command: str, resources: dict) -> dict:
    return {
        "name": command if command != "serve" else "api",
        "image": f"ltc-{service}:{IMAGE_TAG}",
        "imagePullPolicy": "IfNotPresent",
        "args": [command],
        "envFrom": [{"configMapRef": {"name": f"{service}-config"}}],
        "env": env_from_secrets(service),
        "resources": resources,
        "securityContext": container_security(),
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"},
                         {"name": "kafka-ca", "mountPath": KAFKA_CA_DIR, "readOnly": True}],
    }


def pod_spec(service: str, component: str, main: dict, termination: int) -> dict:
    return {
        "serviceAccountName": f"ltc-{service}",
        "automountServiceAccountToken": False,
        "securityContext": pod_security(),
        "terminationGracePeriodSeconds": termination,
        "topologySpreadConstraints": [{
            "maxSkew": 1,
            "topologyKey": "kubernetes.io/hostname",
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": selector(service, component)},
        }],
        "containers": [main],
        "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
                    # The cluster CA the brokers' TLS certificates are signed with (Strimzi).
                    {"name": "kafka-ca", "secret": {"secretName": f"{KAFKA_CLUSTER}-cluster-ca-cert",
                                                    "items": [{"key": "ca.crt", "path": "ca.crt"}]}}],
    }


def _serve_http(main: dict, port: int) -> dict:
    """The `http` port and liveness probe of a container; the pod annotations that get it scraped."""
    main["ports"] = [{"name": "http", "containerPort": port, "protocol": "TCP"}]
    main["livenessProbe"] = {"httpGet": {"path": "/healthz", "port": "http"},
                             "periodSeconds": 10, "timeoutSeconds": 3, "failureThreshold": 3}
    return {"prometheus.io/scrape": "true", "prometheus.io/port": str(port), "prometheus.io/path": "/metrics"}


def _deployment(service: str, component: str, main: dict, annotations: dict, *, max_unavailable: int,
                termination: int) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": f"{service}-{component}", "labels": labels(service, component)},
        "spec": {
            # No `replicas`: the HorizontalPodAutoscaler owns it (an apply would otherwise reset it).
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": selector(service, component)},
            "strategy": {"type": "RollingUpdate",
                         "rollingUpdate": {"maxUnavailable": max_unavailable, "maxSurge": 1}},
            "template": {
                "metadata": {"labels": labels(service, component), "annotations": annotations},
                "spec": pod_spec(service, component, main, termination),
            },
        },
    }


def api_deployment(service: str, port: int) -> dict:
    main = container(service, "serve", {
        "requests": {"cpu": "200m", "memory": "256Mi"},
        "limits": {"cpu": "1", "memory": "512Mi"},
    })
    annotations = _serve_http(main, port)
    main["startupProbe"] = {"httpGet": {"path": "/healthz", "port": "http"},
                            "periodSeconds": 2, "failureThreshold": 60, "timeoutSeconds": 2}
    # /readyz checks the database, Kafka (up to 5 s) and that migrations are at head.
    main["readinessProbe"] = {"httpGet": {"path": "/readyz", "port": "http"},
                              "periodSeconds": 10, "timeoutSeconds": 8, "failureThreshold": 3}
    # Give the endpoints controller time to drop the pod before uvicorn stops accepting.
    main["lifecycle"] = {"preStop": {"exec": {"command": ["sleep", "5"]}}}
    return _deployment(service, "api", main, annotations, max_unavailable=0, termination=30)


def worker_deployment(service: str, port: int) -> dict:
    # `worker` serves only /healthz, /readyz and /metrics: the consumer's and relay's metrics are
    # recorded here, not in the API pods.
    main = container(service, "worker", {
        "requests": {"cpu": "100m", "memory": "256Mi"},
        "limits": {"cpu": "1", "memory": "512Mi"},
    })
    # A worker needs few connections (relay, consumer, scheduled job); each process may open up to
    # 2 x pool size (pool + overflow), which sizes the database's max_connections.
    main["env"].append({"name": f"LTC_{service.upper()}_DB_POOL_SIZE", "value": str(WORKER_DB_POOL_SIZE)})
    annotations = _serve_http(main, port)
    return _deployment(service, "worker", main, annotations, max_unavailable=1, termination=60)


def migrate_job(service: str) -> dict:
    main = container(service, "migrate", {
        "requests": {"cpu": "100m", "memory": "128Mi"},
        "limits": {"cpu": "500m", "memory": "256Mi"},
    })
    spec = pod_spec(service, "migrate", main, 30)
    spec["restartPolicy"] = "Never"
    del spec["topologySpreadConstraints"]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": f"{service}-migrate", "labels": labels(service, "migrate")},
        "spec": {
            "backoffLimit": 6,
            "activeDeadlineSeconds": 900,
            "ttlSecondsAfterFinished": 3600,
            "template": {"metadata": {"labels": labels(service, "migrate")}, "spec": spec},
        },
    }


def service_account(service: str) -> dict:
    return {"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": f"ltc-{service}", "labels": labels(service, "identity")},
            "automountServiceAccountToken": False}


def k8s_service(service: str, port: int) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": service, "labels": labels(service, "api")},
        "spec": {
            "type": "ClusterIP",
            "selector": selector(service, "api"),
            "ports": [{"name": "http", "port": port, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def pdbs(service: str) -> list[dict]:
    return [
        {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
         "metadata": {"name": f"{service}-api", "labels": labels(service, "api")},
         "spec": {"minAvailable": 1, "selector": {"matchLabels": selector(service, "api")}}},
        {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
         "metadata": {"name": f"{service}-worker", "labels": labels(service, "worker")},
         "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector(service, "worker")}}},
    ]


def hpas(service: str) -> list[dict]:
    def hpa(component: str, min_replicas: int, max_replicas: int) -> dict:
        return {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": f"{service}-{component}", "labels": labels(service, component)},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": f"{service}-{component}"},
                "minReplicas": min_replicas,
                "maxReplicas": max_replicas,
                "metrics": [{"type": "Resource", "resource": {
                    "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}],
                "behavior": {"scaleDown": {"stabilizationWindowSeconds": 300}},
            },
        }
    # APIs scale with traffic; consumers only up to the partition count (more would sit idle).
    return [hpa("api", 2, 10), hpa("worker", 2, TOPIC_PARTITIONS)]


def network_policy(service: str, port: int) -> dict:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": service, "labels": labels(service, "network")},
        "spec": {
            # API, worker and migration pods of this service.
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": service, "app.kubernetes.io/part-of": PART_OF}},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{
                # Its own API only (clients, ingress controller, Prometheus); nothing else listens.
                "ports": [{"protocol": "TCP", "port": port}],
            }],
            "egress": [
                {"to": [{"podSelector": {"matchLabels": {"cnpg.io/cluster": f"{service}-db"}}}],
                 "ports": [{"protocol": "TCP", "port": 5432}]},
                {"to": [{"podSelector": {"matchLabels": {"strimzi.io/cluster": KAFKA_CLUSTER,
                                                         "strimzi.io/broker-role": "true"}}}],
                 "ports": [{"protocol": "TCP", "port": 9093}]},
                {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                         "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
                 "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]},
            ],
        },
    }


def database(service: str) -> dict:
    return {
        "apiVersion": "postgresql.cnpg.io/v1",
        "kind": "Cluster",
        "metadata": {"name": f"{service}-db", "labels": labels(service, "database")},
        "spec": {
            "instances": 3,
            "primaryUpdateStrategy": "unsupervised",
            "storage": {"size": "10Gi"},
            "bootstrap": {"initdb": {"database": service, "owner": service}},
            "postgresql": {"parameters": {"max_connections": str(MAX_CONNECTIONS)}},
            "affinity": {"enablePodAntiAffinity": True, "topologyKey": "kubernetes.io/hostname"},
            "resources": {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"memory": "1Gi"}},
        },
    }


def kafka_user(service: str, produces: str, consumes: tuple[str, ...]) -> dict:
    def acl(kind: str, name: str, operations: list[str]) -> dict:
        return {"resource": {"type": kind, "name": name, "patternType": "literal"}, "operations": operations}

    acls = [acl("topic", produces, ["Write", "Describe"])]
    for topic in consumes:
        acls.append(acl("topic", topic, ["Read", "Describe"]))
        acls.append(acl("topic", f"{topic}.dlq", ["Write", "Describe"]))
    acls.append(acl("group", f"ltc-{service}", ["Read", "Describe"]))
    # The relay's producer is idempotent (enable_idempotence=True).
    acls.append(acl("cluster", "kafka-cluster", ["IdempotentWrite"]))
    return {
        "apiVersion": "kafka.strimzi.io/v1",
        "kind": "KafkaUser",
        "metadata": {"name": f"ltc-{service}", "labels": {"strimzi.io/cluster": KAFKA_CLUSTER, **labels(service, "kafka-user")}},
        "spec": {"authentication": {"type": "scram-sha-512"}, "authorization": {"type": "simple", "acls": acls}},
    }


def kafka_topic(topic: str, partitions: int, retention_ms: int) -> dict:
    return {
        "apiVersion": "kafka.strimzi.io/v1",
        "kind": "KafkaTopic",
        "metadata": {"name": topic_resource_name(topic), "labels": {"strimzi.io/cluster": KAFKA_CLUSTER}},
        "spec": {
            "topicName": topic,
            "partitions": partitions,
            "replicas": 3,
            "config": {"min.insync.replicas": "2", "retention.ms": str(retention_ms),
                       "cleanup.policy": "delete"},
        },
    }


def kafka_cluster() -> list[dict]:
    app_peers = [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": PART_OF}}}
                 for name in SERVICES]

    def pool(name: str, roles: list[str], size: str) -> dict:
        return {
            "apiVersion": "kafka.strimzi.io/v1",
            "kind": "KafkaNodePool",
            "metadata": {"name": name, "labels": {"strimzi.io/cluster": KAFKA_CLUSTER}},
            "spec": {
                "replicas": 3,
                "roles": roles,
                "storage": {"type": "jbod", "volumes": [
                    {"id": 0, "type": "persistent-claim", "size": size, "deleteClaim": False, "kraftMetadata": "shared"}]},
                "resources": {"requests": {"cpu": "500m", "memory": "2Gi"}, "limits": {"memory": "2Gi"}},
            },
        }

    kafka = {
        "apiVersion": "kafka.strimzi.io/v1",
        "kind": "Kafka",
        "metadata": {"name": KAFKA_CLUSTER},
        "spec": {
            "kafka": {
                "version": KAFKA_VERSION,
                "listeners": [{
                    "name": "tls", "port": 9093, "type": "internal", "tls": True,
                    "authentication": {"type": "scram-sha-512"},
                    "networkPolicyPeers": app_peers,
                }],
                "authorization": {"type": "simple"},
                "config": {
                    "default.replication.factor": 3,
                    "min.insync.replicas": 2,
                    "offsets.topic.replication.factor": 3,
                    "transaction.state.log.replication.factor": 3,
                    "transaction.state.log.min.isr": 2,
                    "auto.create.topics.enable": False,
                },
            },
            "entityOperator": {"topicOperator": {}, "userOperator": {}},
        },
    }
    return [kafka, pool("controller", ["controller"], "20Gi"), pool("broker", ["broker"], "100Gi")]


def dump(path: Path, docs: list[dict]) -> str:
    header = "# Rendered by deploy/k8s/generate.py; edit the generator (or patch from an overlay).\n"
    return header + "---\n".join(yaml.safe_dump(doc, sort_keys=False, width=120) for doc in docs)


def render() -> dict[Path, str]:
    files: dict[Path, str] = {}
    topics = [t for _, (_, produced, _) in SERVICES.items() for t in [produced]]
    topic_docs = [kafka_topic(t, TOPIC_PARTITIONS, 7 * 24 * 3600 * 1000) for t in topics]
    topic_docs += [kafka_topic(f"{t}.dlq", DLQ_PARTITIONS, 30 * 24 * 3600 * 1000) for t in topics]
    files[BASE / "kafka" / "kafka.yaml"] = dump(BASE, kafka_cluster())
    files[BASE / "kafka" / "topics.yaml"] = dump(BASE, topic_docs)
    files[BASE / "kafka" / "users.yaml"] = dump(
        BASE, [kafka_user(name, produced, consumed) for name, (_, produced, consumed) in SERVICES.items()])
    files[BASE / "kafka" / "kustomization.yaml"] = dump(BASE, [{
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
        "resources": ["kafka.yaml", "topics.yaml", "users.yaml"]}])
    for name, (port, _, _) in SERVICES.items():
        parts = {
            "serviceaccount.yaml": [service_account(name)],
            "configmap.yaml": [configmap(name, port)],
            "database.yaml": [database(name)],
            "job-migrate.yaml": [migrate_job(name)],
            "deployment-api.yaml": [api_deployment(name, port)],
            "deployment-worker.yaml": [worker_deployment(name, port)],
            "service.yaml": [k8s_service(name, port)],
            "pdb.yaml": pdbs(name),
            "hpa.yaml": hpas(name),
            "networkpolicy.yaml": [network_policy(name, port)],
        }
        for filename, docs in parts.items():
            files[BASE / name / filename] = dump(BASE, docs)
        files[BASE / name / "kustomization.yaml"] = dump(BASE, [{
            "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": list(parts)}])
    files[BASE / "kustomization.yaml"] = dump(BASE, [{
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
        "labels": [{"pairs": {"app.kubernetes.io/part-of": PART_OF}, "includeSelectors": False}],
        "resources": ["kafka", *SERVICES],
    }])
    return files


def main() -> int:
    check = "--check" in sys.argv[1:]
    stale = []
    for path, text in render().items():
        if path.exists() and path.read_text() == text:
            continue
        stale.append(path)
        if not check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    for path in stale:
        print(("stale: " if check else "wrote: ") + str(path.relative_to(BASE.parent)))
    return 1 if check and stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
