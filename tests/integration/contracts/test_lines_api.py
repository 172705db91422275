"""Issue 15 on a real database: what was sold reaches the contract line by line (from the won
opportunity's ATC terms or a direct draft), the lines travel with `contract.signed` and
`contract.amended`, bad lines are refused naming field and rule with nothing written, and an
amendment never takes a line below what finance has invoiced of it."""

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from ltc.contracts import handlers
from ltc.contracts.bootstrap import SPEC
from ltc.shared.errors import DomainError
from ltc.shared.messages.finance_events import InvoiceCredited, InvoiceIssued
from ltc.shared.messages.opportunities_events import OpportunityWon
from ltc.shared.testing.apps import auth, service_client
from tests.integration.contracts.test_contracts_api import (
    ADMIN,
    API,
    OWNER,
    SIGNING,
    TODAY,
    deliver,
    draft_body,
    etag_of,
    matching,
    published,
    reviewed,
    rule_of,
    won,
)

pytestmark = pytest.mark.integration

BOSS = auth("boss", "approver_l3")
APPROVER_L2 = auth("approver-l2", "approver_l2")


@pytest.fixture(scope="module")
async def client(make_database, kafka_bootstrap):
    url = await make_database("contracts_lines")
    with pytest.MonkeyPatch.context() as patch:
        started = datetime.now(UTC)
        patch.setattr(handlers, "clock", lambda: TODAY + (datetime.now(UTC) - started))
        async with service_client(SPEC, url, kafka_bootstrap) as client:
            yield client


def money(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "EUR"}


def line_payload(position: int, description: str, quantity: str, unit: str, price: str, net: str,
                 **extra: Any) -> dict[str, Any]:
    return {"position": position, "description": description, "quantity": quantity, "unit": unit,
            "unit_price": money(price), "net": money(net), **extra}


# 1,000,000.00 EUR as the won event's terms split it: 30 % on signing, 60 % on PAC, 10 % on FAC.
# Three lines in two VAT categories; the routers are delivered (and invoiced) with PAC, the
# training with FAC, whose instalments come to exactly their nets.
WON_LINES = [
    line_payload(1, "core router", "4", "C62", "150000.00", "600000.00", code="RT-400", supply="goods",
                 vat={"category": "S", "rate": "19"}, milestone="PAC"),
    line_payload(2, "support", "12", "MON", "25000.00", "300000.00", vat={"category": "S", "rate": "19"}),
    line_payload(3, "training", "1", "LS", "100000.00", "100000.00", milestone="FAC",
                 vat={"category": "E", "rate": "0", "exemption_reason": "Art. 132(1)(i) VAT Directive"}),
]
# The same sale without milestone lines: every line is spread over every instalment.
SPREAD_LINES = [{**line, "milestone": None} for line in WON_LINES]


def won_with(lines: list[dict[str, Any]], **kwargs: Any) -> OpportunityWon:
    event = won(**kwargs)
    data = event.model_dump(mode="json")
    data["terms"]["lines"] = lines
    return OpportunityWon.model_validate(data)


async def drafted(client, lines: list[dict[str, Any]]) -> dict[str, Any]:
    event = won_with(lines)
    await deliver(client, handlers.on_opportunity_won, event)
    [contract] = (await client.get(API, params={"opportunity_id": str(event.opportunity_id)},
                                   headers=ADMIN)).json()["items"]
    return contract


async def signed(client, lines: list[dict[str, Any]] = WON_LINES) -> dict[str, Any]:
    contract = await reviewed(client, await drafted(client, lines))
    response = await client.post(f"{API}/{contract['id']}/sign", json=SIGNING,
                                 headers=matching(OWNER, await etag_of(client, contract)))
    assert response.status_code == 200, response.text
    return response.json()


def sold(contract_lines: list[dict[str, Any]]) -> list[tuple]:
    return [(i["position"], i["description"], i["quantity"], i["unit"], i["net"]) for i in contract_lines]


# --- lines from the win, on the contract, on contract.signed ------------------------------------------


