"""Differential harness: translate Python, compile with rustc, run, and compare with CPython.

Many cases are compiled in one rustc invocation (each translation in its own ``mod``), since
rustc costs ~0.3-1 s per file here. Both sides print values in one canonical text form; an
exception in Python and a panic in Rust both print ``PANIC``.
"""

from __future__ import annotations

import ast
import copy
import math
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from portalis_worker import support_crate
from portalis_worker.rules import translate_module
from portalis_worker.rules.expressions import float_literal, rust_str_literal
from portalis_worker.rules.types import Ty, annotation_to_ty

PANIC = "PANIC"
SUPPORT_CACHE = Path(tempfile.gettempdir()) / "portalis-support-rlib"

PRELUDE = r"""
#![allow(dead_code, unused_imports, unused_variables, unused_mut, unused_parens, unused_assignments)]
use std::collections::{HashMap, HashSet};

trait PyRepr {
    fn py(&self) -> String;
}
impl PyRepr for isize {
    fn py(&self) -> String { self.to_string() }
}
impl PyRepr for f64 {
    fn py(&self) -> String { format!("{:?}", self) }
}
impl PyRepr for bool {
    fn py(&self) -> String { String::from(if *self { "True" } else { "False" }) }
}
impl PyRepr for String {
    fn py(&self) -> String { format!("'{}'", self) }
}
impl PyRepr for () {
    fn py(&self) -> String { String::from("None") }
}
impl<T: PyRepr> PyRepr for Vec<T> {
    fn py(&self) -> String { format!("[{}]", self.iter().map(|x| x.py()).collect::<Vec<_>>().join(", ")) }
}
impl<T: PyRepr> PyRepr for Option<T> {
    fn py(&self) -> String { match self { Some(x) => x.py(), None => String::from("None") } }
}
macro_rules! tuple_repr {
    ($($t:ident $i:tt),+) => {
        impl<$($t: PyRepr),+> PyRepr for ($($t,)+) {
            fn py(&self) -> String { format!("({})", vec![$(self.$i.py()),+].join(", ")) }
        }
    };
}
tuple_repr!(A 0, B 1);
tuple_repr!(A 0, B 1, C 2);
tuple_repr!(A 0, B 1, C 2, D 3);
tuple_repr!(A 0, B 1, C 2, D 3, E 4);
impl<K: PyRepr, V: PyRepr> PyRepr for HashMap<K, V> {
    fn py(&self) -> String {
        let mut items: Vec<String> = self.iter().map(|(k, v)| format!("{}: {}", k.py(), v.py())).collect();
        items.sort();
        format!("{{{}}}", items.join(", "))
    }
}
impl<T: PyRepr> PyRepr for HashSet<T> {
    fn py(&self) -> String {
        let mut items: Vec<String> = self.iter().map(|x| x.py()).collect();
        items.sort();
        format!("{{{}}}", items.join(", "))
    }
}
fn run<T: PyRepr, F: FnOnce() -> T + std::panic::UnwindSafe>(f: F) -> String {
    match std::panic::catch_unwind(f) {
        Ok(v) => v.py(),
        Err(_) => String::from("PANIC"),
    }
}
"""


@dataclass
class Case:
    """One Python function translated and called on several inputs.

    ``expected`` overrides CPython's results where the documented Rust semantics differ on
    purpose (e.g. integer overflow panics instead of growing).
    """

    source: str
    func: str
    inputs: list[tuple[Any, ...]]
    expected: list[str] | None = None
    rust: str = field(default="", init=False)


def py_repr(value: Any) -> str:
    """The canonical text form (mirrors ``PyRepr`` in the Rust prelude)."""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float_text(value)
    if isinstance(value, str):
        return f"'{value}'"
    if value is None:
        return "None"
    if isinstance(value, list):
        return "[" + ", ".join(py_repr(v) for v in value) + "]"
    if isinstance(value, tuple):
        return "(" + ", ".join(py_repr(v) for v in value) + ")"
    if isinstance(value, dict):
        return "{" + ", ".join(sorted(f"{py_repr(k)}: {py_repr(v)}" for k, v in value.items())) + "}"
    if isinstance(value, set | frozenset):
        return "{" + ", ".join(sorted(py_repr(v) for v in value)) + "}"
    raise TypeError(f"no canonical form for {type(value).__name__}")


def _float_text(value: float) -> str:
    """Rust's ``{:?}`` for f64 (shortest round-trip, like Python's repr, but exponents differ)."""
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    text = repr(value)
    if "e" in text:
        mantissa, exponent = text.split("e")
        return f"{mantissa}e{int(exponent)}"
    return text


