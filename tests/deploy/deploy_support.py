"""What the deploy tests share: where the manifests are, how to load and render them, and what the
code says about services, ports, topics and settings (imported, never copied)."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import shutil
import subprocess
import tomllib
from functools import cache
from pathlib import Path
from types import ModuleType

import yaml

from ltc.shared.devstack.services import DEFAULT_PORTS
from ltc.shared.messages import EVENT_TYPES, TOPICS, dlq_topic
from ltc.shared.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
BASE = K8S / "base"
OVERLAYS = sorted(p.parent for p in (K8S / "overlays").glob("*/kustomization.yaml"))
KUSTOMIZE_ROOTS = [BASE, *OVERLAYS]
SERVICES = tuple(DEFAULT_PORTS)
KUBERNETES_VERSION = "1.32"

# Custom resources the manifests may use (validated by the tests below, not by kubernetes-validate).
CUSTOM_API_VERSIONS = {
    "kafka.strimzi.io/v1": {"Kafka", "KafkaNodePool", "KafkaTopic", "KafkaUser"},
    "postgresql.cnpg.io/v1": {"Cluster", "ScheduledBackup"},
    "barmancloud.cnpg.io/v1": {"ObjectStore"},
    "monitoring.coreos.com/v1": {"PodMonitor", "ServiceMonitor"},
}
# Env vars the manifests may set that settings.py does not read: asyncpg's libpq-style fallbacks,
# used so that credentials never sit in a URL.
DRIVER_ENV = {"PGUSER", "PGPASSWORD"}
# Read with os.environ outside the settings classes (ltc.shared.tracing) or by OpenTelemetry itself.
TRACING_ENV = {"LTC_TRACES_EXPORTER"}
TRACING_ENV_PREFIX = "OTEL_"


def yaml_files() -> list[Path]:
    return sorted(p for p in DEPLOY.rglob("*") if p.suffix in (".yaml", ".yml")
                  and DEPLOY / "local" not in p.parents)


def load_all(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


# --- what the code says ----------------------------------------------------------------------------

def spec(service: str):
    return importlib.import_module(f"ltc.{service}.bootstrap").SPEC


def service_dir(service: str) -> Path:
    return ROOT / "services" / service / "src" / "ltc" / service


def produced_topics(service: str) -> set[str]:
    module = f"ltc.shared.messages.{service}_events"
    return {cls.topic for cls in EVENT_TYPES.values() if cls.__module__ == module}


def consumed_topics(service: str) -> set[str]:
    """The `Subscription(topics=...)` of the service's bootstrap.py, read without importing the
    service (its domain code may be mid-change; `test_service_specs_import` imports it)."""
    tree = ast.parse((service_dir(service) / "bootstrap.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Subscription":
            for keyword in node.keywords:
                if keyword.arg == "topics":
                    return set(ast.literal_eval(keyword.value))
    return set()


def consumer_group(service: str) -> str:
    return f"ltc-{service}"  # ltc.shared.service._consume: settings.consumer_group or ltc-<service>


def all_topics() -> set[str]:
    used = set(TOPICS) | {t for s in SERVICES for t in produced_topics(s) | consumed_topics(s)}
    return used | {dlq_topic(t) for t in used}


def console_scripts(service: str) -> dict[str, str]:
    project = tomllib.loads((ROOT / "services" / service / "pyproject.toml").read_text())
    return project["project"]["scripts"]


def health_paths(service: str) -> set[str]:
    from types import SimpleNamespace

    from ltc.shared.service import _health_router

    runtime = SimpleNamespace(spec=SimpleNamespace(service_dir=service_dir(service)))
    router = _health_router(runtime)  # reads the migration scripts only
    return {route.path for route in router.routes}


def settings_env_names(service: str) -> set[str]:
    """Environment variables `settings_for(service, ...)` reads."""
    names = set()
    for field, info in ServiceSettings.model_fields.items():
        if field in ("service_name", "port"):
            continue  # always passed by settings_for: LTC_SERVICE_NAME / LTC_PORT would be ignored
        names.add(info.validation_alias if isinstance(info.validation_alias, str) else f"LTC_{field.upper()}")
    names |= {f"LTC_{service.upper()}_{field.upper()}" for field in ("database_url", "port", "db_pool_size")}
    return names | set(extra_settings(service)) | TRACING_ENV


def settings_defaults() -> dict[str, object]:
    defaults = {}
    for field, info in ServiceSettings.model_fields.items():
        name = info.validation_alias if isinstance(info.validation_alias, str) else f"LTC_{field.upper()}"
        defaults[name] = info.default
    return defaults


# --- rendering -------------------------------------------------------------------------------------

def kustomize_command() -> list[str] | None:
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    return None


@cache
def render(root: Path) -> tuple[dict, ...]:
    """`kustomize build root` (or `kubectl kustomize`); without either, `render_simply`."""
    command = kustomize_command()
    if command is None:
        return tuple(render_simply(root))
    out = subprocess.run([*command, str(root)], check=True, capture_output=True, text=True, timeout=120).stdout
    return tuple(doc for doc in yaml.safe_load_all(out) if doc is not None)


def collect_resources(root: Path) -> list[dict]:
    """The resources a kustomization lists, recursively, without applying patches or transformers."""
    kustomization = load_all(root / "kustomization.yaml")[0]
    docs: list[dict] = []
    for entry in kustomization.get("resources", []):
        path = (root / entry).resolve()
        docs += collect_resources(path) if path.is_dir() else load_all(path)
    return docs


def render_simply(root: Path) -> list[dict]:
    """The subset of Kustomize these kustomizations use: resources, namespace, images (newName/
    newTag), JSON 6902 patches targeted by kind/group/name/labelSelector (add/replace/remove) and
    merge patches from files. Anything else fails loudly. Checked against kustomize when present."""
    import copy

    kustomization = load_all(root / "kustomization.yaml")[0]
    supported = {"apiVersion", "kind", "resources", "namespace", "images", "patches", "labels"}
    assert set(kustomization) <= supported, f"render_simply cannot do {set(kustomization) - supported}"
    docs: list[dict] = []
    for entry in kustomization.get("resources", []):
        path = (root / entry).resolve()
        docs += render_simply(path) if path.is_dir() else copy.deepcopy(load_all(path))
    for label in kustomization.get("labels", []):
        for doc in docs:
            doc["metadata"].setdefault("labels", {}).update(label["pairs"])
            assert not label.get("includeSelectors"), "render_simply: selectors are not relabelled"
    for patch in kustomization.get("patches", []):
        if "path" in patch:
            for merge in load_all(root / patch["path"]):
                (doc,) = [d for d in docs if d["kind"] == merge["kind"] and d["metadata"]["name"] == merge["metadata"]["name"]]
                _merge(doc, merge)
            continue
        target, ops = patch["target"], yaml.safe_load(patch["patch"])
        for doc in docs:
            if _targeted(doc, target):
                for op in ops:
                    _apply(doc, op)
    for image in kustomization.get("images", []):
        for doc in docs:
            pod = doc.get("spec", {}).get("template", {}).get("spec", {})
            for c in pod.get("containers", []):
                name, _, tag = c["image"].partition(":")
                if name == image["name"]:
                    c["image"] = f"{image.get('newName', name)}:{image.get('newTag', tag)}"
    if "namespace" in kustomization:
        for doc in docs:
            if doc["kind"] != "Namespace":
                doc["metadata"]["namespace"] = kustomization["namespace"]
    return docs


def _targeted(doc: dict, target: dict) -> bool:
    if "kind" in target and doc["kind"] != target["kind"]:
        return False
    if "group" in target and doc["apiVersion"].split("/")[0] != target["group"]:
        return False
    if "name" in target and doc["metadata"]["name"] != target["name"]:
        return False
    if "labelSelector" in target:
        key, _, value = target["labelSelector"].partition("=")
        return doc["metadata"].get("labels", {}).get(key) == value
    return True


def _apply(doc: dict, op: dict) -> None:
    *parents, last = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].lstrip("/").split("/")]
    node = doc
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    key = int(last) if isinstance(node, list) else last
    if op["op"] in ("add", "replace"):
        assert op["op"] == "add" or key in (range(len(node)) if isinstance(node, list) else node), op
        node[key] = op["value"]
    elif op["op"] == "remove":
        del node[key]
    else:
        raise AssertionError(f"render_simply: unsupported op {op['op']}")


def _merge(doc: dict, patch: dict) -> None:
    for key, value in patch.items():
        if value is None:
            doc.pop(key, None)
        elif isinstance(value, dict) and isinstance(doc.get(key), dict):
            _merge(doc[key], value)
        else:
            doc[key] = value


def by_kind(docs, kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def load_generator() -> ModuleType:
    loader = importlib.util.spec_from_file_location("ltc_deploy_generate", K8S / "generate.py")
    module = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(module)
    return module


def extra_settings(service: str) -> dict[str, object]:
    """Env var -> default of a service's own settings class (`ltc.<service>.config`), if it has one."""
    if not (service_dir(service) / "config.py").exists():
        return {}
    from pydantic_settings import BaseSettings

    module = importlib.import_module(f"ltc.{service}.config")
    found: dict[str, object] = {}
    for cls in vars(module).values():
        if isinstance(cls, type) and issubclass(cls, BaseSettings) and cls is not BaseSettings \
                and cls.__module__ == module.__name__:
            prefix = cls.model_config.get("env_prefix", "")
            found |= {f"{prefix}{field}".upper(): info.default for field, info in cls.model_fields.items()}
    return found


def env_literals_in_runtime_code() -> set[str]:
    """`"LTC_..."` names the services' runtime code reads (not the local dev stack, tests or ops CLI)."""
    import re

    roots = [ROOT / "shared" / "src" / "ltc" / "shared", *(service_dir(s) for s in SERVICES)]
    skip = ("devstack", "testing", "ops")
    names = set()
    for root in roots:
        for path in root.rglob("*.py"):
            if any(part in skip for part in path.relative_to(root).parts):
                continue
            names |= set(re.findall(r"[\"'](LTC_[A-Z0-9_]*[A-Z0-9])[\"']", path.read_text()))
    return names
