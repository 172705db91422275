"""The command handlers on a unit of work without a database: `(uow, command, principal)`, the
version the caller read checked with the shared rule, refusals as domain errors (never HTTP
ones), one clock, and the audit entry written with the change."""

import uuid
from dataclasses import replace
from decimal import Decimal

import pytest

from ltc.contracts import handlers
from ltc.contracts.adapters import repository
from ltc.contracts.domain.amendment import DecisionOutcome
from ltc.contracts.domain.model import Contract, ContractStatus
from ltc.contracts.domain.policy import DEFAULT_POLICY, Risk
from ltc.contracts.domain.review import ReviewFunction
from ltc.contracts.domain.values import LegalTerms
from ltc.shared.errors import DomainError, Forbidden, NotFound, RuleViolation, StaleVersion, status_of
from ltc.shared.messages.finance_events import InvoiceCredited, InvoiceIssued
from ltc.shared.money import Money
from ltc.shared.policy import PolicyVersion
from ltc.shared.roles import Principal, Role
from tests.unit.contracts.sample import MILESTONES, NOW, SIGNED_ON, TERMS, draft, passed_review

OWNER = Principal("ar-1", frozenset({Role.AR.value}))
OTHER_AR = Principal("ar-2", frozenset({Role.AR.value}))
FR = Principal("fr-1", frozenset({Role.FR.value}))
ADMIN = Principal("admin-1", frozenset({Role.ADMIN.value}))


class _Session:
    def __init__(self, contract: Contract | None) -> None:
        self.contract = contract
        self.added: list[object] = []

    async def get(self, cls: type, ident: uuid.UUID, with_for_update: bool = False) -> Contract | None:
        return self.contract if self.contract is not None and ident == self.contract.id else None

    def add(self, obj: object) -> None:
        self.added.append(obj)


class _UnitOfWork:
    """What a handler uses of `ltc.shared.db.UnitOfWork`: its session, `audit` and `commit`."""

    def __init__(self, contract: Contract | None = None) -> None:
        self.session = _Session(contract)
        self.audited: list = []
        self.commits = 0

    def audit(self, entry) -> None:
        self.audited.append(entry)

    async def commit(self) -> None:
        self.commits += 1


@pytest.fixture(autouse=True)
def _records(monkeypatch):
    """The records kept beside a contract, without a database; the clock stands on NOW."""
    versions: list[tuple[uuid.UUID, str]] = []

    async def get_policy(session):
        return DEFAULT_POLICY, 0

    async def add_version(session, contract, *, change, **_):
        versions.append((contract.id, change))

    async def find_by_opportunity(session, opportunity_id):
        return session.contract if session.contract is not None and session.contract.opportunity_id == opportunity_id \
            else None

    monkeypatch.setattr(repository, "get_policy", get_policy)
    monkeypatch.setattr(repository, "add_version", add_version)
    async def invoiced_of(session, contract_id):
        return {}

    monkeypatch.setattr(repository, "find_by_opportunity", find_by_opportunity)
    monkeypatch.setattr(repository, "invoiced_of", invoiced_of)
    monkeypatch.setattr(handlers, "clock", lambda: NOW)
    return versions


@pytest.fixture
def sequences(monkeypatch) -> list[int]:
    """The years whose next contract number was taken, in order; each year's count starts at 41."""
    years: list[int] = []

    async def next_contract_sequence(session, year):
        years.append(year)
        return 40 + years.count(year)

    monkeypatch.setattr(repository, "next_contract_sequence", next_contract_sequence)
    return years


def _stored(contract: Contract, version: int = 3) -> Contract:
    contract.version = version  # the row version the ORM keeps
    contract.events.clear()
    return contract


def _edit(contract: Contract, expected_version: int | None, title: str = "Core, phase 1") -> handlers.EditDraft:
    return handlers.EditDraft(contract_id=contract.id, expected_version=expected_version, fields=frozenset({"title"}),
                              title=title)


