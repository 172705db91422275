"""One precondition rule for every change to an existing object of the leads API: If-Match is
required (428 without it, 412 when it names an older version), and an Idempotency-Key retry is
answered the first result even though its If-Match is stale by then."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from fastapi.routing import APIRoute

from ltc.leads.api.routes import router
from ltc.leads.bootstrap import SPEC
from ltc.shared.openapi import if_match_required
from ltc.shared.testing.apps import auth, service_client

pytestmark = pytest.mark.integration

AR = auth("ar-ma", "ar")
PROBLEMS = "https://ltc.example/problems/"
TODAY = datetime.now(UTC).date().isoformat()
EVIDENCE = [{"criterion": c, "source": "workshop minutes", "who": "CTO Li", "when": "2026-10-30"}
            for c in ("customer_identified", "purchase_intent", "matching_solution")]


@pytest.fixture(scope="module")
async def client(make_database, kafka_bootstrap):
    async with service_client(SPEC, await make_database("leads_preconditions"), kafka_bootstrap) as client:
        yield client


def _at(answer) -> dict:
    return {**AR, "If-Match": answer.headers["etag"]}


async def _created(response) -> dict:
    assert response.status_code == 201, response.text
    return response.json()


@dataclass
class World:
    """One of each object, every one of them changed since its creation: `"1"` is stale for each."""

    account: dict
    contact: dict
    lead: dict  # initial, with one discovered pain point
    ripe: dict  # opportunity-grade, ready to convert
    activity: dict

    @property
    def pain(self) -> str:
        return self.lead["pains"][0]["id"]


async def _world(client) -> World:
    account = await _created(await client.post("/api/v1/accounts", headers=AR, json={"name": "Preconditions Co"}))
    contact = await _created(await client.post("/api/v1/contacts", headers=AR,
                                               json={"account_id": account["id"], "name": "Li Wei"}))
    leads = [await _created(await client.post("/api/v1/leads", headers=AR, json={
        "account_id": account["id"], "title": f"Lead {uuid.uuid4().hex}", "need": uuid.uuid4().hex,
        "channel": "technical_exchange"})) for _ in range(2)]
    activity = await _created(await client.post("/api/v1/activities", headers=AR, json={
        "kind": "routine_visit", "account_id": account["id"], "subject": "Visit", "planned_on": TODAY}))

    async def changed(method: str, url: str, body: dict) -> dict:
        response = await client.request(method, url, headers={**AR, "If-Match": '"1"'}, json=body)
        assert response.status_code in (200, 201), response.text
        return response.json()

    account = await changed("PATCH", f"/api/v1/accounts/{account['id']}", {"notes": "key customer"})
    contact = await changed("PATCH", f"/api/v1/contacts/{contact['id']}", {"title": "CTO"})
    lead = await changed("POST", f"/api/v1/leads/{leads[0]['id']}/pains", {"description": "congestion"})
    ripe = await changed("POST", f"/api/v1/leads/{leads[1]['id']}/grade", {"to": "credible", "evidence": EVIDENCE})
    ripe_url = f"/api/v1/leads/{ripe['id']}/grade"
    graded = await client.post(ripe_url, headers={**AR, "If-Match": ripe["etag"]}, json={
        "to": "opportunity", "budget": {"amount": "1000.00", "currency": "EUR"}, "start_date": "2027-03-01"})
    assert graded.status_code == 200, graded.text
    activity = await changed("PATCH", f"/api/v1/activities/{activity['id']}", {"subject": "First visit"})
    return World(account, contact, lead, graded.json(), activity)


@dataclass(frozen=True)
class Change:
    """A change to an existing object: its operation, the object's URL (to read it back) and a valid body."""

    method: str
    path: str  # as the router declares it
    url: str  # formatted with the World
    read: str  # the object it changes
    body: dict | None = None
    keyed: bool = True  # takes an Idempotency-Key

    def of(self, world: World) -> tuple[str, str]:
        fields = {"account": world.account["id"], "contact": world.contact["id"], "lead": world.lead["id"],
                  "ripe": world.ripe["id"], "activity": world.activity["id"], "pain": world.pain}
        return self.url.format(**fields), self.read.format(**fields)


