"""One lead carried to cash as a careful client does it: the thin flow's steps, each safe to retry.

The client retries what a lost answer or an unavailable server leaves open (connection errors,
timeouts, 502/503/504) with back-off until a deadline. Every POST carries an `Idempotency-Key`
that is stable per flow and step, so a retry after an answer that never arrived cannot act twice;
every change to an existing object sends `If-Match` with the ETag of the last answer about it and
reads it again on a 412. What a server should never answer (a 500, a 409 over its own data) is retried as well, so the
flow can still finish, but recorded in `FlowResult.anomalies` for the caller to assert on.

Dates that record something that happened (evidence, signing, acceptance, payment) are `today`
or earlier; planned dates lie ahead of it.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import httpx

from ltc.shared.testing import deal
from ltc.shared.testing.apps import auth
from ltc.shared.testing.bank import camt053, camt_entry
from ltc.shared.testing.deal import INSTALMENTS, VALUE

__all__ = ["INSTALMENTS", "STEPS", "VALUE", "FlowError", "FlowResult", "get_json", "run_flow"]

# The steps a flow reports to `on_step`, in order: a fault schedule can spread kills over them.
STEPS = ("account", "lead", "credible", "opportunity-grade", "converted", "opportunity", "team", "insight",
         "value-proposition", "stakeholders", "atb", "atb-approved", "strategizing", "bidding", "terms",
         "milestones", "negotiating", "atc", "atc-approved", "won", "contract", "reviewed", "signed", "pac",
         "fac", "invoices", "paid", "closed", "cash")
RETRY_STATUSES = {502, 503, 504}
# Answers a careful client retries that a healthy server should not give at all.
ANOMALY_STATUSES = {500}


class FlowError(AssertionError):
    """The flow cannot go on: an answer no retry can change, or a deadline passed."""


@dataclass
class FlowResult:
    n: int
    tag: str
    today: date
    lead_id: str = ""
    opportunity_id: str = ""
    contract_id: str = ""
    invoices: dict[str, dict] = field(default_factory=dict)  # by instalment name
    payments: list[dict] = field(default_factory=list)
    lead: dict = field(default_factory=dict)  # as last read, cash collected
    contract: dict = field(default_factory=dict)  # as last read, closed
    retries: int = 0  # requests sent again after a failure
    anomalies: list[str] = field(default_factory=list)  # 500s and other answers that should not happen
    elapsed_s: float = 0.0


@dataclass
class _Client:
    http: httpx.AsyncClient
    result: FlowResult
    call_timeout: float
    deadline: float  # monotonic: the flow as a whole

    async def send(self, method: str, url: str, *, headers: dict[str, str], expect: tuple[int, ...] = (200,),
                   json: Any = None, retry_on: tuple[int, ...] = (), content: bytes | None = None) -> httpx.Response:
        """The answer with an expected status (or one of `retry_on`, for the caller to handle).

        Retries the transient failures with back-off (0.2 s doubling to 2 s) for up to
        `call_timeout` seconds, never past the flow's deadline.
        """
        stop = min(self.deadline, time.monotonic() + self.call_timeout)
        backoff = 0.2
        last = "no answer yet"
        while True:
            try:
                response = await self.http.request(method, url, headers=headers, json=json, content=content)
            except httpx.TransportError as exc:  # refused, reset, timed out: the outcome is unknown
                last = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code in expect or response.status_code in retry_on:
                    return response
                last = f"{response.status_code} {response.text[:500]}"
                problem = _problem_type(response)
                if response.status_code in ANOMALY_STATUSES or (
                        response.status_code == 409 and problem == "constraint-violation"):
                    self.result.anomalies.append(f"{method} {url}: {last}")
                elif response.status_code not in RETRY_STATUSES and not (
                        response.status_code == 409 and problem == "concurrent-modification"):
                    raise FlowError(f"flow {self.result.n}: {method} {url}: {last}")
            if time.monotonic() + backoff > stop:
                raise FlowError(f"flow {self.result.n}: {method} {url} did not succeed within "
                                f"{self.call_timeout:g} s (or the flow's deadline); last: {last}")
            self.result.retries += 1
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 2.0)

    async def ok(self, method: str, url: str, *, headers: dict[str, str], expect: tuple[int, ...] = (200,),
                 json: Any = None, content: bytes | None = None) -> dict:
        return (await self.send(method, url, headers=headers, expect=expect, json=json, content=content)).json()

    async def eventually(self, url: str, headers: dict[str, str], check: Callable[[dict], bool],
                         what: str, timeout: float) -> dict:
        """GET `url` until `check(body)` holds: hand-overs are asynchronous."""
        stop = min(self.deadline, time.monotonic() + timeout)
        while True:
            body = await self.ok("GET", url, headers=headers)
            if check(body):
                return body
            if time.monotonic() > stop:
                raise FlowError(f"flow {self.result.n}: {what} not seen within {timeout:g} s; last: {body}")
            await asyncio.sleep(0.25)


async def get_json(http: httpx.AsyncClient, url: str, headers: dict[str, str], timeout: float = 30.0) -> Any:
    """GET as the flows do it: a 503 (say, the first use of a pooled connection that a database
    restart broke) or a refused connection is tried again."""
    client = _Client(http, FlowResult(n=-1, tag="get", today=date.today()), timeout, time.monotonic() + timeout)
    return await client.ok("GET", url, headers=headers)


def _problem_type(response: httpx.Response) -> str:
    try:
        return str(response.json().get("type", "")).rsplit("/", 1)[-1]
    except ValueError:
        return ""


async def run_flow(http: httpx.AsyncClient, urls: dict[str, str], *, n: int, today: date, tag: str | None = None,
                   on_step: Callable[[int, str], None] | None = None, timeout: float = 240.0,
                   call_timeout: float = 90.0, handover_timeout: float = 90.0) -> FlowResult:
    """Carry one lead from capture to cash; `urls` are the services' base URLs.

    Each flow acts as its own users (AR, SR, FR, approvers, reviewers, finance clerk), so flows
    never share an account or an idempotency key space. Fails with `FlowError` if a step is
    refused or `timeout` seconds pass.
    """
    tag = tag or f"{uuid.uuid4().hex[:8]}-{n}"
    result = FlowResult(n=n, tag=tag, today=today)
    client = _Client(http, result, call_timeout, time.monotonic() + timeout)
    started = time.monotonic()
    leads, opps, contracts, finance = (urls[s] + "/api/v1" for s in ("leads", "opportunities", "contracts", "finance"))
    users = {role: f"{role.replace('_', '-')}-{tag}" for role in (
        "ar", "sr", "fr", "finance", "approver_l1", "approver_l2", "approver_l3")}
    ar, sr, fr, clerk = (auth(users[r], r) for r in ("ar", "sr", "fr", "finance"))

    def keyed(headers: dict[str, str], step: str) -> dict[str, str]:
        return {**headers, "Idempotency-Key": f"{tag}:{step}"}

    def step(name: str) -> None:
        if on_step is not None:
            on_step(n, name)

    etags: dict[str, str] = {}  # each object's ETag as the last answer about it gave it, by its URL

    async def change(url: str, method: str, path: str, body: Any, headers: dict[str, str], *,
                     expect: int = 200, key: str | None = None, reader: dict[str, str] | None = None) -> dict:
        """A change to the object at `url` with If-Match: the ETag of the last answer about it, read
        again after a 412. A keyed retry whose first run succeeded answers that first run."""
        for _ in range(20):
            if url not in etags:
                etags[url] = (await client.send("GET", url, headers=reader or headers)).headers["ETag"]
            sent = {**headers, "If-Match": etags.pop(url)}
            response = await client.send(method, url + path, headers=keyed(sent, key) if key else sent,
                                         expect=(expect,), json=body, retry_on=(412,))
            if response.status_code == 412:
                # Stale: another writer (or this very change, whose answer was lost) came first.
                # PUT and PATCH set state, keyed POSTs answer their first outcome: resending is safe.
                result.retries += 1
                continue
            if "ETag" in response.headers:
                etags[url] = response.headers["ETag"]
            return response.json()
        raise FlowError(f"flow {n}: {method} {url + path}: still 412 after 20 fresh reads")

    # 1. Leads: account, lead, two grades, conversion.
    account = await client.ok("POST", f"{leads}/accounts", headers=keyed(ar, "account"), expect=(201,),
                              json=deal.account(f"Fault Telecom {tag}"))
    step("account")
    lead = await client.ok("POST", f"{leads}/leads", headers=keyed(ar, "lead"), expect=(201,), json={
        "account_id": account["id"], "title": "5G core", "need": "capacity for 5G", "channel": "executive_visit",
        "tier": "strategic"})
    result.lead_id = lead_id = lead["id"]
    lead_url = f"{leads}/leads/{lead_id}"
    etags[lead_url] = lead["etag"]
    step("lead")
    evidence = [{"criterion": c, "source": "executive workshop", "who": "CTO Li",
                 "when": (today - timedelta(days=7)).isoformat()}
                for c in ("customer_identified", "purchase_intent", "matching_solution")]
    await change(lead_url, "POST", "/grade", {"to": "credible", "evidence": evidence}, ar, key="credible")
    step("credible")
    await change(lead_url, "POST", "/grade", {
        "to": "opportunity", "budget": {"amount": "1200000.00", "currency": "EUR"},
        "start_date": (today + timedelta(days=45)).isoformat()}, ar, key="opportunity-grade")
    step("opportunity-grade")
    await change(lead_url, "POST", "/convert", None, ar, key="convert")
    step("converted")

    # 2. Opportunities: the hand-over made one opportunity; the thin flow's steps to a win.
    page = await client.eventually(f"{opps}/opportunities?lead_id={lead_id}", ar, lambda b: len(b["items"]) >= 1,
                                   "the opportunity of the lead", handover_timeout)
    result.opportunity_id = opportunity_id = page["items"][0]["id"]
    opportunity_url = f"{opps}/opportunities/{opportunity_id}"
    step("opportunity")

    async def on_opportunity(method: str, path: str, body: dict, headers: dict[str, str] = ar,
                             expect: int = 200, key: str | None = None) -> dict:
        return await change(opportunity_url, method, path, body, headers, expect=expect, key=key, reader=ar)

    async def pass_gate(gate: str) -> None:
        """Request the gate, then have an approver of the tier it was routed to approve it."""
        request = await on_opportunity("POST", "/gates", {"gate": gate}, expect=201, key=f"gate-{gate}")
        step(gate.lower())
        approver = f"approver_{request['tier'].lower()}"
        await on_opportunity("POST", "/decisions", {"gate": gate, "outcome": "approved"}, expect=201,
                             key=f"decide-{gate}", headers=auth(users[approver], approver))
        step(f"{gate.lower()}-approved")

    await on_opportunity("PUT", "/team", {"sr": users["sr"], "fr": users["fr"]})
    step("team")
    await on_opportunity("PUT", "/insight", deal.INSIGHT)
    step("insight")
    await on_opportunity("PUT", "/value-proposition", deal.VALUE_PROPOSITION, headers=sr)
    step("value-proposition")
    for stakeholder in deal.STAKEHOLDERS:
        await on_opportunity("POST", "/stakeholders", stakeholder, expect=201,
                             key=f"stakeholder-{stakeholder['decision_role']}")
    step("stakeholders")
    await pass_gate("ATB")
    for stage in ("strategizing", "bidding"):
        await on_opportunity("POST", "/stage", {"to": stage}, key=f"stage-{stage}")
        step(stage)
    await on_opportunity("PATCH", "/terms", deal.TERMS, headers=sr)
    step("terms")
    await on_opportunity("PATCH", "/terms", deal.milestones(today), headers=fr)
    step("milestones")
    await on_opportunity("POST", "/stage", {"to": "negotiating"}, key="stage-negotiating")
    step("negotiating")
    await pass_gate("ATC")
    won = await on_opportunity("POST", "/win", {}, key="win")
    if won["stage"] != "won":
        raise FlowError(f"flow {n}: the win answered stage {won['stage']!r}")
    step("won")

    # 3. Contracts: the draft the win handed over; every required review; signed; both milestones accepted.
    page = await client.eventually(f"{contracts}/contracts?opportunity_id={opportunity_id}", ar,
                                   lambda b: len(b["items"]) >= 1, "the contract of the opportunity", handover_timeout)
    contract = page["items"][0]
    result.contract_id = contract_id = contract["id"]
    contract_url = f"{contracts}/contracts/{contract_id}"
    step("contract")
    checklist = (await client.ok("GET", f"{contract_url}/reviews", headers=ar))["checklist"]
    for function in contract["review"]["required"]:
        # Reviewers are people other than the contract's owner (the AR).
        reviewer = auth(f"{function}-reviewer-{tag}", f"reviewer_{function}")
        await change(contract_url, "POST", "/reviews", {
            "function": function, "items": [{"item": item, "verdict": "pass"} for item in checklist[function]]},
            reviewer, key=f"review-{function}", reader=ar)
    step("reviewed")
    await change(contract_url, "POST", "/sign", {
        "signatories": ["Li Wei (ACME)", "Zhang San (us)"], "signed_on": today.isoformat()}, ar, key="sign")
    step("signed")
    contract = await client.ok("GET", contract_url, headers=ar)
    milestones = {m["name"]: m for m in contract["milestones"]}
    for name in ("PAC", "FAC"):
        await change(contract_url, "POST", f"/milestones/{milestones[name]['milestone_id']}/accept",
                     {"accepted_on": today.isoformat(), "certificate_ref": f"{name}-{tag}"}, fr,
                     key=f"accept-{name}", reader=ar)
        step(name.lower())

    # 4. Finance: the three invoices, paid by the customer quoting each one's creditor reference,
    # as the bank's statement shows it (a retry of the import answers the first one).
    invoices_url = f"{finance}/invoices?contract_id={contract_id}"
    invoices = (await client.eventually(invoices_url, clerk, lambda b: len(b["items"]) >= 3,
                                        "the three invoices of the contract", handover_timeout))["items"]
    result.invoices = {i["instalment"]: i for i in invoices}
    step("invoices")
    statement = camt053(f"STMT-{tag}", *(
        camt_entry(f"BNK-{tag}-{number}", invoice["amount"]["amount"], currency=invoice["amount"]["currency"],
                   structured=invoice["payment_reference"], name=f"Fault Telecom {tag}", on=today.isoformat())
        for number, invoice in enumerate(invoices)))
    imported = await client.ok("POST", f"{finance}/bank-statements", expect=(200, 201), content=statement,
                               headers={**clerk, "Content-Type": "application/xml"})
    [transactions] = [s["transactions"] for s in imported["statements"]]
    if [t["status"] for t in transactions] != ["matched"] * 3:
        raise FlowError(f"flow {result.n}: the statement did not pay the three invoices: {transactions}")
    for transaction in transactions:
        result.payments.append(await client.ok("GET", f"{finance}/payments/{transaction['payment_id']}",
                                               headers=clerk))
    step("paid")

    # 5. The loop closes: the contract closed, the lead knows its cash came in.
    result.contract = await client.eventually(contract_url, ar, lambda b: b["status"] == "closed",
                                              "the contract closed", handover_timeout)
    step("closed")
    result.lead = await client.eventually(f"{leads}/leads/{lead_id}", ar,
                                          lambda b: b["outcome"] == "cash_collected", "the lead's cash",
                                          handover_timeout)
    step("cash")
    result.elapsed_s = time.monotonic() - started
    return result
