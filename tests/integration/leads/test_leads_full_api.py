"""The full leads stage over REST on the real database: accounts, contacts, activities, grading with the
cross-check, duplicates, roles, the score, the audit trail, the closed loop and its report."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select, text

from ltc.leads import handlers
from ltc.leads.bootstrap import SPEC
from ltc.shared.db import outbox
from ltc.shared.messages import Lineage, MoneyPayload
from ltc.shared.messages.envelope import Envelope
from ltc.shared.messages.finance_events import ContractFullyPaid
from ltc.shared.messages.opportunities_events import (
    CommercialTermsPayload,
    OpportunityCreated,
    OpportunityLost,
    OpportunityWon,
)
from ltc.shared.testing.apps import auth, runtime_of, service_client

pytestmark = pytest.mark.integration

AR = auth("ar-zhou", "ar")
OTHER_AR = auth("ar-qian", "ar")
SR = auth("sr-sun", "sr")
FR = auth("fr-li", "fr")
ADMIN = auth("admin-1", "admin")
FINANCE = auth("fin-1", "finance")
INTEGRATION = auth("erp-1", "integration")
TODAY = datetime.now(UTC).date()
EVIDENCE = [{"criterion": c, "source": "workshop minutes", "who": "CTO Li", "when": "2026-10-30"}
            for c in ("customer_identified", "purchase_intent", "matching_solution")]


@pytest.fixture(scope="module")
async def client(make_database, kafka_bootstrap):
    async with service_client(SPEC, await make_database("leads_full"), kafka_bootstrap) as client:
        yield client


def _problem(response, status: int, rule: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    if rule:
        assert body["rule"] == rule
    return body


def _at(headers: dict, answer) -> dict:
    """`headers` with If-Match naming the version `answer` (a response or a read body) carries."""
    tag = answer["etag"] if isinstance(answer, dict) else answer.headers["etag"]
    return {**headers, "If-Match": tag}


async def _account(client, headers=AR, **fields) -> dict:
    body = {"name": f"Account {uuid.uuid4().hex[:6]}", "industry": "telecom", "tier": "key", **fields}
    response = await client.post("/api/v1/accounts", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def _contact(client, account_id: str, headers=AR, **fields) -> dict:
    response = await client.post("/api/v1/contacts", headers=headers, json={
        "account_id": account_id, "name": "Li Wei", "title": "CTO", "decision_role": "decision_maker",
        "kpis": ["availability"], "pains": ["peak congestion"], "communication_style": "data first", **fields})
    assert response.status_code == 201, response.text
    return response.json()


async def _lead(client, account_id: str, headers=AR, **fields) -> dict:
    body = {"account_id": account_id, "title": f"Core upgrade {uuid.uuid4().hex}", "need": uuid.uuid4().hex,
            "channel": "technical_exchange", "tier": "key", **fields}
    response = await client.post("/api/v1/leads", headers=headers, json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def _opportunity_grade(client, lead: dict, headers=AR) -> dict:
    """Grade `lead` (as last read) credible, then opportunity; answers the lead as graded."""
    response = await client.post(f"/api/v1/leads/{lead['id']}/grade", headers=_at(headers, lead),
                                 json={"to": "credible", "evidence": EVIDENCE})
    assert response.status_code == 200, response.text
    response = await client.post(f"/api/v1/leads/{lead['id']}/grade", headers=_at(headers, response), json={
        "to": "opportunity", "budget": {"amount": "500000.00", "currency": "EUR"}, "start_date": "2027-02-01"})
    assert response.status_code == 200, response.text
    return response.json()


async def _outbox(client, key: str) -> list[tuple[str, dict]]:
    async with runtime_of(client).engine.connect() as conn:
        rows = await conn.execute(select(outbox.c.type, outbox.c.payload).where(outbox.c.key == key)
                                  .order_by(outbox.c.seq))
        return [(r.type, r.payload) for r in rows]


# Accounts


async def test_an_account_is_created_read_changed_with_if_match_and_listed_by_filter(client):
    account = await _account(client, name="Zephyr Mobile GmbH", industry="mobile", tier="strategic", region="EMEA")
    url = f"/api/v1/accounts/{account['id']}"
    read = await client.get(url, headers=SR)
    assert read.status_code == 200 and read.headers["etag"] == '"1"' and read.json()["region"] == "EMEA"

    _problem(await client.patch(url, headers=AR, json={"notes": "x"}), 428)
    _problem(await client.patch(url, headers={**AR, "If-Match": '"7"'}, json={"notes": "x"}), 412)
    changed = await client.patch(url, headers={**AR, "If-Match": read.headers["etag"]}, json={"tier": "key"})
    assert changed.status_code == 200 and changed.json()["tier"] == "key" and changed.headers["etag"] == '"2"'
    _problem(await client.patch(url, headers={**OTHER_AR, "If-Match": '"2"'}, json={"tier": "normal"}), 403)
    _problem(await client.patch(url, headers={**AR, "If-Match": '"2"'}, json={"owner": "ar-qian"}), 403)

    found = await client.get("/api/v1/accounts?q=zephyr&tier=key&industry=mobile", headers=AR)
    assert [a["id"] for a in found.json()["items"]] == [account["id"]]
    assert (await client.get("/api/v1/accounts?q=zephyr&tier=strategic", headers=AR)).json()["items"] == []
    owned = (await client.get("/api/v1/accounts?owner=ar-zhou&q=Zephyr", headers=AR)).json()["items"]
    assert len(owned) == 1
    history = (await client.get(f"{url}/history", headers=AR)).json()
    assert [(h["action"], h["actor"]) for h in history] == [("created", "ar-zhou"), ("updated", "ar-zhou")]
    assert history[1]["changes"] == {"tier": {"from": "strategic", "to": "key"}}


async def test_an_account_and_a_contact_are_found_by_their_whole_name_and_address_in_any_case(client):
    account = await _account(client, name=f"Lookup {uuid.uuid4().hex[:8]} AG")
    await _account(client, name=account["name"] + " Holding")  # contains the name: `q` finds it, `name` does not
    found = (await client.get("/api/v1/accounts", headers=SR, params={"name": f" {account['name'].upper()} "})).json()
    assert [a["id"] for a in found["items"]] == [account["id"]]
    assert len((await client.get("/api/v1/accounts", headers=SR, params={"q": account["name"]})).json()["items"]) == 2
    email = f"li.{uuid.uuid4().hex[:8]}@example.com"
    contact = await _contact(client, account["id"], email=email)
    await _contact(client, account["id"], name="Someone else", email="x" + email)
    by_email = (await client.get("/api/v1/contacts", headers=FR, params={"email": email.upper()})).json()
    assert [c["id"] for c in by_email["items"]] == [contact["id"]]
    assert by_email["items"][0]["etag"] == f'"{contact["version"]}"'
    assert (await client.get("/api/v1/contacts", headers=FR, params={"email": "nobody@example.com"})).json()[
        "items"] == []
    body = _problem(await client.get("/api/v1/contacts", headers=FR, params={"e_mail": email}), 400)
    assert body["type"].endswith("/unknown-query-parameter")
    body = _problem(await client.get("/api/v1/accounts", headers=FR, params={"name": ""}), 422)
    assert "name" in [e["field"] for e in body["errors"]]


async def test_every_listed_item_carries_its_etag_and_an_owned_lead_is_not_unassigned(client):
    account = await _account(client)
    lead = await _lead(client, account["id"])
    changed = await client.patch(f"/api/v1/leads/{lead['id']}", headers=_at(AR, lead), json={"tier": "strategic"})
    assert changed.status_code == 200 and changed.json()["etag"] == changed.headers["etag"] == '"2"'
    listed = (await client.get("/api/v1/leads", headers=AR, params={"account_id": account["id"]})).json()["items"]
    assert [(i["id"], i["version"], i["etag"]) for i in listed] == [(lead["id"], 2, '"2"')]
    accounts = (await client.get("/api/v1/accounts", headers=AR, params={"name": account["name"]})).json()["items"]
    assert [a["etag"] for a in accounts] == ['"1"']
    body = _problem(await client.get("/api/v1/leads", headers=AR, params={"owner": "ar-zhou", "unassigned": "true"}),
                    422)
    assert "unassigned" in [e["field"] for e in body["errors"]]


async def test_account_bad_input_names_the_field(client):
    body = _problem(await client.post("/api/v1/accounts", headers=AR, json={"name": "x", "tier": "gold"}), 422)
    assert "tier" in [e["field"] for e in body["errors"]]
    _problem(await client.get(f"/api/v1/accounts/{uuid.uuid4()}", headers=AR), 404)
    _problem(await client.post("/api/v1/accounts", headers=SR, json={"name": "x"}), 403)


# Contacts, activities and the relationship strength


async def test_a_contact_gains_relationship_strength_from_done_activities(client):
    account = await _account(client)
    contact = await _contact(client, account["id"], competence_rating=4, reliability_rating=3)
    assert contact["relationship"]["strength"] == 0 and "competence" in contact["relationship"]["formula"]
    assert contact["kpis"] == ["availability"] and contact["decision_role"] == "decision_maker"

    plan = {"background": "capacity crunch", "objectives": ["understand the need"], "our_attendees": ["ar-zhou"],
            "customer_attendees": ["Li Wei"], "agenda": ["intro", "roadmap"], "materials": ["5G deck"],
            "anticipated_questions": [{"question": "price?", "answer": "value first"}],
            "commitments_sought": ["a workshop date"]}
    created = await client.post("/api/v1/activities", headers=SR, json={
        "kind": "routine_visit", "account_id": account["id"], "contact_ids": [contact["id"]],
        "subject": "First visit", "planned_on": TODAY.isoformat(), "plan": plan})
    assert created.status_code == 201, created.text
    activity = created.json()
    assert activity["status"] == "planned" and activity["plan"]["anticipated_questions"][0]["answer"] == "value first"
    assert created.headers["location"] == f"/api/v1/activities/{activity['id']}"

    outcome = {"occurred_on": (TODAY - timedelta(days=15)).isoformat(),
               "spin": {"situation": "growing", "problem": "congestion", "implication": "churn",
                        "need_payoff": "keep subscribers"},
               "commitments_obtained": ["workshop in May"], "next_step": "workshop",
               "next_step_on": TODAY.isoformat()}
    url = f"/api/v1/activities/{activity['id']}/outcome"
    _problem(await client.post(url, headers=SR, json=outcome), 428)
    _problem(await client.post(url, headers={**FR, "If-Match": '"1"'}, json=outcome), 403)  # not the author
    done = await client.post(url, headers={**SR, "If-Match": created.headers["etag"]}, json=outcome)
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "done" and done.json()["outcome"]["spin"]["need_payoff"] == "keep subscribers"
    _problem(await client.post(url, headers={**SR, "If-Match": done.headers["etag"]}, json=outcome), 409,
             "activity-closed")

    relationship = (await client.get(f"/api/v1/contacts/{contact['id']}", headers=FR)).json()["relationship"]
    # One routine visit, ratings 4 and 3: see the unit test of the formula.
    assert relationship["strength"] == 30 and relationship["activities_counted"] == 1
    assert relationship["connection"]["depth"] == "0.200"

    listed = (await client.get(f"/api/v1/activities?contact_id={contact['id']}", headers=AR)).json()["items"]
    assert [a["id"] for a in listed] == [activity["id"]]
    assert (await client.get(f"/api/v1/activities?account_id={account['id']}&status=planned",
                             headers=AR)).json()["items"] == []


async def test_activity_rules_and_roles(client):
    account = await _account(client)
    other_account = await _account(client)
    stranger = await _contact(client, other_account["id"])
    body = {"kind": "summit", "account_id": account["id"], "subject": "Summit"}
    _problem(await client.post("/api/v1/activities", headers=FINANCE, json=body), 403)
    body_bad = _problem(await client.post("/api/v1/activities", headers=FR,
                                          json={**body, "contact_ids": [stranger["id"]]}), 422, "contact-not-of-account")
    assert body_bad["errors"][0]["field"] == "contact_ids"
    bad_kind = _problem(await client.post("/api/v1/activities", headers=FR, json={**body, "kind": "golf"}), 422)
    assert "kind" in [e["field"] for e in bad_kind["errors"]]
    created = await client.post("/api/v1/activities", headers=FR, json=body)
    assert created.status_code == 201
    activity_url = f"/api/v1/activities/{created.json()['id']}"
    replanned = await client.patch(activity_url, headers={**FR, "If-Match": created.headers["etag"]},
                                   json={"subject": "Summit 2027", "plan": {"objectives": ["alignment"]}})
    assert replanned.status_code == 200 and replanned.json()["subject"] == "Summit 2027"
    _problem(await client.patch(activity_url, headers={**FR, "If-Match": created.headers["etag"]},
                                json={"subject": "late"}), 412)
    future = await client.post(f"{activity_url}/outcome", headers={**FR, "If-Match": replanned.headers["etag"]},
                               json={"occurred_on": (TODAY + timedelta(days=3)).isoformat()})
    _problem(future, 422, "activity-outcome-invalid")
    cancelled = await client.post(f"{activity_url}/cancel", headers={**FR, "If-Match": replanned.headers["etag"]})
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    _problem(await client.get(f"/api/v1/activities/{uuid.uuid4()}", headers=AR), 404)


async def test_contact_changes_need_if_match_and_ratings_stay_1_to_5(client):
    account = await _account(client)
    contact = await _contact(client, account["id"])
    url = f"/api/v1/contacts/{contact['id']}"
    bad = _problem(await client.patch(url, headers={**AR, "If-Match": '"1"'}, json={"competence_rating": 9}), 422)
    assert "competence_rating" in [e["field"] for e in bad["errors"]]
    _problem(await client.patch(url, headers={**AR, "If-Match": '"5"'}, json={"title": "CEO"}), 412)
    _problem(await client.patch(url, headers={**OTHER_AR, "If-Match": '"1"'}, json={"title": "CEO"}), 403)
    changed = await client.patch(url, headers={**AR, "If-Match": '"1"'}, json={"title": "CEO", "kpis": ["ARPU"]})
    assert changed.status_code == 200 and changed.json()["title"] == "CEO" and changed.json()["kpis"] == ["ARPU"]
    listed = (await client.get(f"/api/v1/contacts?account_id={account['id']}", headers=INTEGRATION)).json()
    assert [c["id"] for c in listed["items"]] == [contact["id"]]
    _problem(await client.post("/api/v1/contacts", headers=AR, json={"account_id": str(uuid.uuid4()), "name": "x"}), 404)


# Leads


async def test_a_lead_with_a_new_account_and_every_capture_field(client):
    response = await client.post("/api/v1/leads", headers=AR, json={
        "account": {"name": "Nordlicht Energie", "industry": "utilities", "tier": "strategic"},
        "title": "Smart grid", "need": "outage detection", "channel": "exhibition_seminar", "tier": "strategic",
        "reported_by": "Müller (procurement)"})
    assert response.status_code == 201, response.text
    lead = response.json()
    assert lead["self_generated"] is True and lead["owner"] == "ar-zhou" and lead["reported_by"] == "Müller (procurement)"
    account = (await client.get(f"/api/v1/accounts/{lead['account_id']}", headers=AR)).json()
    assert account["name"] == "Nordlicht Energie" and account["owner"] == "ar-zhou"
    assert lead["score"]["total"] == 10 and len(lead["score"]["parts"]) == 6

    both = _problem(await client.post("/api/v1/leads", headers=AR, json={
        "account_id": account["id"], "account": {"name": "x"}, "title": "t", "need": "n", "channel": "tender"}), 422)
    assert both["errors"][0]["field"] == "account_id"


async def test_the_cross_check_names_every_unmet_criterion(client):
    account = await _account(client)
    lead = await _lead(client, account["id"], reported_by="Wang")
    url = f"/api/v1/leads/{lead['id']}/grade"
    only_informant = [{**e, "who": "Wang"} for e in EVIDENCE]
    body = _problem(await client.post(url, headers=_at(AR, lead), json={"to": "credible", "evidence": only_informant}),
                    422, "lead-criteria-unmet")
    assert {e["criterion"] for e in body["errors"]} == {"customer_identified", "purchase_intent", "matching_solution"}
    body = _problem(await client.post(url, headers=_at(AR, lead), json={"to": "credible", "evidence": []}), 422)
    assert len(body["errors"]) == 3
    _problem(await client.post(url, headers=_at(AR, lead), json={"to": "opportunity", "budget": {"amount": "1.00", "currency":
                                                                                     "EUR"},
                                                       "start_date": "2027-01-01"}), 409, "grade-one-step")
    credible = await client.post(url, headers=_at(AR, lead),
                                 json={"to": "credible", "evidence": only_informant + EVIDENCE})
    assert credible.status_code == 200 and credible.json()["grade"] == "credible"
    body = _problem(await client.post(url, headers=_at(AR, credible), json={"to": "opportunity"}), 422,
                    "opportunity-criteria-unmet")
    assert {e["criterion"] for e in body["errors"]} == {"explicit_budget", "explicit_start_time"}
    body = _problem(await client.post(url, headers=_at(AR, credible), json={"to": "done"}), 422)
    assert "to" in [e["field"] for e in body["errors"]]
    history = (await client.get(f"/api/v1/leads/{lead['id']}/history", headers=SR)).json()
    graded = [h for h in history if h["action"] == "graded"]
    assert len(graded) == 1 and graded[0]["actor"] == "ar-zhou"
    assert graded[0]["changes"]["grade"] == {"from": "initial", "to": "credible"}
    assert {e["who"] for e in graded[0]["changes"]["evidence"]} == {"Wang", "CTO Li"}


async def test_a_duplicate_is_refused_with_its_candidates_unless_confirmed_distinct(client):
    account = await _account(client)
    first = await _lead(client, account["id"], title="Core network upgrade", need="capacity for 5G")
    body = {"account_id": account["id"], "title": "core-network upgrade", "need": "more capacity",
            "channel": "tender"}
    problem = _problem(await client.post("/api/v1/leads", headers=OTHER_AR, json=body), 409, "duplicate-lead")
    assert [c["lead_id"] for c in problem["errors"]] == [first["id"]] and first["id"] in problem["detail"]
    confirmed = await client.post("/api/v1/leads", headers=OTHER_AR, json={**body, "confirm_distinct": True})
    assert confirmed.status_code == 201 and confirmed.json()["owner"] == "ar-qian"
    history = (await client.get(f"/api/v1/leads/{confirmed.json()['id']}/history", headers=AR)).json()
    assert history[0]["changes"]["confirmed_distinct"] is True
    # Once the first lead is closed it is no longer a duplicate candidate.
    for lead, headers in ((first, AR), (confirmed.json(), OTHER_AR)):
        disqualified = await client.post(f"/api/v1/leads/{lead['id']}/disqualify", headers=_at(headers, lead),
                                         json={"reason": "merged"})
        assert disqualified.status_code == 200 and disqualified.json()["grade"] == "disqualified"
    assert (await client.post("/api/v1/leads", headers=AR, json=body)).status_code == 201


async def test_roles_read_everything_but_only_the_owner_or_admin_change_a_lead(client):
    account = await _account(client)
    lead = await _lead(client, account["id"])
    url = f"/api/v1/leads/{lead['id']}"
    for headers in (SR, FR, OTHER_AR, INTEGRATION, ADMIN):
        assert (await client.get(url, headers=headers)).status_code == 200
    _problem(await client.get(url, headers=FINANCE), 403)
    _problem(await client.post(f"{url}/grade", headers=_at(SR, lead), json={"to": "credible", "evidence": EVIDENCE}),
             403)
    _problem(await client.post(f"{url}/grade", headers=_at(OTHER_AR, lead),
                               json={"to": "credible", "evidence": EVIDENCE}), 403, "not-owner")
    _problem(await client.patch(url, headers={**OTHER_AR, "If-Match": '"1"'}, json={"title": "mine"}), 403)
    _problem(await client.post(f"{url}/pains", headers=_at(OTHER_AR, lead), json={"description": "x"}), 403,
             "not-owner")
    # sr/fr may add activities on the lead.
    activity = await client.post("/api/v1/activities", headers=FR, json={
        "kind": "topic_exchange", "account_id": account["id"], "lead_id": lead["id"], "subject": "delivery talk"})
    assert activity.status_code == 201
    admin = await client.post(f"{url}/grade", headers=_at(ADMIN, lead), json={"to": "credible", "evidence": EVIDENCE})
    assert admin.status_code == 200
    lead_ids = [i["id"] for i in (await client.get(f"/api/v1/leads?account_id={account['id']}",
                                                   headers=OTHER_AR)).json()["items"]]
    assert lead_ids == [lead["id"]]


async def test_an_unassigned_lead_is_changed_by_any_account_manager_and_claimed(client):
    account = await _account(client)
    response = await client.post("/api/v1/leads", headers=ADMIN, json={
        "account_id": account["id"], "title": "Pool lead", "need": "inbound request for routers",
        "channel": "inbound_request", "owner": None})
    assert response.status_code == 201 and response.json()["owner"] is None
    lead = response.json()
    assert (await _outbox(client, lead["id"]))[0][1]["owner"] == ""
    _problem(await client.post("/api/v1/leads", headers=AR, json={
        "account_id": account["id"], "title": "Other", "need": "else", "channel": "tender", "owner": "ar-qian"}), 403)
    unassigned = (await client.get(f"/api/v1/leads?unassigned=true&account_id={account['id']}", headers=AR)).json()
    assert [i["id"] for i in unassigned["items"]] == [lead["id"]]
    graded = await _opportunity_grade(client, lead, headers=OTHER_AR)
    _problem(await client.post(f"/api/v1/leads/{lead['id']}/convert", headers=_at(OTHER_AR, graded)), 422,
             "lead-owner-required")
    _problem(await client.patch(f"/api/v1/leads/{lead['id']}", headers={**OTHER_AR, "If-Match": f'"{graded["version"]}"'},
                                json={"owner": "ar-zhou"}), 403)
    claimed = await client.patch(f"/api/v1/leads/{lead['id']}",
                                 headers={**OTHER_AR, "If-Match": f'"{graded["version"]}"'}, json={"owner": "ar-qian"})
    assert claimed.status_code == 200 and claimed.json()["owner"] == "ar-qian"
    _problem(await client.post(f"/api/v1/leads/{lead['id']}/convert", headers=_at(AR, claimed)), 403)


async def test_lead_edits_need_if_match_and_are_audited(client):
    account = await _account(client)
    contact = await _contact(client, account["id"])
    lead = await _lead(client, account["id"])
    url = f"/api/v1/leads/{lead['id']}"
    _problem(await client.patch(url, headers=AR, json={"tier": "strategic"}), 428)
    _problem(await client.patch(url, headers={**AR, "If-Match": '"9"'}, json={"tier": "strategic"}), 412)
    bad = _problem(await client.patch(url, headers={**AR, "If-Match": '"1"'}, json={"grade": "opportunity"}), 422)
    assert "grade" in [e["field"] for e in bad["errors"]]
    blanked = _problem(await client.patch(url, headers={**AR, "If-Match": '"1"'}, json={"title": None}), 422,
                       "value-required")
    assert blanked["errors"] == [{"field": "title", "message": "must not be empty"}]
    _problem(await client.patch(url, headers={**AR, "If-Match": '"1"'}, json={"contact_ids": None}), 422,
             "value-required")
    changed = await client.patch(url, headers={**AR, "If-Match": '"1"'},
                                 json={"tier": "strategic", "contact_ids": [contact["id"]]})
    assert changed.status_code == 200, changed.text
    assert changed.json()["tier"] == "strategic" and changed.json()["contact_ids"] == [contact["id"]]
    history = (await client.get(f"{url}/history", headers=AR)).json()
    assert [h["action"] for h in history] == ["captured", "updated"]
    assert history[1]["changes"]["tier"] == {"from": "key", "to": "strategic"}
    _problem(await client.get(f"/api/v1/leads/{uuid.uuid4()}/history", headers=AR), 404)


async def test_pain_points_move_one_step_at_a_time_and_feed_the_score(client):
    account = await _account(client)
    lead = await _lead(client, account["id"], channel="tender")
    url = f"/api/v1/leads/{lead['id']}"
    added = await client.post(f"{url}/pains", headers=_at(AR, lead), json={"description": "peak-hour congestion"})
    assert added.status_code == 201, added.text
    pain = added.json()["pains"][0]
    assert pain["status"] == "discovered"
    assert next(p for p in added.json()["score"]["parts"] if p["name"] == "pains")["points"] == 5
    _problem(await client.post(f"{url}/pains/{pain['id']}/advance", headers=_at(AR, added),
                               json={"to": "value_agreed"}), 409, "pain-one-step")
    acknowledged = await client.post(f"{url}/pains/{pain['id']}/advance", headers=_at(AR, added),
                                     json={"to": "acknowledged", "note": "CTO confirmed"})
    assert acknowledged.status_code == 200 and acknowledged.json()["pains"][0]["status"] == "acknowledged"
    _problem(await client.post(f"{url}/pains/{uuid.uuid4()}/advance", headers=_at(AR, acknowledged),
                               json={"to": "acknowledged"}), 404)
    _problem(await client.post(f"{url}/pains/{pain['id']}/advance", headers={**AR, "If-Match": '"1"'},
                               json={"to": "value_agreed"}), 412)
    history = (await client.get(f"{url}/history", headers=AR)).json()
    assert [h["action"] for h in history] == ["captured", "pain_added", "pain_advanced"]


async def test_conversion_hands_over_contacts_pains_score_and_commits_with_its_event(client):
    account = await _account(client)
    contact = await _contact(client, account["id"])
    lead = await _lead(client, account["id"], contact_ids=[contact["id"]])
    pained = await client.post(f"/api/v1/leads/{lead['id']}/pains", headers=_at(AR, lead),
                               json={"description": "congestion", "contact_id": contact["id"]})
    assert pained.status_code == 201, pained.text
    graded = await _opportunity_grade(client, pained.json())
    converted = await client.post(f"/api/v1/leads/{lead['id']}/convert", headers=_at(AR, graded))
    assert converted.status_code == 200 and converted.json()["grade"] == "converted"
    events = await _outbox(client, lead["id"])
    kind, payload = events[-1]
    assert kind == "ltc.lead.converted.v1"
    assert payload["account"]["account_id"] == account["id"] and payload["account"]["tier"] == "key"
    assert [c["contact_id"] for c in payload["contacts"]] == [contact["id"]]
    assert payload["contacts"][0]["decision_role"] == "decision_maker"
    assert payload["pains"][0]["description"] == "congestion"
    # criteria 30 + budget 10 + start 10 + a discovered pain 5 + self-generated 10; no activity yet.
    assert payload["score"] == converted.json()["score"]["total"] == 65
    _problem(await client.post(f"/api/v1/leads/{lead['id']}/convert", headers=_at(AR, converted)), 409,
             "lead-closed")
    assert [k for k, _ in await _outbox(client, lead["id"])].count("ltc.lead.converted.v1") == 1


async def test_when_the_event_cannot_be_written_the_conversion_does_not_happen(client):
    lead = await _lead(client, (await _account(client))["id"])
    graded = await _opportunity_grade(client, lead)
    async with runtime_of(client).engine.begin() as conn:
        await conn.execute(text("""
            CREATE FUNCTION refuse_conversion() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'outbox unavailable'; END $$"""))
        await conn.execute(text("""
            CREATE TRIGGER refuse_conversion BEFORE INSERT ON outbox FOR EACH ROW
            WHEN (NEW.type = 'ltc.lead.converted.v1') EXECUTE FUNCTION refuse_conversion()"""))
    try:
        response = await client.post(f"/api/v1/leads/{lead['id']}/convert", headers=_at(AR, graded))
        assert response.status_code == 500 and response.json()["type"].endswith("/internal-error")
    finally:
        async with runtime_of(client).engine.begin() as conn:
            await conn.execute(text("DROP TRIGGER refuse_conversion ON outbox"))
            await conn.execute(text("DROP FUNCTION refuse_conversion()"))
    after = (await client.get(f"/api/v1/leads/{lead['id']}", headers=AR)).json()
    assert after["grade"] == "opportunity" and after["converted_at"] is None
    assert "converted" not in [h["to"] for h in after["grade_history"]]
    assert "ltc.lead.converted.v1" not in [k for k, _ in await _outbox(client, lead["id"])]
    history = (await client.get(f"/api/v1/leads/{lead['id']}/history", headers=AR)).json()
    assert "converted" not in [h["action"] for h in history]


async def test_creation_is_idempotent_for_contacts_activities_and_pains(client):
    account = await _account(client)
    key = {"Idempotency-Key": str(uuid.uuid4())}
    body = {"account_id": account["id"], "name": "Chen"}
    first = await client.post("/api/v1/contacts", headers={**AR, **key}, json=body)
    again = await client.post("/api/v1/contacts", headers={**AR, **key}, json=body)
    assert first.status_code == again.status_code == 201 and first.json()["id"] == again.json()["id"]
    lead = await _lead(client, account["id"])
    pain_key = {"Idempotency-Key": str(uuid.uuid4())}
    for _ in range(2):
        # The retry carries the If-Match of the first try, stale by now: it is answered the first result.
        response = await client.post(f"/api/v1/leads/{lead['id']}/pains", headers={**_at(AR, lead), **pain_key},
                                     json={"description": "latency"})
        assert response.status_code == 201, response.text
    assert len(response.json()["pains"]) == 1
    _problem(await client.post(f"/api/v1/leads/{lead['id']}/pains", headers={**_at(AR, response), **pain_key},
                               json={"description": "other"}), 422)
    activity_key = {"Idempotency-Key": str(uuid.uuid4())}
    visit = {"kind": "routine_visit", "account_id": account["id"], "subject": "Visit", "planned_on": TODAY.isoformat()}
    planned = [await client.post("/api/v1/activities", headers={**AR, **activity_key}, json=visit) for _ in range(2)]
    assert [r.status_code for r in planned] == [201, 201] and planned[0].json()["id"] == planned[1].json()["id"]
    listed = (await client.get("/api/v1/activities", headers=AR, params={"account_id": account["id"]})).json()
    assert [a["id"] for a in listed["items"]] == [planned[0].json()["id"]]
    _problem(await client.post("/api/v1/activities", headers={**AR, **activity_key},
                               json={**visit, "subject": "Another"}), 422)


# The closed loop


def _envelope(event) -> Envelope:
    return Envelope(id=str(uuid.uuid4()), type=event.ce_type(), source="test", subject=event.subject(),
                    time=datetime.now(UTC), data=event.model_dump(mode="json"))


async def _deliver(client, handler, event) -> None:
    uow = runtime_of(client).unit_of_work()
    async with uow:
        await handler(uow, event, _envelope(event))
        await uow.commit()


async def test_the_later_stages_close_the_loop_and_the_report_counts_it(client):
    account = await _account(client)
    won_lead = await _lead(client, account["id"], channel="company_briefing", tier="strategic")
    lost_lead = await _lead(client, account["id"], channel="company_briefing", tier="strategic")
    await _lead(client, account["id"], channel="company_briefing", tier="strategic")
    for lead in (won_lead, lost_lead):
        graded = await _opportunity_grade(client, lead)
        assert (await client.post(f"/api/v1/leads/{lead['id']}/convert", headers=_at(AR, graded))).status_code == 200
    won_opp, lost_opp, contract_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    won_at = datetime.now(UTC)
    await _deliver(client, handlers.on_opportunity_created, OpportunityCreated(
        lineage=Lineage(lead_id=won_lead["id"], opportunity_id=won_opp), opportunity_id=won_opp,
        lead_id=won_lead["id"], account_id=account["id"], title="t", budget=None, owner="ar-zhou", created_at=won_at))
    await _deliver(client, handlers.on_opportunity_won, OpportunityWon(
        lineage=Lineage(lead_id=won_lead["id"], opportunity_id=won_opp), opportunity_id=won_opp,
        account_id=account["id"], account_name="x", title="t", owner="ar-zhou", won_at=won_at,
        terms=CommercialTermsPayload(value=MoneyPayload(amount="100.00", currency="EUR"), payment_terms=[],
                                     milestones=[])))
    await _deliver(client, handlers.on_opportunity_lost, OpportunityLost(
        lineage=Lineage(lead_id=lost_lead["id"], opportunity_id=lost_opp), opportunity_id=lost_opp,
        reason="price", competitor="Rival", lost_at=won_at))
    paid_on = TODAY + timedelta(days=10)
    await _deliver(client, handlers.on_contract_fully_paid, ContractFullyPaid(
        lineage=Lineage(lead_id=won_lead["id"], opportunity_id=won_opp, contract_id=contract_id),
        contract_id=contract_id, value=MoneyPayload(amount="100.00", currency="EUR"),
        collected=MoneyPayload(amount="100.00", currency="EUR"), signed_on=TODAY, fully_paid_on=paid_on))

    won = (await client.get(f"/api/v1/leads/{won_lead['id']}", headers=AR)).json()
    assert won["outcome"] == "cash_collected" and won["opportunity_id"] == str(won_opp)
    assert won["contract_id"] == str(contract_id) and won["cash_collected_on"] == paid_on.isoformat()
    assert won["cash_collected"] == {"amount": "100.00", "currency": "EUR"}
    lost = (await client.get(f"/api/v1/leads/{lost_lead['id']}", headers=AR)).json()
    assert lost["outcome"] == "lost" and lost["lost_reason"] == "price"
    history = (await client.get(f"/api/v1/leads/{won_lead['id']}/history", headers=AR)).json()
    assert [h["actor"] for h in history if h["action"] == "outcome_recorded"] == [
        "event:ltc.opportunity.created.v1", "event:ltc.opportunity.won.v1", "event:ltc.contract.fully_paid.v1"]

    since = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    report = await client.get("/api/v1/reports/lead-to-cash", headers=INTEGRATION, params={"created_from": since})
    assert report.status_code == 200
    row = next(r for r in report.json()["rows"] if (r["channel"], r["tier"]) == ("company_briefing", "strategic"))
    assert row["leads"] == 3 and row["reached"] == {"credible": 2, "opportunity": 2, "converted": 2}
    assert row["conversion_rate"]["converted"] == "0.667"
    assert (row["won"], row["lost"], row["cash_collected"]) == (1, 1, 1)
    assert row["median_lead_to_cash_days"] == "10"
    assert row["cash_amounts"] == [{"amount": "100.00", "currency": "EUR"}]
    _problem(await client.get("/api/v1/reports/lead-to-cash", headers=FINANCE), 403)


async def test_the_relationship_of_involved_contacts_raises_the_score(client):
    account = await _account(client)
    contact = await _contact(client, account["id"], competence_rating=5, reliability_rating=5)
    lead = await _lead(client, account["id"], channel="tender")
    assert next(p for p in lead["score"]["parts"] if p["name"] == "relationship")["points"] == 0
    created = await client.post("/api/v1/activities", headers=SR, json={
        "kind": "executive_visit", "account_id": account["id"], "lead_id": lead["id"],
        "contact_ids": [contact["id"]], "subject": "CEO meets CTO"})
    done = await client.post(f"/api/v1/activities/{created.json()['id']}/outcome",
                             headers={**SR, "If-Match": created.headers["etag"]},
                             json={"occurred_on": date.today().isoformat()})
    assert done.status_code == 200
    strength = (await client.get(f"/api/v1/contacts/{contact['id']}", headers=AR)).json()["relationship"]["strength"]
    assert strength > 0
    scored = (await client.get(f"/api/v1/leads/{lead['id']}", headers=AR)).json()["score"]
    relationship = next(p for p in scored["parts"] if p["name"] == "relationship")
    assert relationship["points"] == round(strength * 20 / 100) and "Li Wei" in relationship["explanation"]
    history = (await client.get(f"/api/v1/leads/{lead['id']}/history", headers=AR)).json()
    assert [h["action"] for h in history] == ["captured", "activity_planned", "activity_done"]


async def test_a_retried_action_with_its_idempotency_key_answers_the_result_instead_of_a_conflict(client):
    lead = await _lead(client, (await _account(client))["id"])
    graded = await _opportunity_grade(client, lead)
    # The retry sends the If-Match of the first try, which the first try made stale.
    keyed = {**_at(AR, graded), "Idempotency-Key": str(uuid.uuid4())}
    first = await client.post(f"/api/v1/leads/{lead['id']}/convert", headers=keyed)
    retry = await client.post(f"/api/v1/leads/{lead['id']}/convert", headers=keyed)
    assert first.status_code == retry.status_code == 200 and retry.json()["grade"] == "converted"
    assert retry.json() == first.json() and retry.headers["etag"] == first.headers["etag"]
    assert [k for k, _ in await _outbox(client, lead["id"])].count("ltc.lead.converted.v1") == 1
    _problem(await client.post(f"/api/v1/leads/{lead['id']}/convert", headers=_at(AR, graded)), 412, "stale-etag")
    _problem(await client.post(f"/api/v1/leads/{lead['id']}/convert", headers=_at(AR, first)), 409, "lead-closed")
    other = await _lead(client, (await _account(client))["id"])
    grade_key = {**_at(AR, other), "Idempotency-Key": str(uuid.uuid4())}
    body = {"to": "credible", "evidence": EVIDENCE}
    assert (await client.post(f"/api/v1/leads/{other['id']}/grade", headers=grade_key, json=body)).status_code == 200
    assert (await client.post(f"/api/v1/leads/{other['id']}/grade", headers=grade_key, json=body)).status_code == 200
    reused = await client.post(f"/api/v1/leads/{other['id']}/grade", headers=grade_key,
                               json={**body, "evidence": EVIDENCE[:2]})
    assert reused.status_code == 422 and reused.json()["type"].endswith("idempotency-key-reused")


async def test_the_api_description_documents_the_trust_formula_and_the_score(client):
    spec = (await client.get("/openapi.json")).json()
    description = spec["info"]["description"]
    assert "trust = competence × reliability × connection × time" in description
    assert "frequency = min(1, done activities in the last 90 days/6)" in description
    assert "Lead score" in description and "duplicate-lead" in description


@pytest.mark.parametrize("params", [
    {"cursor": "not-a-cursor"},
    {"cursor": base64.urlsafe_b64encode(b"[" * 100).decode()},  # JSON nested past any sense
    {"cursor": "A" * 5000},
    {"created_from": "9999-12-31T23:00:00-05:00"},  # in UTC, past the calendar's end
])
async def test_a_list_query_out_of_bounds_is_the_callers_error(client, params):
    response = await client.get("/api/v1/leads", headers=AR, params=params)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"


async def test_evidence_can_only_name_a_contact_of_the_leads_account(client):
    account = await _account(client)
    other = await _contact(client, (await _account(client, name="Other Co"))["id"], name="Someone Else")
    own = await _contact(client, account["id"], name="CTO Li")
    lead = await _lead(client, account["id"])
    strangers = [{**e, "contact_id": other["id"]} for e in EVIDENCE]
    refused = await client.post(f"/api/v1/leads/{lead['id']}/grade", headers=_at(AR, lead),
                                json={"to": "credible", "evidence": strangers})
    assert refused.status_code == 422 and refused.json()["type"].endswith("/contact-not-of-account")
    assert [e["field"] for e in refused.json()["errors"]] == ["evidence.contact_id"]
    assert (await client.get(f"/api/v1/leads/{lead['id']}", headers=AR)).json()["grade"] == "initial"
    accepted = await client.post(f"/api/v1/leads/{lead['id']}/grade", headers=_at(AR, lead), json={
        "to": "credible", "evidence": [{**e, "contact_id": own["id"]} for e in EVIDENCE]})
    assert accepted.status_code == 200 and accepted.json()["grade"] == "credible"
