"""Plain domain objects the leads unit tests share."""

import uuid
from datetime import UTC, datetime

from ltc.leads.domain.accounts import Account, Tier
from ltc.leads.domain.model import Channel, Lead

NOW = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
TODAY = NOW.date()
ACCOUNT = Account(id=uuid.uuid4(), name="ACME", industry="telecom", owner="ar-1", created_at=NOW)


def sample_lead(title: str = "Core network upgrade", need: str = "capacity for 5G", channel: Channel = Channel.TENDER,
         tier: Tier = Tier.KEY, created: datetime = NOW, owner: str | None = "ar-1") -> Lead:
    return Lead(id=uuid.uuid4(), account_id=ACCOUNT.id, title=title, need=need, channel=channel, tier=tier,
                owner=owner, now=created)
