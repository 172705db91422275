"""A cursor is opaque to the client: one this API did not issue is the caller's input, never a 500."""

from __future__ import annotations

import base64
import json

import pytest

from ltc.shared.pagination import _decode_cursor, _encode_cursor
from ltc.shared.rules import InvalidInput


def _forged(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def test_a_cursor_this_api_issued_reads_back():
    from datetime import UTC, datetime
    from uuid import uuid4

    at, ident = datetime(2026, 12, 1, tzinfo=UTC), uuid4()
    assert _decode_cursor(_encode_cursor(at, ident)) == (at, ident)


@pytest.mark.parametrize("cursor", ["%%%", _forged(["2020-01-01T00:00:00+00:00", 1]), _forged([1, "x"]),
                                    _forged({"a": 1}), _forged(["nope", "00000000-0000-0000-0000-000000000000"])])
def test_a_forged_cursor_is_invalid_input_naming_the_cursor(cursor):
    with pytest.raises(InvalidInput) as refused:
        _decode_cursor(cursor)
    assert refused.value.field == "cursor"
