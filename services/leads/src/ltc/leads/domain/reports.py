"""The closed loop: what each lead channel and tier turns into, all the way to cash."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from ltc.leads.domain.accounts import Tier
from ltc.leads.domain.model import Channel, Grade, Lead
from ltc.shared.money import Money


@dataclass(frozen=True)
class ChannelTierRow:
    channel: Channel
    tier: Tier
    leads: int
    reached: dict[str, int]  # credible / opportunity / converted: how many leads got that far
    conversion_rate: dict[str, Decimal]  # the same, as a share of the leads
    won: int
    lost: int
    cash_collected: int
    cash_amounts: list[Money]
    median_lead_to_cash_days: Decimal | None


STEPS = (Grade.CREDIBLE, Grade.OPPORTUNITY, Grade.CONVERTED)


def _rate(part: int, whole: int) -> Decimal:
    return (Decimal(part) / Decimal(whole)).quantize(Decimal("0.001")) if whole else Decimal(0)


def _per_currency(amounts: Iterable[Money | None]) -> list[Money]:
    """Revenue per lead source is summed per currency: converting would need a rate nobody agreed on."""
    sums: dict[str, Money] = {}
    for money in amounts:
        if money is not None:
            sums[money.currency] = sums[money.currency] + money if money.currency in sums else money
    return [sums[c] for c in sorted(sums)]


def lead_to_cash(leads: list[Lead]) -> list[ChannelTierRow]:
    groups: dict[tuple[Channel, Tier], list[Lead]] = {}
    for lead in leads:
        groups.setdefault((lead.channel, lead.tier), []).append(lead)
    rows = []
    for (channel, tier), group in sorted(groups.items()):
        reached = {step.value: sum(1 for lead in group if lead.reached(step)) for step in STEPS}
        cycle_days = [(lead.cash_collected_on - lead.created_at.date()).days
                      for lead in group if lead.cash_collected_on is not None]
        rows.append(ChannelTierRow(
            channel=channel, tier=tier, leads=len(group), reached=reached,
            conversion_rate={step: _rate(count, len(group)) for step, count in reached.items()},
            won=sum(1 for lead in group if lead.won_at is not None),
            lost=sum(1 for lead in group if lead.lost_at is not None and lead.won_at is None),
            cash_collected=len(cycle_days),
            cash_amounts=_per_currency(lead.cash_collected for lead in group),
            median_lead_to_cash_days=Decimal(str(statistics.median(cycle_days))) if cycle_days else None,
        ))
    return rows
