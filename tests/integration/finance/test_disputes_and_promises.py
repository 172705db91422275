"""Disputes and promises to pay on the real database: they pause an invoice's dunning over the scheduled
runs, a resolution or a kept promise lets it resume where it stood, a broken promise is published,
reported and dunned one level up on the run that breaks it, and every change is an outbox event
committed with it."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import create_async_engine

from ltc.finance import handlers
from ltc.finance.adapters import collections_queries
from ltc.finance.bootstrap import SPEC
from ltc.shared.db import outbox
from ltc.shared.messages import EventPayload
from ltc.shared.messages.contracts_events import ContractSigned
from ltc.shared.messages.envelope import Envelope
from ltc.shared.messages.opportunities_events import OpportunityWon
from ltc.shared.migrations import alembic_config, upgrade_to_head
from ltc.shared.testing.apps import auth, runtime_of, service_client
from tests.integration.finance.support import know_the_customer

pytestmark = pytest.mark.integration

FINANCE = auth("clerk-1", "finance")
ERP = auth("erp", "integration")
AR = auth("ar-wang", "ar")
STRANGER = auth("ar-other", "ar")
TODAY = datetime.now(UTC).date()

DISPUTED = "ltc.invoice.disputed.v1"
RESOLVED = "ltc.invoice.dispute_resolved.v1"
RECORDED = "ltc.promise_to_pay.recorded.v1"
BROKEN = "ltc.promise_to_pay.broken.v1"
OVERDUE = "ltc.invoice.overdue.v1"


@pytest.fixture(scope="module")
async def client(make_database, kafka_bootstrap):
    async with service_client(SPEC, await make_database("finance_collections"), kafka_bootstrap) as client:
        yield client


@pytest.fixture
def on_day(monkeypatch):
    """Set the service's clock to a day (its start), to run the calendar forward."""
    def set_day(day: date) -> None:
        monkeypatch.setattr(handlers, "clock", lambda: datetime.combine(day, datetime.min.time(), UTC))
    return set_day


def _money(amount: str, currency: str = "EUR") -> dict[str, str]:
    return {"amount": amount, "currency": currency}


async def _deliver(client, handler, event: EventPayload) -> None:
    envelope = Envelope(id=str(uuid.uuid4()), type=event.ce_type(), source="test", subject=event.subject(),
                        time=datetime.now(UTC), data=event.model_dump(mode="json"))
    async with runtime_of(client).unit_of_work() as uow:
        await know_the_customer(uow, event)
        await handler(uow, event, envelope)
        await uow.commit()


async def _invoice(client, *, amount: str = "1000.00", due_days: int = 10, owner: str | None = None) -> dict:
    """One contract billed whole on signing (today), due in `due_days`; its invoice."""
    contract_id = uuid.uuid4()
    signed = ContractSigned.model_validate({
        "lineage": {"lead_id": str(uuid.uuid4()), "opportunity_id": str(uuid.uuid4()), "contract_id": str(contract_id)},
        "contract_id": str(contract_id), "account_id": str(uuid.uuid4()), "account_name": "ACME",
        "value": _money(amount), "signed_on": str(TODAY), "signatories": ["Li Wei"],
        "payment_schedule": [{"name": "all", "percent": "100", "amount": _money(amount), "trigger": "signing",
                              "milestone_id": None, "due_days": due_days}],
        "milestones": []})
    await _deliver(client, handlers.on_contract_signed, signed)
    if owner is not None:
        await _deliver(client, handlers.on_opportunity_won, OpportunityWon.model_validate({
            "opportunity_id": str(signed.lineage.opportunity_id), "account_id": str(signed.account_id),
            "account_name": "ACME", "title": "5G core", "owner": owner,
            "terms": {"value": signed.value.model_dump(mode="json"), "payment_terms": [], "milestones": []},
            "won_at": "2026-11-01T09:00:00+00:00"}))
    response = await client.get("/api/v1/invoices", params={"contract_id": str(contract_id)}, headers=FINANCE)
    [invoice] = response.json()["items"]
    return invoice


async def _etag(client, invoice_id: str) -> str:
    return (await client.get(f"/api/v1/invoices/{invoice_id}", headers=FINANCE)).headers["etag"]


