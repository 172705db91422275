"""The parties on an invoice: finance's copy of each account (from leads' account events, the latest
state winning), the bill-to and the seller identity snapshotted on issue and never rewritten after,
and the seller identity an admin keeps as a policy."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from ltc.finance import handlers
from ltc.finance.adapters.orm import accounts
from ltc.finance.bootstrap import SPEC
from ltc.finance.config import finance_settings
from ltc.shared.messages import EventPayload
from ltc.shared.messages.contracts_events import ContractMilestoneAccepted, ContractSigned
from ltc.shared.messages.envelope import Envelope
from ltc.shared.messages.leads_events import AccountCreated, AccountUpdated
from ltc.shared.testing.apps import auth, runtime_of, service_client

pytestmark = pytest.mark.integration

FINANCE = auth("clerk-1", "finance")
ADMIN = auth("ops", "admin")
ERP = auth("erp", "integration")
AR = auth("ar-zhou", "ar")
T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
URL = "/api/v1/config/seller-identity"


@pytest.fixture(scope="module")
async def client(make_database, kafka_bootstrap):
    async with service_client(SPEC, await make_database("finance_parties"), kafka_bootstrap) as client:
        yield client


def _money(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "EUR"}


def _billing(legal_name: str, *, city: str = "Lyon", tax_id: str | None = "FR40303265045") -> dict:
    return {"legal_name": legal_name, "registration_id": "303265045", "tax_id": tax_id,
            "address": {"line1": "1 rue de la Paix", "postal_code": "69001", "city": city, "country": "FR"},
            "contact_name": "Marie Curie", "contact_email": "ap@acme.example", "erp_customer_id": "C-1001",
            "buyer_reference": "PO-42"}


def _created(account_id: uuid.UUID, billing: dict | None, at: datetime = T0) -> AccountCreated:
    return AccountCreated.model_validate({"account_id": str(account_id), "name": "ACME", "owner": "sr-1",
                                          "billing": billing, "created_at": at.isoformat()})


def _updated(account_id: uuid.UUID, billing: dict | None, at: datetime) -> AccountUpdated:
    return AccountUpdated.model_validate({"account_id": str(account_id), "name": "ACME", "owner": "sr-1",
                                          "billing": billing, "changed": ["billing"], "updated_at": at.isoformat()})


def _signed(account_id: uuid.UUID) -> ContractSigned:
    contract_id = uuid.uuid4()
    return ContractSigned.model_validate({
        "lineage": {"lead_id": str(uuid.uuid4()), "opportunity_id": str(uuid.uuid4()), "contract_id": str(contract_id)},
        "contract_id": str(contract_id), "account_id": str(account_id), "account_name": "ACME",
        "value": _money("1000.00"), "signed_on": "2026-11-20", "signatories": ["Li Wei"],
        "payment_schedule": [
            {"name": "advance", "percent": "30", "amount": _money("300.00"), "trigger": "signing", "due_days": 30},
            {"name": "pac", "percent": "70", "amount": _money("700.00"), "trigger": "milestone",
             "milestone_id": str(uuid.uuid4()), "due_days": 45}],
        "milestones": [],
    })


async def _deliver(client, handler, event: EventPayload) -> None:
    envelope = Envelope(id=str(uuid.uuid4()), type=event.ce_type(), source="test", subject=event.subject(),
                        time=datetime.now(UTC), data=event.model_dump(mode="json"))
    async with runtime_of(client).unit_of_work() as uow:
        await handler(uow, event, envelope)
        await uow.commit()


async def _copy(client, account_id: uuid.UUID):
    async with runtime_of(client).engine.connect() as conn:
        return (await conn.execute(select(accounts).where(accounts.c.account_id == account_id))).one_or_none()


async def _invoices(client, contract_id: uuid.UUID) -> dict[str, dict]:
    response = await client.get("/api/v1/invoices", params={"contract_id": str(contract_id)}, headers=FINANCE)
    return {i["instalment"]: i for i in response.json()["items"]}


async def _accept_pac(client, signed: ContractSigned) -> None:
    await _deliver(client, handlers.on_contract_milestone_accepted, ContractMilestoneAccepted(
        contract_id=signed.contract_id, milestone_id=signed.payment_schedule[1].milestone_id, name="PAC",
        acceptance_type="preliminary", accepted_on=datetime.now(UTC).date(), certificate_ref="PAC-1"))


async def test_finance_copies_an_account_and_the_latest_state_wins(client):
    account_id = uuid.uuid4()
    await _deliver(client, handlers.on_account_created, _created(account_id, _billing("ACME SA")))
    copy = await _copy(client, account_id)
    assert (copy.name, copy.owner, copy.billing["legal_name"], copy.as_of, copy.copied_from) == (
        "ACME", "sr-1", "ACME SA", T0, "created")

    later = T0 + timedelta(hours=1)
    await _deliver(client, handlers.on_account_updated, _updated(account_id, _billing("ACME Holding SA"), later))
    assert (await _copy(client, account_id)).billing["legal_name"] == "ACME Holding SA"

    # Delivered late: an older update and the creation again change nothing.
    await _deliver(client, handlers.on_account_updated, _updated(account_id, _billing("ACME Old"), T0))
    await _deliver(client, handlers.on_account_created, _created(account_id, _billing("ACME SA")))
    copy = await _copy(client, account_id)
    assert (copy.billing["legal_name"], copy.as_of, copy.copied_from) == ("ACME Holding SA", later, "updated")

    # An update removing the billing identity is the account's state too.
    await _deliver(client, handlers.on_account_updated, _updated(account_id, None, later + timedelta(seconds=1)))
    assert (await _copy(client, account_id)).billing is None


async def test_an_update_before_the_creation_arrives_is_kept(client):
    account_id = uuid.uuid4()
    await _deliver(client, handlers.on_account_updated,
                   _updated(account_id, _billing("ACME New"), T0 + timedelta(minutes=5)))
    await _deliver(client, handlers.on_account_created, _created(account_id, _billing("ACME SA")))
    assert (await _copy(client, account_id)).billing["legal_name"] == "ACME New"


async def test_an_invoice_snapshots_the_bill_to_and_seller_and_a_later_update_does_not_rewrite_it(client):
    account_id = uuid.uuid4()
    await _deliver(client, handlers.on_account_created, _created(account_id, _billing("ACME SA")))
    signed = _signed(account_id)
    await _deliver(client, handlers.on_contract_signed, signed)
    advance = (await _invoices(client, signed.contract_id))["advance"]
    assert advance["bill_to"] == _billing("ACME SA") | {"address": {
        "line1": "1 rue de la Paix", "line2": None, "postal_code": "69001", "city": "Lyon", "country": "FR"}}
    default = finance_settings().seller_identity()
    assert advance["seller"]["legal_name"] == default.legal_name
    assert advance["seller"]["address"]["country"] == default.address.country

    await _deliver(client, handlers.on_account_updated, _updated(
        account_id, _billing("ACME Holding SA", city="Paris", tax_id=None), T0 + timedelta(days=1)))
    again = await client.get(f"/api/v1/invoices/{advance['id']}", headers=FINANCE)
    assert again.status_code == 200
    assert again.json()["bill_to"] == advance["bill_to"], "an issued invoice keeps the bill-to it was issued with"
    assert again.json()["version"] == advance["version"]

    await _accept_pac(client, signed)
    pac = (await _invoices(client, signed.contract_id))["pac"]
    assert (pac["bill_to"]["legal_name"], pac["bill_to"]["address"]["city"], pac["bill_to"]["tax_id"]) == (
        "ACME Holding SA", "Paris", None), "an invoice issued later bills the account as it is then"


async def _held(client, contract_id: uuid.UUID) -> dict[str, str | None]:
    plan = (await client.get(f"/api/v1/billing-plans/{contract_id}", headers=FINANCE)).json()
    return {i["name"]: i["held"] for i in plan["instalments"]}


async def test_an_account_without_a_billing_identity_is_not_invoiced_until_it_has_one(client):
    """An invoice names its bill-to and its VAT depends on the buyer's country: without them the
    instalment is held, visibly, and invoiced the moment leads publishes the identity."""
    account_id = uuid.uuid4()
    signed = _signed(account_id)
    await _deliver(client, handlers.on_contract_signed, signed)
    assert await _invoices(client, signed.contract_id) == {}
    held = await _held(client, signed.contract_id)
    assert held["pac"] is None and "billing identity is not known" in (held["advance"] or "")

    await _deliver(client, handlers.on_account_created, _created(account_id, None))
    assert await _invoices(client, signed.contract_id) == {}, "an account without billing still has no bill-to"

    await _deliver(client, handlers.on_account_updated, _updated(account_id, _billing("ACME SA"), T0 + timedelta(1)))
    advance = (await _invoices(client, signed.contract_id))["advance"]
    assert advance["bill_to"]["legal_name"] == "ACME SA" and advance["seller"] is not None
    assert [row["category"] for row in advance["tax_breakdown"]] == ["AE"], "a French business buys services " \
        "from a German seller under reverse charge"
    assert (await _held(client, signed.contract_id))["advance"] is None
    history = (await client.get(f"/api/v1/invoices/{advance['id']}/history", headers=FINANCE)).json()
    assert history[0]["action"] == "issued"


# -- the seller identity ---------------------------------------------------------------------------

SELLER = {"legal_name": "Example Networks GmbH", "tax_id": "DE136695976", "registration_id": "HRB 12345",
          "address": {"line1": "Hauptstr. 1", "line2": None, "postal_code": "80331", "city": "München",
                      "country": "DE"}}


async def test_the_seller_identity_is_the_environments_until_an_admin_sets_it(client, monkeypatch):
    monkeypatch.setenv("LTC_FINANCE_SELLER_LEGAL_NAME", "Env Seller AG")
    finance_settings.cache_clear()
    try:
        for headers in (FINANCE, ADMIN):
            response = await client.get(URL, headers=headers)
            assert response.status_code == 200, response.text
            body = response.json()
            assert (body["legal_name"], body["version"], body["etag"]) == ("Env Seller AG", 0, '"0"')
            assert body["address"]["country"] == "DE" and response.headers["etag"] == '"0"'
        for headers in (ERP, AR):
            assert (await client.get(URL, headers=headers)).status_code == 403
        assert (await client.get(f"{URL}/history", headers=ADMIN)).json() == []
    finally:
        monkeypatch.delenv("LTC_FINANCE_SELLER_LEGAL_NAME")
        finance_settings.cache_clear()


async def test_an_admin_sets_the_seller_identity_with_if_match_and_new_invoices_name_it(client):
    account_id = uuid.uuid4()
    await _deliver(client, handlers.on_account_created, _created(account_id, _billing("ACME SA")))
    before = _signed(account_id)
    await _deliver(client, handlers.on_contract_signed, before)
    old = (await _invoices(client, before.contract_id))["advance"]

    assert (await client.put(URL, json=SELLER, headers={**FINANCE, "If-Match": '"0"'})).status_code == 403
    missing = await client.put(URL, json=SELLER, headers=ADMIN)
    assert missing.status_code == 428 and missing.json()["type"].endswith("/if-match-required")
    stale = await client.put(URL, json=SELLER, headers={**ADMIN, "If-Match": '"7"'})
    assert stale.status_code == 412 and stale.json()["type"].endswith("/stale-etag")
    for bad, field in (({**SELLER, "legal_name": " "}, "legal_name"),
                       ({**SELLER, "address": {**SELLER["address"], "country": "Germany"}}, "address.country"),
                       ({**SELLER, "iban": "DE00"}, "iban"), ({**SELLER, "tax_id": "DE136695977"}, "tax_id")):
        response = await client.put(URL, json=bad, headers={**ADMIN, "If-Match": '"0"'})
        assert response.status_code == 422 and response.headers["content-type"] == "application/problem+json"
        assert field in [e["field"] for e in response.json()["errors"]], response.json()

    lower = {**SELLER, "address": {**SELLER["address"], "country": "de"}}
    response = await client.put(URL, json=lower, headers={**ADMIN, "If-Match": '"0"'})
    assert response.status_code == 200, response.text
    assert response.json() == {**SELLER, "version": 1, "etag": '"1"'} and response.headers["etag"] == '"1"'
    again = await client.put(URL, json=SELLER, headers={**ADMIN, "If-Match": '"0"'})
    assert again.status_code == 412, "a second admin who read version 0 does not overwrite version 1 unseen"
    read = await client.get(URL, headers=FINANCE)
    assert read.json() == {**SELLER, "version": 1, "etag": '"1"'} and read.headers["etag"] == '"1"'
    [version] = (await client.get(f"{URL}/history", headers=FINANCE)).json()
    assert (version["version"], version["etag"], version["updated_by"], version["seller_identity"]) == (
        1, '"1"', "ops", SELLER)

    signed = _signed(account_id)
    await _deliver(client, handlers.on_contract_signed, signed)
    assert (await _invoices(client, signed.contract_id))["advance"]["seller"] == SELLER
    unchanged = (await client.get(f"/api/v1/invoices/{old['id']}", headers=FINANCE)).json()
    assert unchanged["seller"] == old["seller"] != SELLER, "an issued invoice keeps the seller it was issued by"
