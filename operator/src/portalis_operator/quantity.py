"""Kubernetes resource quantities ("8", "500m", "16Gi", "1e3") as exact decimals.

The grammar is apimachinery's (pkg/api/resource/quantity.go): a signed decimal number, then a binary SI
suffix (Ki Mi Gi Ti Pi Ei), a decimal SI suffix (n u m k M G T P E) or a decimal exponent (e3, E-2).
Our own rather than the synchronous `kubernetes` client's: the operator does not load that client
(main.py), and it accepts what the API server refuses ("1K", "Infinity").
"""

from __future__ import annotations

import re
from decimal import Decimal

_BINARY = {"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40, "Pi": 1 << 50, "Ei": 1 << 60}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_QUANTITY = re.compile(
    r"(?P<number>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?:(?P<exponent>[eE][+-]?[0-9]+)|(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?)"
)


def parse_quantity(quantity: object) -> Decimal:
    """The quantity's value (an int is taken as it is); ValueError naming it when it is not one. Exact:
    no context rounding or overflow, so "1e999999999" is the number it says."""
    if isinstance(quantity, int) and not isinstance(quantity, bool):
        return Decimal(quantity)
    text = str(quantity)
    match = _QUANTITY.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not a Kubernetes quantity (such as 8, 500m, 16Gi or 1e3)")
    if match["exponent"] is not None:
        return Decimal(match["number"] + match["exponent"])
    suffix = match["suffix"] or ""
    if suffix in _BINARY:
        return Decimal(match["number"]) * _BINARY[suffix]
    return Decimal(f"{match['number']}e{_DECIMAL[suffix]}")
