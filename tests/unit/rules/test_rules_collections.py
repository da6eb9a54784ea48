"""Lists, dicts, sets, tuples, Optional, comprehensions and the builtins that consume them."""

from __future__ import annotations

import pytest
from rules_harness import Case, assert_case, run_cases

pytestmark = pytest.mark.unit

LIST_INT = "from typing import Dict, List, Optional, Set, Tuple\n"

CASES = {
    "dict_get_and_pop_with_a_default_of_a_wider_type": Case(
        "def lookup(table: dict[str, int], name: str, default: int | None = None) -> int | None:\n"
        "    return table.get(name, default)\n\n"
        "def f(name: str, n: int) -> list[str]:\n"
        "    table = {'a': 1, 'b': n}\n    names = {'a': 'x'}\n"
        "    return [str(lookup(table, name)), str(lookup(table, name, n)), str(table.get(name, None)),\n"
        "            str(names.pop(name, None)), str(table.get(name, -5))]\n",
        "f",
        [("a", 2), ("b", -1), ("zz", 0)],
    ),
    "list_methods": Case(
        LIST_INT + "def f(xs: List[int]) -> List[int]:\n"
        "    ys = []\n"
        "    for x in xs:\n"
        "        ys.append(x * 2)\n"
        "    ys.insert(0, 99)\n"
        "    ys.insert(-1, 7)\n"
        "    last = ys.pop()\n"
        "    first = ys.pop(0)\n"
        "    ys.extend([last, first])\n"
        "    ys.reverse()\n"
        "    return ys\n",
        "f",
        [([1, 2, 3],), ([5],)],
    ),
    "remove_index_count": Case(
        LIST_INT + "def f(xs: List[int], v: int) -> int:\n"
        "    n = xs.count(v)\n"
        "    i = xs.index(v)\n"
        "    xs.remove(v)\n"
        "    return n * 100 + i * 10 + len(xs)\n",
        "f",
        [([3, 1, 3, 2], 3), ([1, 2], 2), ([1, 2], 5)],
    ),
    "negative_index_and_slices": Case(
        LIST_INT + "def f(xs: List[int], i: int) -> List[int]:\n"
        "    return [xs[-1], xs[i], xs[-i]] + xs[1:-1] + xs[::-2] + xs[i:]\n",
        "f",
        [([1, 2, 3, 4, 5], 2), ([1, 2, 3], 1), ([1, 2], 5)],
    ),
    "list_comprehensions": Case(
        LIST_INT + "def f(xs: List[int]) -> List[int]:\n"
        "    evens = [x * x for x in xs if x % 2 == 0]\n"
        "    pairs = [a + b for a in xs for b in evens if a < b]\n"
        "    return evens + pairs + [i for i, _ in enumerate(xs)]\n",
        "f",
        [([1, 2, 3, 4],), ([],)],
    ),
    "generators_in_reductions": Case(
        LIST_INT + "def f(xs: List[int]) -> Tuple[int, bool, bool, int, int]:\n"
        "    return (sum(x * 2 for x in xs), any(x > 3 for x in xs), all(x > 0 for x in xs if x != 2),"
        " min(abs(x) for x in xs), max(-x for x in xs))\n",
        "f",
        [([1, 2, 3],), ([-5, 4],), ([],)],
    ),
    "sum_of_floats_and_bools": Case(
        LIST_INT + "def f(xs: List[float]) -> float:\n"
        "    return sum(xs) / len(xs) + sum(x > 1.0 for x in xs)\n",
        "f",
        [([1.5, 2.5, 0.5],), ([],)],
    ),
    "sorted_with_key_and_reverse": Case(
        LIST_INT + "def f(words: List[str]) -> List[str]:\n"
        "    a = sorted(words, key=lambda w: (len(w), w))\n"
        "    b = sorted(words, reverse=True)\n"
        "    c = sorted(words, key=len, reverse=True)\n"
        "    words.sort(key=lambda w: w[-1])\n"
        "    return a + b + c + words\n",
        "f",
        [(["bb", "a", "ccc", "ab", "ba"],), ([],)],
    ),
    "sorted_floats_and_min_max_key": Case(
        LIST_INT + "def f(xs: List[float]) -> List[float]:\n"
        "    return sorted(xs) + [min(xs, key=lambda v: abs(v - 1.0)), max(xs, key=abs)]\n",
        "f",
        [([3.5, -4.0, 1.25, 0.0],), ([],)],
    ),
    "enumerate_zip_reversed": Case(
        LIST_INT + "def f(a: List[int], b: List[str]) -> List[str]:\n"
        "    out = []\n"
        "    for i, (x, s) in enumerate(zip(a, b), 1):\n"
        "        out.append(str(i) + s * x)\n"
        "    for s in reversed(b):\n"
        "        out.append(s)\n"
        "    for k in range(len(a) - 1, -1, -2):\n"
        "        out.append(str(k))\n"
        "    return out\n",
        "f",
        [([1, 2, 3], ["x", "y"]), ([], ["q"])],
    ),
    "dict_counting_and_get": Case(
        LIST_INT + "def f(words: List[str]) -> Dict[str, int]:\n"
        "    counts: Dict[str, int] = {}\n"
        "    for w in words:\n"
        "        counts[w] = counts.get(w, 0) + 1\n"
        "    if 'a' in counts:\n"
        "        counts['a'] += 10\n"
        "    return counts\n",
        "f",
        [(["a", "b", "a"],), ([],)],
    ),
    "dict_items_and_comprehension": Case(
        LIST_INT + "def f(d: Dict[str, int]) -> List[Tuple[str, int]]:\n"
        "    inv = {v: k for k, v in d.items()}\n"
        "    total = 0\n"
        "    for k in d:\n"
        "        total += d[k]\n"
        "    pairs = sorted(d.items(), key=lambda kv: kv[1])\n"
        "    return pairs + [(inv[v], total) for v in sorted(d.values())]\n",
        "f",
        [({"a": 3, "b": 1, "c": 2},), ({},)],
    ),
    "sets": Case(
        LIST_INT + "def f(a: List[int], b: List[int]) -> List[int]:\n"
        "    s = set(a)\n"
        "    t = {x for x in b}\n"
        "    s.add(100)\n"
        "    s.discard(1)\n"
        "    both = s & t\n"
        "    either = s | t\n"
        "    return sorted(both) + sorted(either - both) + [len(s), int(3 in t)]\n",
        "f",
        [([1, 2, 3], [2, 3, 4]), ([], [])],
    ),
    "tuples_and_unpacking": Case(
        LIST_INT + "def f(p: Tuple[int, str], xs: List[int]) -> Tuple[str, int, int]:\n"
        "    n, s = p\n"
        "    a, b = 1, 2\n"
        "    a, b = b, a + b\n"
        "    return (s * n, a, b)\n",
        "f",
        [((2, "ab"), [1])],
    ),
    "optional_values": Case(
        LIST_INT + "def f(xs: List[int]) -> Optional[int]:\n"
        "    best = None\n"
        "    for x in xs:\n"
        "        if best is None or x > best:\n"
        "            best = x\n"
        "    return best\n",
        "f",
        [([3, 9, 2],), ([],)],
    ),
    "optional_parameter": Case(
        LIST_INT + "def f(x: Optional[int], d: int) -> int:\n"
        "    if x is not None:\n"
        "        return x * 2\n"
        "    return d\n",
        "f",
        [(None, 5), (4, 5), (0, 1)],
    ),
    "map_filter_list": Case(
        LIST_INT + "def f(xs: List[int]) -> List[str]:\n"
        "    odd = list(filter(lambda x: x % 2 == 1, xs))\n"
        "    return list(map(str, odd)) + [''.join(map(str, xs))]\n",
        "f",
        [([1, 2, 3, 15],), ([],)],
    ),
    "list_equality_and_truthiness": Case(
        LIST_INT + "def f(xs: List[int]) -> int:\n"
        "    n = 0\n"
        "    if xs == []:\n"
        "        n += 1\n"
        "    if not xs:\n"
        "        n += 2\n"
        "    if xs == [1, 2]:\n"
        "        n += 4\n"
        "    while xs:\n"
        "        xs.pop()\n"
        "        n += 10\n"
        "    return n\n",
        "f",
        [([],), ([1, 2],), ([5],)],
    ),
    "nested_lists": Case(
        LIST_INT + "def f(n: int) -> List[List[int]]:\n"
        "    grid = [[0] * n for _ in range(n)]\n"
        "    for i in range(n):\n"
        "        grid[i][i] = i + 1\n"
        "    return grid\n",
        "f",
        [(3,), (0,)],
    ),
    "abstract_set_parameter": Case(
        "from typing import AbstractSet\n\ndef f(s: AbstractSet[str], k: str) -> bool:\n    return k in s\n",
        "f",
        [({"a", "b"}, "a"), (set(), "x")],
    ),
    "variable_length_tuples": Case(
        "from typing import Tuple\n\n"
        "def trim(release: tuple[int, ...]) -> tuple[int, ...]:\n"
        "    i = len(release)\n"
        "    while i > 1 and release[i - 1] == 0:\n        i -= 1\n"
        "    return release[:i]\n\n"
        "def f(release: tuple[int, ...], names: Tuple[str, ...]) -> tuple[int, ...]:\n"
        "    padded = release + (0,) * (3 - len(release))\n"
        "    lengths = tuple(len(n) for n in names)\n"
        "    seen = {trim(padded): 1, (): 2}\n"
        "    if trim(padded) < lengths or () in seen:\n"
        "        return trim(padded) + lengths\n"
        "    return lengths\n",
        "f",
        [((1, 0, 0), ("ab", "c")), ((), ()), ((2, 5, 1, 0), ("",)), ((0,), ("xyz",))],
    ),
}


@pytest.fixture(scope="module")
def results() -> dict[str, tuple[list[str], list[str] | str]]:
    """All cases compiled by one rustc run."""
    return run_cases(CASES)


@pytest.mark.parametrize("cid", list(CASES))
def test_collections(results: dict[str, tuple[list[str], list[str] | str]], cid: str) -> None:
    """Rust prints what CPython returns."""
    assert_case(results, cid)
