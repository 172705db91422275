"""Per-service settings, read from the environment (pydantic-settings)."""

from __future__ import annotations

import os

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_JWT_SECRET = "ltc-development-secret-change-me"


class ServiceSettings(BaseSettings):
    """Settings every service has; a service subclasses it to name itself and its database."""

    model_config = SettingsConfigDict(env_prefix="LTC_", extra="ignore", populate_by_name=True)

    service_name: str = "ltc"
    env: str = "development"
    host: str = "127.0.0.1"
    port: int = 8000
    # settings_for() puts each service on its own local database unless a URL is given.
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:55432/postgres"
    db_pool_size: int = 10
    # Off: a ping before every checkout is a round trip per request (13 % of a lead capture's time,
    # bench/profile_rest.py). A connection found dead in use invalidates the whole pool, so after a
    # database restart only the requests in flight fail, as a 503 `database-unavailable` that a
    # client retries (with its Idempotency-Key); connections are recycled after 30 minutes.
    db_pre_ping: bool = False
    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:59092", validation_alias="KAFKA_BOOTSTRAP_SERVERS"
    )
    kafka_partitions: int = 3
    # A secured cluster (e.g. Strimzi with SCRAM users): SASL_SSL, SCRAM-SHA-512 and the cluster CA.
    kafka_security_protocol: str = "PLAINTEXT"
    kafka_sasl_mechanism: str = "SCRAM-SHA-512"
    kafka_sasl_username: str | None = None
    kafka_sasl_password: str | None = None
    kafka_ssl_cafile: str | None = None
    jwt_secret: str = DEFAULT_JWT_SECRET
    jwt_jwks_url: str | None = None
    jwt_issuer: str = "ltc-dev"
    jwt_audience: str = "ltc"
    # Request header bounds (ltc.shared.limits), checked before anything reads a header: past
    # them a request is a 431. An RS256 token with a few roles is 1-2 KB, a request's other
    # headers (tracing, forwarding, content negotiation) a few hundred bytes each.
    max_header_count: int = Field(
        default=100, ge=1, description="the most header fields a request may carry (Apache httpd's default)"
    )
    max_header_field_bytes: int = Field(
        default=8 * 1024, ge=64,
        description="the most bytes of one header field, name and value; also bounds the bearer token "
                    "(a common proxy line buffer: nginx's, Apache httpd's)",
    )
    max_header_total_bytes: int = Field(
        default=32 * 1024, ge=64,
        description="the most bytes of all header fields together (nginx's default header buffers)",
    )
    # API and background workers (outbox relay, consumer) share a process locally;
    # in Kubernetes they run as separate deployments so each scales on its own.
    run_workers: bool = True
    # Defaults to `ltc-<service>`; replicas of one service share it so partitions are split among them.
    consumer_group: str | None = None
    relay_poll_seconds: float = 1.0
    log_json: bool = True

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> ServiceSettings:
        if self.env != "development" and self.jwt_jwks_url is None and self.jwt_secret == DEFAULT_JWT_SECRET:
            raise ValueError(
                "LTC_JWT_SECRET is the development default; set a real secret or LTC_JWT_JWKS_URL "
                "outside LTC_ENV=development"
            )
        return self


def local_database(service_name: str) -> tuple[str, str]:
    """Role/database name and password of a service's database on the local development server."""
    name = f"ltc_{service_name}"
    return name, f"{name}-dev"


def settings_for(service_name: str, default_port: int) -> ServiceSettings:
    """Settings for one service: `LTC_<NAME>_DATABASE_URL` / `LTC_<NAME>_PORT` win over the shared names.

    Without any database URL, a service uses its own database on the local server `make run` starts.
    """
    prefix = f"LTC_{service_name.upper()}_"
    overrides: dict[str, object] = {"service_name": service_name, "port": default_port}
    if "LTC_DATABASE_URL" not in os.environ:
        name, password = local_database(service_name)
        port = os.environ.get("LTC_PG_PORT", "55432")
        overrides["database_url"] = f"postgresql+asyncpg://{name}:{password}@127.0.0.1:{port}/{name}"
    for field in ("database_url", "port", "db_pool_size"):
        value = os.environ.get(prefix + field.upper())
        if value is not None:
            overrides[field] = value
    return ServiceSettings(**overrides)
