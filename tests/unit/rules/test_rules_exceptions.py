"""try/except/else/finally and raise, compiled with rustc, run, and compared with CPython.

Exceptions are panics carrying the class name (the support crate's `portalis_py::exc`): these cases
check which clause takes which exception (subclasses included, package classes included), what
`str(e)` is, that `else` and `finally` run when Python runs them, that a return leaves from inside
a `try`, and that an exception no clause takes goes on to the caller.
"""

from __future__ import annotations

import pytest
from rules_harness import Case, assert_case, run_cases

from portalis_worker.rules import Unsupported, translate_module

pytestmark = pytest.mark.unit

ERRORS = "class Invalid(ValueError):\n    pass\n\nclass Fatal(Exception):\n    pass\n\n"
RAISER = (
    "def check(n: int) -> int:\n"
    "    if n < 0:\n        raise Invalid('negative ' + str(n))\n"
    "    if n == 0:\n        raise Fatal('zero')\n"
    "    if n > 100:\n        raise KeyError('big')\n"
    "    return n\n\n"
)

CASES = {
    "value_error_from_int": Case(
        "def f(s: str) -> int:\n    try:\n        return int(s)\n    except ValueError:\n        return -1\n",
        "f",
        [("12",), ("x",), ("",)],
    ),
    "subclass_caught_by_base_with_message": Case(
        ERRORS + RAISER + "def f(n: int) -> str:\n"
        "    try:\n        v = check(n)\n    except ValueError as e:\n        return 'bad: ' + str(e)\n"
        "    return 'ok ' + str(v)\n",
        "f",
        [(5,), (-3,)],
    ),
    "unmatched_exception_goes_on": Case(
        ERRORS + RAISER + "def f(n: int) -> int:\n"
        "    try:\n        return check(n)\n    except KeyError:\n        return -1\n",
        "f",
        [(5,), (-3,), (0,), (500,)],
    ),
    "tuple_and_catch_all_clauses": Case(
        ERRORS + RAISER + "def f(n: int) -> str:\n"
        "    try:\n        check(n)\n    except (Invalid, KeyError) as e:\n        return 'known ' + str(e)\n"
        "    except Exception:\n        return 'other'\n"
        "    return 'none'\n",
        "f",
        [(5,), (-1,), (0,), (101,)],
    ),
    "else_and_finally_run_when_python_runs_them": Case(
        ERRORS + RAISER + "def f(n: int) -> list[str]:\n"
        "    log: list[str] = []\n"
        "    try:\n        check(n)\n        log.append('body')\n"
        "    except Invalid:\n        log.append('except')\n"
        "    else:\n        log.append('else')\n"
        "    finally:\n        log.append('finally')\n"
        "    return log\n",
        "f",
        [(1,), (-1,), (0,)],
    ),
    "finally_runs_before_a_return_leaves": Case(
        "def f(xs: list[int], i: int) -> int:\n"
        "    try:\n        return xs[i]\n    finally:\n        xs.append(7)\n",
        "f",
        [([1, 2], 0), ([1, 2], 5)],
    ),
    "bare_raise_reraises_after_the_handler": Case(
        ERRORS + RAISER + "def f(n: int) -> int:\n"
        "    count = 0\n"
        "    try:\n        count = check(n)\n    except Invalid:\n        count = -1\n        raise\n"
        "    return count\n",
        "f",
        [(2,), (-2,)],
    ),
    "nested_try_and_handler_in_a_loop": Case(
        ERRORS + RAISER + "def f(values: list[int]) -> int:\n"
        "    total = 0\n"
        "    for v in values:\n"
        "        try:\n"
        "            try:\n                total += check(v)\n"
        "            except Invalid:\n                total -= 1\n"
        "        except Fatal:\n            continue\n"
        "        total += 100\n"
        "    return total\n",
        "f",
        [([1, -1, 0, 2],), ([],), ([1, 200],)],
    ),
    "index_and_key_errors_of_the_runtime": Case(
        "def f(xs: list[int], d: dict[str, int], i: int, k: str) -> int:\n"
        "    try:\n        a = xs[i]\n    except IndexError:\n        a = -1\n"
        "    try:\n        b = d[k]\n    except LookupError:\n        b = -2\n"
        "    return a * 10 + b\n",
        "f",
        [([5], {"a": 1}, 0, "a"), ([5], {"a": 1}, 3, "z"), ([5], {}, -1, "a")],
    ),
    "zero_division_in_a_method_return_optional": Case(
        "from typing import Optional\n\n"
        "def f(a: int, b: int) -> Optional[int]:\n"
        "    try:\n        q = a // b\n    except ZeroDivisionError:\n        return None\n"
        "    return q\n",
        "f",
        [(7, 2), (1, 0)],
    ),
}


@pytest.fixture(scope="module")
def results() -> dict[str, tuple[list[str], list[str] | str]]:
    return run_cases(CASES)


@pytest.mark.parametrize("cid", sorted(CASES))
def test_exception_handling(results: dict[str, tuple[list[str], list[str] | str]], cid: str) -> None:
    assert_case(results, cid)


@pytest.mark.parametrize(
    ("source", "construct"),
    [
        (
            "def f(xs: list[int]) -> int:\n    for x in xs:\n        try:\n            break\n"
            "        except ValueError:\n            pass\n    return 0\n",
            "break or continue inside a try body",
        ),
        (
            "def f(s: str) -> int:\n    try:\n        return int(s)\n    except Unknown:\n        return 0\n",
            r"except Unknown \(not a known exception class\)",
        ),
        ("def f() -> None:\n    raise\n", "bare raise outside an except clause"),
    ],
)
def test_refused_forms_say_what_they_are(source: str, construct: str) -> None:
    with pytest.raises(Unsupported, match=construct):
        translate_module(source)