async def test_the_won_opportunitys_lines_become_the_contracts_and_travel_with_its_signing(client):
    contract = await drafted(client, WON_LINES)
    assert sold(contract["line_items"]) == [(1, "core router", "4", "C62", "600000.00"),
                                            (2, "support", "12", "MON", "300000.00"),
                                            (3, "training", "1", "LS", "100000.00")]
    router, _, training = contract["line_items"]
    assert (router["code"], router["supply"], router["vat"], router["milestone"], router["unit_price"],
            router["amount"], router["discount"]) == (
        "RT-400", "goods", {"category": "S", "rate": "19", "exemption_reason": None}, "PAC", "150000.00",
        "600000.00", None)
    assert training["vat"] == {"category": "E", "rate": "0", "exemption_reason": "Art. 132(1)(i) VAT Directive"}

    await reviewed(client, contract)
    signing = await client.post(f"{API}/{contract['id']}/sign", json=SIGNING,
                                headers=matching(OWNER, await etag_of(client, contract)))
    assert signing.status_code == 200, signing.text
    event_type, payload = (await published(client, contract["id"]))[-1]
    assert event_type == "ltc.contract.signed.v1"
    assert payload["lines"] == [{**line, "vat": {"exemption_reason": None, **line["vat"]},
                                 "code": line.get("code"), "discount": None, "supply": line.get("supply", "services"),
                                 "milestone": line.get("milestone")} for line in WON_LINES]
    [version] = (await client.get(f"{API}/{contract['id']}/versions", headers=OWNER)).json()
    assert version["terms"]["line_items"] == contract["line_items"]


async def test_a_won_event_from_before_lines_travelled_makes_a_contract_without_lines(client):
    event = won()
    assert event.terms.lines == []
    await deliver(client, handlers.on_opportunity_won, event)
    [contract] = (await client.get(API, params={"opportunity_id": str(event.opportunity_id)},
                                   headers=ADMIN)).json()["items"]
    assert contract["line_items"] == []


async def test_a_won_event_whose_lines_do_not_make_a_contract_is_refused_for_the_dead_letter_topic(client):
    event = won_with([{**WON_LINES[0], "unit": "PCS"}, *WON_LINES[1:]])
    with pytest.raises(DomainError) as refused:
        await deliver(client, handlers.on_opportunity_won, event)
    assert refused.value.rule == "commercial-terms-inconsistent"
    assert [e["field"] for e in refused.value.errors] == ["line_items.0.unit"]
    assert (await client.get(API, params={"opportunity_id": str(event.opportunity_id)},
                             headers=ADMIN)).json()["items"] == []


# --- a direct draft typed in with its lines ------------------------------------------------------------

# 80,000.00 EUR: 20 % on signing, 70 % on SAT, 10 % at the end of January (`draft_body`'s terms).
DIRECT_LINES = [
    {"code": "SW-48", "description": "switch", "quantity": "13", "unit_price": "1500.00", "discount": "1500.00",
     "supply": "goods", "vat": {"category": "S", "rate": "19"}},
    {"description": "training", "quantity": "3", "unit": "DAY", "unit_price": "2000.00",
     "vat": {"category": "E", "rate": "0", "exemption_reason": "Art. 132(1)(i) VAT Directive"}},
    {"position": 7, "description": "installation", "quantity": "56", "unit": "HUR", "unit_price": "1000.00",
     "milestone": "SAT"},
]


async def test_a_direct_draft_with_three_lines_in_two_vat_categories_and_a_milestone_line_is_signed_with_them(
        client):
    created = await client.post(API, json=draft_body(line_items=DIRECT_LINES), headers=OWNER)
    assert created.status_code == 201, created.text
    contract = created.json()
    assert sold(contract["line_items"]) == [(1, "switch", "13", "C62", "18000.00"),
                                            (2, "training", "3", "DAY", "6000.00"),
                                            (7, "installation", "56", "HUR", "56000.00")]
    switch, training, installation = contract["line_items"]
    assert (switch["amount"], switch["discount"], switch["net"], switch["supply"]) == (
        "19500.00", "1500.00", "18000.00", "goods")
    assert (training["supply"], training["vat"]["category"], installation["vat"], installation["milestone"]) == (
        "services", "E", None, "SAT")

    url = f"{API}/{contract['id']}"
    await reviewed(client, contract, ("commercial", "legal"))
    approved = await client.post(f"{url}/approval/decisions", json={"outcome": "approved"},
                                 headers=matching(APPROVER_L2, await etag_of(client, contract)))
    assert approved.status_code == 200, approved.text
    signing = await client.post(f"{url}/sign", json={**SIGNING, "signed_on": TODAY.date().isoformat()},
                                headers=matching(OWNER, approved.headers["ETag"]))
    assert signing.status_code == 200, signing.text
    event_type, payload = (await published(client, contract["id"]))[-1]
    assert event_type == "ltc.contract.signed.v1"
    assert [(i["position"], i["unit"], i["net"]["amount"], i["discount"], (i["vat"] or {}).get("category"),
             i["milestone"]) for i in payload["lines"]] == [
        (1, "C62", "18000.00", money("1500.00"), "S", None), (2, "DAY", "6000.00", None, "E", None),
        (7, "HUR", "56000.00", None, None, "SAT")]
    assert sum(Decimal(i["net"]["amount"]) for i in payload["lines"]) == Decimal(payload["value"]["amount"])


