"""`ltc`: one command line for operators.

    ltc token --sub alice --roles ar,sr        a development token
    ltc topics                                 create the topics and their dead-letter topics
    ltc dlq list ltc.leads                     what is on ltc.leads.dlq, with the reasons
    ltc dlq replay ltc.leads [--offset N]      send dead letters back to their topic after a fix
    ltc outbox                                 unpublished events per service
    ltc journey <lead-id>                      one lead's path through the four services

Service URLs come from `LTC_<SERVICE>_URL` (default http://127.0.0.1:<port>), databases from
`LTC_<SERVICE>_DATABASE_URL`, Kafka from `KAFKA_BOOTSTRAP_SERVERS`, as for the services.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import func, select

from ltc.shared.auth import mint_token
from ltc.shared.db import make_engine, outbox
from ltc.shared.devstack.services import configured_ports
from ltc.shared.kafka import ensure_topics, kafka_options, make_producer
from ltc.shared.messages import ALL_TOPICS, TOPICS, dlq_topic
from ltc.shared.settings import ServiceSettings, settings_for

DLQ_HEADERS = ("dlq_reason", "dlq_detail", "dlq_consumer", "dlq_original_topic", "dlq_original_partition",
               "dlq_original_offset")


def _bootstrap() -> str:
    return ServiceSettings().kafka_bootstrap_servers


def _options() -> dict[str, Any]:
    return kafka_options(ServiceSettings())


async def _partitions(topic: str) -> list[TopicPartition]:
    admin = AIOKafkaAdminClient(bootstrap_servers=_bootstrap(), **_options())
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return [TopicPartition(topic, p["partition"]) for p in described.get("partitions", [])]


async def _read_all(topic: str) -> list[Any]:
    """Every record on the topic now, without joining a consumer group (nothing is committed)."""
    partitions = await _partitions(topic)
    if not partitions:
        return []
    consumer = AIOKafkaConsumer(bootstrap_servers=_bootstrap(), enable_auto_commit=False, group_id=None,
                                **_options())
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records: list[Any] = []
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            batch = await consumer.getmany(timeout_ms=1000)
            records.extend(r for rs in batch.values() for r in rs)
        return sorted(records, key=lambda r: (r.partition, r.offset))
    finally:
        await consumer.stop()


async def dlq_list(topic: str) -> None:
    for record in await _read_all(dlq_topic(topic)):
        headers = {k: v.decode(errors="replace") for k, v in record.headers}
        print(json.dumps({
            "partition": record.partition, "offset": record.offset, "type": headers.get("ce_type"),
            "id": headers.get("ce_id"), "reason": headers.get("dlq_reason"), "detail": headers.get("dlq_detail"),
            "consumer": headers.get("dlq_consumer"),
            "from": f"{headers.get('dlq_original_topic')}[{headers.get('dlq_original_partition')}]"
                    f"@{headers.get('dlq_original_offset')}",
        }))


async def dlq_replay(topic: str, offset: int | None) -> None:
    """Re-publish dead letters unchanged (same id): consumers that did process one drop it again."""
    records = [r for r in await _read_all(dlq_topic(topic)) if offset is None or r.offset == offset]
    producer = make_producer(_bootstrap(), **_options())
    await producer.start()
    try:
        for record in records:
            headers = [(k, v) for k, v in record.headers if k not in DLQ_HEADERS]
            await producer.send_and_wait(topic, value=record.value, key=record.key, headers=headers)
    finally:
        await producer.stop()
    print(f"replayed {len(records)} record(s) from {dlq_topic(topic)} to {topic}")


async def outbox_backlog() -> None:
    for service, port in configured_ports().items():
        engine = make_engine(settings_for(service, port).database_url, pool_size=1)
        try:
            async with engine.connect() as conn:
                count, oldest = (await conn.execute(
                    select(func.count(), func.min(outbox.c.created_at)).where(outbox.c.sent_at.is_(None)))).one()
            print(f"{service:<14} unpublished: {count:>6}   oldest: {oldest.isoformat() if oldest else '-'}")
        except Exception as exc:  # one unreachable database must not hide the others
            print(f"{service:<14} unreachable: {type(exc).__name__}: {exc}")
        finally:
            await engine.dispose()


def _service_urls() -> dict[str, str]:
    return {name: os.environ.get(f"LTC_{name.upper()}_URL", f"http://127.0.0.1:{port}") + "/api/v1"
            for name, port in configured_ports().items()}


async def journey(lead_id: str, token: str) -> dict[str, Any]:
    """One lead's path, read only through the public REST APIs (what an integrator can see)."""
    urls = _service_urls()
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(timeout=10, headers=headers) as http:
        async def get(url: str) -> Any:
            response = await http.get(url)
            return response.json() if response.status_code == 200 else None

        lead = await get(f"{urls['leads']}/leads/{lead_id}")
        if lead is None:
            raise SystemExit(f"lead {lead_id} not found")
        path: dict[str, Any] = {"lead": {k: lead.get(k) for k in (
            "id", "title", "grade", "outcome", "channel", "self_generated", "budget", "created_at", "converted_at",
            "won_at", "cash_collected_on")}}
        opportunities = (await get(f"{urls['opportunities']}/opportunities?lead_id={lead_id}") or {}).get("items", [])
        path["opportunities"] = []
        for opportunity in opportunities:
            entry = {k: opportunity.get(k) for k in ("id", "title", "stage", "probability", "created_at", "closed_at")}
            entry["decisions"] = [
                {"gate": gate.get("gate"), "tier": decision.get("tier"), "outcome": decision.get("outcome"),
                 "decider": decision.get("decider"), "decided_at": decision.get("decided_at")}
                for gate in opportunity.get("gates", []) for decision in gate.get("decisions", [])]
            contracts = (await get(f"{urls['contracts']}/contracts?opportunity_id={opportunity['id']}") or {}).get(
                "items", [])
            entry["contracts"] = []
            for contract in contracts:
                invoices = (await get(f"{urls['finance']}/invoices?contract_id={contract['id']}") or {}).get("items", [])
                payments = (await get(f"{urls['finance']}/payments?contract_id={contract['id']}") or {}).get("items", [])
                entry["contracts"].append({
                    **{k: contract.get(k) for k in ("id", "status", "value", "signed_on", "closed_at")},
                    "milestones": [{k: m.get(k) for k in ("name", "status", "planned_date", "accepted_on")}
                                   for m in contract.get("milestones", [])],
                    "invoices": [{k: i.get(k) for k in ("number", "instalment", "amount", "status", "issue_date",
                                                         "due_date", "paid_on")} for i in invoices],
                    "payments": [{k: p.get(k) for k in ("bank_reference", "amount", "value_date", "unapplied")}
                                 for p in payments],
                })
            path["opportunities"].append(entry)
        return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="ltc", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    token = commands.add_parser("token", help="mint a development token")
    token.add_argument("--sub", required=True)
    token.add_argument("--roles", required=True, help="comma-separated")
    commands.add_parser("topics", help="create the topics and dead-letter topics that are missing")
    dlq = commands.add_parser("dlq", help="list or replay dead letters")
    dlq.add_argument("action", choices=["list", "replay"])
    dlq.add_argument("topic", choices=TOPICS)
    dlq.add_argument("--offset", type=int, help="replay only this dead letter")
    commands.add_parser("outbox", help="unpublished events per service")
    trip = commands.add_parser("journey", help="one lead's path from lead to cash")
    trip.add_argument("lead_id")
    trip.add_argument("--token", help="bearer token (default: a development admin token)")
    args = parser.parse_args(argv)

    settings = ServiceSettings()
    if args.command == "token":
        print(mint_token(args.sub, [r for r in args.roles.split(",") if r], secret=settings.jwt_secret,
                         issuer=settings.jwt_issuer, audience=settings.jwt_audience))
    elif args.command == "topics":
        asyncio.run(ensure_topics(_bootstrap(), ALL_TOPICS, partitions=settings.kafka_partitions,
                                  **kafka_options(settings)))
        print("topics: " + ", ".join(ALL_TOPICS))
    elif args.command == "dlq":
        asyncio.run(dlq_list(args.topic) if args.action == "list" else dlq_replay(args.topic, args.offset))
    elif args.command == "outbox":
        asyncio.run(outbox_backlog())
    elif args.command == "journey":
        token_value = args.token or mint_token("ltc-operator", ["admin"], secret=settings.jwt_secret,
                                               issuer=settings.jwt_issuer, audience=settings.jwt_audience)
        json.dump(asyncio.run(journey(args.lead_id, token_value)), sys.stdout, indent=2)
        print()
