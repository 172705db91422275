"""The closed-loop report over plain leads."""

import uuid
from datetime import timedelta
from decimal import Decimal

from ltc.leads.domain.accounts import Tier
from ltc.leads.domain.model import Channel, Criterion, Evidence
from ltc.leads.domain.reports import lead_to_cash
from ltc.shared.money import Money
from tests.unit.leads.samples import ACCOUNT, NOW, TODAY, sample_lead


def test_report_groups_by_channel_and_tier_with_rates_and_median_days():
    a = sample_lead("a", "a", Channel.TENDER, Tier.KEY, created=NOW - timedelta(days=100))
    b = sample_lead("b", "b", Channel.TENDER, Tier.KEY, created=NOW - timedelta(days=300))
    c = sample_lead("c", "c", Channel.EXECUTIVE_VISIT, Tier.STRATEGIC)
    for lead in (a, b):
        lead.grade_credible([Evidence(k, "m", "CTO", TODAY) for k in Criterion], by="ar-1", now=NOW)
        lead.grade_opportunity(budget=Money(Decimal("1.00"), "EUR"), start_date=TODAY, by="ar-1", now=NOW)
        lead.convert(account=ACCOUNT, by="ar-1", now=NOW)
        lead.record_won(opportunity_id=uuid.uuid4(), won_at=NOW)
        lead.record_cash_collected(contract_id=uuid.uuid4(), fully_paid_on=TODAY,
                                   collected=Money(Decimal("100.50"), "EUR"))
    rows = {(r.channel, r.tier): r for r in lead_to_cash([a, b, c])}
    tender = rows[("tender", "key")]
    assert tender.leads == 2 and tender.reached == {"credible": 2, "opportunity": 2, "converted": 2}
    assert tender.conversion_rate["converted"] == Decimal("1.000")
    assert tender.won == 2 and tender.cash_collected == 2 and tender.median_lead_to_cash_days == Decimal("200")
    assert tender.cash_amounts == [Money(Decimal("201.00"), "EUR")]
    visit = rows[("executive_visit", "strategic")]
    assert visit.leads == 1 and visit.reached["credible"] == 0 and visit.median_lead_to_cash_days is None
