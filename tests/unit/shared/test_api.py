"""The HTTP precondition is parsed in the API layer into the version a command expects."""

from __future__ import annotations

import pytest

from ltc.shared.api import expected_version
from ltc.shared.errors import ProblemError


@pytest.mark.parametrize(("header", "version"), [('"7"', 7), ('W/"7"', 7), (' "12" ', 12), ("*", None)])
def test_an_if_match_names_the_version_the_command_expects(header, version):
    assert expected_version(header, required=True) == version


def test_an_absent_if_match_is_428_where_required_and_no_expectation_where_optional():
    assert expected_version(None, required=False) is None
    with pytest.raises(ProblemError) as missing:
        expected_version(None, required=True)
    assert (missing.value.status, missing.value.problem_type) == (428, "if-match-required")


@pytest.mark.parametrize("header", ['"x"', "7", '"-1"', '""', '"٣"', 'W/"7', '"7" "8"', '"' + "9" * 5000 + '"',
                                    '"' + "1" * 19 + '"'])
def test_an_etag_this_api_never_issued_matches_no_version(header):
    with pytest.raises(ProblemError) as stale:
        expected_version(header, required=False)
    assert (stale.value.status, stale.value.problem_type) == (412, "stale-etag")