def _with(index: int, **changes: Any) -> list[dict[str, Any]]:
    return [{**line, **changes} if i == index else line for i, line in enumerate(DIRECT_LINES)]


# Each bad line: the field named and the rule (a validation error has none: FastAPI's 422).
BAD_LINES = [
    (_with(0, unit="PCS"), "commercial-terms-inconsistent", "line_items.0.unit"),
    (_with(0, unit="c62"), None, "line_items.0.unit"),
    (_with(1, unit_price="2000.005"), "commercial-terms-inconsistent", "line_items.1.unit_price"),
    (_with(0, discount="0.001"), "commercial-terms-inconsistent", "line_items.0.discount"),
    ([*DIRECT_LINES, {"description": "cable", "quantity": "0.5", "unit_price": "0.01"}],
     "commercial-terms-inconsistent", "line_items.3"),
    (_with(1, vat={"category": "E", "rate": "0"}), "commercial-terms-inconsistent", "line_items.1.vat.exemption_reason"),
    (_with(0, vat={"category": "S"}), "commercial-terms-inconsistent", "line_items.0.vat.rate"),
    (_with(0, vat={"category": "X", "rate": "19"}), None, "line_items.0.vat.category"),
    (_with(1, quantity="4"), "commercial-terms-inconsistent", "line_items"),  # 82,000.00, not 80,000.00
    (_with(2, milestone="FAT"), "commercial-terms-inconsistent", "line_items.2.milestone"),
    # 8,000.00 of the installation moved to the training: SAT's 56,000.00 no longer invoices its line
    ([DIRECT_LINES[0], {**DIRECT_LINES[1], "quantity": "7"}, {**DIRECT_LINES[2], "quantity": "48"}],
     "commercial-terms-inconsistent", "line_items"),
    (_with(2, position=1), "commercial-terms-inconsistent", "line_items.2.position"),
    (_with(0, supply="software"), None, "line_items.0.supply"),
    (_with(0, quantity="0"), None, "line_items.0.quantity"),
]


@pytest.mark.parametrize(("lines", "rule", "field"), BAD_LINES, ids=[field for _, _, field in BAD_LINES])
async def test_a_bad_line_of_a_draft_is_refused_naming_field_and_rule_and_nothing_is_drafted(client, lines, rule,
                                                                                            field):
    owner = f"ar-{uuid.uuid4().hex[:8]}"
    response = await client.post(API, json=draft_body(line_items=lines), headers=auth(owner, "ar"))
    assert response.status_code == 422, response.text
    assert response.json().get("rule") == rule
    assert field in [e["field"] for e in response.json()["errors"]]
    assert (await client.get(API, params={"owner": owner}, headers=ADMIN)).json()["items"] == []


@pytest.mark.parametrize(("lines", "rule", "field"), BAD_LINES[::3], ids=[field for _, _, field in BAD_LINES[::3]])
async def test_a_bad_line_of_an_edit_is_refused_and_the_draft_stays_as_it_was(client, lines, rule, field):
    contract = (await client.post(API, json=draft_body(line_items=DIRECT_LINES), headers=OWNER)).json()
    url = f"{API}/{contract['id']}"
    response = await client.patch(url, json={"line_items": lines}, headers=matching(OWNER, contract["etag"]))
    assert response.status_code == 422, response.text
    assert (response.json().get("rule"), field in [e["field"] for e in response.json()["errors"]]) == (rule, True)
    after = (await client.get(url, headers=OWNER)).json()
    assert (after["etag"], after["contract_version"], after["line_items"]) == (
        contract["etag"], 1, contract["line_items"])


# --- amendments carry the whole new set -------------------------------------------------------------


async def amend(client, contract: dict[str, Any], body: dict[str, Any]):
    return await client.post(f"{API}/{contract['id']}/amendments", json=body,
                             headers=matching(OWNER, await etag_of(client, contract)))


