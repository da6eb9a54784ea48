"""Strings: indexing and slicing by character, methods, formatting, membership, iteration."""

from __future__ import annotations

import pytest
from rules_harness import Case, assert_case, run_cases

pytestmark = pytest.mark.unit

CASES = {
    "partition_rsplit_and_split_with_maxsplit": Case(
        "def f(s: str, n: int) -> list[str]:\n"
        "    a, sep, b = s.partition('=')\n    c, sep2, d = s.rpartition('=')\n"
        "    return [a, sep, b, c, sep2, d, str(s.rsplit('/', n)), str(s.rsplit(None, n)), str(s.rsplit()),\n"
        "            str(s.split('/', n)), str(s.rsplit('/'))]\n",
        "f",
        [("", 1), ("a=b=c", 0), ("  x/y z/ w  ", 1), ("k=v/w/x", -1), ("  a b  c  ", 2), ("é/ü ö", 5)],
    ),
    "isprintable_and_repr_follow_the_unicode_table": Case(
        "def f(s: str) -> list[str]:\n"
        "    return [str(s.isprintable()), repr(s), str([c.isprintable() for c in s]),\n"
        "            str(s.isidentifier())]\n",
        "f",
        [
            ("",),
            ("a b",),
            ("tab\there",),
            ("nb\u00a0sp",),
            ("zw\u200bj",),
            ("é中\u0378\U0010fffd",),
            ("\x7f\x85",),
            ("_déjà1",),
            ("1abc",),
            ("class",),
        ],
    ),
    "str_and_repr_of_lists_and_tuples": Case(
        "from typing import Optional\n\n"
        "def f(n: int, s: str) -> list[str]:\n"
        "    xs = [n, n * 2]\n"
        "    words = [s, \"it's\", s + '\\n']\n"
        "    pair = (s, n / 4)\n"
        "    one = (n,)\n"
        "    seq: tuple[int, ...] = tuple(xs[:1])\n"
        "    nested = [(s, [n]), (s.upper(), [])]\n"
        "    maybe: list[Optional[int]] = [None, n]\n"
        "    return [str(xs), repr(words), str(pair), repr(one), str(seq), str(nested), str(maybe),\n"
        "            f'{words!r} {pair}', str(tuple(xs))]\n",
        "f",
        [(3, "ab"), (-2, ""), (0, "x'y")],
    ),
    "index_by_character": Case(
        "def f(s: str, i: int) -> str:\n    return s[i]\n",
        "f",
        [("héllo", 1), ("héllo", -1), ("abc", 0), ("abc", 3), ("abc", -4)],
    ),
    "slices_with_steps": Case(
        "def f(s: str) -> str:\n"
        "    return s[1:] + '|' + s[:-1] + '|' + s[::-1] + '|' + s[::2] + '|' + s[-2:0:-1]\n",
        "f",
        [("abcdef",), ("é",), ("",), ("xyz",)],
    ),
    "slice_bounds_from_variables": Case(
        "def f(s: str, a: int, b: int) -> str:\n    return s[a:b]\n",
        "f",
        [("abcdef", 1, 4), ("abcdef", -3, 100), ("abcdef", 4, 2), ("abcdef", -100, -2)],
    ),
    "len_counts_characters": Case(
        "def f(s: str) -> int:\n    return len(s) * 10 + len(s.upper())\n",
        "f",
        [("héllo",), ("",)],
    ),
    "case_and_strip": Case(
        "def f(s: str) -> str:\n    return s.strip().lower() + s.upper().lstrip() + s.rstrip('x ')\n",
        "f",
        [("  MiXed x ",), ("abc",)],
    ),
    "split_and_join": Case(
        "from typing import List\n"
        "def f(s: str) -> List[str]:\n"
        "    parts = s.split()\n    return parts + s.split(',') + ['-'.join(parts)]\n",
        "f",
        [("a b  c",), ("x,y,,z",), ("",)],
    ),
    "find_count_replace": Case(
        "def f(s: str, sub: str) -> str:\n"
        "    return str(s.find(sub)) + str(s.count(sub)) + s.replace(sub, '_') + str(s.rfind(sub))\n",
        "f",
        [("banana", "an"), ("héhé", "é"), ("abc", "z")],
    ),
    "predicates": Case(
        "from typing import List\n"
        "def f(s: str) -> List[bool]:\n"
        "    return [s.isdigit(), s.isalpha(), s.isupper(), s.islower(), s.isspace(), s.startswith('a'),"
        " s.endswith('9'), s.isascii()]\n",
        "f",
        [("123",), ("abc",), ("ABC1",), ("",), ("  ",), ("a9",), ("é9",)],
    ),
    "membership_and_iteration": Case(
        "def f(s: str) -> int:\n"
        "    n = 0\n"
        "    for c in s:\n"
        "        if c in 'aeiou':\n"
        "            n += 1\n"
        "        elif c not in 'xyz':\n"
        "            n += 10\n"
        "    if 'ab' in s:\n"
        "        n += 100\n"
        "    return n\n",
        "f",
        [("abc",), ("xyz",), ("",)],
    ),
    "ord_chr_repeat": Case(
        "def f(s: str, n: int) -> str:\n    return chr(ord(s) + 1) * n + '-' * 2\n",
        "f",
        [("a", 3), ("y", 0), ("é", 1), ("a", -2)],
    ),
    "fstring_and_concat": Case(
        "def f(name: str, n: int, x: float) -> str:\n"
        "    return f'{name}: {n} items, {x:.2f} each, {x}' + '!'\n",
        "f",
        [("pens", 3, 1.5), ("é", -1, 2.0)],
    ),
    "string_comparisons": Case(
        "def f(a: str, b: str) -> int:\n    return (a < b) + (a == b) * 2 + (a >= 'm') * 4\n",
        "f",
        [("abc", "abd"), ("z", "z"), ("m", "a")],
    ),
    "bin_hex_and_int_base": Case(
        "def f(n: int) -> str:\n    return bin(n)[2:] + ' ' + hex(n) + ' ' + str(int(bin(n)[2:], 2))\n",
        "f",
        [(10,), (0,), (255,)],
    ),
    "build_string_in_loop": Case(
        "def f(n: int) -> str:\n"
        "    out = ''\n"
        "    i = 0\n"
        "    while i < n:\n"
        "        out += str(i % 3)\n"
        "        i += 1\n"
        "    return out[::-1]\n",
        "f",
        [(5,), (0,)],
    ),
}


@pytest.fixture(scope="module")
def results() -> dict[str, tuple[list[str], list[str] | str]]:
    """All cases compiled by one rustc run."""
    return run_cases(CASES)


@pytest.mark.parametrize("cid", list(CASES))
def test_strings(results: dict[str, tuple[list[str], list[str] | str]], cid: str) -> None:
    """Rust prints what CPython returns."""
    assert_case(results, cid)
