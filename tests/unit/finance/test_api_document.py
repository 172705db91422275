"""The finance OpenAPI document as other teams generate code from it: typed fields, summaries,
answers with a schema, and the ETag of every versioned representation."""

import hashlib
from functools import cache

import pytest

from ltc.finance.api.schemas import PaymentApplicationCreate, PaymentCreate
from ltc.finance.bootstrap import SPEC
from ltc.shared.api import request_hash
from ltc.shared.service import create_app


@cache
def _document() -> dict:
    return create_app(SPEC).openapi()


def _schema(name: str) -> dict:
    return _document()["components"]["schemas"][name]


def _enum(schema: dict) -> list[str]:
    """The values a property may take, through a `$ref` or a nullable `anyOf`."""
    for option in schema.get("anyOf", [schema]):
        ref = option.get("$ref")
        target = _schema(ref.rsplit("/", 1)[-1]) if ref else option
        if "enum" in target:
            return target["enum"]
    raise AssertionError(f"not an enum: {schema}")


@pytest.mark.parametrize(("model", "field", "values"), [
    ("InvoiceRead", "status", ["issued", "partially_paid", "in_payment", "paid", "credited", "written_off"]),
    ("PaymentRead", "status", ["recorded", "confirmed", "returned"]),
    ("BankTransactionRead", "status", ["matched", "suspense", "to_review", "return", "sent_back"]),
    ("WriteOffRead", "kind", ["small_balance", "bad_debt"]),
    ("InstalmentRead", "status", ["planned", "invoiced"]),
    ("InstalmentRead", "trigger", ["signing", "milestone", "date"]),
    ("OpenInvoiceRead", "bucket", ["current", "1-30", "31-60", "61-90", "90+"]),
    ("OpenInvoiceRead", "dunning_level", ["reminder", "second_reminder", "final_notice", "escalated"]),
    ("DunnedInvoiceRead", "dunning_level", ["reminder", "second_reminder", "final_notice", "escalated"]),
    ("JournalLineRead", "document_type", ["invoice", "credit_note", "payment", "write_off", "refund"]),
    ("HistoryEntryRead", "object_type", ["billing_plan", "invoice", "credit_note", "payment", "bank_statement", "refund",
                                         "write_off_request"]),
    ("HistoryEntryRead", "action", ["opened", "amended", "milestone_accepted", "fully_paid", "issued", "held", "dunned",
                                    "recorded", "applied", "confirmed", "returned", "written_off", "imported",
                                    "allocated", "sent_back", "requested", "decided"]),
    ("RefundRead", "status", ["pending_approval", "issued", "rejected"]),
    ("WriteOffRequestRead", "status", ["pending", "approved", "rejected"]),
    ("WriteOffRequestRead", "tier", ["L1", "L2", "L3"]),
])
def test_a_field_with_a_fixed_set_of_values_is_an_enum(model, field, values):
    assert _enum(_schema(model)["properties"][field]) == values


def test_the_aging_buckets_are_named_properties_all_present():
    buckets = _schema("AgingBuckets")
    assert buckets["required"] == ["current", "1-30", "31-60", "61-90", "90+"]
    assert _schema("AgingRead")["properties"]["buckets"] == {"$ref": "#/components/schemas/AgingBuckets"}


@pytest.mark.parametrize("model", ["InvoiceRead", "PaymentRead", "BillingPlanRead", "AccountCodesRead",
                                   "AccountCodesVersionRead"])
def test_every_versioned_representation_carries_its_etag(model):
    properties = _schema(model)["properties"]
    assert {"version", "etag"} <= set(properties)


def test_every_operation_has_a_summary_and_a_typed_answer():
    for path, operations in _document()["paths"].items():
        if not path.startswith("/api/v1/"):
            continue  # the shared health endpoints
        for method, operation in operations.items():
            assert operation.get("summary"), (method, path)
            for status, response in operation["responses"].items():
                if status.startswith("2"):
                    # The e-invoices answer documents, not JSON: XML or PDF, each typed.
                    types = DOCUMENT_TYPES if path.endswith("/einvoice") else ("application/json",)
                    assert sorted(response["content"]) == sorted(types), (method, path, status)
                    assert all(response["content"][t]["schema"] for t in types), (method, path, status)


DOCUMENT_TYPES = ("application/xml", "application/pdf")


def test_a_recording_documents_both_its_answers_and_the_lookups_their_parameters():
    paths = _document()["paths"]
    assert {"200", "201"} <= set(paths["/api/v1/payments"]["post"]["responses"])
    for path, name in (("/api/v1/invoices", "number"), ("/api/v1/credit-notes", "number"),
                       ("/api/v1/payments", "bank_reference")):
        [parameter] = [p for p in paths[path]["get"]["parameters"] if p["name"] == name]
        assert parameter["in"] == "query" and "exactly" in parameter["description"]
    payment = _schema("PaymentCreate")["properties"]
    assert "invoice_number" in payment and "invoice_number" in _schema("PaymentApplicationCreate")["properties"]


def test_an_idempotency_key_sent_before_invoice_numbers_were_accepted_still_replays():
    """The key's record holds the hash of the body's JSON: a body naming no number hashes as before."""
    payment = PaymentCreate.model_validate({
        "bank_reference": "B-1", "payer": "ACME", "amount": {"amount": "1.00", "currency": "EUR"},
        "value_date": "2026-12-01", "contract_id": "3f2e1d0c-b9a8-4765-8432-10fedcba9876"})
    before = ('{"bank_reference":"B-1","payer":"ACME","amount":{"amount":"1.00","currency":"EUR"},'
              '"value_date":"2026-12-01","invoice_id":null,"contract_id":"3f2e1d0c-b9a8-4765-8432-10fedcba9876",'
              '"account_id":null}')
    assert request_hash(payment) == hashlib.sha256(before.encode()).hexdigest()
    assert request_hash(PaymentApplicationCreate()) == hashlib.sha256(b'{"invoice_id":null,"applied_on":null}').hexdigest()
    named = PaymentApplicationCreate(invoice_number="INV-2026-000001")
    assert request_hash(named) != request_hash(PaymentApplicationCreate())
