"""Credit limits and exposure on the real database and broker: the limit set, the figures published
as `account.credit_changed` when they change (and only then), and the API's refusals."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import create_async_engine

from ltc.finance import credit, handlers
from ltc.finance.bootstrap import SPEC
from ltc.shared.db import outbox
from ltc.shared.messages import EventPayload
from ltc.shared.messages.contracts_events import ContractSigned
from ltc.shared.messages.envelope import Envelope
from ltc.shared.messages.finance_events import AccountCreditChanged, InvoiceIssued, PaymentReceived, PaymentReturned
from ltc.shared.messages.opportunities_events import OpportunityWon
from ltc.shared.migrations import alembic_config
from ltc.shared.testing.apps import auth, runtime_of, service_client
from tests.integration.finance.support import know_the_customer

pytestmark = pytest.mark.integration

FINANCE = auth("clerk-1", "finance")
ADMIN = auth("ops", "admin")
AR = auth("ar-credit", "ar")
STRANGER = auth("ar-other", "ar")
TODAY = datetime.now(UTC).date()
CREDIT_CHANGED = AccountCreditChanged.ce_type()


@pytest.fixture(scope="module")
async def client(make_database, kafka_bootstrap):
    async with service_client(SPEC, await make_database("finance_credit"), kafka_bootstrap) as client:
        yield client


def _money(amount: str, currency: str = "EUR") -> dict[str, str]:
    return {"amount": amount, "currency": currency}


def _signed(account_id: uuid.UUID) -> ContractSigned:
    """1000.00 EUR: 300.00 invoiced on signing, 700.00 on a milestone (no VAT for the sample customer)."""
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


def _envelope(event: EventPayload) -> Envelope:
    return Envelope(id=str(uuid.uuid4()), type=event.ce_type(), source="test", subject=event.subject(),
                    time=datetime.now(UTC), data=event.model_dump(mode="json"))


async def _deliver(client, handler, event: EventPayload) -> None:
    """What the consumer does with one message: the handler, then one commit."""
    async with runtime_of(client).unit_of_work() as uow:
        await know_the_customer(uow, event)
        await handler(uow, event, _envelope(event))
        await uow.commit()


async def _sign(client, account_id: uuid.UUID) -> ContractSigned:
    signed = _signed(account_id)
    await _deliver(client, SPEC.subscription.handlers[ContractSigned.ce_type()], signed)
    return signed


async def _credit_events(client, account_id: uuid.UUID) -> list[dict]:
    async with runtime_of(client).engine.connect() as conn:
        stmt = (select(outbox.c.payload).where(outbox.c.key == str(account_id), outbox.c.type == CREDIT_CHANGED)
                .order_by(outbox.c.seq))
        return [row.payload for row in await conn.execute(stmt)]


async def _outbox_payloads(client, type_: str, key: str) -> list[dict]:
    async with runtime_of(client).engine.connect() as conn:
        stmt = select(outbox.c.payload).where(outbox.c.key == key, outbox.c.type == type_).order_by(outbox.c.seq)
        return [row.payload for row in await conn.execute(stmt)]


def _figures(event: dict) -> tuple:
    return (event["cause"], event["currency"], (event["credit_limit"] or {}).get("amount"),
            event["exposure"]["amount"], event["open_receivables"]["amount"], event["signed_not_invoiced"]["amount"],
            (event["available"] or {}).get("amount"))


async def _set_limit(client, account_id: uuid.UUID, amount: str, *, currency: str = "EUR",
                     headers: dict | None = None, reason: str = "annual review", status: int = 200):
    response = await client.put(f"/api/v1/accounts/{account_id}/credit-limit",
                                json={"credit_limit": _money(amount, currency), "reason": reason},
                                headers={**FINANCE, **(headers or {})})
    assert response.status_code == status, response.text
    return response


async def _pay(client, invoice_id: str, amount: str) -> dict:
    body = {"bank_reference": f"BANK-{uuid.uuid4().hex[:10]}", "payer": "ACME", "amount": _money(amount),
            "value_date": TODAY.isoformat(), "invoice_id": invoice_id}
    response = await client.post("/api/v1/payments", json=body, headers=FINANCE)
    assert response.status_code == 201, response.text
    return response.json()


async def _advance_invoice(client, signed: ContractSigned) -> dict:
    response = await client.get("/api/v1/invoices", params={"contract_id": str(signed.contract_id)}, headers=FINANCE)
    [invoice] = response.json()["items"]
    return invoice


async def test_signing_publishes_the_exposure_and_setting_a_limit_publishes_it_with_the_figures(client):
    account_id = uuid.uuid4()
    await _sign(client, account_id)
    # Signed 1000.00: the advance (300.00) is invoiced and open, the 700.00 of the milestone signed, not invoiced.
    assert [_figures(e) for e in await _credit_events(client, account_id)] == [
        ("exposure_changed", "EUR", None, "1000.00", "300.00", "700.00", None)]

    response = await _set_limit(client, account_id, "800.00", reason="  new customer  ")
    assert response.headers["ETag"] == '"1"'
    body = response.json()
    assert body["credit_limit"] == _money("800.00") and body["available"] == _money("-200.00")
    assert (body["exposure"], body["version"], body["reason"], body["set_by"]) == (
        _money("1000.00"), 1, "new customer", "clerk-1")
    events = await _credit_events(client, account_id)
    assert _figures(events[-1]) == ("limit_set", "EUR", "800.00", "1000.00", "300.00", "700.00", "-200.00")
    AccountCreditChanged.model_validate(events[-1])

    read = await client.get(f"/api/v1/accounts/{account_id}/credit", headers=ADMIN)
    assert read.status_code == 200, read.text
    [eur] = read.json()["currencies"]
    assert (eur["currency"], eur["credit_limit"], eur["open_receivables"], eur["signed_not_invoiced"],
            eur["etag"]) == ("EUR", _money("800.00"), _money("300.00"), _money("700.00"), '"1"')

    history = (await client.get(f"/api/v1/accounts/{account_id}/credit/history", headers=FINANCE)).json()
    assert [(h["action"], h["actor"]) for h in history] == [
        ("credit_exposure_changed", "event:ltc.contract.signed.v1"), ("credit_limit_set", "clerk-1")]
    assert history[-1]["changes"]["reason"] == "new customer"


async def test_a_payment_lowers_the_exposure_once_and_a_replay_publishes_nothing(client):
    account_id = uuid.uuid4()
    signed = await _sign(client, account_id)
    invoice = await _advance_invoice(client, signed)
    # invoice.issued came after the signing's own recomputation: the figures are the same, nothing is published.
    [issued] = await _outbox_payloads(client, "ltc.invoice.issued.v1", str(signed.contract_id))
    await _deliver(client, credit.on_invoice_changed, InvoiceIssued.model_validate(issued))
    assert len(await _credit_events(client, account_id)) == 1

    payment = await _pay(client, invoice["id"], "120.00")
    [received] = await _outbox_payloads(client, PaymentReceived.ce_type(), payment["id"])
    event = PaymentReceived.model_validate(received)
    await _deliver(client, credit.on_cash_moved, event)
    events = await _credit_events(client, account_id)
    assert _figures(events[-1]) == ("exposure_changed", "EUR", None, "880.00", "180.00", "700.00", None)

    # The same facts again (a redelivery under a new id, a replay from the start): nothing new is published.
    await _deliver(client, credit.on_cash_moved, event)
    await _deliver(client, SPEC.subscription.handlers[ContractSigned.ce_type()], signed)
    assert len(await _credit_events(client, account_id)) == len(events) == 2

    # The bank returns the payment: what it paid is open again, and so is the exposure.
    returned = await client.post(f"/api/v1/payments/{payment['id']}/returns",
                                 json={"returned_on": TODAY.isoformat(), "reason": "AC04"},
                                 headers={**FINANCE, "If-Match": f'"{payment["version"]}"'})
    assert returned.status_code == 200, returned.text
    [back] = await _outbox_payloads(client, PaymentReturned.ce_type(), payment["id"])
    await _deliver(client, credit.on_cash_moved, PaymentReturned.model_validate(back))
    assert _figures((await _credit_events(client, account_id))[-1]) == (
        "exposure_changed", "EUR", None, "1000.00", "300.00", "700.00", None)


async def test_the_limit_is_changed_only_on_the_version_read(client):
    account_id = uuid.uuid4()
    await _sign(client, account_id)
    await _set_limit(client, account_id, "5000.00")
    missing = await _set_limit(client, account_id, "6000.00", status=428)
    assert missing.json()["type"].endswith("/if-match-required")
    stale = await _set_limit(client, account_id, "6000.00", headers={"If-Match": '"7"'}, status=412)
    assert stale.json()["type"].endswith("/stale-etag")
    changed = await _set_limit(client, account_id, "6000.00", headers={"If-Match": '"1"'})
    assert changed.headers["ETag"] == '"2"' and changed.json()["credit_limit"] == _money("6000.00")
    # Another currency is a limit of its own: its first setting needs no If-Match.
    usd = await _set_limit(client, account_id, "100.00", currency="USD")
    assert usd.json()["version"] == 1 and usd.json()["exposure"] == _money("0.00", "USD")
    read = (await client.get(f"/api/v1/accounts/{account_id}/credit", headers=FINANCE)).json()
    assert [(c["currency"], c["credit_limit"]["amount"]) for c in read["currencies"]] == [
        ("EUR", "6000.00"), ("USD", "100.00")]
    causes = [(e["cause"], e["currency"], e["credit_limit"]["amount"] if e["credit_limit"] else None)
              for e in await _credit_events(client, account_id)]
    assert causes == [("exposure_changed", "EUR", None), ("limit_set", "EUR", "5000.00"),
                      ("limit_set", "EUR", "6000.00"), ("limit_set", "USD", "100.00")]


@pytest.mark.parametrize(("body", "field", "problem"), [
    ({"credit_limit": {"amount": "-1.00", "currency": "EUR"}, "reason": "x"}, "credit_limit.amount",
     "credit-limit-invalid"),
    ({"credit_limit": {"amount": "1.001", "currency": "EUR"}, "reason": "x"}, "credit_limit", "validation-error"),
    ({"credit_limit": {"amount": "10.00", "currency": "EURO"}, "reason": "x"}, "credit_limit.currency",
     "validation-error"),
    ({"credit_limit": {"amount": 10, "currency": "EUR"}, "reason": "x"}, "credit_limit.amount", "validation-error"),
    ({"credit_limit": {"amount": "10.00", "currency": "EUR"}, "reason": "   "}, "reason", "validation-error"),
    ({"credit_limit": {"amount": "10.00", "currency": "EUR"}}, "reason", "validation-error"),
])
async def test_a_bad_limit_is_refused_naming_the_field(client, body, field, problem):
    account_id = uuid.uuid4()
    await _sign(client, account_id)
    response = await client.put(f"/api/v1/accounts/{account_id}/credit-limit", json=body, headers=FINANCE)
    assert response.status_code == 422, response.text
    assert response.json()["type"].endswith("/" + problem)
    assert field in [e["field"] for e in response.json()["errors"]]
    assert len(await _credit_events(client, account_id)) == 1  # only the signing's exposure


async def test_who_may_set_and_read_a_limit(client):
    account_id = uuid.uuid4()
    signed = await _sign(client, account_id)
    body = {"credit_limit": _money("10.00"), "reason": "x"}
    for headers in (AR, ADMIN, auth("erp", "integration")):
        response = await client.put(f"/api/v1/accounts/{account_id}/credit-limit", json=body, headers=headers)
        assert response.status_code == 403, response.text
    unknown = await client.put(f"/api/v1/accounts/{uuid.uuid4()}/credit-limit", json=body, headers=FINANCE)
    assert unknown.status_code == 404, unknown.text
    assert (await client.get(f"/api/v1/accounts/{uuid.uuid4()}/credit", headers=FINANCE)).status_code == 404
    # An account manager reads the accounts they won an opportunity on, and no other.
    await _deliver(client, handlers.on_opportunity_won, OpportunityWon.model_validate({
        "opportunity_id": str(signed.lineage.opportunity_id), "account_id": str(account_id), "account_name": "ACME",
        "title": "5G core", "owner": "ar-credit",
        "terms": {"value": _money("1000.00"), "payment_terms": [], "milestones": []},
        "won_at": "2026-11-01T09:00:00+00:00"}))
    assert (await client.get(f"/api/v1/accounts/{account_id}/credit", headers=AR)).status_code == 200
    assert (await client.get(f"/api/v1/accounts/{account_id}/credit", headers=STRANGER)).status_code == 404
    assert (await client.get(f"/api/v1/accounts/{account_id}/credit/history", headers=STRANGER)).status_code == 404


async def test_finance_follows_its_own_events_through_kafka(make_database, kafka_bootstrap):
    """With the workers running: the payment's event goes out through the relay, comes back to finance's
    consumer and moves the exposure."""
    async with service_client(SPEC, await make_database("finance_credit_kafka"), kafka_bootstrap,
                              run_workers=True) as client:
        account_id = uuid.uuid4()
        signed = await _sign(client, account_id)
        invoice = await _advance_invoice(client, signed)
        await _pay(client, invoice["id"], "300.00")
        async with asyncio.timeout(60):
            while _figures((await _credit_events(client, account_id))[-1])[4] != "0.00":
                await asyncio.sleep(0.2)
        assert [_figures(e) for e in await _credit_events(client, account_id)] == [
            ("exposure_changed", "EUR", None, "1000.00", "300.00", "700.00", None),
            ("exposure_changed", "EUR", None, "700.00", "0.00", "700.00", None)]


async def test_0010_is_undone_only_while_no_limit_is_set(make_database):
    url = await make_database("finance_migration_0010")
    config = alembic_config(SPEC.service_dir, url)
    await asyncio.to_thread(command.upgrade, config, "0010")
    engine = create_async_engine(url)
    try:
        await asyncio.to_thread(command.downgrade, config, "0009")
        await asyncio.to_thread(command.upgrade, config, "0010")
        async with engine.begin() as conn:
            await conn.execute(text(
                "INSERT INTO credit_limits (account_id, currency, amount, reason, set_by, set_at, version) "
                "VALUES (:id, 'EUR', 10, 'x', 'clerk', now(), 1)"), dict(id=uuid.uuid4()))
        with pytest.raises(RuntimeError, match="credit limits are set"):
            await asyncio.to_thread(command.downgrade, config, "0009")
    finally:
        await engine.dispose()