async def _events(client, key: str, type_: str) -> list[dict]:
    async with runtime_of(client).engine.connect() as conn:
        stmt = select(outbox.c.payload).where(outbox.c.key == str(key), outbox.c.type == type_).order_by(outbox.c.seq)
        return [row.payload for row in await conn.execute(stmt)]


async def _pay(client, invoice: dict, amount: str, on: date) -> None:
    response = await client.post("/api/v1/payments", headers=FINANCE, json={
        "bank_reference": f"BANK-{uuid.uuid4().hex[:10]}", "payer": "ACME", "amount": _money(amount),
        "value_date": str(on), "invoice_id": invoice["id"]})
    assert response.status_code == 201, response.text


async def _run(client, on_day, day: date) -> dict:
    """The scheduled run of that day, on that day."""
    on_day(day)
    response = await client.post("/api/v1/dunning-runs", json={"as_of": str(day)}, headers=FINANCE)
    assert response.status_code == 200, response.text
    return response.json()


async def _dunned(client, on_day, invoice: dict, day: date) -> list[str]:
    return [d["dunning_level"] for d in (await _run(client, on_day, day))["dunned"] if d["invoice_id"] == invoice["id"]]


async def _dispute(client, invoice: dict, body: dict | None = None, headers=FINANCE, **extra):
    return await client.post(f"/api/v1/invoices/{invoice['id']}/disputes",
                             json=body or {"reason": "two licences were never delivered"},
                             headers={**headers, "If-Match": await _etag(client, invoice["id"]), **extra})


async def _promise(client, invoice: dict, body: dict, headers=FINANCE, **extra):
    return await client.post(f"/api/v1/invoices/{invoice['id']}/promises-to-pay", json=body,
                             headers={**headers, "If-Match": await _etag(client, invoice["id"]), **extra})


async def _collections(client, invoice: dict) -> dict:
    response = await client.get(f"/api/v1/invoices/{invoice['id']}/collections", headers=FINANCE)
    assert response.status_code == 200, response.text
    return response.json()


