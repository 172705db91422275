"""Finance's copy of an account: which account event replaces it (the latest state wins)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ltc.finance.domain.parties import AccountChange, Address, SellerIdentity, supersedes

T = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
LATER = T + timedelta(microseconds=1)


@pytest.mark.parametrize("change", list(AccountChange))
def test_any_event_makes_the_first_copy(change):
    assert supersedes(None, T, change)


@pytest.mark.parametrize("change", list(AccountChange))
def test_a_newer_state_replaces_the_copy_and_an_older_one_never_does(change):
    assert supersedes(T, LATER, change)
    assert not supersedes(LATER, T, change)


def test_an_update_as_old_as_the_copy_replaces_it_a_creation_does_not():
    assert supersedes(T, T, AccountChange.UPDATED), "created and updated in one instant: the update is the later"
    assert not supersedes(T, T, AccountChange.CREATED), "a creation redelivered never overwrites the copy"


def test_a_creation_replayed_after_updates_changes_nothing():
    held = T
    for as_of, change in ((T - timedelta(days=1), AccountChange.CREATED), (LATER, AccountChange.UPDATED),
                          (T, AccountChange.UPDATED), (T - timedelta(days=1), AccountChange.CREATED)):
        if supersedes(held, as_of, change):
            held = as_of
    assert held == LATER


def test_the_seller_identity_is_a_json_document_both_ways():
    identity = SellerIdentity(legal_name="ACME Seller GmbH", tax_id="DE136695976", registration_id="HRB 1",
                              address=Address(line1="Hauptstr. 1", city="Berlin", country="DE", postal_code="10115"))
    assert SellerIdentity.from_json(identity.to_json()) == identity
    assert identity.to_json()["address"]["country"] == "DE"
