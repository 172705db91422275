"""One lead carried to cash across the four services, through REST and Kafka only."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from ltc.finance.adapters.einvoice import check_cii
from ltc.shared.auth import mint_token
from ltc.shared.ops.cli import journey
from ltc.shared.testing import deal
from ltc.shared.testing.apps import auth
from ltc.shared.testing.bank import camt053, camt_entry
from ltc.shared.testing.deal import VALUE
from tests.e2e.support import eventually

pytestmark = pytest.mark.e2e

AR = auth("ar-e2e", "ar")
FR = auth("fr-e2e", "fr")
FINANCE = auth("fin-e2e", "finance")
BANK = auth("bank-connector-e2e", "integration")
# Dates of what happened (evidence, signing, acceptance, payment) may not lie in the future;
# planned ones (start, milestones) lie ahead. All relative to the day the test runs.
TODAY = datetime.now(UTC).date()
EVIDENCE = [{"criterion": c, "source": "executive workshop", "who": "CTO Li",
             "when": (TODAY - timedelta(days=30)).isoformat()}
            for c in ("customer_identified", "purchase_intent", "matching_solution")]




def ok(response: httpx.Response, status: int = 200) -> dict:
    assert response.status_code == status, f"{response.request.method} {response.request.url}: {response.text}"
    return response.json()


async def test_a_lead_goes_all_the_way_to_cash(system, http, monkeypatch):
    leads, opps, contracts, finance = (system[s] + "/api/v1" for s in ("leads", "opportunities", "contracts", "finance"))

    async def change(url: str, method: str, path: str, body: dict | None, headers: dict, status: int = 200,
                     reader: dict = AR) -> dict:
        """A change to the object at `url`, based on its version as just read (If-Match its ETag)."""
        current = await http.get(url, headers=reader)
        return ok(await http.request(method, url + path, json=body,
                                     headers={**headers, "If-Match": ok(current)["etag"]}), status)

    # 1. Leads: account, lead, two grades, conversion.
    account = ok(await http.post(f"{leads}/accounts", json=deal.account("ACME Telecom"), headers=AR), 201)
    lead = ok(await http.post(f"{leads}/leads", headers=AR, json={
        "account_id": account["id"], "title": "5G core", "need": "capacity for 5G", "channel": "executive_visit",
        "tier": "strategic"}), 201)
    lead_url = f"{leads}/leads/{lead['id']}"
    await change(lead_url, "POST", "/grade", {"to": "credible", "evidence": EVIDENCE}, AR)
    await change(lead_url, "POST", "/grade", {
        "to": "opportunity", "budget": {"amount": "1200000.00", "currency": "EUR"},
        "start_date": (TODAY + timedelta(days=45)).isoformat()}, AR)
    await change(lead_url, "POST", "/convert", None, AR)

    # 2. Opportunities: exactly one opportunity for the lead; the iron triangle prepares the bid,
    # the tier its value calls for approves it (ATB) and then the terms (ATC); won on those terms.
    page = await eventually(lambda: http.get(f"{opps}/opportunities?lead_id={lead['id']}", headers=AR),
                            lambda r: r.status_code == 200 and len(r.json()["items"]) == 1)
    opportunity = page.json()["items"][0]
    assert opportunity["budget"] == {"amount": "1200000.00", "currency": "EUR"}
    sr, approver_l1, approver_l2 = (auth("sr-e2e", "sr"), auth("approver-l1-e2e", "approver_l1"),
                                    auth("approver-l2-e2e", "approver_l2"))
    opportunity_url = f"{opps}/opportunities/{opportunity['id']}"

    async def on_opportunity(method: str, path: str, body: dict, headers: dict = AR, status: int = 200) -> dict:
        return await change(opportunity_url, method, path, body, headers, status)

    await on_opportunity("PUT", "/team", {"sr": "sr-e2e", "fr": "fr-e2e"})
    await on_opportunity("PUT", "/insight", deal.INSIGHT)
    await on_opportunity("PUT", "/value-proposition", deal.VALUE_PROPOSITION, headers=sr)
    for stakeholder in deal.STAKEHOLDERS:
        await on_opportunity("POST", "/stakeholders", stakeholder, status=201)
    atb = await on_opportunity("POST", "/gates", {"gate": "ATB"}, status=201)
    assert atb["tier"] == "L2"  # the 1.2 M EUR budget
    await on_opportunity("POST", "/decisions", {"gate": "ATB", "outcome": "approved"}, headers=approver_l2, status=201)
    for stage in ("strategizing", "bidding"):
        await on_opportunity("POST", "/stage", {"to": stage})
    await on_opportunity("PATCH", "/terms", deal.TERMS, headers=sr)
    await on_opportunity("PATCH", "/terms", deal.milestones(TODAY), headers=FR)
    await on_opportunity("POST", "/stage", {"to": "negotiating"})
    atc = await on_opportunity("POST", "/gates", {"gate": "ATC"}, status=201)
    assert atc["tier"] == "L1"  # the agreed value is below 1 M EUR
    await on_opportunity("POST", "/decisions", {"gate": "ATC", "outcome": "approved"}, headers=approver_l1, status=201)
    won = await on_opportunity("POST", "/win", {})
    assert won["stage"] == "won" and won["terms"]["value"] == {"amount": VALUE, "currency": "EUR"}

    # 3. Contracts: one draft for the opportunity; reviewed by every function its value tier
    # requires; signed; both milestones accepted.
    page = await eventually(lambda: http.get(f"{contracts}/contracts?opportunity_id={opportunity['id']}", headers=AR),
                            lambda r: r.status_code == 200 and len(r.json()["items"]) == 1)
    contract = page.json()["items"][0]
    assert contract["status"] == "draft"
    assert contract["review"]["status"] == "pending" and contract["review"]["required"]
    checklist = ok(await http.get(f"{contracts}/contracts/{contract['id']}/reviews", headers=AR))["checklist"]
    contract_url = f"{contracts}/contracts/{contract['id']}"
    for function in contract["review"]["required"]:
        await change(contract_url, "POST", "/reviews", {
            "function": function, "items": [{"item": item, "verdict": "pass"} for item in checklist[function]]},
            auth(f"{function}-e2e", f"reviewer_{function}"))
    assert ok(await http.get(f"{contracts}/contracts/{contract['id']}", headers=AR))["review"]["status"] == "passed"
    await change(contract_url, "POST", "/sign",
                 {"signatories": ["Li Wei (ACME)", "Zhang San (us)"], "signed_on": TODAY.isoformat()}, AR)
    contract = ok(await http.get(f"{contracts}/contracts/{contract['id']}", headers=AR))
    milestones = {m["name"]: m for m in contract["milestones"]}

    invoices_url = f"{finance}/invoices?contract_id={contract['id']}"
    advance = await eventually(lambda: http.get(invoices_url, headers=FINANCE),
                               lambda r: r.status_code == 200 and len(r.json()["items"]) == 1)
    assert advance.json()["items"][0]["amount"] == {"amount": "299999.99", "currency": "EUR"}

    for name, certificate in (("PAC", "PAC-2027-017"), ("FAC", "FAC-2027-101")):
        await change(contract_url, "POST", f"/milestones/{milestones[name]['milestone_id']}/accept",
                     {"accepted_on": TODAY.isoformat(), "certificate_ref": certificate}, FR)

    # 4. Finance: three invoices that add up to the contract value exactly.
    invoices = (await eventually(lambda: http.get(invoices_url, headers=FINANCE),
                                 lambda r: r.status_code == 200 and len(r.json()["items"]) == 3)).json()["items"]
    amounts = {i["instalment"]: Decimal(i["amount"]["amount"]) for i in invoices}
    assert amounts == {"advance": Decimal("299999.99"), "preliminary acceptance": Decimal("599999.99"),
                       "final acceptance": Decimal("100000.01")}
    assert sum(amounts.values()) == Decimal(VALUE)
    by_name = {i["instalment"]: i for i in invoices}
    # The lines agreed at ATC reach every invoice: over the three, each line billed at its net, the
    # French operator's goods as intra-community supplies (K), its services reverse-charged (AE).
    agreed = {line["position"]: line for line in won["terms"]["lines"]}
    for position, line in agreed.items():
        billed = [x for i in invoices for x in i["lines"] if x["position"] == position]
        assert sum(Decimal(x["net"]["amount"]) for x in billed) == Decimal(line["net"]["amount"])
        assert sum(Decimal(x["quantity"]) for x in billed) == Decimal(line["quantity"])
        assert {x["vat"]["category"] for x in billed} == {"K" if line["supply"] == "goods" else "AE"}
    for invoice in invoices:
        print(invoice["number"], invoice["instalment"], invoice["net"], invoice["tax"], invoice["amount"],
              [(x["position"], x["quantity"], x["net"]["amount"], x["vat"]["category"]) for x in invoice["lines"]])
        assert invoice["bill_to"]["tax_id"] == deal.BILLING["tax_id"] and invoice["tax"]["amount"] == "0.00"
        document = await http.get(f"{finance}/invoices/{invoice['id']}/einvoice", headers=FINANCE)
        assert document.status_code == 200 and check_cii(document.content).failures == (), document.text

    # Payments: one in full, one in two parts, one recorded twice by the bank import.
    ok(await http.post(f"{finance}/payments", headers=FINANCE, json={
        "bank_reference": "BNK-1", "payer": "ACME Telecom", "amount": {"amount": "299999.99", "currency": "EUR"},
        "value_date": TODAY.isoformat(), "invoice_id": by_name["advance"]["id"]}), 201)
    ok(await http.post(f"{finance}/payments", headers=FINANCE, json={
        "bank_reference": "BNK-2", "payer": "ACME Telecom", "amount": {"amount": "500000.00", "currency": "EUR"},
        "value_date": TODAY.isoformat(), "invoice_id": by_name["preliminary acceptance"]["id"]}), 201)
    partial = ok(await http.get(f"{finance}/invoices/{by_name['preliminary acceptance']['id']}", headers=FINANCE))
    assert partial["status"] == "partially_paid"
    again = await http.post(f"{finance}/payments", headers=FINANCE, json={
        "bank_reference": "BNK-1", "payer": "ACME Telecom", "amount": {"amount": "299999.99", "currency": "EUR"},
        "value_date": TODAY.isoformat(), "invoice_id": by_name["advance"]["id"]})
    assert again.status_code == 200  # a known bank reference: the first payment, never counted twice

    # Typed in by hand, the advance is covered but "in payment" until the bank shows the cash.
    covered = ok(await http.get(f"{finance}/invoices/{by_name['advance']['id']}", headers=FINANCE))
    assert covered["status"] == "in_payment" and covered["unconfirmed_amount"]["amount"] == "299999.99"

    # The bank's statement: the two transfers typed in (confirmed by their references), one that
    # quotes the final invoice's creditor reference, one the preliminary's number in its free
    # text, and one nobody can name.
    final, preliminary = by_name["final acceptance"], by_name["preliminary acceptance"]
    on = TODAY.isoformat()
    statement_file = camt053(
        f"STMT-{lead['id'][:8]}",
        camt_entry("BNK-1", "299999.99", name="ACME Telecom", on=on),
        camt_entry("BNK-2", "500000.00", name="ACME Telecom", on=on),
        camt_entry("BNK-STMT-1", "99999.99", text=f"Rest of {preliminary['number']}", name="ACME Telecom", on=on),
        camt_entry("BNK-STMT-2", "100000.01", structured=final["payment_reference"], name="ACME Telecom", on=on),
        camt_entry("BNK-STMT-3", "250.00", text="unknown sender", name="Someone", on=on))
    print("before the statement:", {i["number"]: i["status"] for i in ok(await http.get(invoices_url,
                                                                                   headers=FINANCE))["items"]})
    imported = await http.post(f"{finance}/bank-statements", content=statement_file,
                               headers={**BANK, "Content-Type": "application/xml"})
    assert imported.status_code == 201, imported.text
    [statement] = imported.json()["statements"]
    print(json.dumps({k: statement[k] for k in ("statement_id", "matched", "suspense", "to_review")}),
          [(t["reference"], t["amount"]["amount"], t["status"], t["rule"], t["confidence"])
           for t in statement["transactions"]])
    assert [(t["status"], t["rule"], t["invoice_id"]) for t in statement["transactions"]] == [
        ("matched", "expected-payment", by_name["advance"]["id"]),
        ("matched", "expected-payment", preliminary["id"]), ("matched", "invoice-number", preliminary["id"]),
        ("matched", "creditor-reference", final["id"]), ("suspense", None, None)]
    reimported = await http.post(f"{finance}/bank-statements", content=statement_file,
                                 headers={**BANK, "Content-Type": "application/xml"})
    assert reimported.status_code == 200 and reimported.json()["statements"] == [statement]

    # 5. The loop closes: every invoice paid, the contract closed, the lead knows its cash came in.
    final_invoices = ok(await http.get(invoices_url, headers=FINANCE))["items"]
    print("after the statement:", {i["number"]: i["status"] for i in final_invoices})
    assert {i["status"] for i in final_invoices} == {"paid"}
    payment = ok(await http.get(f"{finance}/payments/{statement['transactions'][3]['payment_id']}",
                                headers=FINANCE))
    assert payment["unapplied"]["amount"] == "0.00" and payment["bank_reference"] == "BNK-STMT-2"
    closed = await eventually(lambda: http.get(f"{contracts}/contracts/{contract['id']}", headers=AR),
                              lambda r: r.status_code == 200 and r.json()["status"] == "closed")
    assert closed.json()["status"] == "closed"
    outcome = await eventually(lambda: http.get(f"{leads}/leads/{lead['id']}", headers=AR),
                               lambda r: r.status_code == 200 and r.json()["outcome"] == "cash_collected")
    final_lead = outcome.json()
    assert final_lead["opportunity_id"] == opportunity["id"] and final_lead["contract_id"] == contract["id"]
    assert final_lead["won_at"] is not None and final_lead["cash_collected_on"] == TODAY.isoformat()

    # The ERP journal of the deal balances, entry by entry, and posts each invoice's gross.
    journal = ok(await http.get(f"{finance}/journal-lines", headers=FINANCE, params={
        "from": TODAY.isoformat(), "to": TODAY.isoformat()}))
    deal_documents = {i["id"] for i in invoices}
    for reference in ("BNK-1", "BNK-2", "BNK-STMT-1", "BNK-STMT-2"):
        found = ok(await http.get(f"{finance}/payments", headers=FINANCE, params={"bank_reference": reference}))
        deal_documents |= {p["id"] for p in found["items"]}
    deal_lines = [line for line in journal["lines"] if line["document_id"] in deal_documents]
    entries: dict[str, Decimal] = {}
    for line in deal_lines:
        entries[line["entry_id"]] = entries.get(line["entry_id"], Decimal(0)) + Decimal(line["debit"]) - Decimal(
            line["credit"])
    assert entries and set(entries.values()) == {Decimal(0)}, entries
    assert {e.split(":")[0] for e in entries} >= {"invoice", "payment"}

    # 6. The operator's view of the same flow, read through the public APIs (`ltc journey`).
    for name, url in system.items():
        monkeypatch.setenv(f"LTC_{name.upper()}_URL", url)
    path = await journey(lead["id"], mint_token("ops-e2e", ["admin"]))
    print(json.dumps(path, indent=2))
    assert path["lead"]["outcome"] == "cash_collected"
    (trip,) = path["opportunities"]
    assert trip["stage"] == "won" and {(d["gate"], d["outcome"]) for d in trip["decisions"]} >= {
        ("ATB", "approved"), ("ATC", "approved")}
    (signed,) = trip["contracts"]
    assert signed["status"] == "closed" and {m["status"] for m in signed["milestones"]} == {"accepted"}
    assert sorted(Decimal(i["amount"]["amount"]) for i in signed["invoices"]) == sorted(amounts.values())
    assert {p["bank_reference"] for p in signed["payments"]} == {"BNK-1", "BNK-2", "BNK-STMT-1", "BNK-STMT-2"}


async def test_every_service_is_ready_and_answers_problems(system, http):
    for name, url in system.items():
        ready = await http.get(f"{url}/readyz")
        assert ready.status_code == 200, f"{name}: {ready.text}"
        # Without a token leads answers 401; elsewhere an unknown path is a 404: both as problems.
        response = await http.get(f"{url}/api/v1/{'leads' if name == 'leads' else 'nothing'}")
        assert response.headers["content-type"] == "application/problem+json"
        expected = (401, "missing-token") if name == "leads" else (404, "not-found")
        assert (response.status_code, response.json()["type"].rsplit("/", 1)[1]) == expected, name
