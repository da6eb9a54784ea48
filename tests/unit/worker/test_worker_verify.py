"""Differential verification: CPython and the compiled crate on the same generated inputs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from portalis_worker.rules.types import INT, STR, Ty, list_of, option_of
from portalis_worker.verify import Candidate, Verifier, candidates, inputs_for, rust_literal

pytestmark = pytest.mark.skipif(shutil.which("rustc") is None, reason="rustc is required")

SOURCES = {
    "calc/__init__.py": "",
    "calc/ops.py": (
        "def add(a: int, b: int) -> int:\n    return a + b\n\n"
        "def shout(s: str) -> str:\n    return s.upper()\n\n"
        "def first(xs: list[int]) -> int:\n    return xs[0]\n\n"
        "def spin(n: int) -> int:\n    while True:\n        n += 1\n\n"
        "def half(x: float) -> float:\n    return x / 2\n\n"
        "def norm(k: int | str) -> str:\n    return str(k)\n\n"
        "def size(b: bytes | None) -> int:\n    return -1 if b is None else len(b)\n\n"
        "LIMIT = 3\nNAMES = ['a', 'b']\n\n"
        "import enum\n\nclass Color(enum.Enum):\n    RED = 1\n    GREEN = 2\n\n"
        "class Kind(enum.Enum):\n    A = 'a'\n    B = 'b'\n\n"
        "import re\n\nWORD = re.compile(r'(\\w)(\\d)?')\nRUN = re.compile('a+')\n"
    ),
}
# Compiled patterns: WORD as written, RUN deliberately wrong (`a` where Python has `a+`).
PATTERNS = (
    "pub static WORD: std::sync::LazyLock<portalis_py::re::Pattern> = std::sync::LazyLock::new(|| "
    'portalis_py::re::compile("(\\\\w)(\\\\d)?", 0));\n'
    "pub static RUN: std::sync::LazyLock<portalis_py::re::Pattern> = std::sync::LazyLock::new(|| "
    'portalis_py::re::compile("a", 0));\n'
)
# The crate as a translator might have produced it; `shout` is deliberately wrong (lowercases).
LIB = "pub mod calc;\n"
CALC = "pub mod ops;\n"
OPS = (
    "pub fn add(a: isize, b: isize) -> isize { a + b }\n"
    "pub fn shout(s: String) -> String { s.to_lowercase() }\n"
    "pub fn first(xs: Vec<isize>) -> isize { xs[0] }\n"
    "pub fn spin(n: isize) -> isize { let mut n = n; loop { n = n.wrapping_add(1); } }\n"
    "pub fn half(x: isize) -> isize { x / 2 }\n"
    "pub fn norm(k: portalis_py::union::Union2<isize, String>) -> String {\n"
    "    match k {\n        portalis_py::union::Union2::A(n) => n.to_string(),\n"
    "        portalis_py::union::Union2::B(s) => s,\n    }\n}\n"
    "pub fn size(b: Option<Vec<u8>>) -> isize { b.map_or(-1, |b| b.len() as isize) }\n"
    "pub const LIMIT: isize = 3;\n"
    'pub static NAMES: std::sync::LazyLock<Vec<String>> = std::sync::LazyLock::new(|| vec!["a".into()]);\n'
    "#[derive(Clone, Copy)] pub enum Color { RED, GREEN }\n"
    "impl Color {\n    pub const MEMBERS: [Self; 2] = [Color::RED, Color::GREEN];\n"
    "    pub fn value(&self) -> isize { match self { Color::RED => 1, Color::GREEN => 2 } }\n"
    "    pub fn name(&self) -> String {\n"
    '        match self { Color::RED => "RED".into(), Color::GREEN => "GREEN".into() }\n    }\n}\n'
    "#[derive(Clone, Copy)] pub enum Kind { A, B }\n"
    "impl Kind {\n    pub const MEMBERS: [Self; 2] = [Kind::B, Kind::A];\n"
    '    pub fn value(&self) -> String { match self { Kind::A => "a".into(), Kind::B => "b".into() } }\n'
    '    pub fn name(&self) -> String { match self { Kind::A => "A".into(), Kind::B => "B".into() } }\n}\n'
)


def unit(name: str, rust: str = "") -> dict[str, object]:
    code = rust or f"pub fn {name}("
    return {"id": f"id-{name}", "path": "calc/ops.py", "name": name, "status": "translated", "rust": code}


def make_crate(root: Path) -> Path:
    for rel, text in {"src/lib.rs": LIB, "src/calc/mod.rs": CALC, "src/calc/ops.rs": OPS + PATTERNS}.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def test_agreement_mismatch_panics_and_hangs_are_each_reported(tmp_path: Path) -> None:
    source = tmp_path / "src"
    for rel, text in SOURCES.items():
        (source / rel).parent.mkdir(parents=True, exist_ok=True)
        (source / rel).write_text(text)
    crate = make_crate(tmp_path / "crate")
    units = [unit(n) for n in ("add", "shout", "first", "spin", "half", "norm", "size")] + [
        unit("LIMIT", "pub const LIMIT: isize = 3;"),
        unit("NAMES", "pub static NAMES: std::sync::LazyLock<Vec<String>> = std::sync::LazyLock::new(f);"),
        unit("Color", "pub enum Color {\n} impl Color { pub const MEMBERS: [Self; 2] = [] }"),
        unit("Kind", "pub enum Kind {\n} impl Kind { pub const MEMBERS: [Self; 2] = [] }"),
        *(unit(name, line) for name, line in zip(("WORD", "RUN"), PATTERNS.splitlines(), strict=True)),
    ]
    verdicts = Verifier("rustc", "2021", tmp_path / "scratch", count=12).verify(
        crate, "calc_crate", source, units, SOURCES
    )
    assert verdicts["id-add"].state == "verified"
    assert verdicts["id-add"].inputs == 12
    assert verdicts["id-first"].state == "verified"  # IndexError on [] in Python, a panic in Rust
    shout = verdicts["id-shout"]
    assert shout.state == "mismatch"
    assert "shout(" in shout.detail
    assert "Python" in shout.detail
    assert "Rust" in shout.detail
    assert verdicts["id-spin"].state == "unverifiable"  # Python ran too long on every input
    assert verdicts["id-half"].state == "unverifiable"  # the Rust signature is not the annotated one
    assert "did not compile" in verdicts["id-half"].detail
    assert verdicts["id-norm"].state == "verified"  # union arguments: each member's values
    assert verdicts["id-size"].state == "verified"  # bytes (and None)
    assert verdicts["id-LIMIT"].state == "verified"
    assert verdicts["id-NAMES"].state == "mismatch"  # the static holds ['a'], Python ['a', 'b']
    assert verdicts["id-Color"].state == "verified"  # names and values, in order
    assert verdicts["id-Kind"].state == "mismatch"  # the members are out of order
    # Patterns: every group's span of every finditer match, on strings made of the pattern's characters.
    assert verdicts["id-WORD"].state == "verified"
    assert verdicts["id-WORD"].inputs == 12
    assert verdicts["id-RUN"].state == "mismatch"
    assert "RUN(" in verdicts["id-RUN"].detail


def test_candidates_are_value_typed_annotated_functions() -> None:
    sources = {
        "m.py": (
            "def ok(a: int, b: list[str]) -> bool:\n    return True\n"
            "def _private(a: int) -> int:\n    return a\n"
            "def untyped(a):\n    return a\n"
            "def obj(a: int) -> 'Thing':\n    return a\n"
        )
    }
    units = [
        {"id": n, "path": "m.py", "name": n, "status": "translated", "rust": f"pub fn {n}("}
        for n in ("ok", "_private", "untyped", "obj")
    ]
    assert [c.function for c in candidates(units, sources)] == ["_private", "ok"]


def test_candidates_read_the_package_type_aliases() -> None:
    sources = {
        "types.py": (
            "from typing import NewType\nPos = int\nKey = tuple[str, ...]\nName = NewType('Name', str)\n"
        ),
        "m.py": (
            "from .types import Key, Name, Pos\n"
            "def skip(src: str, pos: 'Pos', key: Key) -> Pos:\n    return pos\n"
            "def norm(n: str) -> Name:\n    return Name(n)\n"
        ),
    }
    units = [
        {"id": n, "path": "m.py", "name": n, "status": "translated", "rust": f"pub fn {n}("}
        for n in ("skip", "norm")
    ]
    found = {c.function: c for c in candidates(units, sources)}
    assert [str(t) for t in found["skip"].params] == ["str", "int", "tuple[str, ...]"]
    assert str(found["norm"].ret) == "str"


def test_inputs_are_deterministic_and_distinct() -> None:
    c = Candidate("u", "m.py", "m", ("m",), "f", [INT, list_of(option_of(STR))], INT)
    first, again = inputs_for(c, 20), inputs_for(c, 20)
    assert first == again
    assert len({repr(a) for a in first}) == len(first)


def test_rust_literals_cover_the_value_types() -> None:
    assert rust_literal(None, option_of(INT)) == "None"
    assert rust_literal((1, "a"), Ty("tuple", (INT, STR))) == '((1isize), String::from("a"))'
    assert (
        rust_literal({1: [2]}, Ty("dict", (INT, list_of(INT))))
        == "HashMap::from([((1isize), vec![(2isize)])])"
    )