async def test_an_edit_based_on_another_version_is_stale_and_changes_nothing():
    contract = _stored(draft())
    uow = _UnitOfWork(contract)
    with pytest.raises(StaleVersion) as stale:
        await handlers.edit_draft(uow, _edit(contract, expected_version=2), OWNER)
    assert (stale.value.rule, status_of(stale.value)) == ("stale-etag", 412)
    assert (contract.title, contract.contract_version, uow.audited, uow.commits) == ("Core network upgrade", 1, [], 0)


async def test_an_edit_of_the_version_read_is_recorded_with_its_audit_entry(_records):
    contract = _stored(draft())
    uow = _UnitOfWork(contract)
    edited = await handlers.edit_draft(uow, _edit(contract, expected_version=3), OWNER)
    assert edited is contract and (contract.title, contract.contract_version) == ("Core, phase 1", 2)
    [entry] = uow.audited
    assert (entry.action, entry.actor, entry.at, entry.object_type, entry.object_id) == (
        "edited", "ar-1", NOW, "contract", contract.id)
    assert entry.changes == {"fields": ["title"], "contract_version": 2}
    assert (_records, uow.commits) == ([(contract.id, "edited")], 1)


async def test_someone_elses_contract_is_not_found_before_its_version_is_compared():
    contract = _stored(draft())
    with pytest.raises(NotFound):
        await handlers.edit_draft(_UnitOfWork(contract), _edit(contract, expected_version=1), OTHER_AR)
    with pytest.raises(Forbidden) as seeing:
        await handlers.edit_draft(_UnitOfWork(contract), _edit(contract, expected_version=3), FR)
    assert seeing.value.rule == "not-contract-owner"


async def test_signing_records_the_approval_it_rests_on_from_the_one_clock():
    contract = _stored(passed_review(draft()))
    uow = _UnitOfWork(contract)
    signed = await handlers.sign_contract(
        uow, handlers.SignContract(contract.id, ["Li Wei (ACME)", "Zhang San (us)"], SIGNED_ON, None), ADMIN)
    assert (signed.status, signed.signed_by, signed.updated_at) == (ContractStatus.ACTIVE, "admin-1", NOW)
    [entry] = uow.audited
    assert (entry.action, entry.at, entry.changes["approved_by"], entry.changes["approval_source"]) == (
        "signed", NOW, "approver-l2", "atc")
    assert uow.commits == 1


async def test_a_reviewer_of_another_function_is_refused_before_anything_is_read():
    uow = _UnitOfWork(None)
    with pytest.raises(Forbidden) as wrong:
        await handlers.record_review(uow, handlers.RecordReview(uuid.uuid4(), ReviewFunction.LEGAL, [], None),
                                     Principal("f-1", frozenset({Role.REVIEWER_FINANCE.value})))
    assert wrong.value.rule == "reviewer-wrong-function"


async def test_a_rest_draft_for_an_opportunity_is_refused_and_names_an_existing_contract_only_to_who_sees_it():
    existing = _stored(draft())
    command = handlers.CreateDraft(
        contract_id=uuid.uuid4(), opportunity_id=existing.opportunity_id, lead_id=None, account_id=None,
        account_name="ACME", title="Core", fr_owner=None, value=Money.zero("EUR"), line_items=[], payment_terms=[],
        milestones=[], legal_terms=existing.legal_terms)
    with pytest.raises(DomainError) as exists:
        await handlers.create_draft(_UnitOfWork(existing), command, OWNER)
    with pytest.raises(RuleViolation) as hidden:
        await handlers.create_draft(_UnitOfWork(existing), command, OTHER_AR)
    assert (exists.value.rule, hidden.value.rule) == (handlers.EXISTS_FOR_OPPORTUNITY,
                                                      handlers.FROM_WON_OPPORTUNITY_ONLY)


