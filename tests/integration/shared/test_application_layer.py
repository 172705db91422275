"""The shared application layer against a real PostgreSQL: `run` (a command in one unit of work,
once per Idempotency-Key), the audit trail written with the change, and the policy store."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from pydantic import BaseModel
from sqlalchemy import text

from ltc.shared.api import Once, run
from ltc.shared.audit import AuditEntry
from ltc.shared.db import (
    UnitOfWork,
    audit_history,
    audit_metadata,
    make_engine,
    make_session_factory,
    plumbing_metadata,
)
from ltc.shared.errors import ProblemError
from ltc.shared.policy import current_policy, policy_history, policy_metadata, set_policy
from ltc.shared.roles import Principal
from ltc.shared.rules import RuleViolation, StaleVersion

pytestmark = pytest.mark.integration

ALICE = Principal("alice", frozenset({"ar"}))
AT = datetime(2026, 12, 1, 12, tzinfo=UTC)


@pytest.fixture
async def sessions(make_database):
    engine = make_engine(await make_database("shared_app"), pool_size=2)
    async with engine.begin() as conn:
        for metadata in (plumbing_metadata, audit_metadata, policy_metadata):
            await conn.run_sync(metadata.create_all)
        await conn.execute(text("CREATE TABLE notes (id uuid PRIMARY KEY, body text NOT NULL)"))
    yield make_session_factory(engine)
    await engine.dispose()


@dataclass(frozen=True)
class WriteNote:
    note_id: uuid.UUID
    body: str


class NoteBody(BaseModel):
    body: str


calls: list[uuid.UUID] = []


async def write_note(uow: UnitOfWork, command: WriteNote, principal: Principal) -> dict:
    if not command.body:
        raise RuleViolation("note-empty", "a note says something")
    calls.append(command.note_id)
    await uow.session.execute(text("INSERT INTO notes VALUES (:id, :body)"), {"id": command.note_id,
                                                                              "body": command.body})
    uow.audit(AuditEntry(at=AT, actor=principal.sub, action="written", object_type="note", object_id=command.note_id,
                         changes={"body": command.body}))
    await uow.commit()
    return {"id": command.note_id, "body": command.body}


async def load_note(session, note_id: uuid.UUID) -> dict:
    row = (await session.execute(text("SELECT id, body FROM notes WHERE id = :id"), {"id": note_id})).one()
    return {"id": row.id, "body": row.body, "replayed": True}


async def test_run_answers_from_what_the_handler_returned_and_a_replay_does_not_run_it_again(sessions):
    body = NoteBody(body="first")
    first_id, second_id = uuid.uuid4(), uuid.uuid4()
    calls.clear()

    def once(new_id: uuid.UUID, key: str = "k-1", note: NoteBody = body) -> Once:
        return Once(key=key, endpoint="POST /notes", body=note, resource_id=new_id, load=load_note)

    answered = await run(UnitOfWork(sessions, "test"), write_note, WriteNote(first_id, "first"), ALICE,
                         answer=lambda note: note, once=once(first_id))
    assert answered == {"id": first_id, "body": "first"}

    async def async_answer(note: dict) -> str:
        return f"{note['id']}:{note.get('replayed', False)}"

    replayed = await run(UnitOfWork(sessions, "test"), write_note, WriteNote(second_id, "first"), ALICE,
                         answer=async_answer, once=once(second_id))
    assert replayed == f"{first_id}:True" and calls == [first_id]

    with pytest.raises(ProblemError) as reused:
        await run(UnitOfWork(sessions, "test"), write_note, WriteNote(uuid.uuid4(), "other"), ALICE,
                  answer=lambda note: note, once=once(uuid.uuid4(), note=NoteBody(body="other")))
    assert reused.value.status == 422 and reused.value.problem_type == "idempotency-key-reused"


async def test_a_refused_command_leaves_neither_its_key_nor_its_audit_entry(sessions):
    note_id = uuid.uuid4()
    with pytest.raises(RuleViolation):
        await run(UnitOfWork(sessions, "test"), write_note, WriteNote(note_id, ""), ALICE, answer=lambda n: n,
                  once=Once("k-empty", "POST /notes", NoteBody(body=""), note_id, load_note))
    async with sessions() as session:
        keys = (await session.execute(text("SELECT count(*) FROM idempotency_keys WHERE key = 'k-empty'"))).scalar()
        assert keys == 0 and await audit_history(session, note_id) == []
    # the same key now works: nothing of the refused attempt was kept
    done = await run(UnitOfWork(sessions, "test"), write_note, WriteNote(note_id, "now"), ALICE, answer=lambda n: n,
                     once=Once("k-empty", "POST /notes", NoteBody(body=""), note_id, load_note))
    assert done["body"] == "now"


async def test_the_audit_trail_keeps_who_what_when_and_the_request_and_files_an_entry_under_its_aggregates(sessions):
    account_id, lead_id, contact_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    uow = UnitOfWork(sessions, "test", correlation_id="corr-1")
    async with uow:
        uow.audit(AuditEntry(at=AT, actor="alice", action="created", object_type="lead", object_id=lead_id,
                             changes={"value": {"amount": "10.00", "currency": "EUR"}},
                             filed_under=(account_id, None, lead_id)))
        uow.audit(AuditEntry(at=AT, actor="bob", action="updated", object_type="contact", object_id=contact_id,
                             filed_under=(account_id,)))
        await uow.commit()
    async with sessions() as session:
        for_account = await audit_history(session, account_id)
        assert [(e.actor, e.action, e.object_type) for e in for_account] == [("alice", "created", "lead"),
                                                                              ("bob", "updated", "contact")]
        first = for_account[0]
        assert first.correlation_id == "corr-1" and first.at == AT and first.filed_under == [account_id]
        assert first.changes == {"value": {"amount": "10.00", "currency": "EUR"}}
        assert [e.object_id for e in await audit_history(session, lead_id)] == [lead_id]
        assert [e.actor for e in await audit_history(session, account_id, object_types=["contact"])] == ["bob"]


async def test_a_policy_keeps_every_version_and_refuses_a_change_based_on_an_old_one(sessions):
    async with sessions() as session, session.begin():
        default = await current_policy(session, "thresholds", {"EUR": 1})
        assert (default.version, default.document, default.set_by) == (0, {"EUR": 1}, None)
        first = await set_policy(session, "thresholds", {"EUR": 2}, expected_version=0, by="admin", at=AT)
        assert first.version == 1
        with pytest.raises(StaleVersion) as stale:
            await set_policy(session, "thresholds", {"EUR": 3}, expected_version=0, by="admin", at=AT)
        assert stale.value.rule == "stale-etag"
        await set_policy(session, "thresholds", {"EUR": 4}, expected_version=None, by="root", at=AT)
        await set_policy(session, "other", {"x": 1}, expected_version=0, by="admin", at=AT)
    async with sessions() as session:
        now = await current_policy(session, "thresholds", {"EUR": 1})
        assert (now.version, now.document, now.set_by) == (2, {"EUR": 4}, "root")
        assert [(v.version, v.document) for v in await policy_history(session, "thresholds")] == [
            (1, {"EUR": 2}), (2, {"EUR": 4})]
