"""Numbers: Python's floor division, modulo, true division, power, rounding and overflow policy."""

from __future__ import annotations

import pytest
from rules_harness import Case, assert_case, run_cases

pytestmark = pytest.mark.unit

CASES = {
    "floordiv_negative": Case(
        "def f(a: int, b: int) -> int:\n    return a // b\n",
        "f",
        [(7, 2), (-7, 2), (7, -2), (-7, -2), (0, 3), (1, 0)],
    ),
    "modulo_negative": Case(
        "def f(a: int, b: int) -> int:\n    return a % b\n",
        "f",
        [(7, 3), (-7, 3), (7, -3), (-7, -3), (5, 0)],
    ),
    "float_modulo_and_floordiv": Case(
        "def f(a: float, b: float) -> float:\n    return a % b + a // b\n",
        "f",
        [(7.5, 2.0), (-7.5, 2.0), (7.5, -2.0), (3.5, 1.0)],
    ),
    "true_division_of_ints": Case(
        "def f(a: int, b: int) -> float:\n    return a / b\n",
        "f",
        [(7, 2), (-1, 4), (6, 3), (1, 0)],
    ),
    "mixed_int_float": Case(
        "def f(a: int, x: float) -> float:\n    y = a * 2 + x\n    y += a\n    return y - 0.5\n",
        "f",
        [(3, 0.25), (-2, 1.5)],
    ),
    "int_power_and_float_power": Case(
        "def f(a: int, e: int) -> float:\n    return a ** e + a ** 0.5 + 2.0 ** e\n",
        "f",
        [(4, 3), (9, 0), (2, 10)],
    ),
    "negative_int_exponent_panics": Case(
        "def f(a: int, e: int) -> int:\n    return a ** e\n",
        "f",
        [(2, 3), (2, -1)],
        expected=["8", "PANIC"],
    ),
    "round_half_even": Case(
        "def f(x: float) -> int:\n    return round(x)\n",
        "f",
        [(0.5,), (1.5,), (2.5,), (-0.5,), (-1.5,), (2.6,), (-2.4,)],
    ),
    "round_digits": Case(
        "def f(x: float, n: int) -> list[float]:\n"
        "    return [round(x, 2), round(x, n), round(x * 1000, -n)]\n",
        "f",
        [(3.14159, 1), (2.5, 0), (-1.005, 2), (0.015, 2), (2.675, 2), (0.125, 2), (1234.5678, 3), (1e-7, 9)],
    ),
    "overflow_panics": Case(
        "def f(a: int) -> int:\n    x = a\n    for _ in range(3):\n        x = x * a\n    return x\n",
        "f",
        [(1000,), (3000000,)],
        expected=["1000000000000", "PANIC"],
    ),
    "abs_min_max_numbers": Case(
        "def f(a: int, b: float) -> float:\n    return abs(a) + abs(b) + min(a, b) + max(a, 2, 3)\n",
        "f",
        [(-3, -1.5), (4, 2.25)],
    ),
    "int_float_conversions": Case(
        "def f(x: float, s: str) -> int:\n    return int(x) + int(s) + int(float(s) * 2) + int(True)\n",
        "f",
        [(3.9, "12"), (-3.9, " -4 "), (0.0, "x")],
    ),
    "bool_arithmetic": Case(
        "def f(a: int) -> int:\n    n = 0\n    n += a > 2\n    return n + (a == 5) * 10 - True\n",
        "f",
        [(1,), (5,)],
    ),
    "bitwise_and_shifts": Case(
        "def f(a: int, b: int) -> int:\n    return (a & b) | (a ^ b) << 2 >> 1\n",
        "f",
        [(12, 10), (7, 1)],
    ),
    "divmod_and_pow3": Case(
        "from typing import Tuple\n"
        "def f(a: int, b: int) -> Tuple[int, int]:\n"
        "    q, r = divmod(a, b)\n    return (q + pow(a, 3, 7), r)\n",
        "f",
        [(17, 5), (-17, 5)],
    ),
    "math_module": Case(
        "import math\n"
        "def f(x: float, n: int) -> float:\n"
        "    return math.sqrt(x) + math.floor(x) + math.ceil(x) + math.gcd(n, 12) + math.pi * 0\n",
        "f",
        [(2.25, 18), (10.5, 7)],
    ),
    "comparison_chain": Case(
        "def f(a: int, b: float) -> bool:\n    return 0 <= a < b <= 10\n",
        "f",
        [(1, 2.5), (3, 2.0), (-1, 3.0), (5, 10.0)],
    ),
    "str_of_numbers": Case(
        "def f(a: int, x: float, b: bool) -> str:\n    return str(a) + ' ' + str(x) + ' ' + str(b)\n",
        "f",
        [(42, 2.0, True), (-7, 0.1, False), (0, 1.5, True)],
    ),
}


@pytest.fixture(scope="module")
def results() -> dict[str, tuple[list[str], list[str] | str]]:
    """All cases compiled by one rustc run."""
    return run_cases(CASES)


@pytest.mark.parametrize("cid", list(CASES))
def test_arithmetic(results: dict[str, tuple[list[str], list[str] | str]], cid: str) -> None:
    """Rust prints what CPython returns (or the documented deviation)."""
    assert_case(results, cid)
