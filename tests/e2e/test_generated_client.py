"""The thin flow again, driven only through clients generated from the services' OpenAPI documents.

Each running service's `/openapi.json` goes through openapi-python-client; the lead is carried to
cash with nothing but the generated typed functions and models, so what the documents leave out
(an operation, a parameter, a status, a response model, a property) shows up here as a failure:

- an answer with a status its operation does not document raises the generator's `UnexpectedStatus`;
- an answer its documented schema cannot parse fails in the generated `from_dict`;
- a property the schema does not list, or an object it leaves untyped, is collected while the flow
  goes on and reported at the end;
- an `ETag` header the operation documents but does not send, or one that differs from the body's
  `etag`, likewise.

Every change sends `If-Match` with the ETag of the last answer about the object (for the answers
that are not the object itself, a gate request or a decision, the `ETag` header they document).
"""

from __future__ import annotations

import asyncio
import importlib
import json
import re
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import attrs
import httpx
import pytest

from ltc.shared.auth import mint_token
from ltc.shared.testing import deal
from ltc.shared.testing.bank import camt053, camt_entry
from ltc.shared.testing.deal import INSTALMENTS, VALUE
from tests.e2e.support import eventually

pytestmark = pytest.mark.e2e

SERVICES = ("leads", "opportunities", "contracts", "finance")
User = tuple[str, ...]  # (sub, *roles)
AR: User = ("ar-e2e", "ar")
SR: User = ("sr-e2e", "sr")
FR: User = ("fr-e2e", "fr")
FINANCE: User = ("fin-e2e", "finance")
APPROVER_L1: User = ("approver-l1-e2e", "approver_l1")
APPROVER_L2: User = ("approver-l2-e2e", "approver_l2")
# Dates of what happened (evidence, signing, acceptance, payment) may not lie in the future;
# planned ones (start, milestones) lie ahead. All relative to the day the test runs.
TODAY = datetime.now(UTC).date()
EVIDENCE = [{"criterion": c, "source": "executive workshop", "who": "CTO Li",
             "when": (TODAY - timedelta(days=30)).isoformat()}
            for c in ("customer_identified", "purchase_intent", "matching_solution")]
# How the generator's templates name an operation's request inside its module.
_REQUEST = re.compile(r'"method":\s*"(\w+)",\s*"url":\s*"([^"]+)"')


class DocumentDefect(AssertionError):
    """What a generated client cannot do because its service's document is wrong or insufficient."""


@attrs.define
class GeneratedClients:
    """One generated package per service, its operations by `METHOD /path`, and the defects seen."""

    urls: dict[str, str]
    documents: dict[str, dict[str, Any]]
    packages: dict[str, ModuleType]
    operations: dict[str, dict[str, ModuleType]]
    defects: list[str] = attrs.field(factory=list)
    _clients: dict[tuple[str, User], Any] = attrs.field(factory=dict)

    def model(self, service: str, name: str) -> type:
        return getattr(importlib.import_module(f"{self.packages[service].__name__}.models"), name)

    def build(self, service: str, name: str, data: dict[str, Any]) -> Any:
        """A request model from plain data, through the generated `from_dict`."""
        return self.model(service, name).from_dict(data)

    def client(self, service: str, user: User) -> Any:
        if (service, user) not in self._clients:
            sub, *roles = user
            self._clients[service, user] = self.packages[service].AuthenticatedClient(
                base_url=self.urls[service], token=mint_token(sub, roles), timeout=httpx.Timeout(10),
                raise_on_unexpected_status=True)
        return self._clients[service, user]

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.get_async_httpx_client().aclose()

    async def call(self, service: str, operation: str, *args: Any, user: User, expect: str, status: int = 200,
                   reread: Callable[[], Awaitable[str]] | None = None, **kwargs: Any) -> tuple[Any, str | None]:
        """Send `operation` ("POST /api/v1/...") through the generated function; its parsed answer and ETag.

        A 412 on a change re-reads the object (`reread` gives its current ETag) and sends it once more.
        """
        module = self.operations[service].get(operation)
        if module is None:
            raise DocumentDefect(f"{service}: {operation}: the document has no such operation")
        errors = importlib.import_module(f"{self.packages[service].__name__}.errors")
        where = f"{service}: {operation}"
        try:
            response = await module.asyncio_detailed(*args, client=self.client(service, user), **kwargs)
            if response.status_code == 412 and reread is not None:
                print(f"{where}: 412 on the ETag last answered (changed since by a hand-over?); read again")
                response = await module.asyncio_detailed(*args, client=self.client(service, user),
                                                         **{**kwargs, "if_match": await reread()})
        except errors.UnexpectedStatus as error:
            raise DocumentDefect(f"{where}: answered {error.status_code}, a status the document does not list: "
                                 f"{error.content.decode(errors='replace')}") from None
        except (KeyError, TypeError, ValueError) as error:
            raise DocumentDefect(f"{where}: the answer does not parse with the documented schema: "
                                 f"{type(error).__name__}: {error}") from error
        if response.status_code != status:
            raise AssertionError(f"{where}: expected {status}, answered {response.status_code}: "
                                 f"{response.content.decode(errors='replace')}")
        expected = self.model(service, expect)
        if not isinstance(response.parsed, expected):
            raise DocumentDefect(f"{where}: {status} parsed as {type(response.parsed).__name__}, not {expect}")
        self.defects.extend(f"{where} {status}: {d}" for d in _undocumented(response.parsed, expect))
        return response.parsed, self._etag(service, operation, status, response)

    def _etag(self, service: str, operation: str, status: int, response: Any) -> str | None:
        method, path = operation.split(" ", 1)
        answer = self.documents[service]["paths"][path][method.lower()]["responses"][str(status)]
        header = response.headers.get("ETag")
        body = getattr(response.parsed, "etag", None)
        where = f"{service}: {operation} {status}"
        if "ETag" in answer.get("headers", {}) and header is None:
            self.defects.append(f"{where}: documents an ETag header, sends none")
        if header is not None and body is not None and header != body:
            self.defects.append(f"{where}: ETag header {header} differs from the body's etag {body}")
        return header or body


