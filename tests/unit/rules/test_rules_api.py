"""Public API, error contract, and constructs outside the subset raising ``Unsupported``."""

from __future__ import annotations

import pickle

import pytest

from portalis_worker.rules import RulesBackend, Unsupported, translate_module, translate_unit
from portalis_worker.rules import emitter as rules_emitter

pytestmark = pytest.mark.unit

UNSUPPORTED = [
    (
        "def f(x: int) -> int:\n    try:\n        return 1 // x\n"
        "    except* ZeroDivisionError:\n        return 0\n",
        "try/except*",
        2,
    ),
    ("def f(p: str) -> str:\n    with open(p) as fh:\n        return fh.read()\n", "with", 2),
    ("def f(n: int) -> int:\n    yield n\n", "generator function annotated int", 1),
    ("def f(s: str) -> int:\n    return eval(s)\n", "call to unknown function eval", 2),
    ("import os\n\ndef f() -> str:\n    return os.getcwd()\n", "import os", 4),  # where it is used
    (
        "def f(n: int) -> int:\n    g = lambda x: x + 1\n    return g(n)\n",
        "lambda outside sorted/min/max/map/filter",
        2,
    ),
    ("X = 1\n\ndef f() -> None:\n    global X\n    X = 2\n", "global", 4),
    ("def f(*args: int) -> int:\n    return 0\n", "*args or **kwargs", 1),
    (
        "def f(xs: list[int]) -> list[int]:\n    return [m for x in xs if (m := x + 1) > 2]\n",
        "assignment expression (:=) in a comprehension",
        2,
    ),
    (
        "from typing import Generic\n\nclass B(Generic):\n    pass\n",
        "class inheritance from Generic (not a plain class of the package that translates)",
        3,
    ),
    ("def f(x):\n    return x\n", "untyped parameter x of f", 1),
    ("def f(n: int) -> str:\n    return '%x items' % n\n", "printf-style string formatting", 2),
    (
        "def f(n: int) -> int:\n    def g(k: int) -> int:\n        return k + n\n    return g(1)\n",
        "nested function g capturing n",
        3,
    ),
    (
        "def f(n: int) -> int:\n    x = 1\n    x = 'a'\n    return n\n",
        "implicit conversion from str to int",
        3,
    ),
    ("def f(n: int) -> int:\n    return 99999999999999999999 + n\n", "integer literal beyond 64 bits", 2),
    ("from typing import Any\n\ndef f(n: Any) -> int:\n    return 1\n", "type Any", 3),
    ("async def f() -> int:\n    return 1\n", "top-level AsyncFunctionDef", 1),
    ("def f(xs: list[int]) -> int:\n    a, *b = xs\n    return a\n", "starred assignment", 2),
]


@pytest.mark.parametrize(("source", "construct", "line"), UNSUPPORTED, ids=[c for _, c, _ in UNSUPPORTED])
def test_unsupported_construct(source: str, construct: str, line: int) -> None:
    """Outside the subset: a precise ``Unsupported``, never Rust guesswork."""
    with pytest.raises(Unsupported) as info:
        translate_module(source)
    assert info.value.construct == construct
    assert info.value.line == line
    assert str(info.value) == f"unsupported: {construct} at line {line}"


def test_unsupported_survives_pickling() -> None:
    """The benchmark and the worker move errors across process pools."""
    err = pickle.loads(pickle.dumps(Unsupported("try/except", 7)))
    assert (err.construct, err.line, str(err)) == ("try/except", 7, "unsupported: try/except at line 7")


def test_syntax_error_propagates() -> None:
    """Invalid Python is the caller's problem, reported as Python reports it."""
    with pytest.raises(SyntaxError):
        translate_module("def f(:\n")
    with pytest.raises(SyntaxError):
        translate_unit("def f(:\n")


def test_translate_unit_one_function_with_imports() -> None:
    """A unit is one definition plus the imports it needs."""
    rust = translate_unit("from typing import List\n\ndef f(xs: List[int]) -> int:\n    return len(xs)\n")
    assert "fn f(xs: Vec<isize>) -> isize {" in rust
    assert "unsafe" not in rust


def test_translate_unit_rejects_several_units() -> None:
    """Two definitions are a module, not a unit."""
    with pytest.raises(Unsupported) as info:
        translate_unit("def f() -> int:\n    return 1\n\ndef g() -> int:\n    return 2\n")
    assert info.value.construct == "unit that is not exactly one function or class"
    assert info.value.line == 4


def test_translate_unit_rejects_calls_to_other_units() -> None:
    """A call to a function outside the unit cannot be typed."""
    with pytest.raises(Unsupported) as info:
        translate_unit("def f(n: int) -> int:\n    return helper(n)\n")
    assert info.value.construct == "call to unknown function helper"


def test_rules_backend() -> None:
    """The worker's backend interface."""
    backend = RulesBackend()
    assert backend.name == "rules"
    assert "fn twice(n: isize) -> isize" in backend.translate("def twice(n: int) -> int:\n    return n * 2\n")


def test_signature_types_follow_multipl_e() -> None:
    """Owned parameters with MultiPL-E's Rust types."""
    rust = translate_module(
        "from typing import Dict, List, Optional, Set, Tuple\n\n"
        "def f(a: List[float], b: Dict[str, int], c: Optional[str], d: Tuple[int, int], e: Set[int],"
        " g: bool) -> List[Tuple[str, float]]:\n    return []\n"
    )
    expected = (
        "fn f(a: Vec<f64>, b: HashMap<String, isize>, c: Option<String>, d: (isize, isize),"
        " e: HashSet<isize>,"
        " g: bool) -> Vec<(String, f64)>"
    )
    assert "".join(expected.split()) in "".join(rust.split()).replace(",)", ")")
    assert "use std::collections::HashMap;" in rust
    assert "use std::collections::HashSet;" in rust


def test_docstring_becomes_doc_comment() -> None:
    """Documentation survives translation."""
    rust = translate_module('def f() -> int:\n    """Answer."""\n    return 42\n')
    assert "/// Answer." in rust


def test_works_without_rustfmt(monkeypatch: pytest.MonkeyPatch) -> None:
    """rustfmt is optional; the unformatted output is still a valid function."""
    monkeypatch.setattr(rules_emitter.shutil, "which", lambda _name: None)
    rust = translate_module("def f(a: int, b: int) -> int:\n    return a // b\n")
    assert "fn f(a: isize, b: isize) -> isize {" in rust
    assert "fn py_floordiv(" in rust


def test_output_is_deterministic() -> None:
    """Same input, same bytes (the worker caches and diffs translations)."""
    source = "def f(xs: list[int]) -> int:\n    return sum(x % 3 for x in xs if x > 1)\n"
    assert translate_module(source) == translate_module(source)
