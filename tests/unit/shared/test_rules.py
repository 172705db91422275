"""Domain refusals carry a rule and a kind; the API alone maps the kind to a status."""

from __future__ import annotations

import pytest

from ltc.shared.errors import STATUS_OF_KIND, status_of
from ltc.shared.rules import DomainError, Forbidden, Kind, RuleViolation, StaleVersion, require_version


@pytest.mark.parametrize(("error", "kind", "status"), [
    (DomainError("opportunity-closed", "closed"), Kind.CONFLICT, 409),
    (RuleViolation("criteria-unmet", "no"), Kind.RULE_UNMET, 422),
    (Forbidden("not-owner", "not yours"), Kind.FORBIDDEN, 403),
    (StaleVersion("stale-etag", "old"), Kind.STALE, 412),
])
def test_each_kind_of_refusal_has_one_status(error, kind, status):
    assert error.kind is kind and status_of(error) == status


def test_every_kind_is_mapped():
    assert set(STATUS_OF_KIND) == set(Kind)


def test_a_command_acts_only_on_the_version_it_read():
    require_version(3, 3)
    require_version(3, None)  # the caller did not say; whether that is allowed is the API's precondition
    with pytest.raises(StaleVersion) as stale:
        require_version(4, 3, what="the lead")
    assert stale.value.rule == "stale-etag" and "the lead is at version 4" in stale.value.detail
