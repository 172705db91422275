"""Duplicate detection among an account's open leads."""

from ltc.leads.domain.duplicates import duplicate_candidates
from tests.unit.leads.samples import NOW, sample_lead


def test_duplicates_are_open_leads_with_a_similar_title_or_need():
    same = sample_lead("Core network upgrade", "capacity for 5G")
    other = sample_lead("Billing migration", "replace the legacy billing")
    closed = sample_lead("Core network upgrade", "capacity for 5G")
    closed.disqualify(reason="dup", by="ar-1", now=NOW)
    found = duplicate_candidates(title="core-network  Upgrade", need="something else entirely",
                                 open_leads=[same, other, closed])
    assert [c.lead_id for c in found] == [str(same.id)]
    by_need = duplicate_candidates(title="Phase 2", need="Capacity for 5G!", open_leads=[same, other])
    assert [c.lead_id for c in by_need] == [str(same.id)]
    assert duplicate_candidates(title="Data centre", need="cooling", open_leads=[same, other]) == []