async def test_a_direct_draft_takes_the_next_number_of_the_year_it_is_drafted_in(sequences):
    command = handlers.CreateDraft(
        contract_id=uuid.uuid4(), opportunity_id=None, lead_id=None, account_id=None, account_name="ACME",
        title="Core", fr_owner=None, value=Money(Decimal("1000000.00"), "EUR"), line_items=[], payment_terms=TERMS,
        milestones=MILESTONES, legal_terms=LegalTerms())
    uow = _UnitOfWork()
    first = await handlers.create_draft(uow, command, OWNER)
    second = await handlers.create_draft(uow, replace(command, contract_id=uuid.uuid4()), OWNER)
    assert (first.number, second.number, sequences) == ("CON-2027-000041", "CON-2027-000042", [2027, 2027])
    assert uow.session.added == [first, second]


async def test_a_refused_draft_takes_no_number(sequences):
    command = handlers.CreateDraft(
        contract_id=uuid.uuid4(), opportunity_id=uuid.uuid4(), lead_id=None, account_id=None, account_name="ACME",
        title="Core", fr_owner=None, value=Money(Decimal("1000000.00"), "EUR"), line_items=[], payment_terms=TERMS,
        milestones=MILESTONES, legal_terms=LegalTerms())
    with pytest.raises(RuleViolation):
        await handlers.create_draft(_UnitOfWork(), command, OWNER)
    assert sequences == []


def _changes(contract: Contract, stale: int) -> list:
    """Every command that changes an existing contract, based on version `stale`."""
    milestone = contract.milestones[0].milestone_id
    amendment = uuid.uuid4()
    return [
        (handlers.record_review, handlers.RecordReview(contract.id, ReviewFunction.LEGAL, [], None, None, stale),
         Principal("legal-1", frozenset({Role.REVIEWER_LEGAL.value}))),
        (handlers.decide_approval, handlers.DecideApproval(contract.id, DecisionOutcome.APPROVED, None, None, stale),
         Principal("boss", frozenset({Role.APPROVER_L3.value}))),
        (handlers.sign_contract, handlers.SignContract(contract.id, ["A", "B"], SIGNED_ON, stale), OWNER),
        (handlers.record_milestone_step,
         handlers.MilestoneStep(contract.id, milestone, "started", SIGNED_ON, stale), FR),
        (handlers.request_amendment,
         handlers.RequestAmendment(contract.id, amendment, "more", Risk.LOW, "x", handlers.StatedTerms(), stale),
         OWNER),
        (handlers.decide_amendment,
         handlers.DecideAmendment(contract.id, amendment, DecisionOutcome.APPROVED, None, stale),
         Principal("boss", frozenset({Role.APPROVER_L3.value}))),
        (handlers.withdraw_amendment, handlers.WithdrawAmendment(contract.id, amendment, stale), OWNER),
        (handlers.edit_draft, _edit(contract, expected_version=stale), OWNER),
    ]


@pytest.mark.parametrize("index", range(8))
async def test_every_change_based_on_another_version_is_stale_and_changes_nothing(index):
    contract = _stored(draft())
    handler, command, principal = _changes(contract, stale=2)[index]
    uow = _UnitOfWork(contract)
    with pytest.raises(StaleVersion) as stale:
        await handler(uow, command, principal)
    assert (stale.value.rule, status_of(stale.value)) == ("stale-etag", 412)
    assert (contract.reviews, contract.approvals[1:], contract.amendments, uow.audited, uow.commits) == (
        [], [], [], [], 0)


async def test_the_policy_is_saved_as_the_version_after_the_one_the_admin_read(monkeypatch):
    calls = []

    async def save_policy(session, policy, *, expected_version, by, at):
        calls.append((expected_version, by, at))
        if expected_version != 4:
            raise StaleVersion("stale-etag", "the contract-policy policy is at version 4")
        return PolicyVersion(repository.POLICY_NAME, 5, policy.to_json(), by, at)

    monkeypatch.setattr(repository, "save_policy", save_policy)
    uow = _UnitOfWork()
    with pytest.raises(StaleVersion):
        await handlers.update_policy(uow, handlers.UpdatePolicy(DEFAULT_POLICY, 3), ADMIN)
    saved = await handlers.update_policy(uow, handlers.UpdatePolicy(DEFAULT_POLICY, 4), ADMIN)
    assert (saved.version, calls, uow.commits) == (5, [(3, "admin-1", NOW), (4, "admin-1", NOW)], 1)