def rust_literal(value: Any, ty: Ty) -> str:
    """A Rust expression for a Python test input of static type ``ty``."""
    kind = ty.kind
    if kind == "option":
        return "None" if value is None else f"Some({rust_literal(value, ty.args[0])})"
    if kind == "bool":
        return "true" if value else "false"
    if kind == "int":
        return f"{value}isize"
    if kind == "float":
        return float_literal(float(value))
    if kind == "str":
        return f"String::from({rust_str_literal(value)})"
    if kind == "list":
        return "vec![" + ", ".join(rust_literal(v, ty.args[0]) for v in value) + "]"
    if kind == "set":
        return "HashSet::from([" + ", ".join(rust_literal(v, ty.args[0]) for v in value) + "])"
    if kind == "dict":
        pairs = [f"({rust_literal(k, ty.args[0])}, {rust_literal(v, ty.args[1])})" for k, v in value.items()]
        return "HashMap::from([" + ", ".join(pairs) + "])"
    if kind == "tuple":
        return "(" + ", ".join(rust_literal(v, t) for v, t in zip(value, ty.args, strict=True)) + ")"
    raise TypeError(f"no Rust literal for {ty}")


def python_results(case: Case) -> list[str]:
    """CPython's results for the case, in canonical form."""
    if case.expected is not None:
        return case.expected
    namespace: dict[str, Any] = {}
    exec(compile(case.source, "<case>", "exec"), namespace)
    out = []
    for args in case.inputs:
        try:
            out.append(py_repr(namespace[case.func](*copy.deepcopy(args))))
        except Exception:
            out.append(PANIC)
    return out


def _param_types(case: Case) -> list[Ty]:
    """Static types of the called function's parameters, from its annotations."""
    tree = ast.parse(case.source)
    classes = frozenset(n.name for n in tree.body if isinstance(n, ast.ClassDef))
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == case.func:
            return [
                annotation_to_ty(a.annotation, classes) for a in node.args.args if a.annotation is not None
            ]
    raise LookupError(case.func)


def _program(cases: dict[str, Case]) -> str:
    """One Rust program with a module per case and a main that prints every call's result."""
    mods, calls = [], []
    for i, (cid, case) in enumerate(cases.items()):
        public = re.sub(r"^fn ", "pub fn ", case.rust, flags=re.MULTILINE)
        mods.append(f"mod c{i} {{\n{public}\n}}")
        tys = _param_types(case)
        for j, args in enumerate(case.inputs):
            rendered = ", ".join(rust_literal(a, t) for a, t in zip(args, tys, strict=True))
            calls.append(f'    println!("{cid}#{j}\\t{{}}", run(move || c{i}::{case.func}({rendered})));')
    main = "fn main() {\n    std::panic::set_hook(Box::new(|_| {}));\n" + "\n".join(calls) + "\n}\n"
    return PRELUDE + "\n".join(mods) + "\n" + main


def _compile_run(program: str) -> tuple[bool, str]:
    """(compiled, stdout or compiler errors)."""
    rustc = shutil.which("rustc")
    if rustc is None:
        raise RuntimeError("rustc is required for the translator tests")
    with tempfile.TemporaryDirectory(prefix="rules-") as tmp:
        src, binary = Path(tmp) / "cases.rs", Path(tmp) / "cases"
        src.write_text(program)
        extra = (
            support_crate.extern_args(rustc, "2021", SUPPORT_CACHE)
            if support_crate.USE_MARKER in program
            else []
        )
        done = subprocess.run(
            [rustc, "--edition", "2021", *extra, "-o", str(binary), str(src)],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if done.returncode != 0:
            return False, done.stderr
        run = subprocess.run([str(binary)], capture_output=True, text=True, timeout=60, check=False)
        return True, run.stdout


def _parse(stdout: str) -> dict[str, list[str]]:
    """``cid#j<TAB>value`` lines back into per-case result lists."""
    results: dict[str, list[str]] = {}
    for line in stdout.splitlines():
        key, _, value = line.partition("\t")
        cid, _, _ = key.rpartition("#")
        results.setdefault(cid, []).append(value)
    return results


def run_cases(cases: dict[str, Case]) -> dict[str, tuple[list[str], list[str] | str]]:
    """Translate, compile (all at once; one by one if that fails, to pinpoint) and run.

    Returns ``{case id: (python results, rust results or an error text)}``.
    """
    outcome: dict[str, tuple[list[str], list[str] | str]] = {}
    good: dict[str, Case] = {}
    for cid, case in cases.items():
        expected = python_results(case)
        try:
            case.rust = translate_module(case.source)
        except Exception as exc:  # reported per case by the test
            outcome[cid] = (expected, f"translation failed: {exc!r}")
            continue
        good[cid] = case
    compiled, text = _compile_run(_program(good)) if good else (True, "")
    batches = [good] if compiled else [{cid: case} for cid, case in good.items()]
    for batch in batches:
        ok, out = (compiled, text) if compiled else _compile_run(_program(batch))
        parsed = _parse(out) if ok else {}
        for cid, case in batch.items():
            expected = python_results(case)
            if not ok:
                outcome[cid] = (expected, f"rustc failed:\n{out}\n--- Rust ---\n{case.rust}")
            else:
                outcome[cid] = (expected, parsed.get(cid, []))
    return outcome


def assert_case(results: dict[str, tuple[list[str], list[str] | str]], cid: str) -> None:
    """Assert that Rust printed exactly what Python did for every input of case ``cid``."""
    expected, actual = results[cid]
    assert isinstance(actual, list), actual
    assert actual == expected