def _undocumented(value: Any, where: str) -> Iterator[str]:
    """Properties a parsed answer carries that its schema does not list, and objects it leaves untyped."""
    if attrs.has(type(value)):
        for field in attrs.fields(type(value)):
            item = getattr(value, field.name)
            if field.name != "additional_properties":
                yield from _undocumented(item, f"{where}.{field.name}")
            elif item and "Any" in str(field.type):  # a schema without `additionalProperties`
                yield f"{where}: properties the schema does not list: {sorted(item)}"
            else:  # a map the schema types (`additionalProperties: {...}`)
                for key, entry in item.items():
                    yield from _undocumented(entry, f"{where}[{key!r}]")
    elif isinstance(value, dict):
        yield f"{where}: an object the schema leaves untyped: {sorted(value)}"
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _undocumented(item, f"{where}[{index}]")


async def _generate(service: str, base_url: str, root: Path) -> tuple[dict[str, Any], str]:
    """Fetch the service's document and generate its client package under `root`; (document, package name)."""
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        response = await http.get("/openapi.json")
    assert response.status_code == 200, f"{service}: GET /openapi.json: {response.status_code} {response.text}"
    document = response.json()
    package = f"ltc_generated_{service}_client"
    (root / f"{service}.openapi.json").write_text(json.dumps(document, indent=1))
    (root / f"{service}.config.json").write_text(json.dumps({
        "project_name_override": f"ltc-generated-{service}-client", "package_name_override": package,
        # The e-invoices answer XML or PDF: to a generated client, as to the ERP, bytes to keep as
        # they are (the generator's documented way for types it has no parser of).
        "content_type_overrides": {"application/xml": "application/octet-stream",
                                   "application/pdf": "application/octet-stream"},
        "post_hooks": []}))
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "openapi_python_client", "generate", "--path", str(root / f"{service}.openapi.json"),
        "--output-path", str(root / package), "--meta", "none", "--config", str(root / f"{service}.config.json"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    output = (await process.communicate())[0].decode(errors="replace")
    if process.returncode != 0:
        raise DocumentDefect(f"{service}: openapi-python-client failed ({process.returncode}):\n{output}")
    if "Warning" in output:  # generated, "but some pieces may be missing"
        print(f"{service}: openapi-python-client warned:\n{output}")
        document.setdefault("x-generator-warnings", output)
    return document, package


def _operations(package: ModuleType) -> dict[str, ModuleType]:
    """The package's operation modules by `METHOD /path`, as each one's request names them."""
    found = {}
    for path in sorted((Path(package.__path__[0]) / "api").rglob("*.py")):
        match = _REQUEST.search(path.read_text())
        if match:
            name = ".".join(path.relative_to(package.__path__[0]).with_suffix("").parts)
            found[f"{match[1].upper()} {match[2]}"] = importlib.import_module(f"{package.__name__}.{name}")
    return found


@pytest.fixture(scope="module")
async def generated(system, tmp_path_factory) -> AsyncIterator[GeneratedClients]:
    root = tmp_path_factory.mktemp("generated-clients")
    made = await asyncio.gather(*(_generate(service, system[service], root) for service in SERVICES))
    sys.path.insert(0, str(root))
    try:
        packages = {service: importlib.import_module(package) for service, (_, package) in zip(SERVICES, made)}
        clients = GeneratedClients(urls=dict(system), documents={s: d for s, (d, _) in zip(SERVICES, made)},
                                   packages=packages, operations={s: _operations(p) for s, p in packages.items()})
        clients.defects.extend(f"{s}: the generator warned: {d['x-generator-warnings']}"
                               for s, d in clients.documents.items() if "x-generator-warnings" in d)
        yield clients
        await clients.aclose()
    finally:
        sys.path.remove(str(root))
        for name in [m for m in sys.modules if m.startswith("ltc_generated_")]:
            del sys.modules[name]




async def test_a_lead_goes_all_the_way_to_cash_through_generated_clients(generated: GeneratedClients):
    api, build = generated.call, generated.build

    # 1. Leads: account, lead, two grades, conversion.
    account, _ = await api("leads", "POST /api/v1/accounts", user=AR, status=201, expect="AccountRead",
                           body=build("leads", "AccountCreate", deal.account("ACME Telecom")))
    lead, lead_etag = await api("leads", "POST /api/v1/leads", user=AR, status=201, expect="LeadRead",
                                body=build("leads", "LeadCreate", {
                                    "account_id": str(account.id), "title": "5G core", "need": "capacity for 5G",
                                    "channel": "executive_visit", "tier": "strategic"}))
    lead, lead_etag = await api("leads", "POST /api/v1/leads/{lead_id}/grade", lead.id, user=AR, expect="LeadRead",
                                if_match=lead_etag,
                                body=build("leads", "GradeRequest", {"to": "credible", "evidence": EVIDENCE}))
    lead, lead_etag = await api("leads", "POST /api/v1/leads/{lead_id}/grade", lead.id, user=AR, expect="LeadRead",
                                if_match=lead_etag, body=build("leads", "GradeRequest", {
                                    "to": "opportunity", "budget": {"amount": "1200000.00", "currency": "EUR"},
                                    "start_date": (TODAY + timedelta(days=45)).isoformat()}))
    lead, _ = await api("leads", "POST /api/v1/leads/{lead_id}/convert", lead.id, user=AR, expect="LeadRead",
                        if_match=lead_etag)
    assert lead.converted_at is not None

    # 2. Opportunities: exactly one opportunity for the lead; the iron triangle prepares the bid,
    # the tier its value calls for approves it (ATB) and then the terms (ATC); won on those terms.
    page, _ = await eventually(
        lambda: api("opportunities", "GET /api/v1/opportunities", user=AR, expect="PageOpportunityRead",
                    lead_id=lead.id),
        lambda answer: len(answer[0].items) == 1)
    opportunity = page.items[0]
    assert (opportunity.budget.amount, opportunity.budget.currency) == ("1200000.00", "EUR")
    etag = opportunity.etag

    async def read_opportunity() -> str:
        return (await api("opportunities", "GET /api/v1/opportunities/{opportunity_id}", opportunity.id, user=AR,
                          expect="OpportunityRead"))[1]

    async def on_opportunity(operation: str, model: str | None, body: dict[str, Any] | None, *, user: User = AR,
                             status: int = 200, expect: str = "OpportunityRead") -> Any:
        """A change to the opportunity with the ETag last answered about it."""
        nonlocal etag
        payload = {} if model is None else {"body": build("opportunities", model, body)}
        answer, etag = await api("opportunities", f"{operation}", opportunity.id, user=user, status=status,
                                 expect=expect, if_match=etag, reread=read_opportunity, **payload)
        return answer

    path = "/api/v1/opportunities/{opportunity_id}"
    await on_opportunity(f"PUT {path}/team", "TeamAssign", {"sr": "sr-e2e", "fr": "fr-e2e"})
    await on_opportunity(f"PUT {path}/insight", "InsightUpdate", deal.INSIGHT)
    await on_opportunity(f"PUT {path}/value-proposition", "ValuePropositionIn", deal.VALUE_PROPOSITION, user=SR)
    for stakeholder in deal.STAKEHOLDERS:
        await on_opportunity(f"POST {path}/stakeholders", "StakeholderIn", stakeholder, status=201)
    atb = await on_opportunity(f"POST {path}/gates", "GateRequestCreate", {"gate": "ATB"}, status=201,
                               expect="GateRequestRead")
    assert atb.tier.value == "L2"  # the 1.2 M EUR budget
    await on_opportunity(f"POST {path}/decisions", "DecisionCreate", {"gate": "ATB", "outcome": "approved"},
                         user=APPROVER_L2, status=201, expect="DecisionRead")
    for stage in ("strategizing", "bidding"):
        await on_opportunity(f"POST {path}/stage", "StageChange", {"to": stage})
    await on_opportunity(f"PATCH {path}/terms", "TermsUpdate", deal.TERMS, user=SR)
    await on_opportunity(f"PATCH {path}/terms", "TermsUpdate", deal.milestones(TODAY), user=FR)
    await on_opportunity(f"POST {path}/stage", "StageChange", {"to": "negotiating"})
    atc = await on_opportunity(f"POST {path}/gates", "GateRequestCreate", {"gate": "ATC"}, status=201,
                               expect="GateRequestRead")
    assert atc.tier.value == "L1"  # the agreed value is below 1 M EUR
    await on_opportunity(f"POST {path}/decisions", "DecisionCreate", {"gate": "ATC", "outcome": "approved"},
                         user=APPROVER_L1, status=201, expect="DecisionRead")
    won = await on_opportunity(f"POST {path}/win", None, None)
    assert won.stage.value == "won" and (won.terms.value.amount, won.terms.value.currency) == (VALUE, "EUR")

    # 3. Contracts: one draft for the opportunity; reviewed by every function its value tier
    # requires; signed; both milestones accepted.
    page, _ = await eventually(
        lambda: api("contracts", "GET /api/v1/contracts", user=AR, expect="PageContractRead",
                    opportunity_id=opportunity.id),
        lambda answer: len(answer[0].items) == 1)
    contract = page.items[0]
    assert contract.status.value == "draft"
    assert contract.review.status.value == "pending" and contract.review.required
    path = "/api/v1/contracts/{contract_id}"
    reviews, etag = await api("contracts", f"GET {path}/reviews", contract.id, user=AR, expect="ReviewHistoryRead")

    async def read_contract() -> str:
        return (await api("contracts", f"GET {path}", contract.id, user=AR, expect="ContractRead"))[1]

    for function in contract.review.required:
        reviewer: User = (f"{function.value}-e2e", f"reviewer_{function.value}")
        review, etag = await api("contracts", f"POST {path}/reviews", contract.id, user=reviewer,
                                 expect="ContractReviewRead", if_match=etag, reread=read_contract,
                                 body=build("contracts", "ReviewCreate", {
                                     "function": function.value,
                                     "items": [{"item": item.value, "verdict": "pass"}
                                               for item in reviews.checklist[function.value]]}))
    assert review.status.value == "passed"
    contract, etag = await api("contracts", f"POST {path}/sign", contract.id, user=AR, expect="ContractRead",
                               if_match=etag, reread=read_contract, body=build("contracts", "SignRequest", {
                                   "signatories": ["Li Wei (ACME)", "Zhang San (us)"],
                                   "signed_on": TODAY.isoformat()}))
    assert contract.signed_on == TODAY
    milestones = {m.name: m for m in contract.milestones}

    async def invoices() -> list[Any]:
        return (await api("finance", "GET /api/v1/invoices", user=FINANCE, expect="PageInvoiceRead",
                          contract_id=contract.id))[0].items

    (advance,) = await eventually(invoices, lambda items: len(items) == 1)
    assert (advance.amount.amount, advance.amount.currency) == ("299999.99", "EUR")

    for name, certificate in (("PAC", "PAC-2027-017"), ("FAC", "FAC-2027-101")):
        contract, etag = await api("contracts", f"POST {path}/milestones/{{milestone_id}}/accept", contract.id,
                                   milestones[name].milestone_id, user=FR, expect="ContractRead", if_match=etag,
                                   reread=read_contract, body=build("contracts", "AcceptMilestoneRequest", {
                                       "accepted_on": TODAY.isoformat(), "certificate_ref": certificate}))
    assert {m.status.value for m in contract.milestones} == {"accepted"}

    # 4. Finance: three invoices that add up to the contract value exactly.
    issued = await eventually(invoices, lambda items: len(items) == 3)
    amounts = {i.instalment: Decimal(i.amount.amount) for i in issued}
    assert amounts == INSTALMENTS
    assert sum(amounts.values()) == Decimal(VALUE)
    by_name = {i.instalment: i for i in issued}

    # Bank references are unique across all payments: this deal's own, not the thin flow's (which
    # runs on the same services and would be answered as the same bank payment recorded again).
    run = uuid.uuid4().hex[:8]

    def payment(reference: str, amount: str, **to: str) -> Any:
        return build("finance", "PaymentCreate", {
            "bank_reference": f"GEN-{run}-{reference}", "payer": "ACME Telecom",
            "amount": {"amount": amount, "currency": "EUR"},
            "value_date": TODAY.isoformat(), **to})

    # Payments: one in full, one in two parts, one recorded twice by the bank import.
    await api("finance", "POST /api/v1/payments", user=FINANCE, status=201, expect="PaymentRead",
              body=payment("BNK-1", "299999.99", invoice_id=str(by_name["advance"].id)))
    await api("finance", "POST /api/v1/payments", user=FINANCE, status=201, expect="PaymentRead",
              body=payment("BNK-2", "500000.00", invoice_id=str(by_name["preliminary acceptance"].id)))
    partial, _ = await api("finance", "GET /api/v1/invoices/{invoice_id}", by_name["preliminary acceptance"].id,
                           user=FINANCE, expect="InvoiceRead")
    assert partial.status.value == "partially_paid"
    first, _ = await api("finance", "POST /api/v1/payments", user=FINANCE, status=201, expect="PaymentRead",
                         body=payment("BNK-3", "200000.00", contract_id=str(contract.id)))
    again, _ = await api("finance", "POST /api/v1/payments", user=FINANCE, status=200, expect="PaymentRead",
                         body=payment("BNK-3", "200000.00", contract_id=str(contract.id)))
    assert again.id == first.id  # a known bank reference: the same bank payment is never counted twice
    # Typed in, covered, but not paid before the bank shows the cash.
    assert {i.status.value for i in await invoices()} == {"in_payment"}

    # The bank's statement shows the three transfers: it confirms them (the file through the
    # generated client, as the document describes its body).
    file_type = importlib.import_module(f"{generated.packages['finance'].__name__}.types").File
    statement = camt053(f"GEN-{run}", *(camt_entry(f"GEN-{run}-{reference}", amount, on=TODAY.isoformat())
                                        for reference, amount in (("BNK-1", "299999.99"), ("BNK-2", "500000.00"),
                                                                  ("BNK-3", "200000.00"))))
    imported, _ = await api("finance", "POST /api/v1/bank-statements", user=FINANCE, status=201,
                            expect="StatementImportRead",
                            # bytes, not BytesIO: the function sends File.payload as the content,
                            # which an async client cannot read from a sync file object.
                            body=file_type(payload=statement, mime_type="application/octet-stream"))
    assert [t.rule.value for t in imported.statements[0].transactions] == ["expected-payment"] * 3

    # 5. The loop closes: every invoice paid, the contract closed, the lead knows its cash came in.
    assert {i.status.value for i in await invoices()} == {"paid"}
    assert Decimal(first.unapplied.amount) == Decimal("200000.00") - Decimal("99999.99") - Decimal("100000.01")
    closed, _ = await eventually(lambda: api("contracts", f"GET {path}", contract.id, user=AR, expect="ContractRead"),
                                 lambda answer: answer[0].status.value == "closed")
    assert closed.fully_paid
    final_lead, _ = await eventually(
        lambda: api("leads", "GET /api/v1/leads/{lead_id}", lead.id, user=AR, expect="LeadRead"),
        lambda answer: answer[0].outcome.value == "cash_collected")
    assert final_lead.opportunity_id == opportunity.id and final_lead.contract_id == contract.id
    assert final_lead.won_at is not None and final_lead.cash_collected_on == TODAY

    # What the documents left out on the way, though the flow could go on.
    for defect in generated.defects:
        print("DOCUMENT DEFECT:", defect)
    assert not generated.defects, "the documents do not describe these answers:\n" + "\n".join(generated.defects)
