"""A service's input bounds end to end: amounts spelled only as published, headers bounded in size."""

from __future__ import annotations

import uuid

import pytest

from ltc.finance.bootstrap import SPEC
from ltc.shared.auth import mint_token
from ltc.shared.errors import PROBLEM_JSON
from ltc.shared.testing.apps import auth, service_client

pytestmark = pytest.mark.integration

ERP = auth("erp", "integration")
# Without workers nothing connects to the broker: these tests need none.
NO_BROKER = "127.0.0.1:9"


@pytest.fixture(scope="module")
async def client(make_database):
    async with service_client(SPEC, await make_database("bounds"), NO_BROKER) as client:
        yield client


def _payment(amount: object) -> dict[str, object]:
    return {"bank_reference": f"B-{uuid.uuid4().hex[:8]}", "payer": "ACME", "value_date": "2026-12-01",
            "contract_id": str(uuid.uuid4()), "amount": {"amount": amount, "currency": "EUR"}}


@pytest.mark.parametrize("amount", ["1e3", " 1.00", "1.00 ", "١٢٣", "１２３", "1.", ".5", "+1", "1_000", "NaN",
                                    "Infinity", 1000, 10.5, True])
async def test_an_amount_not_spelled_as_published_is_a_problem_naming_the_field(client, amount):
    response = await client.post("/api/v1/payments", json=_payment(amount), headers=ERP)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    assert [e["field"] for e in response.json()["errors"]] == ["amount.amount"]


async def test_an_amount_spelled_as_published_passes_validation(client):
    response = await client.post("/api/v1/payments", json=_payment("1000000.00"), headers=ERP)
    assert response.status_code == 404, response.text  # the unknown contract, past the body's validation


def _assert_431(response) -> None:
    assert response.status_code == 431, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    problem = response.json()
    assert problem["type"].endswith("/request-header-fields-too-large") and problem["status"] == 431
    assert problem["title"] and "8192" in problem["detail"]


async def test_a_validly_signed_token_of_megabytes_is_a_431(client):
    token = mint_token("erp", ["integration", *(f"filler-{i:06d}" for i in range(260_000))])
    assert len(token) > 2_600_000
    for path in ("/api/v1/invoices", "/healthz"):
        _assert_431(await client.get(path, headers={"Authorization": f"Bearer {token}"}))


async def test_a_thousand_headers_of_8_kib_are_a_431(client):
    headers = [(f"x-filler-{i}", "a" * 8192) for i in range(1000)]
    for path in ("/api/v1/invoices", "/healthz"):
        _assert_431(await client.get(path, headers=[*ERP.items(), *headers]))


async def test_a_normal_request_passes(client):
    assert (await client.get("/healthz")).status_code == 200
    listed = await client.get("/api/v1/invoices", params={"contract_id": str(uuid.uuid4())}, headers=ERP)
    assert listed.status_code == 200 and listed.json()["items"] == []