def _problem(response, status: int, rule: str, field: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body.get("rule", body["type"].rsplit("/", 1)[-1]) == rule, body
    if field is not None:
        assert field in [e["field"] for e in body.get("errors", [])], body


# -- disputes ----------------------------------------------------------------------------------


async def test_a_dispute_pauses_dunning_over_the_scheduled_runs_and_its_resolution_resumes_it(client, on_day):
    invoice = await _invoice(client)
    due = date.fromisoformat(invoice["due_date"])
    contract = invoice["contract_id"]
    assert await _dunned(client, on_day, invoice, due + timedelta(days=1)) == ["reminder"]

    key = str(uuid.uuid4())
    body = {"reason": "two licences were never delivered", "disputed_amount": _money("400.00")}
    opened = await _dispute(client, invoice, body, **{"Idempotency-Key": key})
    assert opened.status_code == 201, opened.text
    dispute = opened.json()
    assert opened.headers["location"] == f"/api/v1/disputes/{dispute['id']}"
    assert opened.headers["etag"] == dispute["etag"]
    assert (dispute["status"], dispute["disputed_amount"], dispute["opened_by"], dispute["pauses_dunning"]) == (
        "open", _money("400.00"), "clerk-1", True)
    [disputed] = await _events(client, contract, DISPUTED)
    assert (disputed["dispute_id"], disputed["invoice_id"], disputed["disputed_amount"], disputed["reason"]) == (
        dispute["id"], invoice["id"], _money("400.00"), "two licences were never delivered")
    assert disputed["lineage"]["contract_id"] == contract
    again = await _dispute(client, invoice, body, **{"Idempotency-Key": key})
    assert (again.status_code, again.json()["id"]) == (201, dispute["id"]), "a retry answers the first dispute"
    assert len(await _events(client, contract, DISPUTED)) == 1

    for day in (15, 30, 61, 90):
        run = await _run(client, on_day, due + timedelta(days=day))
        assert invoice["id"] not in [d["invoice_id"] for d in run["dunned"]], f"dunned while disputed, day {day}"
    standing = await _collections(client, invoice)
    assert standing["dunning_level"] == "reminder"
    assert standing["dunning_paused_by"] == {"reason": "dispute", "dispute_id": dispute["id"], "promise_id": None,
                                             "until": None}
    aged = (await client.get("/api/v1/receivables", headers=FINANCE, params={
        "contract_id": contract, "as_of": str(due + timedelta(days=90))})).json()
    assert aged["currencies"][0]["total_open"] == _money("1000.00"), "a disputed invoice is still receivable"
    assert [i["invoice_id"] for i in aged["currencies"][0]["invoices"]] == [invoice["id"]]

    url = f"/api/v1/disputes/{dispute['id']}/resolution"
    resolution = {"outcome": "customer_wrong", "resolution": "the delivery note was signed on 3 December"}
    assert (await client.post(url, json=resolution, headers=FINANCE)).status_code == 428
    _problem(await client.post(url, json=resolution, headers={**FINANCE, "If-Match": '"99"'}), 412, "stale-etag")
    resolved = await client.post(url, json=resolution, headers={**FINANCE, "If-Match": dispute["etag"]})
    assert resolved.status_code == 200, resolved.text
    assert (resolved.json()["status"], resolved.json()["outcome"], resolved.json()["pauses_dunning"]) == (
        "resolved", "customer_wrong", False)
    [event] = await _events(client, contract, RESOLVED)
    assert (event["dispute_id"], event["outcome"], event["resolved_by"]) == (dispute["id"], "customer_wrong",
                                                                            "clerk-1")
    _problem(await client.post(url, json=resolution, headers={**FINANCE, "If-Match": resolved.headers["etag"]}),
             409, "dispute-not-open")
    assert (await _collections(client, invoice))["dunning_paused_by"] is None

    assert await _dunned(client, on_day, invoice, due + timedelta(days=91)) == ["second_reminder"], \
        "resumed at the level it had: the next step, not a jump"
    assert await _dunned(client, on_day, invoice, due + timedelta(days=92)) == ["final_notice"]
    assert [e["dunning_level"] for e in await _events(client, contract, OVERDUE)] == [
        "reminder", "second_reminder", "final_notice"]

    history = (await client.get(f"/api/v1/disputes/{dispute['id']}/history", headers=FINANCE)).json()
    assert [(h["action"], h["actor"], h["object_type"]) for h in history] == [
        ("opened", "clerk-1", "dispute"), ("resolved", "clerk-1", "dispute")]
    assert history[0]["changes"]["disputed_amount"] == _money("400.00")
    listed = await client.get("/api/v1/disputes", headers=FINANCE, params={"invoice_id": invoice["id"]})
    assert [(d["id"], d["status"]) for d in listed.json()["items"]] == [(dispute["id"], "resolved")]
    account = {"account_id": invoice["account_id"]}
    assert (await client.get("/api/v1/disputes", headers=FINANCE, params={**account, "status": "open"})).json()[
        "items"] == []
    assert (await client.get(f"/api/v1/invoices/{invoice['id']}/history", headers=FINANCE)).status_code == 200


async def test_account_managers_raise_disputes_on_their_accounts_and_finance_resolves_them(client):
    invoice = await _invoice(client, owner="ar-wang")
    _problem(await _dispute(client, invoice, headers=STRANGER), 404, "not-found")
    _problem(await _dispute(client, invoice, headers=ERP), 403, "forbidden-role")
    raised = await _dispute(client, invoice, headers=AR)
    assert raised.status_code == 201, raised.text
    dispute = raised.json()
    assert dispute["opened_by"] == "ar-wang"
    url = f"/api/v1/disputes/{dispute['id']}/resolution"
    body = {"outcome": "withdrawn", "resolution": "the customer found the delivery note"}
    _problem(await client.post(url, json=body, headers={**AR, "If-Match": dispute["etag"]}), 403, "forbidden-role")
    assert (await client.get(f"/api/v1/disputes/{dispute['id']}", headers=AR)).status_code == 200
    assert (await client.get(f"/api/v1/disputes/{dispute['id']}", headers=STRANGER)).status_code == 404
    assert (await client.get("/api/v1/disputes", headers=STRANGER, params={"invoice_id": invoice["id"]})).json()[
        "items"] == []
    mine = (await client.get("/api/v1/disputes", headers=AR, params={"status": "open"})).json()["items"]
    assert [d["id"] for d in mine] == [dispute["id"]]
    _problem(await _promise(client, invoice, {"promised_date": str(TODAY)}, headers=AR), 403, "forbidden-role")


async def test_disputes_refuse_what_a_clerk_could_get_wrong(client):
    invoice = await _invoice(client)
    etag = await _etag(client, invoice["id"])
    _problem(await _dispute(client, invoice, {"reason": "price", "disputed_amount": _money("1000.01")}), 422,
             "disputed-amount-exceeds-open-amount", "disputed_amount.amount")
    _problem(await _dispute(client, invoice, {"reason": "price", "disputed_amount": _money("10.00", "USD")}), 422,
             "disputed-amount-invalid", "disputed_amount.currency")
    _problem(await _dispute(client, invoice, {"reason": "   "}), 422, "validation-error", "reason")
    _problem(await _dispute(client, invoice, {"reason": "price", "owner": "me"}), 422, "validation-error")
    _problem(await client.post(f"/api/v1/invoices/{uuid.uuid4()}/disputes", json={"reason": "price"},
                               headers={**FINANCE, "If-Match": etag}), 404, "not-found")
    assert (await _dispute(client, invoice)).status_code == 201
    _problem(await _dispute(client, invoice), 409, "dispute-already-open", "invoice_id")
    assert len(await _events(client, invoice["contract_id"], DISPUTED)) == 1, "a refusal publishes nothing"

    paid = await _invoice(client)
    await _pay(client, paid, "1000.00", TODAY)
    _problem(await _dispute(client, paid), 409, "invoice-not-open")
    _problem(await _promise(client, paid, {"promised_date": str(TODAY)}), 409, "invoice-not-open")


async def test_two_clerks_opening_a_dispute_at_once_open_one(client):
    invoice = await _invoice(client)
    etag = await _etag(client, invoice["id"])
    url = f"/api/v1/invoices/{invoice['id']}/disputes"
    answers = await asyncio.gather(*(
        client.post(url, json={"reason": f"clerk {n} heard it"}, headers={**auth(f"clerk-{n}", "finance"),
                                                                         "If-Match": etag})
        for n in range(4)))
    assert sorted(a.status_code for a in answers) == [201, 409, 409, 409], [a.text for a in answers]
    for refused in (a for a in answers if a.status_code == 409):
        _problem(refused, 409, "dispute-already-open")
    [event] = await _events(client, invoice["contract_id"], DISPUTED)
    [opened] = [a.json() for a in answers if a.status_code == 201]
    assert event["dispute_id"] == opened["id"], "the event is the one dispute that was committed"


async def test_the_database_keeps_one_open_dispute_and_promise_when_the_check_before_misses_one(client, monkeypatch):
    """As when two requests both checked before either committed: the partial unique index refuses
    the second, answered with the same rule."""
    invoice = await _invoice(client)
    assert (await _dispute(client, invoice)).status_code == 201
    assert (await _promise(client, invoice, {"promised_date": str(TODAY + timedelta(days=3))})).status_code == 201

    async def none(*_args):
        return None

    monkeypatch.setattr(collections_queries, "open_dispute_of", none)
    monkeypatch.setattr(collections_queries, "open_promise_of", none)
    _problem(await _dispute(client, invoice), 409, "dispute-already-open")
    _problem(await _promise(client, invoice, {"promised_date": str(TODAY + timedelta(days=3))}), 409,
             "promise-already-open")
    assert len(await _events(client, invoice["contract_id"], DISPUTED)) == 1
    assert len(await _events(client, invoice["contract_id"], RECORDED)) == 1


# -- promises to pay ---------------------------------------------------------------------------


async def test_a_promise_pauses_dunning_until_its_date_and_a_broken_one_is_dunned_one_level_up_and_reported(
        client, on_day):
    invoice = await _invoice(client)
    due = date.fromisoformat(invoice["due_date"])
    contract = invoice["contract_id"]
    assert await _dunned(client, on_day, invoice, due + timedelta(days=1)) == ["reminder"]
    on_day(due + timedelta(days=2))
    recorded = await _promise(client, invoice, {"amount": _money("600.00"),
                                                "promised_date": str(due + timedelta(days=20))},
                              **{"Idempotency-Key": str(uuid.uuid4())})
    assert recorded.status_code == 201, recorded.text
    promise = recorded.json()
    assert recorded.headers["location"] == f"/api/v1/promises-to-pay/{promise['id']}"
    assert (promise["status"], promise["amount"], promise["paid_since"], promise["recorded_on"]) == (
        "open", _money("600.00"), _money("0.00"), str(due + timedelta(days=2)))
    [event] = await _events(client, contract, RECORDED)
    assert (event["promise_id"], event["amount"], event["promised_date"]) == (
        promise["id"], _money("600.00"), str(due + timedelta(days=20)))
    _problem(await _promise(client, invoice, {"promised_date": str(due + timedelta(days=30))}), 409,
             "promise-already-open", "invoice_id")
    on_day(due + timedelta(days=3))
    await _pay(client, invoice, "100.00", due + timedelta(days=3))

    for day in (15, 20):  # 15 days overdue would take the second reminder: the promise holds it back
        assert await _dunned(client, on_day, invoice, due + timedelta(days=day)) == [], f"day {day}"
    assert (await _collections(client, invoice))["dunning_paused_by"] == {
        "reason": "promise_to_pay", "dispute_id": None, "promise_id": promise["id"],
        "until": str(due + timedelta(days=20))}
    assert await _events(client, contract, BROKEN) == [], "not broken on its own date"

    run = await _run(client, on_day, due + timedelta(days=21))
    assert [d["dunning_level"] for d in run["dunned"] if d["invoice_id"] == invoice["id"]] == ["second_reminder"]
    [broken] = await _events(client, contract, BROKEN)
    assert (broken["promise_id"], broken["paid_since"], broken["broken_on"], broken["amount"]) == (
        promise["id"], _money("100.00"), str(due + timedelta(days=21)), _money("600.00"))
    reported = (await client.get("/api/v1/promises-to-pay", headers=FINANCE,
                                 params={"status": "broken", "account_id": invoice["account_id"]})).json()["items"]
    assert [(p["id"], p["paid_since"], p["closed_on"], p["pauses_dunning"]) for p in reported] == [
        (promise["id"], _money("100.00"), str(due + timedelta(days=21)), False)]
    assert await _dunned(client, on_day, invoice, due + timedelta(days=22)) == [], "then the ladder's days again"
    assert await _dunned(client, on_day, invoice, due + timedelta(days=30)) == ["final_notice"]
    assert len(await _events(client, contract, BROKEN)) == 1, "broken once"
    history = (await client.get(f"/api/v1/promises-to-pay/{promise['id']}/history", headers=FINANCE)).json()
    assert [h["action"] for h in history] == ["recorded", "broken"]


async def test_a_broken_promise_takes_the_next_level_on_its_run_even_before_that_levels_day(client, on_day):
    invoice = await _invoice(client)
    due = date.fromisoformat(invoice["due_date"])
    assert await _dunned(client, on_day, invoice, due + timedelta(days=1)) == ["reminder"]
    on_day(due + timedelta(days=1))
    assert (await _promise(client, invoice, {"promised_date": str(due + timedelta(days=3))})).status_code == 201
    assert await _dunned(client, on_day, invoice, due + timedelta(days=4)) == ["second_reminder"], \
        "4 days overdue, not 15: the customer's word did not hold"
    [broken] = await _events(client, invoice["contract_id"], BROKEN)
    assert broken["paid_since"] == _money("0.00")


async def test_a_kept_promise_closes_without_breaking_and_dunning_of_the_rest_resumes(client, on_day):
    invoice = await _invoice(client)
    due = date.fromisoformat(invoice["due_date"])
    assert await _dunned(client, on_day, invoice, due + timedelta(days=1)) == ["reminder"]
    on_day(due + timedelta(days=1))
    recorded = await _promise(client, invoice, {"amount": _money("500.00"),
                                                "promised_date": str(due + timedelta(days=10))})
    promise = recorded.json()
    on_day(due + timedelta(days=5))
    await _pay(client, invoice, "500.00", due + timedelta(days=5))
    assert (await client.get(f"/api/v1/promises-to-pay/{promise['id']}", headers=FINANCE)).json()["paid_since"] \
        == _money("500.00")
    await _run(client, on_day, due + timedelta(days=6))
    kept = (await client.get(f"/api/v1/promises-to-pay/{promise['id']}", headers=FINANCE)).json()
    assert (kept["status"], kept["closed_on"], kept["paid_since"]) == ("kept", str(due + timedelta(days=6)),
                                                                      _money("500.00"))
    assert await _dunned(client, on_day, invoice, due + timedelta(days=11)) == []
    assert await _events(client, invoice["contract_id"], BROKEN) == []
    assert await _dunned(client, on_day, invoice, due + timedelta(days=15)) == ["second_reminder"], \
        "what is still open is dunned from the level it had"
    kept_list = (await client.get("/api/v1/promises-to-pay", headers=FINANCE,
                                  params={"invoice_id": invoice["id"], "status": "kept"})).json()["items"]
    assert [p["id"] for p in kept_list] == [promise["id"]]


async def test_promises_refuse_what_a_clerk_could_get_wrong(client, on_day):
    invoice = await _invoice(client)
    on_day(TODAY)
    _problem(await _promise(client, invoice, {"promised_date": str(TODAY - timedelta(days=1))}), 422,
             "promised-date-passed", "promised_date")
    _problem(await _promise(client, invoice, {"amount": _money("1000.01"), "promised_date": str(TODAY)}), 422,
             "promised-amount-exceeds-open-amount", "amount.amount")
    _problem(await _promise(client, invoice, {"amount": _money("0.00"), "promised_date": str(TODAY)}), 422,
             "promised-amount-invalid", "amount.amount")
    _problem(await _promise(client, invoice, {"amount": _money("5.00")}), 422, "validation-error")
    _problem(await _promise(client, invoice, {"promised_date": str(TODAY)}, headers=ERP), 403, "forbidden-role")
    _problem(await client.post(f"/api/v1/invoices/{uuid.uuid4()}/promises-to-pay",
                               json={"promised_date": str(TODAY)},
                               headers={**FINANCE, "If-Match": await _etag(client, invoice["id"])}), 404, "not-found")
    assert await _events(client, invoice["contract_id"], RECORDED) == []
    _problem(await client.get("/api/v1/promises-to-pay", headers=FINANCE, params={"status": "lost"}), 422,
             "validation-error")
    assert (await client.get(f"/api/v1/promises-to-pay/{uuid.uuid4()}", headers=FINANCE)).status_code == 404


async def test_lists_page_by_keyset(client, on_day):
    on_day(TODAY)
    invoices = [await _invoice(client, owner="ar-pager") for _ in range(3)]
    for invoice in invoices:
        assert (await _promise(client, invoice, {"promised_date": str(TODAY + timedelta(days=5))})).status_code == 201
    pager = auth("ar-pager", "ar")
    first = (await client.get("/api/v1/promises-to-pay", headers=pager, params={"limit": 2})).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    rest = (await client.get("/api/v1/promises-to-pay", headers=pager,
                             params={"limit": 2, "cursor": first["next_cursor"]})).json()
    assert rest["next_cursor"] is None
    # Recorded at the same instant by the test's clock: the id orders them, each on one page only.
    assert sorted(p["invoice_id"] for p in first["items"] + rest["items"]) == sorted(i["id"] for i in invoices)
    assert all(p["pauses_dunning"] for p in first["items"] + rest["items"])


# -- the migration -----------------------------------------------------------------------------


async def test_0011_is_undone_only_while_no_dispute_or_promise_is_held(make_database, kafka_bootstrap):
    url = await make_database("finance_collections_migration")
    config = alembic_config(SPEC.service_dir, url)
    await asyncio.to_thread(upgrade_to_head, SPEC.service_dir, url)
    await asyncio.to_thread(command.downgrade, config, "0010")
    await asyncio.to_thread(upgrade_to_head, SPEC.service_dir, url)
    async with service_client(SPEC, url, kafka_bootstrap) as client:
        assert (await _dispute(client, await _invoice(client))).status_code == 201
    with pytest.raises(RuntimeError, match="disputes or promises to pay are held"):
        await asyncio.to_thread(command.downgrade, config, "0010")
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM invoice_disputes"))).scalar() == 1
    finally:
        await engine.dispose()