# --- what finance invoiced of each line -----------------------------------------------------------


@pytest.fixture
def recorded(monkeypatch) -> list[dict]:
    rows: list[dict] = []

    async def record_invoiced(session, **kwargs):
        rows.append(kwargs)

    monkeypatch.setattr(repository, "record_invoiced", record_invoiced)
    return rows


def _invoice_line(position: int, quantity: str, net: str) -> dict:
    return {"position": position, "description": "switch", "quantity": quantity, "unit": "C62",
            "unit_price": {"amount": "1500.00", "currency": "EUR"}, "net": {"amount": net, "currency": "EUR"},
            "vat": {"category": "S", "rate": "19"}}


def _issued(contract: Contract, lines: list[dict]) -> InvoiceIssued:
    return InvoiceIssued.model_validate({
        "invoice_id": str(uuid.uuid4()), "invoice_number": "INV-2027-000007", "contract_id": str(contract.id),
        "account_id": None, "instalment": "advance", "amount": {"amount": "1.00", "currency": "EUR"},
        "issue_date": "2027-10-01", "due_date": "2027-10-31", "lines": lines})


def _credited(contract: Contract, lines: list[dict]) -> InvoiceCredited:
    return InvoiceCredited.model_validate({
        "credit_note_id": str(uuid.uuid4()), "credit_note_number": "CN-2027-000001", "invoice_id": str(uuid.uuid4()),
        "invoice_number": "INV-2027-000007", "contract_id": str(contract.id), "account_id": None,
        "amount": {"amount": "1.00", "currency": "EUR"}, "reason": "two switches returned",
        "issue_date": "2027-10-02", "invoice_open_amount": {"amount": "0.00", "currency": "EUR"}, "lines": lines})


async def test_an_invoice_counts_what_it_bills_of_each_line_summed_per_position(recorded):
    contract = _stored(passed_review(draft()))
    event = _issued(contract, [_invoice_line(1, "4", "6000.00"), _invoice_line(2, "1", "100.00"),
                               _invoice_line(1, "0.5", "750.00")])
    await handlers.on_invoice_issued(_UnitOfWork(contract), event, None)
    [row] = recorded
    assert (row["document_id"], row["document_type"], row["document_number"], row["contract_id"]) == (
        event.invoice_id, "invoice", "INV-2027-000007", contract.id)
    assert [(line.position, line.quantity, line.net) for line in row["lines"]] == [
        (1, Decimal("4.5"), Money(Decimal("6750.00"), "EUR")), (2, Decimal("1"), Money(Decimal("100.00"), "EUR"))]


@pytest.mark.parametrize("sign", [1, -1])
async def test_a_credit_note_subtracts_whichever_sign_finance_writes_its_lines_with(recorded, sign):
    contract = _stored(draft())
    credit = _credited(contract, [_invoice_line(1, str(2 * sign), str(Decimal("3000.00") * sign))])
    await handlers.on_invoice_credited(_UnitOfWork(contract), credit, None)
    [row] = recorded
    assert (row["document_id"], row["document_type"]) == (credit.credit_note_id, "credit_note")
    assert [(line.quantity, line.net.amount) for line in row["lines"]] == [(Decimal(-2), Decimal("-3000.00"))]


async def test_an_invoice_without_lines_records_nothing_and_one_for_an_unknown_contract_is_refused(recorded):
    contract = draft()
    await handlers.on_invoice_issued(_UnitOfWork(None), _issued(contract, []), None)
    with pytest.raises(DomainError) as unknown:
        await handlers.on_invoice_issued(_UnitOfWork(None), _issued(contract, [_invoice_line(1, "1", "1.00")]), None)
    assert (unknown.value.rule, recorded) == ("unknown-contract", [])
