"""An account's billing identity on the real database: created, read, replaced with If-Match, refused
with a 422 naming its field, audited, and published as `account.created` / `account.updated`."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from ltc.leads.bootstrap import SPEC
from ltc.shared.db import outbox
from ltc.shared.testing.apps import auth, runtime_of, service_client

pytestmark = pytest.mark.integration

AR = auth("ar-hahn", "ar")
FR = auth("fr-berg", "fr")


@pytest.fixture(scope="module")
async def client(make_database, kafka_bootstrap):
    async with service_client(SPEC, await make_database("leads_billing"), kafka_bootstrap) as client:
        yield client


def _billing(**fields) -> dict:
    address = {"line1": "Friedrichstrasse 100", "line2": "3. OG", "postal_code": "10117", "city": "Berlin",
               "country": "de", **fields.pop("address", {})}
    return {"legal_name": "ACME Telecom GmbH", "registration_id": "HRB 123456", "tax_id": "DE136695976",
            "address": address, "contact_name": "Petra Schmidt", "contact_email": "ap@acme.example",
            "erp_customer_id": "C-100234", "buyer_reference": "PO-2026-0042", **fields}


async def _outbox(client, key: str) -> list[tuple[str, dict]]:
    async with runtime_of(client).engine.connect() as conn:
        rows = await conn.execute(select(outbox.c.type, outbox.c.payload).where(outbox.c.key == key)
                                  .order_by(outbox.c.seq))
        return [(r.type, r.payload) for r in rows]


async def test_an_account_carries_its_billing_identity_and_publishes_each_change(client):
    created = await client.post("/api/v1/accounts", headers=AR, json={"name": "ACME Telecom", "billing": _billing()})
    assert created.status_code == 201, created.text
    account = created.json()
    billing = account["billing"]
    assert billing["address"]["country"] == "DE" and billing["tax_id"] == "DE136695976"
    assert billing["buyer_reference"] == "PO-2026-0042" and billing["erp_customer_id"] == "C-100234"
    url = f"/api/v1/accounts/{account['id']}"

    read = await client.get(url, headers=FR)
    assert read.status_code == 200 and read.json()["billing"] == billing

    new_billing = _billing(buyer_reference="PO-2027-0001", address={"line1": "Unter den Linden 1", "line2": None})
    missing = await client.patch(url, headers=AR, json={"billing": new_billing})
    assert missing.status_code == 428, missing.text
    changed = await client.patch(url, headers={**AR, "If-Match": created.headers["etag"]},
                                 json={"billing": new_billing})
    assert changed.status_code == 200, changed.text
    assert changed.headers["etag"] == '"2"'
    assert changed.json()["billing"]["address"]["line1"] == "Unter den Linden 1"
    assert changed.json()["billing"]["buyer_reference"] == "PO-2027-0001"
    assert changed.json()["name"] == "ACME Telecom"  # what was not sent stays

    # The same again changes nothing: no new version, no event.
    again = await client.patch(url, headers={**AR, "If-Match": changed.headers["etag"]},
                               json={"billing": new_billing, "name": "ACME Telecom"})
    assert again.status_code == 200 and again.headers["etag"] == '"2"'

    events = await _outbox(client, account["id"])
    assert [kind for kind, _ in events] == ["ltc.account.created.v1", "ltc.account.updated.v1"]
    (_, first), (_, update) = events
    assert first["name"] == "ACME Telecom" and first["owner"] == "ar-hahn" and first["billing"] == billing
    assert update["changed"] == ["billing"] and update["billing"] == changed.json()["billing"]

    history = (await client.get(f"{url}/history", headers=AR)).json()
    assert [h["action"] for h in history] == ["created", "updated"]
    assert history[0]["changes"]["billing"]["tax_id"] == "DE136695976"
    assert history[1]["changes"]["billing"]["to"]["buyer_reference"] == "PO-2027-0001"

    cleared = await client.patch(url, headers={**AR, "If-Match": changed.headers["etag"]}, json={"billing": None})
    assert cleared.status_code == 200 and cleared.json()["billing"] is None
    assert (await _outbox(client, account["id"]))[-1][1]["billing"] is None


async def test_an_account_without_billing_is_published_too(client):
    created = await client.post("/api/v1/accounts", headers=AR, json={"name": "Bare Networks"})
    assert created.status_code == 201 and created.json()["billing"] is None
    [(kind, payload)] = await _outbox(client, created.json()["id"])
    assert kind == "ltc.account.created.v1" and payload["billing"] is None


async def test_a_malformed_vat_id_or_unknown_country_is_a_422_naming_the_field(client):
    bad_vat = await client.post("/api/v1/accounts", headers=AR,
                                json={"name": "Bad VAT", "billing": _billing(tax_id="DE136695977")})
    assert bad_vat.status_code == 422, bad_vat.text
    assert bad_vat.json()["rule"] == "tax-id-invalid"
    assert [e["field"] for e in bad_vat.json()["errors"]] == ["billing.tax_id"]

    bad_country = await client.post("/api/v1/accounts", headers=AR,
                                    json={"name": "Nowhere", "billing": _billing(tax_id=None, address={"country": "XX"})})
    assert bad_country.status_code == 422 and bad_country.json()["rule"] == "country-unknown"
    assert [e["field"] for e in bad_country.json()["errors"]] == ["billing.address.country"]

    created = await client.post("/api/v1/accounts", headers=AR, json={"name": "Good", "billing": _billing()})
    url = f"/api/v1/accounts/{created.json()['id']}"
    refused = await client.patch(url, headers={**AR, "If-Match": created.headers["etag"]},
                                 json={"billing": _billing(tax_id="FR40303265046", address={"country": "FR"})})
    assert refused.status_code == 422 and refused.json()["rule"] == "tax-id-invalid"
    assert [e["field"] for e in refused.json()["errors"]] == ["billing.tax_id"]
    assert (await client.get(url, headers=AR)).json()["billing"]["tax_id"] == "DE136695976"
    assert [kind for kind, _ in await _outbox(client, created.json()["id"])] == ["ltc.account.created.v1"]

    # Bad shapes are the request validator's 422, naming the field.
    shapeless = await client.post("/api/v1/accounts", headers=AR,
                                  json={"name": "No legal name", "billing": {"address": _billing()["address"]}})
    assert shapeless.status_code == 422
    assert "billing.legal_name" in [e["field"] for e in shapeless.json()["errors"]]


async def test_a_lead_captured_with_a_new_account_gives_it_its_billing_identity(client):
    response = await client.post("/api/v1/leads", headers=AR, json={
        "account": {"name": "Lead-made GmbH", "billing": _billing(erp_customer_id="C-7")},
        "title": "Core upgrade", "need": "5G capacity", "channel": "technical_exchange", "tier": "key"})
    assert response.status_code == 201, response.text
    account_id = response.json()["account_id"]
    read = (await client.get(f"/api/v1/accounts/{account_id}", headers=AR)).json()
    assert read["billing"]["erp_customer_id"] == "C-7"
    assert [kind for kind, _ in await _outbox(client, account_id)] == ["ltc.account.created.v1"]
