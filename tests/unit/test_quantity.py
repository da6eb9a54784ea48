"""The operator's own Kubernetes quantity parser (quantity.py) against the grammar of apimachinery and,
where that grammar and the synchronous client agree, against the client's parser."""

from __future__ import annotations

from decimal import Decimal

import pytest
from kubernetes.utils import parse_quantity as client_parse

from portalis_operator.quantity import parse_quantity

pytestmark = pytest.mark.unit

VALID = [
    "0",
    "8",
    "+8",
    "-1",
    "1.5",
    ".5",
    "5.",
    "500m",
    "250u",
    "7n",
    "1k",
    "2M",
    "3G",
    "4T",
    "5P",
    "6E",
    "1Ki",
    "16Gi",
    "1.5Mi",
    "2Ti",
    "1Pi",
    "1Ei",
    "1e3",
    "1E3",
    "2e-3",
    "1.5e+2",
    "0.000001",
]


@pytest.mark.parametrize("text", VALID)
def test_agrees_with_the_client_on_valid_quantities(text: str) -> None:
    assert parse_quantity(text) == client_parse(text)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("16Gi", Decimal(16 * 2**30)),
        ("500m", Decimal("0.5")),
        ("1e3", Decimal(1000)),
        ("1E", Decimal(10**18)),
    ],
)
def test_values(text: str, value: Decimal) -> None:
    assert parse_quantity(text) == value


def test_an_exponent_beyond_the_decimal_context_is_exact() -> None:
    assert parse_quantity("1e999999999") > Decimal(10**9)


def test_ints_are_taken_as_they_are() -> None:
    assert parse_quantity(8) == Decimal(8)


@pytest.mark.parametrize(
    "text",
    [
        "",
        " 1",
        "1 ",
        "1.2.3",
        "Infinity",
        "NaN",
        "1K",
        "1ki",
        "1mi",
        "1Gb",
        "Gi",
        "e3",
        "1e",
        "1e3.5",
        "0x10",
        True,
    ],
)
def test_what_the_api_server_refuses_is_refused_by_name(text: object) -> None:
    with pytest.raises(ValueError, match="is not a Kubernetes quantity"):
        parse_quantity(text)
