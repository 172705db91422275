"""Routes only translate HTTP into commands and queries; the rules live in the domain.

Every change runs through `ltc.shared.api.run`: the handler changes and commits, and the route
answers from what it returned in the same unit of work. The endpoint strings of the Idempotency-Key
records are those the service always used, so a key sent before still replays.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import date
from functools import partial
from typing import Annotated, Any, Literal

import structlog
from fastapi import APIRouter, Depends, Header, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from ltc.finance import handlers
from ltc.finance.adapters import einvoice, queries, repository
from ltc.finance.adapters.bank_files import parse_statement_file
from ltc.finance.api.schemas import (
    AccountCodesPayload,
    AccountCodesRead,
    AccountCodesVersionRead,
    BadDebtCreate,
    BadDebtTiersPayload,
    BadDebtTiersRead,
    BankStatementRead,
    BankTransactionRead,
    BillingPlanRead,
    CashTolerancePayload,
    CashToleranceRead,
    CashToleranceVersionRead,
    CreditNoteCreate,
    CreditNoteRead,
    DecisionCreate,
    HistoryEntryRead,
    InvoiceNumber,
    InvoiceRead,
    JournalLineRead,
    JournalRead,
    PaymentApplicationCreate,
    PaymentCreate,
    PaymentRead,
    PaymentReturnCreate,
    ReceivablesRead,
    RefundApprovalPayload,
    RefundApprovalRead,
    RefundCreate,
    RefundRead,
    ScheduledRunCreate,
    ScheduledRunRead,
    SellerIdentityPayload,
    SellerIdentityRead,
    SellerIdentityVersionRead,
    StatementImportRead,
    SuspenseAllocationCreate,
    SuspenseSendBackCreate,
    TaxRulesPayload,
    TaxRulesRead,
    TaxRulesVersionRead,
    WriteOffCreate,
    WriteOffRead,
    WriteOffRequestRead,
)
from ltc.finance.domain.adjustments import Decision, Refund, RefundStatus, WriteOffRequest
from ltc.finance.domain.bank import TransactionStatus
from ltc.finance.domain.einvoice import EInvoice, of_credit_note, of_invoice
from ltc.finance.domain.invoice import CreditNote, InvoiceStatus
from ltc.finance.domain.payment import Payment
from ltc.shared.api import Cursor, ExpectedVersion, IdempotencyKey, Limit, Once, Page, etag, run
from ltc.shared.auth import Principal, Role, require_roles
from ltc.shared.errors import ProblemError
from ltc.shared.policy import PolicyVersion
from ltc.shared.rules import InvalidInput, RuleViolation
from ltc.shared.service import ReadSession, Uow

router = APIRouter()
log = structlog.get_logger()

Cashier = Annotated[Principal, Depends(require_roles(Role.FINANCE, Role.INTEGRATION))]
Clerk = Annotated[Principal, Depends(require_roles(Role.FINANCE))]
Scheduler = Annotated[Principal, Depends(require_roles(Role.FINANCE, Role.ADMIN))]
Exporter = Annotated[Principal, Depends(require_roles(Role.FINANCE, Role.INTEGRATION, Role.ADMIN))]
Reader = Annotated[Principal, Depends(require_roles(Role.FINANCE, Role.INTEGRATION, Role.ADMIN, Role.AR))]
Configurer = Annotated[Principal, Depends(require_roles(Role.ADMIN))]
ConfigReader = Annotated[Principal, Depends(require_roles(Role.FINANCE, Role.ADMIN))]
# Bad-debt requests are read by finance and by the approvers who decide them.
RequestReader = Annotated[Principal, Depends(require_roles(Role.FINANCE, Role.ADMIN, Role.APPROVER_L1,
                                                           Role.APPROVER_L2, Role.APPROVER_L3))]
TierApprover = Annotated[Principal, Depends(require_roles(Role.APPROVER_L1, Role.APPROVER_L2, Role.APPROVER_L3))]

MAX_JOURNAL_DAYS = 366


async def _account_scope(session: AsyncSession, principal: Principal, account_id: uuid.UUID | None) -> None:
    """A list across accounts: finance sees them all; an account manager names one of theirs."""
    if account_id is None and not queries.sees_every_account(principal):
        raise ProblemError(422, "account-required", "Invalid request", "account_id: name one of your accounts",
                           errors=[{"field": "account_id", "message": "required for account managers"}])
    await queries.require_visible(session, principal, account_id, "account", account_id)


def _recorded(response: Response, recorded: handlers.RecordedPayment) -> PaymentRead:
    """A new payment is 201 with its Location; a bank payment recorded before answers 200 with the first one."""
    response.headers["ETag"] = etag(recorded.payment.version)
    if recorded.new:
        response.headers["Location"] = f"/api/v1/payments/{recorded.payment.id}"
    else:
        response.status_code = 200
    return PaymentRead.of(recorded.payment)


async def _recorded_under_key(session: AsyncSession, payment_id: uuid.UUID) -> handlers.RecordedPayment:
    """A key that was stored recorded a new payment (a repeat of a bank payment commits nothing)."""
    return handlers.RecordedPayment(await repository.get_payment(session, payment_id), new=True)


def _payment_read(response: Response, payment: Payment) -> PaymentRead:
    response.headers["ETag"] = etag(payment.version)
    return PaymentRead.of(payment)


def _credit_note_created(response: Response, note: CreditNote) -> CreditNoteRead:
    response.headers["Location"] = f"/api/v1/credit-notes/{note.id}"
    return CreditNoteRead.of(note)


def _account_codes_read(response: Response, version: PolicyVersion) -> AccountCodesRead:
    response.headers["ETag"] = etag(version.version)
    return AccountCodesRead.of(version)


def _seller_identity_read(response: Response, version: PolicyVersion) -> SellerIdentityRead:
    response.headers["ETag"] = etag(version.version)
    return SellerIdentityRead.of(version)


PaymentReferenceQuery = Annotated[str | None, Query(
    max_length=40, description="exactly this ISO 11649 creditor reference (`RF94INV2026000001`, spaces and case "
                               "as a remittance has them): a page of the one invoice, or none")]
InvoiceNumberQuery = Annotated[InvoiceNumber | None, Query(
    alias="number", description="exactly this invoice number (`INV-2026-000001`): a page of the one invoice, or none")]


# --- payments ---------------------------------------------------------------------------------


@router.post("/payments", status_code=201, response_model=PaymentRead, tags=["payments"],
             summary="Record a bank payment and apply it; a known bank reference answers 200 with the first one, or 409 "
                     "when the receipt says otherwise",
             description="The payment names what it is for: an invoice (`invoice_id`, or `invoice_number` as the "
                         "remittance advice cites it), a contract or an account. A recording creates a payment: it "
                         "takes no If-Match.",
             responses={200: {"model": PaymentRead,
                              "description": "this bank payment was recorded before: the first recording"}})
async def record_payment(body: PaymentCreate, uow: Uow, principal: Cashier, response: Response,
                         idempotency_key: IdempotencyKey = None) -> PaymentRead:
    command = handlers.RecordPayment(uuid.uuid4(), body.bank_reference, body.payer, body.amount.to_money(),
                                     body.value_date, body.invoice_id, body.contract_id, body.account_id,
                                     body.invoice_number, body.end_to_end_id)
    return await run(uow, handlers.record_payment, command, principal, answer=partial(_recorded, response),
                     once=Once(idempotency_key, "POST /payments", body, command.payment_id, _recorded_under_key))


@router.post("/bank-statements", status_code=201, response_model=StatementImportRead, tags=["bank statements"],
             summary="Import a bank statement file (ISO 20022 camt.053 / camt.054, or MT940): each statement once, its credits "
                     "matched to the invoices they name and recorded as their payments, the rest kept in suspense",
             description="The body is the file as the bank sent it. A camt file is validated against the official "
                         "XSD of its message version; one that is not (or an MT940 that does not parse) is a 422 "
                         "`bank-statement-unreadable`. A statement of an "
                         "account imported before answers as then (200 when nothing in the file is new); the same "
                         "statement id with other content is a 409 `bank-statement-conflict`.",
             # One body, the file's bytes: which kind of file it is is read from the content (an
             # MT940 starts with its :20: field), so a bank connector sends what it received.
             openapi_extra={"requestBody": {"required": True, "content": {"application/octet-stream": {
                 "schema": {"type": "string", "format": "binary",
                            "description": "the file as the bank sent it: an ISO 20022 camt.053 or camt.054 XML "
                                           "document, or a SWIFT MT940 statement (told apart by its content)"}}}}},
             responses={200: {"model": StatementImportRead, "description": "every statement was imported before"}})
async def import_bank_statements(request: Request, uow: Uow, principal: Cashier,
                                 response: Response) -> StatementImportRead:
    statements = parse_statement_file(await request.body())
    if not statements:
        raise InvalidInput("body", "the file holds no statement")

    def answer(imported: list[handlers.ImportedStatement]) -> StatementImportRead:
        if not any(i.new for i in imported):
            response.status_code = 200
        return StatementImportRead(statements=[BankStatementRead.of(i.statement) for i in imported],
                                   new=[i.new for i in imported])

    return await run(uow, handlers.import_statements, handlers.ImportStatements(tuple(statements)), principal,
                     answer=answer)


@router.get("/bank-transactions", response_model=Page[BankTransactionRead], tags=["bank statements"],
            summary="The bank's transactions in the order they were imported; `status=suspense` is the cash nobody "
                    "could name yet")
async def list_bank_transactions(session: ReadSession, principal: Exporter, status: TransactionStatus | None = None,
                                 account_iban: Annotated[str | None, Query(max_length=60, description=(
                                     "of this bank account's statements"))] = None,
                                 limit: Limit = 50, cursor: Cursor = None) -> Page[BankTransactionRead]:
    rows, next_cursor = await queries.bank_transactions_page(session, status=status, account_iban=account_iban,
                                                             limit=limit, cursor=cursor)
    return Page[BankTransactionRead](items=[BankTransactionRead.of(t) for t in rows], next_cursor=next_cursor)


@router.get("/bank-transactions/{transaction_id}", response_model=BankTransactionRead, tags=["bank statements"],
            summary="One statement entry and what became of it")
async def read_bank_transaction(transaction_id: uuid.UUID, session: ReadSession,
                                principal: Exporter) -> BankTransactionRead:
    return BankTransactionRead.of(await repository.get_transaction(session, transaction_id))


@router.post("/bank-transactions/{transaction_id}/allocations", response_model=BankTransactionRead,
             tags=["bank statements"],
             summary="Match a suspense credit by hand: to invoices, contracts or accounts, split in parts that add up "
                     "to it; each part is a payment the entry confirms")
async def allocate_suspense(transaction_id: uuid.UUID, body: SuspenseAllocationCreate, uow: Uow, principal: Clerk,
                            idempotency_key: IdempotencyKey = None) -> BankTransactionRead:
    # A suspense credit is allocated once (a second try finds it matched: 422 `transaction-not-in-suspense`);
    # under its Idempotency-Key a retry answers the first allocation.
    command = handlers.AllocateSuspense(transaction_id, tuple(handlers.Allocation(
        amount=part.amount.to_money(), invoice_id=part.invoice_id, invoice_number=part.invoice_number,
        contract_id=part.contract_id, account_id=part.account_id) for part in body.allocations), body.note)
    return await run(uow, handlers.allocate_suspense, command, principal, answer=BankTransactionRead.of,
                     once=Once(idempotency_key, f"POST /bank-transactions/{transaction_id}/allocations", body,
                               transaction_id, repository.get_transaction))


@router.post("/bank-transactions/{transaction_id}/send-back", response_model=BankTransactionRead,
             tags=["bank statements"],
             summary="Send a suspense credit back to its payer (nobody owes it): out of suspense, with the reason")
async def send_back_suspense(transaction_id: uuid.UUID, body: SuspenseSendBackCreate, uow: Uow,
                             principal: Clerk) -> BankTransactionRead:
    return await run(uow, handlers.send_back_suspense, handlers.SendBackSuspense(transaction_id, body.reason),
                     principal, answer=BankTransactionRead.of)


@router.get("/bank-statements/{statement_id}", response_model=BankStatementRead, tags=["bank statements"],
            summary="An imported statement: its transactions and what became of each")
async def read_bank_statement(statement_id: uuid.UUID, session: ReadSession, principal: Exporter) -> BankStatementRead:
    return BankStatementRead.of(await repository.get_statement(session, statement_id))


@router.post("/payments/{payment_id}/applications", response_model=PaymentRead, tags=["payments"],
             summary="Apply a payment's unapplied cash: to an invoice, or oldest due first across its account; "
                     "If-Match the payment's ETag")
async def apply_unapplied_cash(payment_id: uuid.UUID, body: PaymentApplicationCreate, uow: Uow, principal: Clerk,
                               response: Response, version: ExpectedVersion,
                               idempotency_key: IdempotencyKey = None) -> PaymentRead:
    # Cash moves here: a retry after a lost answer must not apply what is left a second time. Its
    # If-Match is stale by then (412); under its Idempotency-Key it answers the first application.
    command = handlers.ApplyUnappliedCash(payment_id, body.invoice_id, body.applied_on, version,
                                          body.invoice_number)
    return await run(uow, handlers.apply_unapplied_cash, command, principal, answer=partial(_payment_read, response),
                     once=Once(idempotency_key, f"POST /payments/{payment_id}/applications", body, payment_id,
                               repository.get_payment))


@router.post("/payments/{payment_id}/returns", response_model=PaymentRead, tags=["payments"],
             summary="The bank returned a payment: what it paid is open again (and dunned again); If-Match the "
                     "payment's ETag")
async def return_payment(payment_id: uuid.UUID, body: PaymentReturnCreate, uow: Uow, principal: Clerk,
                         response: Response, version: ExpectedVersion) -> PaymentRead:
    command = handlers.ReturnPayment(payment_id, body.returned_on, body.reason, version)
    return await run(uow, handlers.return_payment, command, principal, answer=partial(_payment_read, response))


def _refund_read(response: Response, refund: Refund) -> RefundRead:
    response.headers["ETag"] = etag(refund.version)
    response.headers["Location"] = f"/api/v1/refunds/{refund.id}"
    return RefundRead.of(refund)


@router.post("/payments/{payment_id}/refunds", status_code=201, response_model=RefundRead, tags=["refunds"],
             summary="Refund a payment's unapplied cash to the customer: issued at once up to the currency's approval "
                     "amount, else held for a second finance person; If-Match the payment's ETag")
async def request_refund(payment_id: uuid.UUID, body: RefundCreate, uow: Uow, principal: Clerk, response: Response,
                         version: ExpectedVersion, idempotency_key: IdempotencyKey = None) -> RefundRead:
    command = handlers.RequestRefund(uuid.uuid4(), payment_id, body.amount.to_money(), body.beneficiary_name,
                                     body.beneficiary_iban, body.reason, version)
    return await run(uow, handlers.request_refund, command, principal, answer=partial(_refund_read, response),
                     once=Once(idempotency_key, f"POST /payments/{payment_id}/refunds", body, command.refund_id,
                               repository.get_refund))


@router.post("/refunds/{refund_id}/decision", response_model=RefundRead, tags=["refunds"],
             summary="Approve (the cash goes out: refund.issued) or reject (unapplied again) a refund waiting for "
                     "approval; never by who requested it; If-Match the refund's ETag")
async def decide_refund(refund_id: uuid.UUID, body: DecisionCreate, uow: Uow, principal: Clerk, response: Response,
                        version: ExpectedVersion) -> RefundRead:
    return await run(uow, handlers.decide_refund, handlers.DecideRefund(refund_id, body.approve, body.note, version),
                     principal, answer=partial(_refund_read, response))


@router.get("/refunds/{refund_id}", response_model=RefundRead, tags=["refunds"], summary="A refund and its decision")
async def read_refund(refund_id: uuid.UUID, session: ReadSession, principal: Reader, response: Response) -> RefundRead:
    refund = await repository.get_refund(session, refund_id)
    await queries.require_visible(session, principal, refund.account_id, "refund", refund_id)
    return _refund_read(response, refund)


@router.get("/refunds", response_model=Page[RefundRead], tags=["refunds"],
            summary="Refunds, oldest first; `status=pending_approval` is what waits for a second person")
async def list_refunds(session: ReadSession, principal: Reader, status: RefundStatus | None = None,
                       account_id: uuid.UUID | None = None, payment_id: uuid.UUID | None = None,
                       limit: Limit = 50, cursor: Cursor = None) -> Page[RefundRead]:
    await _account_scope(session, principal, account_id)
    rows, next_cursor = await queries.refunds_page(session, principal, status=status, account_id=account_id,
                                                   payment_id=payment_id, limit=limit, cursor=cursor)
    return Page[RefundRead](items=[RefundRead.of(r) for r in rows], next_cursor=next_cursor)


@router.get("/payments/{payment_id}", response_model=PaymentRead, tags=["payments"],
            summary="A payment: what was received, where it was applied, what is held unapplied")
async def read_payment(payment_id: uuid.UUID, session: ReadSession, principal: Reader,
                       response: Response) -> PaymentRead:
    return _payment_read(response, await queries.payment(session, principal, payment_id))


@router.get("/payments/{payment_id}/history", response_model=list[HistoryEntryRead], tags=["payments"],
            summary="Who recorded and applied the payment, and when: its audit trail, oldest first")
async def payment_history(payment_id: uuid.UUID, session: ReadSession, principal: Reader) -> list[HistoryEntryRead]:
    entries = await queries.payment_history(session, principal, payment_id)
    return [HistoryEntryRead.model_validate(row) for row in entries]


@router.get("/payments", response_model=Page[PaymentRead], tags=["payments"],
            summary="Payments, newest first; by account, contract, bank reference, or those still holding cash")
async def list_payments(session: ReadSession, principal: Reader, account_id: uuid.UUID | None = None,
                        contract_id: uuid.UUID | None = None,
                        with_unapplied_cash: Annotated[bool, Query(description="only payments still holding cash")]
                        = False,
                        bank_reference: Annotated[str | None, Query(
                            min_length=1, max_length=200,
                            description="exactly this bank reference: a page of the one payment, or none")] = None,
                        limit: Limit = 50, cursor: Cursor = None) -> Page[PaymentRead]:
    await _account_scope(session, principal, account_id)
    rows, next_cursor = await queries.payments_page(session, principal, account_id=account_id, contract_id=contract_id,
                                                    with_unapplied_cash=with_unapplied_cash, limit=limit,
                                                    cursor=cursor, bank_reference=bank_reference)
    return Page[PaymentRead](items=[PaymentRead.of(p) for p in rows], next_cursor=next_cursor)


# --- invoices and credit notes ----------------------------------------------------------------


@router.get("/invoices/{invoice_id}", response_model=InvoiceRead, tags=["invoices"],
            summary="An invoice: its amount, what was paid and credited, what is open, and its ETag")
async def read_invoice(invoice_id: uuid.UUID, session: ReadSession, principal: Reader,
                       response: Response) -> InvoiceRead:
    invoice = await queries.invoice(session, principal, invoice_id)
    response.headers["ETag"] = etag(invoice.version)
    return InvoiceRead.of(invoice)


# --- the EN 16931 documents ---------------------------------------------------------------------

_DOCUMENT_TYPES = {
    "application/xml": {"schema": {"type": "string", "description": (
        "UN/CEFACT CII in the Factur-X EN 16931 profile (`syntax=cii`, the default) or UBL 2.1 in the EN 16931 "
        "binding (`syntax=ubl`)")}},
    "application/pdf": {"schema": {"type": "string", "format": "binary",
                                   "description": "Factur-X PDF/A-3 with the CII embedded as factur-x.xml"}},
}
_DOCUMENT_RESPONSES: dict[int | str, dict[str, Any]] = {200: {
    "description": "the document, validated against the official XSD and EN 16931 schematron of its syntax that "
                   "factur-x ships (one that fails is never served: 422 `einvoice-invalid` naming the failed rules)",
    "content": _DOCUMENT_TYPES}}
AcceptHeader = Annotated[str | None, Header(description="`application/xml` (the default) or `application/pdf`")]
SyntaxQuery = Annotated[Literal["cii", "ubl"], Query(
    description="the XML syntax: `cii` (UN/CEFACT CII, Factur-X EN 16931 profile) or `ubl` (UBL 2.1); a Factur-X "
                "PDF always carries CII")]
_RENDER = {"cii": einvoice.render_valid_cii, "ubl": einvoice.render_valid_ubl}


async def _document(view: EInvoice, accept: str | None, syntax: str) -> Response:
    pdf = bool(accept and "application/pdf" in accept and "application/xml" not in accept)
    if pdf and syntax != "cii":
        raise InvalidInput("syntax", "a Factur-X PDF carries CII: ask for syntax=cii, or for application/xml")
    try:
        xml = await asyncio.to_thread(_RENDER[syntax], view)
    except einvoice.EInvoiceInvalid as invalid:
        log.error("e-invoice failed validation", number=view.number, syntax=syntax,
                  rules=[f.rule for f in invalid.failures])
        raise RuleViolation("einvoice-invalid", invalid.detail, errors=invalid.errors) from None
    if pdf:
        document = await asyncio.to_thread(einvoice.to_pdf, view, xml)
        return Response(document, media_type="application/pdf",
                        headers={"Content-Disposition": f'inline; filename="{view.number}.pdf"'})
    return Response(xml, media_type="application/xml")


@router.get("/invoices/{invoice_id}/einvoice", response_class=Response, responses=_DOCUMENT_RESPONSES,
            tags=["invoices"], summary="The invoice as an EN 16931 e-invoice: CII or UBL XML, or Factur-X PDF/A-3 "
                                       "with `Accept: application/pdf`")
async def invoice_document(invoice_id: uuid.UUID, session: ReadSession, principal: Reader,
                           accept: AcceptHeader = None, syntax: SyntaxQuery = "cii") -> Response:
    return await _document(of_invoice(await queries.invoice(session, principal, invoice_id)), accept, syntax)


@router.get("/credit-notes/{credit_note_id}/einvoice", response_class=Response, responses=_DOCUMENT_RESPONSES,
            tags=["credit notes"], summary="The credit note as an EN 16931 document (type 381, naming the invoice it "
                                           "corrects): CII or UBL XML, or Factur-X PDF/A-3 with "
                                           "`Accept: application/pdf`")
async def credit_note_document(credit_note_id: uuid.UUID, session: ReadSession, principal: Reader,
                               accept: AcceptHeader = None, syntax: SyntaxQuery = "cii") -> Response:
    note = await queries.credit_note(session, principal, credit_note_id)
    invoice = await queries.invoice(session, principal, note.invoice_id)
    return await _document(of_credit_note(note, invoice), accept, syntax)


@router.get("/invoices/{invoice_id}/history", response_model=list[HistoryEntryRead], tags=["invoices"],
            summary="What happened to the invoice (issued, paid, credited, dunned), by whom and when, oldest first")
async def invoice_history(invoice_id: uuid.UUID, session: ReadSession, principal: Reader) -> list[HistoryEntryRead]:
    entries = await queries.invoice_history(session, principal, invoice_id)
    return [HistoryEntryRead.model_validate(row) for row in entries]


@router.get("/invoices", response_model=Page[InvoiceRead], tags=["invoices"],
            summary="Invoices, newest first; by contract, account, status, or exactly one number or creditor reference")
async def list_invoices(session: ReadSession, principal: Reader, contract_id: uuid.UUID | None = None,
                        account_id: uuid.UUID | None = None, status: InvoiceStatus | None = None,
                        number: InvoiceNumberQuery = None, payment_reference: PaymentReferenceQuery = None,
                        limit: Limit = 50, cursor: Cursor = None) -> Page[InvoiceRead]:
    rows, next_cursor = await queries.invoices_page(session, principal, contract_id=contract_id, account_id=account_id,
                                                    status=status, limit=limit, cursor=cursor, number=number,
                                                    payment_reference=payment_reference)
    return Page[InvoiceRead](items=[InvoiceRead.of(invoice) for invoice in rows], next_cursor=next_cursor)


@router.post("/invoices/{invoice_id}/credit-notes", status_code=201, response_model=CreditNoteRead,
             tags=["credit notes"],
             summary="Correct an issued invoice with a numbered credit note; If-Match the invoice's ETag")
async def issue_credit_note(invoice_id: uuid.UUID, body: CreditNoteCreate, uow: Uow, principal: Clerk,
                            response: Response, version: ExpectedVersion,
                            idempotency_key: IdempotencyKey = None) -> CreditNoteRead:
    command = handlers.IssueCreditNote(
        uuid.uuid4(), invoice_id, body.amount.to_money() if body.amount is not None else None, body.reason, version,
        tuple(line.to_domain() for line in body.lines) if body.lines is not None else None)
    return await run(uow, handlers.issue_credit_note, command, principal,
                     answer=partial(_credit_note_created, response),
                     once=Once(idempotency_key, f"POST /invoices/{invoice_id}/credit-notes", body,
                               command.credit_note_id, repository.get_credit_note))


@router.post("/invoices/{invoice_id}/write-offs", status_code=201, response_model=WriteOffRead, tags=["invoices"],
             summary="Write off a small balance left open on an invoice, within the currency's tolerance; If-Match "
                     "the invoice's ETag")
async def write_off_small_balance(invoice_id: uuid.UUID, body: WriteOffCreate, uow: Uow, principal: Clerk,
                                  version: ExpectedVersion) -> WriteOffRead:
    command = handlers.WriteOffSmallBalance(invoice_id, body.amount.to_money() if body.amount else None,
                                            body.reason, version)
    return await run(uow, handlers.write_off_small_balance, command, principal, answer=WriteOffRead.of)


def _request_read(response: Response, request: WriteOffRequest) -> WriteOffRequestRead:
    response.headers["ETag"] = etag(request.version)
    response.headers["Location"] = f"/api/v1/write-off-requests/{request.id}"
    return WriteOffRequestRead.of(request)


@router.post("/invoices/{invoice_id}/bad-debt-write-offs", status_code=201, response_model=WriteOffRequestRead,
             tags=["invoices"],
             summary="Ask to write off a bad debt: routed to the tier its amount requires, nothing written off until "
                     "it decides (a request changes nothing on the invoice: no If-Match)")
async def request_bad_debt_write_off(invoice_id: uuid.UUID, body: BadDebtCreate, uow: Uow, principal: Clerk,
                                     response: Response, idempotency_key: IdempotencyKey = None) -> WriteOffRequestRead:
    command = handlers.RequestBadDebtWriteOff(uuid.uuid4(), invoice_id,
                                              body.amount.to_money() if body.amount else None, body.reason)
    return await run(uow, handlers.request_bad_debt_write_off, command, principal,
                     answer=partial(_request_read, response),
                     once=Once(idempotency_key, f"POST /invoices/{invoice_id}/bad-debt-write-offs", body,
                               command.request_id, repository.get_write_off_request))


@router.post("/write-off-requests/{request_id}/decision", response_model=WriteOffRequestRead, tags=["invoices"],
             summary="The tier decides a bad debt (an approver of that tier or above, never who asked): approved, "
                     "what is open is written off; If-Match the request's ETag")
async def decide_bad_debt_write_off(request_id: uuid.UUID, body: DecisionCreate, uow: Uow, principal: TierApprover,
                                    response: Response, version: ExpectedVersion) -> WriteOffRequestRead:
    command = handlers.DecideBadDebtWriteOff(request_id, body.approve, body.note, version)
    return await run(uow, handlers.decide_bad_debt_write_off, command, principal,
                     answer=partial(_request_read, response))


@router.get("/write-off-requests", response_model=Page[WriteOffRequestRead], tags=["invoices"],
            summary="Bad-debt write-off requests, oldest first; `status=pending` is what waits for a tier")
async def list_write_off_requests(session: ReadSession, principal: RequestReader, status: Decision | None = None,
                                  account_id: uuid.UUID | None = None, invoice_id: uuid.UUID | None = None,
                                  limit: Limit = 50, cursor: Cursor = None) -> Page[WriteOffRequestRead]:
    rows, next_cursor = await queries.write_off_requests_page(session, status=status,
                                                              account_id=account_id, invoice_id=invoice_id,
                                                              limit=limit, cursor=cursor)
    return Page[WriteOffRequestRead](items=[WriteOffRequestRead.of(r) for r in rows], next_cursor=next_cursor)


@router.get("/write-off-requests/{request_id}", response_model=WriteOffRequestRead, tags=["invoices"],
            summary="A bad-debt write-off request and its decision")
async def read_write_off_request(request_id: uuid.UUID, session: ReadSession, principal: RequestReader,
                                 response: Response) -> WriteOffRequestRead:
    return _request_read(response, await repository.get_write_off_request(session, request_id))


@router.get("/invoices/{invoice_id}/write-offs", response_model=list[WriteOffRead], tags=["invoices"],
            summary="What was written off an invoice, oldest first")
async def invoice_write_offs(invoice_id: uuid.UUID, session: ReadSession, principal: Reader) -> list[WriteOffRead]:
    await queries.invoice(session, principal, invoice_id)  # 404 for an invoice the caller may not see
    return [WriteOffRead.of(w) for w in await queries.write_offs_of(session, invoice_id)]


@router.get("/credit-notes/{credit_note_id}", response_model=CreditNoteRead, tags=["credit notes"],
            summary="A credit note: the invoice it corrects, by how much and why")
async def read_credit_note(credit_note_id: uuid.UUID, session: ReadSession, principal: Reader) -> CreditNoteRead:
    return CreditNoteRead.of(await queries.credit_note(session, principal, credit_note_id))


@router.get("/credit-notes", response_model=Page[CreditNoteRead], tags=["credit notes"],
            summary="Credit notes, newest first; by invoice, contract, or exactly one number")
async def list_credit_notes(session: ReadSession, principal: Exporter, invoice_id: uuid.UUID | None = None,
                            contract_id: uuid.UUID | None = None,
                            number: Annotated[str | None, Query(
                                min_length=1, max_length=40,
                                description="exactly this credit note number (`CN-2026-000001`): a page of the one "
                                            "credit note, or none")] = None,
                            limit: Limit = 50, cursor: Cursor = None) -> Page[CreditNoteRead]:
    rows, next_cursor = await queries.credit_notes_page(session, principal, invoice_id=invoice_id,
                                                        contract_id=contract_id, limit=limit, cursor=cursor,
                                                        number=number)
    return Page[CreditNoteRead](items=[CreditNoteRead.of(n) for n in rows], next_cursor=next_cursor)


# --- billing plans and receivables ------------------------------------------------------------


@router.get("/billing-plans/{contract_id}", response_model=BillingPlanRead, tags=["billing plans"],
            summary="A contract's billing plan: instalments, invoiced, collected, credited and open balance")
async def read_billing_plan(contract_id: uuid.UUID, session: ReadSession, principal: Reader,
                            response: Response) -> BillingPlanRead:
    plan = await queries.billing_plan(session, principal, contract_id)
    response.headers["ETag"] = etag(plan.version)
    return BillingPlanRead.of(plan)


@router.get("/receivables", response_model=ReceivablesRead, tags=["receivables"],
            summary="Open invoices aged as of a date, per currency; the buckets add up to the invoices listed")
async def read_receivables(session: ReadSession, principal: Reader, as_of: date | None = None,
                           account_id: uuid.UUID | None = None,
                           contract_id: uuid.UUID | None = None) -> ReceivablesRead:
    await _account_scope(session, principal, account_id)
    as_of = as_of or handlers.today()
    exposures = await queries.receivables(session, principal, as_of, account_id=account_id, contract_id=contract_id)
    return ReceivablesRead.of(as_of=as_of, account_id=account_id, contract_id=contract_id, exposures=exposures)


@router.post("/dunning-runs", response_model=ScheduledRunRead, tags=["receivables"],
             summary="Run the scheduled job now as of a date: bill instalments due by date, advance dunning")
async def run_dunning(body: ScheduledRunCreate, uow: Uow, principal: Scheduler) -> ScheduledRunRead:
    return await run(uow, handlers.run_schedule, handlers.RunSchedule(body.as_of), principal,
                     answer=ScheduledRunRead.of)


# --- the ERP journal and its account codes ----------------------------------------------------


@router.get("/journal-lines", response_model=JournalRead, tags=["erp"],
            summary="Double-entry journal lines posted in a date range (inclusive), with the ERP's account codes")
async def read_journal(session: ReadSession, principal: Exporter,
                       start: Annotated[date, Query(alias="from")], end: Annotated[date, Query(alias="to")]) -> JournalRead:
    if end < start:
        raise InvalidInput("to", "must not be before from")
    if (end - start).days >= MAX_JOURNAL_DAYS:
        raise InvalidInput("to", f"at most {MAX_JOURNAL_DAYS} days per export")
    lines = await queries.journal_lines(session, start, end)
    return JournalRead(start=start, end=end, lines=[JournalLineRead.of(line) for line in lines])


@router.get("/config/account-codes", response_model=AccountCodesRead, tags=["configuration"],
            summary="The ERP account codes the journal lines post to (version 0: the deployment's environment)")
async def read_account_codes(session: ReadSession, principal: ConfigReader, response: Response) -> AccountCodesRead:
    return _account_codes_read(response, await queries.account_codes(session))


@router.put("/config/account-codes", response_model=AccountCodesRead, tags=["configuration"],
            summary="Set the ERP account codes for the exports from now on; If-Match the ETag of your read")
async def update_account_codes(body: AccountCodesPayload, uow: Uow, principal: Configurer, response: Response,
                               version: ExpectedVersion) -> AccountCodesRead:
    command = handlers.SetAccountCodes(body.to_domain(), version)
    return await run(uow, handlers.set_account_codes, command, principal, answer=partial(_account_codes_read, response))


@router.get("/config/account-codes/history", response_model=list[AccountCodesVersionRead], tags=["configuration"],
            summary="Every version an admin set: who set which codes, when, oldest first")
async def account_codes_history(session: ReadSession, principal: ConfigReader) -> list[AccountCodesVersionRead]:
    return [AccountCodesVersionRead.of(version) for version in await queries.account_codes_history(session)]


# --- which VAT our invoices charge ---------------------------------------------------------------


def _tax_rules_read(response: Response, version: PolicyVersion) -> TaxRulesRead:
    response.headers["ETag"] = etag(version.version)
    return TaxRulesRead.of(version)


@router.get("/config/tax-rules", response_model=TaxRulesRead, tags=["configuration"],
            summary="Which VAT a line bears by the seller's and the buyer's country (version 0: the built-in table "
                    "for a German seller)")
async def read_tax_rules(session: ReadSession, principal: ConfigReader, response: Response) -> TaxRulesRead:
    return _tax_rules_read(response, await queries.tax_rules(session))


@router.put("/config/tax-rules", response_model=TaxRulesRead, tags=["configuration"],
            summary="Set the tax rules for the invoices issued from now on (issued ones keep their VAT; held "
                    "instalments are tried again); If-Match the ETag of your read")
async def update_tax_rules(body: TaxRulesPayload, uow: Uow, principal: Configurer, response: Response,
                           version: ExpectedVersion) -> TaxRulesRead:
    return await run(uow, handlers.set_tax_rules, handlers.SetTaxRules(body.document(), version), principal,
                     answer=partial(_tax_rules_read, response))


@router.get("/config/tax-rules/history", response_model=list[TaxRulesVersionRead], tags=["configuration"],
            summary="Every version an admin set: who set which rules, when, oldest first")
async def tax_rules_history(session: ReadSession, principal: ConfigReader) -> list[TaxRulesVersionRead]:
    return [TaxRulesVersionRead.of(version) for version in await queries.tax_rules_history(session)]


def _cash_tolerance_read(response: Response, version: PolicyVersion) -> CashToleranceRead:
    response.headers["ETag"] = etag(version.version)
    return CashToleranceRead.of(version)


@router.get("/config/cash-tolerance", response_model=CashToleranceRead, tags=["configuration"],
            summary="How short of an invoice a matched payment may fall and still settle it, per currency (version "
                    "0: no tolerance)")
async def read_cash_tolerance(session: ReadSession, principal: ConfigReader, response: Response) -> CashToleranceRead:
    return _cash_tolerance_read(response, await queries.cash_tolerance(session))


@router.put("/config/cash-tolerance", response_model=CashToleranceRead, tags=["configuration"],
            summary="Set the small-balance tolerances for the statements imported from now on; If-Match the ETag of "
                    "your read")
async def update_cash_tolerance(body: CashTolerancePayload, uow: Uow, principal: Configurer, response: Response,
                                version: ExpectedVersion) -> CashToleranceRead:
    return await run(uow, handlers.set_cash_policy, handlers.SetPolicy(queries.CASH_TOLERANCE, body.document(), version),
                     principal, answer=partial(_cash_tolerance_read, response))


@router.get("/config/cash-tolerance/history", response_model=list[CashToleranceVersionRead], tags=["configuration"],
            summary="Every version an admin set: who set which tolerances, when, oldest first")
async def cash_tolerance_history(session: ReadSession, principal: ConfigReader) -> list[CashToleranceVersionRead]:
    return [CashToleranceVersionRead.of(version) for version in await queries.cash_tolerance_history(session)]


def _policy_read(read: type[RefundApprovalRead] | type[BadDebtTiersRead], response: Response,
                 version: PolicyVersion) -> Any:
    response.headers["ETag"] = etag(version.version)
    return read.of(version)


@router.get("/config/refund-approval", response_model=RefundApprovalRead, tags=["configuration"],
            summary="Up to which amount per currency a refund is issued on the clerk's word (version 0: none, every "
                    "refund is approved by a second person)")
async def read_refund_approval(session: ReadSession, principal: ConfigReader,
                               response: Response) -> RefundApprovalRead:
    return _policy_read(RefundApprovalRead, response, await queries.refund_approval(session))


@router.put("/config/refund-approval", response_model=RefundApprovalRead, tags=["configuration"],
            summary="Set the refund approval amounts; If-Match the ETag of your read")
async def update_refund_approval(body: RefundApprovalPayload, uow: Uow, principal: Configurer, response: Response,
                                 version: ExpectedVersion) -> RefundApprovalRead:
    command = handlers.SetPolicy(queries.REFUND_APPROVAL, body.model_dump(mode="json"), version)
    return await run(uow, handlers.set_cash_policy, command, principal,
                     answer=partial(_policy_read, RefundApprovalRead, response))


@router.get("/config/bad-debt-tiers", response_model=BadDebtTiersRead, tags=["configuration"],
            summary="Which tier decides a bad debt by its amount, per currency (version 0: L3 for every amount)")
async def read_bad_debt_tiers(session: ReadSession, principal: ConfigReader, response: Response) -> BadDebtTiersRead:
    return _policy_read(BadDebtTiersRead, response, await queries.bad_debt_tiers(session))


@router.put("/config/bad-debt-tiers", response_model=BadDebtTiersRead, tags=["configuration"],
            summary="Set the bad-debt tier thresholds; If-Match the ETag of your read")
async def update_bad_debt_tiers(body: BadDebtTiersPayload, uow: Uow, principal: Configurer, response: Response,
                                version: ExpectedVersion) -> BadDebtTiersRead:
    command = handlers.SetPolicy(queries.BAD_DEBT_TIERS, body.model_dump(mode="json"), version)
    return await run(uow, handlers.set_cash_policy, command, principal,
                     answer=partial(_policy_read, BadDebtTiersRead, response))


# --- who we are on our invoices -----------------------------------------------------------------


@router.get("/config/seller-identity", response_model=SellerIdentityRead, tags=["configuration"],
            summary="Who our invoices name as the seller (version 0: the deployment's environment, by default a "
                    "development placeholder)")
async def read_seller_identity(session: ReadSession, principal: ConfigReader,
                               response: Response) -> SellerIdentityRead:
    return _seller_identity_read(response, await queries.seller_identity(session))


@router.put("/config/seller-identity", response_model=SellerIdentityRead, tags=["configuration"],
            summary="Set the seller identity for the invoices issued from now on (issued ones keep theirs); "
                    "If-Match the ETag of your read")
async def update_seller_identity(body: SellerIdentityPayload, uow: Uow, principal: Configurer, response: Response,
                                 version: ExpectedVersion) -> SellerIdentityRead:
    command = handlers.SetSellerIdentity(body.to_domain(), version)
    return await run(uow, handlers.set_seller_identity, command, principal,
                     answer=partial(_seller_identity_read, response))


@router.get("/config/seller-identity/history", response_model=list[SellerIdentityVersionRead],
            tags=["configuration"], summary="Every version an admin set: who set which identity, when, oldest first")
async def seller_identity_history(session: ReadSession, principal: ConfigReader) -> list[SellerIdentityVersionRead]:
    return [SellerIdentityVersionRead.of(version) for version in await queries.seller_identity_history(session)]
