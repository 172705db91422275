"""The audit trail of invoices and payments, and the ERP account codes an admin keeps as a policy."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from ltc.finance import handlers
from ltc.finance.bootstrap import SPEC
from ltc.finance.config import finance_settings
from ltc.shared.db import audit_trail
from ltc.shared.messages import EventPayload
from ltc.shared.messages.contracts_events import ContractMilestoneAccepted, ContractSigned
from ltc.shared.messages.envelope import Envelope
from ltc.shared.messages.opportunities_events import OpportunityWon
from ltc.shared.policy import policy_versions
from ltc.shared.service import create_app
from ltc.shared.testing.apps import auth, runtime_of, service_client
from tests.integration.finance.support import know_the_customer

pytestmark = pytest.mark.integration

FINANCE = auth("clerk-1", "finance")
ERP = auth("erp", "integration")
ADMIN = auth("ops", "admin")
AR = auth("ar-zhou", "ar")
TODAY = datetime.now(UTC).date()
FIELDS = {"id", "action", "actor", "at", "object_type", "object_id", "changes"}


@pytest.fixture(scope="module")
async def client(make_database, kafka_bootstrap):
    async with service_client(SPEC, await make_database("finance_history"), kafka_bootstrap) as client:
        yield client


def _money(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "EUR"}


def _signed(*, due_days: int = 30) -> ContractSigned:
    contract_id = uuid.uuid4()
    return ContractSigned.model_validate({
        "lineage": {"lead_id": str(uuid.uuid4()), "opportunity_id": str(uuid.uuid4()), "contract_id": str(contract_id)},
        "contract_id": str(contract_id), "account_id": str(uuid.uuid4()), "account_name": "ACME",
        "value": _money("1000.00"), "signed_on": "2026-11-20", "signatories": ["Li Wei"],
        "payment_schedule": [
            {"name": "advance", "percent": "30", "amount": _money("300.00"), "trigger": "signing", "due_days": due_days},
            {"name": "pac", "percent": "70", "amount": _money("700.00"), "trigger": "milestone",
             "milestone_id": str(uuid.uuid4()), "due_days": 45}],
        "milestones": [],
    })


async def _deliver(client, handler, event: EventPayload) -> None:
    envelope = Envelope(id=str(uuid.uuid4()), type=event.ce_type(), source="test", subject=event.subject(),
                        time=datetime.now(UTC), data=event.model_dump(mode="json"))
    async with runtime_of(client).unit_of_work() as uow:
        await know_the_customer(uow, event)
        await handler(uow, event, envelope)
        await uow.commit()


async def _invoices(client, contract_id: uuid.UUID) -> dict[str, dict]:
    response = await client.get("/api/v1/invoices", params={"contract_id": str(contract_id)}, headers=FINANCE)
    return {i["instalment"]: i for i in response.json()["items"]}


async def _history(client, path: str, headers=FINANCE) -> list[dict]:
    response = await client.get(f"/api/v1/{path}/history", headers=headers)
    assert response.status_code == 200, response.text
    entries = response.json()
    assert all(set(entry) == FIELDS for entry in entries)
    return entries


def _steps(entries: list[dict]) -> list[tuple[str, str, str]]:
    return [(e["object_type"], e["action"], e["actor"]) for e in entries]


async def test_an_invoice_and_a_payment_tell_who_changed_them_and_how_oldest_first(client):
    signed = _signed()
    await _deliver(client, handlers.on_contract_signed, signed)
    advance = (await _invoices(client, signed.contract_id))["advance"]
    [issued] = await _history(client, f"invoices/{advance['id']}")
    assert _steps([issued]) == [("invoice", "issued", "event:ltc.contract.signed.v1")]
    assert issued["object_id"] == advance["id"]
    assert issued["changes"] == {"number": advance["number"], "instalment": "advance", "amount": _money("300.00"),
                                 "issue_date": advance["issue_date"], "due_date": advance["due_date"]}

    body = {"bank_reference": f"BANK-{uuid.uuid4().hex[:10]}", "payer": "ACME", "amount": _money("400.00"),
            "value_date": TODAY.isoformat(), "invoice_id": advance["id"]}
    payment = (await client.post("/api/v1/payments", json=body, headers=FINANCE)).json()
    assert (await client.post("/api/v1/payments", json=body, headers=ERP)).status_code == 200
    refused = await client.post("/api/v1/payments", json={**body, "bank_reference": "BANK-USD",
                                                           "amount": {"amount": "1.00", "currency": "USD"}},
                                headers=FINANCE)
    assert refused.status_code == 422
    [recorded] = await _history(client, f"payments/{payment['id']}")
    assert _steps([recorded]) == [("payment", "recorded", "clerk-1")], "a repeat or a refusal records nothing"
    assert recorded["changes"]["applications"] == [{"invoice_id": advance["id"], "contract_id": str(signed.contract_id),
                                                    "amount": _money("300.00")}]
    assert recorded["changes"]["unapplied"] == _money("100.00") and recorded["changes"]["amount"] == _money("400.00")

    await _deliver(client, handlers.on_contract_milestone_accepted, ContractMilestoneAccepted(
        contract_id=signed.contract_id, milestone_id=signed.payment_schedule[1].milestone_id, name="PAC",
        acceptance_type="preliminary", accepted_on=TODAY, certificate_ref="PAC-1"))
    pac = (await _invoices(client, signed.contract_id))["pac"]
    note = await client.post(f"/api/v1/invoices/{pac['id']}/credit-notes", headers={**FINANCE, "If-Match": pac["etag"]},
                             json={"amount": _money("50.00"), "reason": "discount not applied"})
    assert note.status_code == 201, note.text
    applied = await client.post(f"/api/v1/payments/{payment['id']}/applications", json={},
                                headers={**FINANCE, "If-Match": payment["etag"]})
    assert applied.status_code == 200, applied.text

    assert _steps(await _history(client, f"payments/{payment['id']}")) == [
        ("payment", "recorded", "clerk-1"), ("payment", "applied", "clerk-1")]
    pac_history = await _history(client, f"invoices/{pac['id']}")
    assert _steps(pac_history) == [("invoice", "issued", "event:ltc.contract.milestone_accepted.v1"),
                                   ("credit_note", "issued", "clerk-1"), ("payment", "applied", "clerk-1")]
    assert pac_history[1]["object_id"] == note.json()["id"]
    assert pac_history[1]["changes"]["reason"] == "discount not applied"
    assert pac_history[2]["changes"]["applications"] == [
        {"invoice_id": pac["id"], "contract_id": str(signed.contract_id), "amount": _money("100.00")}]
    times = [e["at"] for e in pac_history]
    assert times == sorted(times)
    assert _steps(await _history(client, f"invoices/{advance['id']}")) == [
        ("invoice", "issued", "event:ltc.contract.signed.v1"), ("payment", "recorded", "clerk-1")]


async def test_history_is_read_by_whoever_may_read_the_object(client):
    signed = _signed()
    await _deliver(client, handlers.on_contract_signed, signed)
    advance = (await _invoices(client, signed.contract_id))["advance"]
    payment = (await client.post("/api/v1/payments", headers=ERP, json={
        "bank_reference": f"BANK-{uuid.uuid4().hex[:10]}", "payer": "ACME", "amount": _money("10.00"),
        "value_date": TODAY.isoformat(), "contract_id": str(signed.contract_id)})).json()
    paths = (f"invoices/{advance['id']}", f"payments/{payment['id']}")
    for path in paths:
        assert (await client.get(f"/api/v1/{path}/history", headers=AR)).status_code == 404
        assert (await client.get(f"/api/v1/{path}/history", headers=auth("s", "sr"))).status_code == 403
        assert (await client.get(f"/api/v1/{path}/history")).status_code == 401
        for headers in (ERP, ADMIN):
            assert (await client.get(f"/api/v1/{path}/history", headers=headers)).status_code == 200
    await _deliver(client, handlers.on_opportunity_won, OpportunityWon.model_validate({
        "opportunity_id": str(signed.lineage.opportunity_id), "account_id": str(signed.account_id),
        "account_name": "ACME", "title": "5G core", "owner": "ar-zhou",
        "terms": {"value": signed.value.model_dump(mode="json"), "payment_terms": [], "milestones": []},
        "won_at": "2026-11-01T09:00:00+00:00"}))
    assert _steps(await _history(client, paths[1], AR)) == [("payment", "recorded", "erp")]
    for kind in ("invoices", "payments"):
        unknown = await client.get(f"/api/v1/{kind}/{uuid.uuid4()}/history", headers=FINANCE)
        assert unknown.status_code == 404 and unknown.headers["content-type"] == "application/problem+json"


async def test_a_dunning_step_is_in_the_invoice_history_under_the_scheduled_run(client, monkeypatch):
    signed = _signed(due_days=0)
    await _deliver(client, handlers.on_contract_signed, signed)
    advance = (await _invoices(client, signed.contract_id))["advance"]
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    monkeypatch.setattr(handlers, "clock", lambda: tomorrow)
    async with runtime_of(client).unit_of_work() as uow:
        await handlers.run_schedule(uow, handlers.RunSchedule(), handlers.SCHEDULED_RUN)
    history = await _history(client, f"invoices/{advance['id']}")
    assert _steps(history) == [("invoice", "issued", "event:ltc.contract.signed.v1"),
                               ("invoice", "dunned", "system:scheduled-run")]
    assert history[1]["changes"] == {"dunning_level": "reminder", "as_of": tomorrow.date().isoformat(),
                                     "days_overdue": 1, "open_amount": _money("300.00")}


# -- account codes ------------------------------------------------------------------------------

# What a version that names no VAT payable account or maps has: the environment's defaults.
UNMAPPED = {"vat_payable": "2200", "write_off": "6900", "tax_accounts": {}, "revenue_by_product": {}, "revenue_by_category": {}}


async def test_the_account_codes_are_the_environments_until_an_admin_sets_them(client, monkeypatch):
    monkeypatch.setenv("LTC_FINANCE_ACCOUNT_RECEIVABLE", "1200")
    monkeypatch.setenv("LTC_FINANCE_ACCOUNT_VAT_PAYABLE", "1776")
    monkeypatch.setenv("LTC_FINANCE_ACCOUNT_TAX_ACCOUNTS", '{"S:7": "1771"}')
    finance_settings.cache_clear()
    try:
        for headers in (FINANCE, ADMIN):
            response = await client.get("/api/v1/config/account-codes", headers=headers)
            assert response.status_code == 200, response.text
            assert response.json() == {"receivable": "1200", "revenue": "4000", "cash": "1000",
                                       "unapplied_cash": "2150", "vat_payable": "1776", "write_off": "6900",
                                       "tax_accounts": {"S:7": "1771"}, "revenue_by_product": {},
                                       "revenue_by_category": {}, "version": 0, "etag": '"0"'}
            assert response.headers["etag"] == '"0"'
        for headers in (ERP, AR):
            assert (await client.get("/api/v1/config/account-codes", headers=headers)).status_code == 403
        assert (await client.get("/api/v1/config/account-codes/history", headers=ADMIN)).json() == []
    finally:
        for name in ("RECEIVABLE", "VAT_PAYABLE", "TAX_ACCOUNTS"):
            monkeypatch.delenv(f"LTC_FINANCE_ACCOUNT_{name}")
        finance_settings.cache_clear()


def test_a_deployment_whose_vat_payable_is_another_roles_account_is_refused_at_start(monkeypatch):
    monkeypatch.setenv("LTC_FINANCE_ACCOUNT_VAT_PAYABLE", "2150")
    finance_settings.cache_clear()
    try:
        with pytest.raises(ValueError, match="2150 are given to more than one role"):
            finance_settings()
    finally:
        monkeypatch.delenv("LTC_FINANCE_ACCOUNT_VAT_PAYABLE")
        finance_settings.cache_clear()


async def test_an_admin_sets_the_account_codes_with_if_match_and_the_journal_posts_to_them(client):
    url = "/api/v1/config/account-codes"
    codes = {"receivable": "1210", "revenue": "4100", "cash": "1010", "unapplied_cash": "2160"}
    assert (await client.put(url, json=codes, headers={**FINANCE, "If-Match": '"0"'})).status_code == 403
    missing = await client.put(url, json=codes, headers=ADMIN)
    assert missing.status_code == 428 and missing.json()["type"].endswith("/if-match-required")
    stale = await client.put(url, json=codes, headers={**ADMIN, "If-Match": '"7"'})
    assert stale.status_code == 412 and stale.json()["type"].endswith("/stale-etag")
    for bad, field in (({**codes, "cash": "1210"}, "receivable"), ({**codes, "cash": " "}, "cash"),
                       ({**codes, "suspense": "9999"}, "suspense"),
                       ({**codes, "vat_payable": "2160"}, "vat_payable"),
                       ({**codes, "tax_accounts": {"S:19": "1010"}}, "tax_accounts.S:19"),
                       ({**codes, "revenue_by_product": {"LIC": "1210"}}, "revenue_by_product.LIC"),
                       ({**codes, "tax_accounts": {"S:19x": "2201"}}, "tax_accounts.S:19x.[key]"),
                       ({**codes, "tax_accounts": {"Z:5": "2201"}}, "tax_accounts.Z:5.[key]"),
                       ({**codes, "tax_accounts": {"S:19": "2201", "S:19.0": "2202"}}, "tax_accounts"),
                       ({**codes, "revenue_by_category": {"X": "4100"}}, "revenue_by_category.X.[key]")):
        response = await client.put(url, json=bad, headers={**ADMIN, "If-Match": '"0"'})
        assert response.status_code == 422 and response.headers["content-type"] == "application/problem+json"
        assert field in [e["field"] for e in response.json()["errors"]], response.text

    response = await client.put(url, json=codes, headers={**ADMIN, "If-Match": '"0"'})
    assert response.status_code == 200, response.text
    whole = {**codes, **UNMAPPED}  # a PUT of the four role codes alone: the rest is the environment's
    assert response.json() == {**whole, "version": 1, "etag": '"1"'} and response.headers["etag"] == '"1"'
    again = await client.put(url, json=codes, headers={**ADMIN, "If-Match": '"0"'})
    assert again.status_code == 412, "a second admin who read version 0 does not overwrite version 1 unseen"
    read = await client.get(url, headers=FINANCE)
    assert read.json() == {**whole, "version": 1, "etag": '"1"'} and read.headers["etag"] == '"1"'
    [version] = (await client.get(f"{url}/history", headers=FINANCE)).json()
    assert (version["version"], version["etag"], version["updated_by"], version["account_codes"]) == (
        1, '"1"', "ops", whole)

    signed = _signed()
    await _deliver(client, handlers.on_contract_signed, signed)
    advance = (await _invoices(client, signed.contract_id))["advance"]
    lines = (await client.get("/api/v1/journal-lines", params={"from": str(TODAY), "to": str(TODAY)},
                              headers=ERP)).json()["lines"]
    assert [(line["account_code"], line["debit"], line["credit"]) for line in lines
            if line["document_id"] == advance["id"]] == [("1210", "300.00", "0.00"), ("4100", "0.00", "300.00")]


def _line(position: int, code: str, net: str, vat: dict) -> dict:
    return {"position": position, "code": code, "description": f"{code} line", "quantity": "1", "unit": "C62",
            "unit_price": _money(net), "net": _money(net), "vat": vat}


S19 = {"category": "S", "rate": "19"}
EXEMPT = {"category": "E", "rate": "0", "exemption_reason": "Exempt training, article 132"}


def _signed_with_lines(lines: list[dict], value: str) -> ContractSigned:
    """Billed whole on signing, each line with its agreed VAT (so the bill-to's country decides none)."""
    contract_id = uuid.uuid4()
    return ContractSigned.model_validate({
        "lineage": {"lead_id": str(uuid.uuid4()), "opportunity_id": str(uuid.uuid4()), "contract_id": str(contract_id)},
        "contract_id": str(contract_id), "account_id": str(uuid.uuid4()), "account_name": "ACME",
        "value": _money(value), "signed_on": "2026-11-20", "signatories": ["Li Wei"],
        "payment_schedule": [{"name": "on signing", "percent": "100", "amount": _money(value), "trigger": "signing",
                              "due_days": 30}],
        "milestones": [], "lines": lines})


async def _journal_of(client, document_id: str) -> list[tuple[str, str, str]]:
    response = await client.get("/api/v1/journal-lines", params={"from": str(TODAY), "to": str(TODAY)}, headers=ERP)
    assert response.status_code == 200, response.text
    return [(line["account_code"], line["debit"], line["credit"]) for line in response.json()["lines"]
            if line["document_id"] == document_id]


async def test_an_admins_revenue_and_tax_accounts_split_the_export_by_line_and_post_vat_by_rate(client):
    url = "/api/v1/config/account-codes"
    read = await client.get(url, headers=ADMIN)
    codes = {"receivable": "1210", "revenue": "4100", "cash": "1010", "unapplied_cash": "2160",
             "vat_payable": "2200", "tax_accounts": {"S:19.00": "2201", "S:7": "2202"},
             "revenue_by_product": {"LIC-CORE": "4110", "SVC-SUPPORT": "4110"},
             "revenue_by_category": {"E": "4130", "S": "4140"}}
    response = await client.put(url, json=codes, headers={**ADMIN, "If-Match": read.headers["etag"]})
    assert response.status_code == 200, response.text
    # The rate spelt as the journal keys it; the write-off account left out is the environment's.
    stored = {**codes, "tax_accounts": {"S:19": "2201", "S:7": "2202"}, "write_off": "6900"}
    assert {k: v for k, v in response.json().items() if k not in ("version", "etag")} == stored
    described = create_app(SPEC).openapi()["components"]["schemas"]["AccountCodesPayload"]["properties"]
    assert "S:19" in described["tax_accounts"]["description"]
    assert "before `revenue_by_category`" in described["revenue_by_product"]["description"]

    # A licence and its support (products mapped to one account), exempt training (category E), a
    # standard-rated spare part whose product is not mapped (category S): 19 % VAT on 1000 + 200 + 100.
    signed = _signed_with_lines([_line(1, "LIC-CORE", "1000.00", S19), _line(2, "TRAINING", "500.00", EXEMPT),
                                 _line(3, "SVC-SUPPORT", "200.00", S19), _line(4, "SPARE", "100.00", S19)],
                                "1800.00")
    await _deliver(client, handlers.on_contract_signed, signed)
    invoice = (await _invoices(client, signed.contract_id))["on signing"]
    assert (invoice["net"], invoice["tax"], invoice["amount"]) == (
        _money("1800.00"), _money("247.00"), _money("2047.00"))
    assert await _journal_of(client, invoice["id"]) == [
        ("1210", "2047.00", "0.00"),  # the receivable: the gross
        ("4110", "0.00", "1200.00"),  # lines 1 and 3, by product
        ("4130", "0.00", "500.00"),  # line 2, exempt, by category
        ("4140", "0.00", "100.00"),  # line 4, by category S
        ("2201", "0.00", "247.00"),  # the S:19 VAT
    ]


async def test_a_version_stored_with_only_the_four_role_codes_still_loads_and_posts(client):
    """Stored before VAT payable and the maps existed: read with the environment's for those."""
    url = "/api/v1/config/account-codes"
    latest = (await client.get(url, headers=ADMIN)).json()["version"]
    old = {"receivable": "1310", "revenue": "4300", "cash": "1030", "unapplied_cash": "2330"}
    async with runtime_of(client).engine.begin() as conn:
        await conn.execute(policy_versions.insert().values(name="account-codes", version=latest + 1, document=old,
                                                           set_by="ops-2025", set_at=datetime.now(UTC)))
    read = await client.get(url, headers=FINANCE)
    assert read.status_code == 200, read.text
    assert read.json() == {**old, **UNMAPPED, "version": latest + 1, "etag": f'"{latest + 1}"'}
    history = (await client.get(f"{url}/history", headers=ADMIN)).json()
    assert history[-1]["account_codes"] == {**old, **UNMAPPED} and history[-1]["updated_by"] == "ops-2025"

    signed = _signed_with_lines([_line(1, "LIC-CORE", "100.00", S19), _line(2, "TRAINING", "50.00", EXEMPT)],
                                "150.00")
    await _deliver(client, handlers.on_contract_signed, signed)
    invoice = (await _invoices(client, signed.contract_id))["on signing"]
    assert await _journal_of(client, invoice["id"]) == [
        ("1310", "169.00", "0.00"), ("4300", "0.00", "150.00"), ("2200", "0.00", "19.00")]

    # An admin's next version is based on it, as on any other.
    again = await client.put(url, json={**old, "vat_payable": "2390"},
                             headers={**ADMIN, "If-Match": read.headers["etag"]})
    assert again.status_code == 200, again.text
    assert again.json()["vat_payable"] == "2390" and again.json()["version"] == latest + 2


async def test_one_bank_payment_recorded_at_once_four_times_is_one_entry(client):
    """The recordings that lost the race wrote nothing: their audit entries went with their rollback."""
    signed = _signed()
    await _deliver(client, handlers.on_contract_signed, signed)
    body = {"bank_reference": f"BANK-{uuid.uuid4().hex[:10]}", "payer": "ACME", "amount": _money("100.00"),
            "value_date": TODAY.isoformat(), "contract_id": str(signed.contract_id)}
    answers = await asyncio.gather(*(client.post("/api/v1/payments", json=body, headers=FINANCE) for _ in range(4)))
    assert sorted(a.status_code for a in answers) == [200, 200, 200, 201]
    [payment_id] = {a.json()["id"] for a in answers}
    assert _steps(await _history(client, f"payments/{payment_id}")) == [("payment", "recorded", "clerk-1")]
    async with runtime_of(client).engine.connect() as conn:
        recorded = (await conn.execute(select(func.count()).select_from(audit_trail).where(
            audit_trail.c.action == "recorded", audit_trail.c.filed_under.contains([signed.contract_id])))).scalar()
    assert recorded == 1
