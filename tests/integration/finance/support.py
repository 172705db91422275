"""What the finance integration tests share: the customer of a signed contract is known.

Finance invoices only a customer whose billing identity leads has published (`account.created`),
as in production, where the account exists long before its contract is signed. Tests that feed
`contract.signed` straight into the handler make that so first, with the sample deal's French
operator: its services are reverse-charged and its goods intra-community supplies, so no VAT is
charged and every invoice's gross is its net (tests about VAT set their own parties).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from ltc.finance import handlers
from ltc.shared.db import UnitOfWork
from ltc.shared.messages import EventPayload
from ltc.shared.messages.contracts_events import ContractSigned
from ltc.shared.messages.envelope import Envelope
from ltc.shared.messages.leads_events import AccountCreated
from ltc.shared.testing.apps import runtime_of
from ltc.shared.testing.bank import camt053, camt_entry
from ltc.shared.testing.deal import BILLING

# Older than any change a test makes to an account, so a test's own account events win.
KNOWN_SINCE = datetime(2026, 1, 1, tzinfo=UTC)


def account_created(account_id: uuid.UUID, billing: dict | None = BILLING, name: str = "ACME") -> AccountCreated:
    return AccountCreated.model_validate({"account_id": str(account_id), "name": name, "owner": "ar-1",
                                          "billing": billing, "created_at": KNOWN_SINCE.isoformat()})


async def know_the_customer(uow: UnitOfWork, event: EventPayload) -> None:
    """Before a contract.signed: its account as leads published it (a copy already held is kept)."""
    if isinstance(event, ContractSigned) and event.account_id is not None:
        created = account_created(event.account_id, name=event.account_name)
        envelope = Envelope(id=str(uuid.uuid4()), type=created.ce_type(), source="leads",
                            subject=created.subject(), time=datetime.now(UTC), data=created.model_dump(mode="json"))
        await handlers.on_account_created(uow, created, envelope)


async def deliver(client, handler, event: EventPayload) -> None:
    """What the consumer does with one message: the handler, then one commit."""
    envelope = Envelope(id=str(uuid.uuid4()), type=event.ce_type(), source="test", subject=event.subject(),
                        time=datetime.now(UTC), data=event.model_dump(mode="json"))
    async with runtime_of(client).unit_of_work() as uow:
        await handler(uow, event, envelope)
        await uow.commit()


async def confirm(client, *payments: dict, headers: dict[str, str]) -> dict:
    """The bank statement showing payments typed in by hand: one entry per payment with its bank
    reference, amount and value date, which confirms it (its invoices go from in payment to paid)."""
    entries = [camt_entry(p["bank_reference"], p["amount"]["amount"], currency=p["amount"]["currency"],
                          on=p["value_date"]) for p in payments]
    response = await client.post("/api/v1/bank-statements", content=camt053(f"C-{uuid.uuid4().hex[:12]}", *entries),
                                 headers={**headers, "Content-Type": "application/xml"})
    assert response.status_code == 201, response.text
    [statement] = response.json()["statements"]
    assert [t["rule"] for t in statement["transactions"]] == ["expected-payment"] * len(payments), statement
    return statement
