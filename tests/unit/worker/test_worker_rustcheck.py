"""Splitting Rust into items, composing modules, and attributing rustc errors to units."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from portalis_worker.rustcheck import RustcChecker, compose, split_items

pytestmark = pytest.mark.unit

needs_rustc = pytest.mark.skipif(shutil.which("rustc") is None, reason="rustc not installed")

RUST = """use std::collections::{HashMap, HashSet};

/// Doc with a brace { and a quote "
#[derive(Debug, Clone)]
pub struct P {
    pub x: i64,
}

impl P {
    pub fn s(&self) -> &'static str { "}" }
}

// a comment with } and ;
fn c() -> char { '}' }

const N: [i64; 2] = [1, 2];
static R: &str = r#"}"# ;
fn l<'a>(x: &'a str) -> &'a str { x }
"""


def test_split_items() -> None:
    items = split_items(RUST)
    assert [i.split("\n")[-1][:14] for i in items] == [
        "use std::colle",
        "}",
        "}",
        "fn c() -> char",
        "const N: [i64;",
        "static R: &str",
        "fn l<'a>(x: &'",
    ]
    assert items[1].startswith("/// Doc")
    assert items[3].startswith("// a comment")


def test_compose_emits_identical_items_once_and_maps_lines() -> None:
    helper = "fn helper() -> i64 {\n    1\n}"
    module = compose(
        [("a", f"fn a() -> i64 {{ helper() }}\n\n{helper}\n"), ("b", f"fn b() -> i64 {{ 2 }}\n{helper}\n")]
    )
    assert module.text.count("fn helper") == 1
    assert module.owner_of(1) == "a"
    assert module.owner_of(module.text.splitlines().index("fn b() -> i64 { 2 }") + 1) == "b"


@needs_rustc
def test_rustc_attributes_errors_to_the_unit_that_caused_them(tmp_path: Path) -> None:
    checker = RustcChecker("rustc", "2021", tmp_path)
    assert checker.check([("a", "fn a() -> i64 { 1 }\n"), ("b", "fn b() -> i64 { a() + 1 }\n")]) == {}
    errors = checker.check(
        [
            ("a", "fn a() -> i64 { 1 }\n"),
            ("b", 'fn b() -> i64 { "no" }\n'),
            ("c", "fn c() -> i64 { missing() }\n"),
        ]
    )
    assert set(errors) == {"b", "c"}
    assert errors["b"].startswith("E0308")
    assert errors["c"].startswith("E0425")


@needs_rustc
def test_rustc_missing_binary_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="PORTALIS_RUST_CHECK"):
        RustcChecker("no-such-rustc-binary", "2021", tmp_path)
