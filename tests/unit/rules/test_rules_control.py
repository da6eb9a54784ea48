"""Control flow, functions and classes: loops, early return, recursion, lifting, structs, panics."""

from __future__ import annotations

import pytest
from rules_harness import Case, assert_case, run_cases

pytestmark = pytest.mark.unit

T = "from typing import Dict, List, Optional, Tuple\n"

CASES = {
    "if_elif_else": Case(
        "def f(n: int) -> str:\n"
        "    if n < 0:\n        return 'neg'\n"
        "    elif n == 0:\n        return 'zero'\n"
        "    elif n < 10 and n % 2 == 0 or n == 11:\n        return 'small even or eleven'\n"
        "    else:\n        return 'other'\n",
        "f",
        [(-3,), (0,), (4,), (11,), (13,)],
    ),
    "while_break_continue": Case(
        "def f(n: int) -> int:\n"
        "    total = 0\n    i = 0\n"
        "    while True:\n"
        "        i += 1\n"
        "        if i > n:\n            break\n"
        "        if i % 3 == 0:\n            continue\n"
        "        total += i\n"
        "    return total\n",
        "f",
        [(10,), (0,)],
    ),
    "for_else": Case(
        "def f(n: int) -> bool:\n"
        "    if n < 2:\n        return False\n"
        "    for i in range(2, n):\n"
        "        if n % i == 0:\n            break\n"
        "    else:\n        return True\n"
        "    return False\n",
        "f",
        [(2,), (9,), (13,), (1,)],
    ),
    "loop_variable_after_loop": Case(
        "def f(n: int) -> int:\n    i = -1\n    for i in range(n):\n        pass\n    return i\n",
        "f",
        [(5,), (0,)],
    ),
    "variables_assigned_in_branches": Case(
        "def f(n: int) -> str:\n"
        "    if n > 0:\n        label = 'pos'\n        k = n\n"
        "    else:\n        label = 'non-pos'\n        k = -n\n"
        "    return label + str(k)\n",
        "f",
        [(3,), (-2,)],
    ),
    "recursion": Case(
        "def f(n: int) -> int:\n    if n < 2:\n        return n\n    return f(n - 1) + f(n - 2)\n",
        "f",
        [(0,), (1,), (15,)],
    ),
    "helper_function_and_defaults": Case(
        T + "def scale(x: int, k: int = 3) -> int:\n    return x * k\n\n"
        "def f(xs: List[int]) -> List[int]:\n    return [scale(x) + scale(x, k=1) for x in xs]\n",
        "f",
        [([1, 2],)],
    ),
    "nested_function_lifted_and_inferred": Case(
        T + "def f(s: str) -> List[int]:\n"
        "    def depth(g):\n"
        "        d = 0\n        best = 0\n"
        "        for c in g:\n"
        "            d = d + 1 if c == '(' else d - 1\n"
        "            best = max(best, d)\n"
        "        return best\n"
        "    return [depth(p) for p in s.split(' ') if p]\n",
        "f",
        [("(()) ((())) ()",), ("",)],
    ),
    "early_return_in_loops_with_optional": Case(
        T + "def f(xs: List[str], n: int) -> Optional[str]:\n"
        "    for x in xs:\n"
        "        if len(x) == n:\n            return x\n"
        "    return None\n",
        "f",
        [(["a", "bb", "cc"], 2), (["a"], 3)],
    ),
    "parameter_mutation_is_local": Case(
        T + "def f(xs: List[int], n: int) -> Tuple[List[int], int]:\n"
        "    xs.append(n)\n    n += 1\n    xs.sort(reverse=True)\n    return (xs, n)\n",
        "f",
        [([3, 1, 2], 0)],
    ),
    "raise_becomes_panic": Case(
        "def f(n: int) -> int:\n"
        "    if n < 0:\n        raise ValueError('negative: ' + str(n))\n"
        "    assert n != 3, 'three'\n"
        "    return n * 2\n",
        "f",
        [(2,), (-1,), (3,)],
    ),
    "index_errors_panic": Case(
        T + "def f(xs: List[int], d: Dict[str, int]) -> int:\n    return xs[5] + d['missing']\n",
        "f",
        [([1], {"a": 1})],
    ),
    "dataclass_struct": Case(
        "from dataclasses import dataclass\n\n"
        "@dataclass\nclass Point:\n    x: int\n    y: int = 0\n\n"
        "    def norm1(self) -> int:\n        return abs(self.x) + abs(self.y)\n\n"
        "    def shift(self, d: int) -> None:\n        self.x += d\n        self.y -= d\n\n"
        "def f(a: int, b: int) -> int:\n"
        "    p = Point(a, b)\n    q = Point(a)\n    p.shift(2)\n"
        "    return p.norm1() * 100 + q.y + p.x\n",
        "f",
        [(1, 2), (-5, 3)],
    ),
    "simple_class_with_init": Case(
        "from typing import List\n\n"
        "class Stack:\n"
        "    def __init__(self, limit: int) -> None:\n"
        "        self.items: List[int] = []\n        self.limit = limit\n\n"
        "    def push(self, v: int) -> bool:\n"
        "        if len(self.items) >= self.limit:\n            return False\n"
        "        self.items.append(v)\n        return True\n\n"
        "    def total(self) -> int:\n        return sum(self.items)\n\n"
        "def f(n: int) -> int:\n"
        "    s = Stack(3)\n    pushed = 0\n"
        "    for i in range(n):\n"
        "        if s.push(i * i):\n            pushed += 1\n"
        "    return pushed * 1000 + s.total()\n",
        "f",
        [(2,), (10,)],
    ),
    "module_constant": Case(
        "LIMIT = 10\nNAME = 'lim'\n\ndef f(n: int) -> str:\n    return NAME + str(min(n, LIMIT))\n",
        "f",
        [(3,), (30,)],
    ),
}


@pytest.fixture(scope="module")
def results() -> dict[str, tuple[list[str], list[str] | str]]:
    """All cases compiled by one rustc run."""
    return run_cases(CASES)


@pytest.mark.parametrize("cid", list(CASES))
def test_control(results: dict[str, tuple[list[str], list[str] | str]], cid: str) -> None:
    """Rust prints what CPython returns."""
    assert_case(results, cid)
