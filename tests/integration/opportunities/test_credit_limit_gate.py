"""The ATC gate's credit-limit rule on the real database: finance's figures copied from
`account.credit_changed`, an ATC over the limit refused with them, or decided one tier higher with
the override recorded; no limit known, no limit."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from ltc.opportunities import handlers
from ltc.opportunities.adapters.orm import account_credit
from ltc.opportunities.bootstrap import SPEC
from ltc.shared.kafka import make_producer
from ltc.shared.messages.envelope import Envelope
from ltc.shared.messages.finance_events import AccountCreditChanged
from ltc.shared.testing.apps import runtime_of, service_client
from tests.integration.opportunities.test_opportunities_api import (
    AR,
    FR,
    L2,
    L3,
    SR,
    TERMS,
    _create,
    _decide,
    _events,
    _problem,
    _ready_for_atb,
    _send,
    _through_atb,
)

pytestmark = pytest.mark.integration

EPOCH = datetime(2026, 12, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
async def client(make_database, kafka_bootstrap):
    async with service_client(SPEC, await make_database("opportunities_credit"), kafka_bootstrap) as client:
        yield client


def _credit_changed(account_id: uuid.UUID, limit: str | None, exposure: str, *, currency: str = "EUR",
                    minutes: int = 0) -> AccountCreditChanged:
    money = lambda amount: {"amount": amount, "currency": currency}  # noqa: E731
    available = None if limit is None else f"{float(limit) - float(exposure):.2f}"
    return AccountCreditChanged.model_validate({
        "account_id": str(account_id), "currency": currency, "credit_limit": money(limit) if limit else None,
        "exposure": money(exposure), "open_receivables": money(exposure), "signed_not_invoiced": money("0.00"),
        "available": money(available) if available else None,
        "changed_at": (EPOCH + timedelta(minutes=minutes)).isoformat(), "cause": "limit_set"})


def _envelope(event: AccountCreditChanged) -> Envelope:
    return Envelope(id=str(uuid.uuid4()), type=event.ce_type(), source="finance", subject=event.subject(),
                    time=datetime.now(UTC), data=event.model_dump(mode="json"))


async def _deliver(client, event: AccountCreditChanged) -> None:
    async with runtime_of(client).unit_of_work() as uow:
        await handlers.on_account_credit_changed(uow, event, _envelope(event))
        await uow.commit()


async def _copy(client, account_id: uuid.UUID) -> list[tuple]:
    async with runtime_of(client).engine.connect() as conn:
        rows = await conn.execute(select(account_credit).where(account_credit.c.account_id == account_id)
                                  .order_by(account_credit.c.currency))
        return [(r.currency, r.limit_amount and str(r.limit_amount), str(r.exposure_amount)) for r in rows]


async def _negotiating(client, account_id: uuid.UUID) -> dict:
    """Through ATB, priced at 2.4 M EUR (routed to L2 by value), in negotiation: ready for ATC."""
    opportunity = await _through_atb(client, await _ready_for_atb(client, await _create(
        client, account_id=str(account_id))))
    pricing = {k: TERMS[k] for k in ("value", "line_items", "payment_terms")}
    opportunity = await _send(client, opportunity, "PATCH", "/terms", pricing, headers=SR)
    opportunity = await _send(client, opportunity, "PATCH", "/terms", {"milestones": TERMS["milestones"]}, headers=FR)
    return await _send(client, opportunity, "POST", "/stage", {"to": "negotiating"})


async def _request_atc(client, opportunity: dict, **body):
    current = await client.get(f"/api/v1/opportunities/{opportunity['id']}", headers=AR)
    return await client.post(f"/api/v1/opportunities/{opportunity['id']}/gates",
                             headers={**AR, "If-Match": current.headers["etag"]}, json={"gate": "ATC", **body})


def _eur(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "EUR"}


async def test_the_copy_keeps_the_newest_figures_per_currency(client):
    account_id = uuid.uuid4()
    await _deliver(client, _credit_changed(account_id, "100.00", "10.00", minutes=5))
    await _deliver(client, _credit_changed(account_id, None, "20.00", currency="USD", minutes=1))
    await _deliver(client, _credit_changed(account_id, "999.00", "0.00", minutes=2))  # older: changes nothing
    await _deliver(client, _credit_changed(account_id, "100.00", "10.00", minutes=5))  # a replay: the same
    assert await _copy(client, account_id) == [("EUR", "100.0000", "10.0000"), ("USD", None, "20.0000")]
    await _deliver(client, _credit_changed(account_id, "150.00", "30.00", minutes=6))
    assert (await _copy(client, account_id))[0] == ("EUR", "150.0000", "30.0000")


async def test_an_atc_over_the_limit_is_refused_with_the_figures(client):
    account_id = uuid.uuid4()
    await _deliver(client, _credit_changed(account_id, "2000000.00", "500000.00"))
    opportunity = await _negotiating(client, account_id)
    body = _problem(await _request_atc(client, opportunity), 422, "credit-limit-exceeded")
    [item] = body["errors"]
    assert item["field"] == "credit_override_reason"
    assert (item["credit_limit"], item["exposure"], item["deal_value"], item["over_by"]) == (
        _eur("2000000.00"), _eur("500000.00"), _eur("2400000.00"), _eur("900000.00"))
    assert "900000.00 EUR over the limit" in body["detail"]
    _problem(await _request_atc(client, opportunity, credit_override_reason="   "), 422, "validation-error")
    read = (await client.get(f"/api/v1/opportunities/{opportunity['id']}", headers=AR)).json()
    assert read["version"] == opportunity["version"]  # nothing was requested


async def test_an_atc_over_the_limit_is_decided_one_tier_higher_with_the_override_recorded(client):
    account_id = uuid.uuid4()
    await _deliver(client, _credit_changed(account_id, "2000000.00", "500000.00"))
    opportunity = await _negotiating(client, account_id)
    response = await _request_atc(client, opportunity, credit_override_reason="strategic reference customer")
    assert response.status_code == 201, response.text
    request = response.json()
    # By value it is L2's; over the credit limit it goes one tier up.
    assert (request["tier"], request["routed_tier"]) == ("L3", "L3")
    assert "raised from L2 for a credit-limit override" in request["routing_reason"]
    assert request["credit_override"] == {
        "reason": "strategic reference customer", "credit_limit": _eur("2000000.00"), "exposure": _eur("500000.00"),
        "deal_value": _eur("2400000.00"), "over_by": _eur("900000.00")}
    _problem(await _decide(client, opportunity, "ATC", "approved", L2), 403, "decision-beyond-authority")
    decided = await _decide(client, opportunity, "ATC", "approved", L3)
    assert decided.status_code == 201, decided.text
    assert decided.json()["decision"]["tier"] == "L3"
    audit = (await client.get(f"/api/v1/opportunities/{opportunity['id']}/audit", headers=AR)).json()
    [requested] = [e for e in audit if e["action"] == "request-gate" and e["detail"]["gate"] == "ATC"]
    assert requested["detail"]["credit_override_reason"] == "strategic reference customer"
    won = await client.post(f"/api/v1/opportunities/{opportunity['id']}/win",
                            headers={**AR, "If-Match": decided.headers["etag"]})
    assert won.status_code == 200, won.text
    [(_, payload)] = [e for e in await _events(client, opportunity["id"]) if e[0] == "ltc.opportunity.won.v1"]
    assert payload["approval"]["tier"] == "L3"


@pytest.mark.parametrize("copy", ["none", "no limit", "other currency", "within"])
async def test_an_atc_without_a_limit_or_within_it_is_routed_as_before(client, copy):
    account_id = uuid.uuid4()
    if copy == "no limit":
        await _deliver(client, _credit_changed(account_id, None, "9000000.00"))
    elif copy == "other currency":
        await _deliver(client, _credit_changed(account_id, "1.00", "1000.00", currency="USD"))
    elif copy == "within":
        await _deliver(client, _credit_changed(account_id, "2900000.00", "500000.00"))  # exactly at the limit
    opportunity = await _negotiating(client, account_id)
    response = await _request_atc(client, opportunity, credit_override_reason="not needed")
    assert response.status_code == 201, response.text
    assert (response.json()["tier"], response.json()["credit_override"]) == ("L2", None)
    assert (await _decide(client, opportunity, "ATC", "approved", L2)).status_code == 201


async def test_an_atc_that_went_over_the_limit_since_it_was_requested_is_not_approved(client):
    account_id = uuid.uuid4()
    opportunity = await _negotiating(client, account_id)
    assert (await _request_atc(client, opportunity)).status_code == 201
    await _deliver(client, _credit_changed(account_id, "1000000.00", "0.00"))
    body = _problem(await _decide(client, opportunity, "ATC", "approved", L2), 422, "credit-limit-exceeded")
    assert body["errors"][0]["over_by"] == _eur("1400000.00") and "field" not in body["errors"][0]
    assert (await _decide(client, opportunity, "ATC", "sent_back", L2, comment="over the credit limit")
            ).status_code == 201
    again = await _request_atc(client, opportunity, credit_override_reason="paid in advance by the parent company")
    assert again.status_code == 201 and again.json()["tier"] == "L3"
    assert (await _decide(client, opportunity, "ATC", "approved", L3)).status_code == 201


async def test_the_copy_follows_finance_through_kafka(make_database, kafka_bootstrap):
    async with service_client(SPEC, await make_database("opportunities_credit_kafka"), kafka_bootstrap,
                              run_workers=True) as client:
        account_id = uuid.uuid4()
        event = _credit_changed(account_id, "500.00", "125.00")
        producer = make_producer(kafka_bootstrap)
        await producer.start()
        try:
            key, value, headers = _envelope(event).to_kafka()
            await producer.send_and_wait(event.topic, value=value, key=key, headers=headers)
        finally:
            await producer.stop()
        async with asyncio.timeout(60):
            while not await _copy(client, account_id):
                await asyncio.sleep(0.2)
        assert await _copy(client, account_id) == [("EUR", "500.0000", "125.0000")]