CHANGES = [
    Change("PATCH", "/accounts/{account_id}", "/api/v1/accounts/{account}", "/api/v1/accounts/{account}",
           {"region": "APAC"}, keyed=False),
    Change("PATCH", "/contacts/{contact_id}", "/api/v1/contacts/{contact}", "/api/v1/contacts/{contact}",
           {"title": "CEO"}, keyed=False),
    Change("PATCH", "/leads/{lead_id}", "/api/v1/leads/{lead}", "/api/v1/leads/{lead}", {"tier": "key"},
           keyed=False),
    Change("POST", "/leads/{lead_id}/grade", "/api/v1/leads/{lead}/grade", "/api/v1/leads/{lead}",
           {"to": "credible", "evidence": EVIDENCE}),
    Change("POST", "/leads/{lead_id}/convert", "/api/v1/leads/{ripe}/convert", "/api/v1/leads/{ripe}"),
    Change("POST", "/leads/{lead_id}/disqualify", "/api/v1/leads/{lead}/disqualify", "/api/v1/leads/{lead}",
           {"reason": "no budget this year"}),
    Change("POST", "/leads/{lead_id}/pains", "/api/v1/leads/{lead}/pains", "/api/v1/leads/{lead}",
           {"description": "billing errors"}),
    Change("POST", "/leads/{lead_id}/pains/{pain_id}/advance", "/api/v1/leads/{lead}/pains/{pain}/advance",
           "/api/v1/leads/{lead}", {"to": "acknowledged"}),
    Change("PATCH", "/activities/{activity_id}", "/api/v1/activities/{activity}", "/api/v1/activities/{activity}",
           {"subject": "Second visit"}, keyed=False),
    Change("POST", "/activities/{activity_id}/outcome", "/api/v1/activities/{activity}/outcome",
           "/api/v1/activities/{activity}", {"occurred_on": TODAY, "commitments_obtained": ["a workshop"]}),
    Change("POST", "/activities/{activity_id}/cancel", "/api/v1/activities/{activity}/cancel",
           "/api/v1/activities/{activity}"),
]
IDS = [f"{c.method} {c.path}" for c in CHANGES]


def test_every_change_to_an_existing_object_is_listed_here_and_requires_if_match():
    """A new action on an existing object's path must join CHANGES (and so these tests)."""
    routes = [r for r in router.routes if isinstance(r, APIRoute)]
    changes = {f"{m} {r.path}" for r in routes for m in r.methods if m != "GET" and "{" in r.path}
    assert changes == set(IDS)
    for route in routes:
        if route.methods != {"GET"}:
            assert if_match_required(route) is ("{" in route.path), route.path


@pytest.mark.parametrize("change", CHANGES, ids=IDS)
async def test_a_change_without_if_match_is_428_and_with_a_stale_one_412(client, change):
    url, read = change.of(await _world(client))
    before = await client.get(read, headers=AR)
    version = before.json()["version"]
    assert version > 1 and before.json()["etag"] == before.headers["etag"] == f'"{version}"'

    missing = await client.request(change.method, url, headers=AR, json=change.body)
    assert missing.status_code == 428, missing.text
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["type"] == PROBLEMS + "if-match-required"

    stale = await client.request(change.method, url, headers={**AR, "If-Match": '"1"'}, json=change.body)
    assert stale.status_code == 412, stale.text
    assert stale.json()["type"] == PROBLEMS + "stale-etag"

    after = await client.get(read, headers=AR)
    assert after.json() == before.json()  # neither changed anything

    done = await client.request(change.method, url, headers=_at(before), json=change.body)
    assert done.status_code in (200, 201), done.text
    assert done.json()["etag"] == done.headers["etag"] == f'"{version + 1}"'


@pytest.mark.parametrize("change", [c for c in CHANGES if c.keyed], ids=[i for c, i in zip(CHANGES, IDS) if c.keyed])
async def test_a_keyed_retry_answers_the_first_result_though_its_if_match_is_stale_by_then(client, change):
    url, read = change.of(await _world(client))
    headers = {**_at(await client.get(read, headers=AR)), "Idempotency-Key": str(uuid.uuid4())}
    first = await client.request(change.method, url, headers=headers, json=change.body)
    assert first.status_code in (200, 201), first.text
    retry = await client.request(change.method, url, headers=headers, json=change.body)
    assert (retry.status_code, retry.headers["etag"]) == (first.status_code, first.headers["etag"]), retry.text
    assert retry.json() == first.json()
    assert (await client.get(read, headers=AR)).headers["etag"] == first.headers["etag"]  # done once
    # Without the key, the same stale If-Match is refused.
    again = await client.request(change.method, url, headers={**AR, "If-Match": headers["If-Match"]},
                                 json=change.body)
    assert again.status_code == 412, again.text
