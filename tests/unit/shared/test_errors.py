"""Every error an API can meet is answered as RFC 9457 problem+json, never a bare 500."""

from datetime import date, timedelta
from decimal import Decimal

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from ltc.shared.errors import DomainError, NotFound, RuleViolation, install_problem_handlers
from ltc.shared.money import Money


class Body(BaseModel):
    amount: int


def _app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/mix")
    async def mix() -> None:
        Money(Decimal("1.00"), "EUR") + Money(Decimal("1.00"), "USD")

    @app.post("/rule")
    async def rule() -> None:
        raise RuleViolation("lead-criteria-unmet", "no evidence", errors=[{"criterion": "purchase_intent"}])

    @app.post("/conflict")
    async def conflict() -> None:
        raise DomainError("lead-closed", "the lead is converted")

    @app.get("/thing")
    async def thing() -> None:
        raise NotFound("thing", 7)

    @app.post("/body")
    async def body(payload: Body) -> None:
        return None

    @app.get("/far")
    async def far() -> None:
        date(9999, 12, 31) + timedelta(days=30)

    @app.get("/boom")
    async def boom() -> None:
        raise ZeroDivisionError

    return app


@pytest.fixture
async def client():
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        yield c


@pytest.mark.parametrize(("method", "path", "kwargs", "status", "kind"), [
    ("POST", "/mix", {}, 422, "money-invalid"),
    ("POST", "/rule", {}, 422, "lead-criteria-unmet"),
    ("POST", "/conflict", {}, 409, "lead-closed"),
    ("GET", "/thing", {}, 404, "not-found"),
    ("POST", "/body", {"content": b"{oops", "headers": {"content-type": "application/json"}}, 400, "malformed-json"),
    ("POST", "/body", {"json": {"amount": "many"}}, 422, "validation-error"),
    ("GET", "/nowhere", {}, 404, "not-found"),
    ("GET", "/far", {}, 422, "out-of-range"),
    ("GET", "/boom", {}, 500, "internal-error"),
])
async def test_each_error_is_a_problem(client, method, path, kwargs, status, kind):
    response = await client.request(method, path, **kwargs)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["type"].endswith("/" + kind) and body["detail"]


async def test_a_validation_problem_names_the_field(client):
    body = (await client.post("/body", json={"amount": "many"})).json()
    assert [e["field"] for e in body["errors"]] == ["amount"]


async def test_a_money_problem_says_what_is_wrong(client):
    body = (await client.post("/mix")).json()
    assert body["rule"] == "money-invalid" and "EUR" in body["detail"] and "USD" in body["detail"]