async def approve(client, contract: dict[str, Any], amendment: dict[str, Any]):
    url = f"{API}/{contract['id']}/amendments/{amendment['amendment_id']}"
    etag = (await client.get(url, headers=ADMIN)).headers["ETag"]
    return await client.post(f"{url}/decisions", json={"outcome": "approved"}, headers=matching(BOSS, etag))


def _write(line: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A line of the event as the API writes it: prices in the contract's currency, no net."""
    written = {k: v for k, v in line.items() if k not in ("net",) and v is not None}
    return {**written, "unit_price": line["unit_price"]["amount"], **changes}


async def test_an_amendment_repricing_adding_and_removing_lines_is_announced_with_the_new_set(client):
    contract = await signed(client)
    router, support, _ = WON_LINES
    new_lines = [_write(router), _write(support, unit_price="20000.00"),  # repriced; the training removed
                 {"position": 4, "description": "spare parts", "quantity": "2", "unit_price": "30000.00",
                  "supply": "goods"},
                 {"position": 5, "description": "acceptance tests", "quantity": "1", "unit": "LS",
                  "unit_price": "100000.00", "milestone": "FAC"}]
    requested = await amend(client, contract, {"reason": "cheaper support, spares instead of training",
                                               "line_items": new_lines})
    assert requested.status_code == 201, requested.text
    assert requested.json()["kinds"] == ["scope"]
    assert sold(requested.json()["proposed"]["line_items"]) == [
        (1, "core router", "4", "C62", "600000.00"), (2, "support", "12", "MON", "240000.00"),
        (4, "spare parts", "2", "C62", "60000.00"), (5, "acceptance tests", "1", "LS", "100000.00")]
    assert (await client.get(f"{API}/{contract['id']}", headers=OWNER)).json()["line_items"] == contract["line_items"]

    approved = await approve(client, contract, requested.json())
    assert approved.status_code == 200, approved.text
    current = (await client.get(f"{API}/{contract['id']}", headers=OWNER)).json()
    assert current["line_items"] == requested.json()["proposed"]["line_items"]
    event_type, payload = (await published(client, contract["id"]))[-1]
    assert event_type == "ltc.contract.amended.v1"
    assert [(i["position"], i["net"]["amount"], i["milestone"]) for i in payload["lines"]] == [
        (1, "600000.00", "PAC"), (2, "240000.00", None), (4, "60000.00", None), (5, "100000.00", "FAC")]
    versions = (await client.get(f"{API}/{contract['id']}/versions", headers=OWNER)).json()
    assert [sold(v["terms"]["line_items"]) for v in versions] == [sold(contract["line_items"]),
                                                                  sold(current["line_items"])]


@pytest.mark.parametrize(("lines", "rule", "field"), BAD_LINES[1::3], ids=[field for _, _, field in BAD_LINES[1::3]])
async def test_a_bad_line_of_an_amendment_is_refused_and_nothing_is_requested(client, lines, rule, field):
    contract = (await client.post(API, json=draft_body(), headers=OWNER)).json()
    url = f"{API}/{contract['id']}"
    await reviewed(client, contract, ("commercial", "legal"))
    approved = await client.post(f"{url}/approval/decisions", json={"outcome": "approved"},
                                 headers=matching(APPROVER_L2, await etag_of(client, contract)))
    signing = await client.post(f"{url}/sign", json={**SIGNING, "signed_on": TODAY.date().isoformat()},
                                headers=matching(OWNER, approved.headers["ETag"]))
    assert signing.status_code == 200, signing.text
    response = await amend(client, contract, {"reason": "new lines", "line_items": lines})
    assert response.status_code == 422, response.text
    assert (response.json().get("rule"), field in [e["field"] for e in response.json()["errors"]]) == (rule, True)
    assert (await client.get(f"{url}/amendments", headers=OWNER)).json() == []
    assert await etag_of(client, contract) == signing.headers["ETag"]


# --- what is invoiced is the floor of each line ----------------------------------------------------


def invoice_line(position: int, quantity: str, net: str) -> dict[str, Any]:
    return {"position": position, "description": "invoiced", "quantity": quantity, "unit": "C62",
            "unit_price": money("150000.00"), "net": money(net), "vat": {"category": "S", "rate": "19"}}


def issued(contract: dict[str, Any], lines: list[dict[str, Any]], number: str = "INV-2027-000001") -> InvoiceIssued:
    return InvoiceIssued.model_validate({
        "lineage": {"contract_id": contract["id"]}, "invoice_id": str(uuid.uuid4()), "invoice_number": number,
        "contract_id": contract["id"], "account_id": contract["account_id"], "instalment": "advance",
        "amount": money("1.00"), "issue_date": "2027-10-01", "due_date": "2027-10-31", "lines": lines})


def credited(contract: dict[str, Any], lines: list[dict[str, Any]]) -> InvoiceCredited:
    return InvoiceCredited.model_validate({
        "lineage": {"contract_id": contract["id"]}, "credit_note_id": str(uuid.uuid4()),
        "credit_note_number": "CN-2027-000001", "invoice_id": str(uuid.uuid4()), "invoice_number": "INV-2027-000001",
        "contract_id": contract["id"], "account_id": contract["account_id"], "amount": money("1.00"),
        "reason": "a router returned", "issue_date": "2027-10-02", "invoice_open_amount": money("0.00"),
        "lines": lines})


def routers(quantity: str, spares: str) -> list[dict[str, Any]]:
    """The spread lines with `quantity` routers, spare parts making up the rest of the value."""
    router, support, training = (_write(line) for line in SPREAD_LINES)
    return [{**router, "quantity": quantity}, support, training,
            {"position": 4, "description": "spare parts", "quantity": "1", "unit_price": spares, "supply": "goods"}]


async def test_an_amendment_below_what_is_invoiced_is_refused_naming_the_line_and_what_is_invoiced(client):
    contract = await signed(client, SPREAD_LINES)
    bill = issued(contract, [invoice_line(1, "2", "300000.00"), invoice_line(2, "3", "75000.00")])
    await deliver(client, handlers.on_invoice_issued, bill)
    await deliver(client, handlers.on_invoice_issued, bill)  # the same invoice again, in another envelope

    fewer = await amend(client, contract, {"reason": "one router only", "line_items": routers("1", "450000.00")})
    assert (fewer.status_code, rule_of(fewer)) == (422, "line-below-invoiced")
    errors = fewer.json()["errors"]
    assert [(e["field"], e["position"], e["invoiced_quantity"], e["invoiced_net"]) for e in errors] == [
        ("line_items.0.quantity", "1", "2", "300000.00"), ("line_items.0", "1", "2", "300000.00")]
    assert "line 1 is invoiced (2 C62 for 300000.00 EUR net)" in errors[0]["message"]
    without_support = [line for line in routers("4", "300000.00") if line["position"] != 2]
    removed = await amend(client, contract, {"reason": "no support", "line_items": without_support})
    assert (removed.status_code, rule_of(removed)) == (422, "line-below-invoiced")
    assert [(e["field"], e["position"], e["invoiced_quantity"]) for e in removed.json()["errors"]] == [
        ("line_items", "2", "3")]
    assert (await client.get(f"{API}/{contract['id']}/amendments", headers=OWNER)).json() == []

    # A credit note corrects an invoice; it does not un-bill the line: finance bills each instalment
    # once, so what it billed of a line stays the floor.
    await deliver(client, handlers.on_invoice_credited, credited(contract, [invoice_line(1, "1", "150000.00")]))
    still = await amend(client, contract, {"reason": "one router only", "line_items": routers("1", "450000.00")})
    assert (still.status_code, rule_of(still)) == (422, "line-below-invoiced")
    at_invoiced = await amend(client, contract, {"reason": "two routers", "line_items": routers("2", "300000.00")})
    assert at_invoiced.status_code == 201, at_invoiced.text  # exactly what is invoiced: allowed

    await deliver(client, handlers.on_invoice_issued, issued(contract, [invoice_line(1, "1", "150000.00")],
                                                             number="INV-2027-000002"))
    approval = await approve(client, contract, at_invoiced.json())
    assert (approval.status_code, rule_of(approval)) == (422, "line-below-invoiced")
    assert [(e["field"], e["invoiced_quantity"], e["invoiced_net"]) for e in approval.json()["errors"]] == [
        ("line_items.0.quantity", "3", "450000.00"), ("line_items.0", "3", "450000.00")]
    amendment = (await client.get(f"{API}/{contract['id']}/amendments/{at_invoiced.json()['amendment_id']}",
                                  headers=OWNER)).json()
    current = (await client.get(f"{API}/{contract['id']}", headers=OWNER)).json()
    assert (amendment["status"], current["contract_version"], current["line_items"][0]["quantity"]) == (
        "pending", 1, "4")


async def test_the_service_consumes_invoices_and_credit_notes():
    assert {InvoiceIssued.ce_type(), InvoiceCredited.ce_type()} <= set(SPEC.subscription.handlers)
