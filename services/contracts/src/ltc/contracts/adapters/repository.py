"""Loading the contract aggregate and writing the records kept beside it (its versions, the
policy); writes go through the unit of work's session. What only the API reads: `queries`."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from ltc.contracts.adapters.orm import contract_sequences, contract_versions, invoiced_lines
from ltc.contracts.domain.invoiced import Invoiced
from ltc.contracts.domain.model import Contract, VersionChange
from ltc.contracts.domain.policy import DEFAULT_POLICY, ContractPolicy
from ltc.shared.money import Money
from ltc.shared.policy import PolicyVersion, current_policy, set_policy
from ltc.shared.rules import NotFound

# Every audit entry of this service is about a contract (`object_type`, `object_id` the
# contract's id); the part it concerns (a milestone, an amendment, a review) is named in its
# changes, so the contract's trail is one list, as it always was.
AUDITED_AS = "contract"

# The admin's review tiers, decision-tier authority and at-risk window in the shared policy store.
POLICY_NAME = "contract-policy"


async def get_contract(session: AsyncSession, contract_id: uuid.UUID, *, for_update: bool = False) -> Contract:
    contract = await session.get(Contract, contract_id, with_for_update=for_update)
    if contract is None:
        raise NotFound("contract", contract_id)
    return contract


async def find_by_opportunity(session: AsyncSession, opportunity_id: uuid.UUID) -> Contract | None:
    result = await session.execute(select(Contract).where(Contract.opportunity_id == opportunity_id))
    return result.scalar_one_or_none()


async def next_contract_sequence(session: AsyncSession, year: int) -> int:
    """The next number of `year`'s drafts. Gap-free: the year's row is incremented under its row
    lock, held until the drafting transaction ends, so a draft rolled back gives its number back."""
    await session.execute(pg_insert(contract_sequences).values(year=year, last_number=0).on_conflict_do_nothing())
    return (await session.execute(
        update(contract_sequences).where(contract_sequences.c.year == year)
        .values(last_number=contract_sequences.c.last_number + 1).returning(contract_sequences.c.last_number)
    )).scalar_one()


async def get_policy(session: AsyncSession) -> tuple[ContractPolicy, int]:
    """The policy in force and its version; the defaults (version 0) until an admin sets one."""
    current = await current_policy(session, POLICY_NAME, None)
    if current.version == 0:
        return DEFAULT_POLICY, 0
    return ContractPolicy.from_json(current.document), current.version


async def save_policy(session: AsyncSession, policy: ContractPolicy, *, expected_version: int | None, by: str,
                      at: datetime) -> PolicyVersion:
    """The next version after the one in force; `StaleVersion` if that is no longer `expected_version`."""
    return await set_policy(session, POLICY_NAME, policy.to_json(), expected_version=expected_version, by=by, at=at)


async def add_version(session: AsyncSession, contract: Contract, *, change: VersionChange, by: str, at: datetime,
                      reason: str | None = None, amendment_id: uuid.UUID | None = None) -> None:
    await session.execute(insert(contract_versions).values(
        contract_id=contract.id, contract_version=contract.contract_version, terms=contract.terms().to_json(),
        change=change.value, reason=reason, amendment_id=amendment_id, created_by=by, created_at=at))


@dataclass(frozen=True)
class InvoicedLine:
    """What one invoice or credit note bills of one contract line; a credit note's is negative."""

    position: int
    quantity: Decimal
    net: Money


async def record_invoiced(session: AsyncSession, *, contract_id: uuid.UUID, document_id: uuid.UUID,
                          document_type: str, document_number: str, lines: Sequence[InvoicedLine],
                          at: datetime) -> None:
    """The document's lines, once: a document already recorded is not recorded again."""
    if not lines:
        return
    await session.execute(pg_insert(invoiced_lines).values([
        {"document_id": document_id, "position": line.position, "contract_id": contract_id,
         "document_type": document_type, "document_number": document_number, "quantity": line.quantity,
         "net_amount": line.net.amount, "currency": line.net.currency, "recorded_at": at}
        for line in lines]).on_conflict_do_nothing())


async def invoiced_of(session: AsyncSession, contract_id: uuid.UUID) -> dict[int, Invoiced]:
    """Per line position, what the contract's invoices bill of its lines. Credit notes are kept
    beside them and not subtracted: they correct invoices, they do not un-bill a line (finance bills
    each instalment once and holds an amendment to what it billed)."""
    rows = (await session.execute(
        select(invoiced_lines.c.position, invoiced_lines.c.currency, func.sum(invoiced_lines.c.quantity),
               func.sum(invoiced_lines.c.net_amount))
        .where(invoiced_lines.c.contract_id == contract_id, invoiced_lines.c.document_type == "invoice")
        .group_by(invoiced_lines.c.position, invoiced_lines.c.currency)
        .order_by(invoiced_lines.c.position))).all()
    invoiced: dict[int, Invoiced] = {}
    for position, currency, quantity, net in rows:
        billed = Invoiced(Decimal(quantity), Money(Decimal(net), currency))
        if position in invoiced:  # finance bills a contract in its currency: two are a broken flow
            raise ValueError(f"line {position} of contract {contract_id} is invoiced in more than one currency")
        invoiced[position] = billed
    return invoiced
