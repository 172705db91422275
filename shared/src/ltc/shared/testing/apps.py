"""Run a service in-process against the real database and broker, for integration tests."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI
from starlette.types import Message, Receive, Scope, Send

from ltc.shared.auth import mint_token
from ltc.shared.errors import PROBLEM_JSON
from ltc.shared.migrations import upgrade_to_head
from ltc.shared.service import Runtime, ServiceSpec, create_app
from ltc.shared.settings import ServiceSettings


def settings_for_tests(spec: ServiceSpec, database_url: str, kafka_bootstrap: str, *, run_workers: bool) -> ServiceSettings:
    return ServiceSettings(service_name=spec.name, database_url=database_url, kafka_bootstrap_servers=kafka_bootstrap,
                           run_workers=run_workers, log_json=False, relay_poll_seconds=0.5,
                           # Its own group: the suite's other consumers of the same topics must
                           # not take this app's messages.
                           consumer_group=f"test-{spec.name}-{uuid.uuid4().hex[:8]}")


@contextlib.asynccontextmanager
async def service_client(spec: ServiceSpec, database_url: str, kafka_bootstrap: str, *,
                         run_workers: bool = False) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client on the service's ASGI app, migrated to head, lifespan (and workers) running.

    The app's `Runtime` is reachable as `client.runtime` for tests that drive handlers directly.
    """
    # env.py runs its own event loop, so migrations go to a worker thread.
    await asyncio.to_thread(upgrade_to_head, spec.service_dir, database_url)
    app = create_app(spec, settings_for_tests(spec, database_url, kafka_bootstrap, run_workers=run_workers))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=ProblemRecorder(app)),
                                     base_url="http://testserver") as client:
            client.runtime = app.state.runtime  # type: ignore[attr-defined]
            yield client


def runtime_of(client: httpx.AsyncClient) -> Runtime:
    return client.runtime  # type: ignore[attr-defined]


def auth(sub: str, *roles: str) -> dict[str, str]:
    """Headers carrying a development token for `sub` with `roles`."""
    return {"Authorization": f"Bearer {mint_token(sub, list(roles))}"}


@dataclass(frozen=True)
class AnsweredProblem:
    app: FastAPI
    method: str
    path: str
    status: int
    problem_type: str


# Every problem an API answered to the suite; the plugin checks, at the end of the session, that
# each one is documented for its operation (ltc.shared.testing.plugin).
ANSWERED_PROBLEMS: list[AnsweredProblem] = []


class ProblemRecorder:
    """ASGI wrapper that notes each problem+json answer with the operation that gave it."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        answer: dict[str, Any] = {"body": b""}

        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
                answer["problem"] = any(k == b"content-type" and v.startswith(PROBLEM_JSON.encode())
                                        for k, v in message.get("headers", []))
            elif message["type"] == "http.response.body" and answer.get("problem"):
                answer["body"] += message.get("body", b"")
                if not message.get("more_body"):
                    operation = self.app.state.ltc_operations.get(scope.get("endpoint"))
                    if operation is not None:
                        with contextlib.suppress(ValueError, AttributeError):
                            problem_type = json.loads(answer["body"]).get("type", "")
                            ANSWERED_PROBLEMS.append(AnsweredProblem(self.app, *operation, answer["status"],
                                                                     problem_type))
            await send(message)

        await self.app(scope, receive, recording_send)


def undocumented_problems() -> list[str]:
    """The answered problems whose operation's document does not list them."""
    missing: set[str] = set()
    for answered in ANSWERED_PROBLEMS:
        operation = answered.app.openapi()["paths"].get(answered.path, {}).get(answered.method, {})
        response = operation.get("responses", {}).get(str(answered.status), {})
        schema = response.get("content", {}).get(PROBLEM_JSON, {}).get("schema", {})
        documented = [t for part in schema.get("allOf", []) for t in part.get("properties", {}).get("type", {})
                      .get("enum", [])]
        if answered.problem_type not in documented:
            missing.add(f"{answered.method.upper()} {answered.path} {answered.status} {answered.problem_type}")
    return sorted(missing)
