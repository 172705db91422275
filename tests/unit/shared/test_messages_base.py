"""Decimal strings (amounts, percents, quantities) follow exactly the pattern the schemas publish."""

import json
import re
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from ltc.shared.messages import MoneyPayload
from ltc.shared.messages.base import DECIMAL_PATTERN, DecimalStr, Percent
from ltc.shared.messages.export import SCHEMA_DIR

DECIMAL = TypeAdapter(DecimalStr)


@pytest.mark.parametrize("value", [
    "1e3", "1E+3", " 1.00", "1.00 ", "1.00\n", "١٢٣", "１２３", "1.", ".5", "+1", "1_000", "1,00", "1.0.0", "--1", "",
    "NaN", "Infinity", "-Infinity", "0x10",
    1000, 0, 10.5, True, False,
])
def test_anything_but_the_documented_spelling_is_refused(value):
    with pytest.raises(ValidationError) as refused:
        DECIMAL.validate_python(value)
    assert refused.value.errors()[0]["type"] == "value_error"


@pytest.mark.parametrize("raw", [b'1000', b'10.5', b'1e3', b'true', b'"1e3"', b'" 1.00"', '"١٢٣"'.encode()])
def test_json_input_is_held_to_the_same_rule(raw):
    with pytest.raises(ValidationError):
        DECIMAL.validate_json(raw)


@pytest.mark.parametrize(("value", "expected"), [
    ("0", Decimal(0)), ("-12.50", Decimal("-12.50")), ("1000000.00", Decimal("1000000.00")), ("007", Decimal(7)),
])
def test_the_documented_spelling_is_accepted(value, expected):
    assert DECIMAL.validate_python(value) == expected
    assert DECIMAL.validate_json(f'"{value}"') == expected


def test_decimals_built_in_python_pass():
    assert DECIMAL.validate_python(Decimal(30)) == Decimal(30)
    assert MoneyPayload(amount=Decimal("12.50"), currency="EUR").amount == Decimal("12.50")
    assert TypeAdapter(Percent).validate_python(Decimal(30)) == Decimal(30)


def test_a_json_number_for_an_amount_names_the_field():
    with pytest.raises(ValidationError) as refused:
        MoneyPayload.model_validate_json('{"amount": 1000, "currency": "EUR"}')
    assert [e["loc"] for e in refused.value.errors()] == [("amount",)]


def _patterns(node: object) -> set[str]:
    if isinstance(node, dict):
        found = {p for v in node.values() for p in _patterns(v)}
        return found | {node["pattern"]} if isinstance(node.get("pattern"), str) else found
    if isinstance(node, list):
        return {p for v in node for p in _patterns(v)}
    return set()


def test_the_schemas_publish_the_pattern_the_validator_applies():
    assert DECIMAL_PATTERN == r"^-?[0-9]+(\.[0-9]+)?$"
    assert DECIMAL.json_schema() == {"type": "string", "pattern": DECIMAL_PATTERN}
    assert MoneyPayload.model_json_schema()["properties"]["amount"]["pattern"] == DECIMAL_PATTERN
    published = {p for path in SCHEMA_DIR.glob("*.json") for p in _patterns(json.loads(path.read_text()))}
    assert DECIMAL_PATTERN in published
    assert not any("\\d" in p for p in published)  # `\d` reads differently in JSON Schema and in Python


@given(st.from_regex(DECIMAL_PATTERN, fullmatch=True))
def test_every_string_the_pattern_allows_is_accepted(value):
    assert DECIMAL.validate_python(value) == Decimal(value)


@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_what_the_services_write_is_what_they_accept(value):
    # Decimals computed or read from the database can have exponents ("1E+3", "1E-7").
    written = DECIMAL.dump_json(value)
    assert re.fullmatch(DECIMAL_PATTERN, written.decode().strip('"'))
    assert DECIMAL.validate_json(written) == value
