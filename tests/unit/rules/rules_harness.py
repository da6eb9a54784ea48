"""Differential harness: translate Python, compile with rustc, run, and compare with CPython.

Many cases are compiled in one rustc invocation (each translation in its own ``mod``), since
rustc costs ~0.3-1 s per file here. Both sides print values in one canonical text form; an
exception in Python and a panic in Rust both print ``PANIC``.
"""

from __future__ import annotations

import ast
import copy
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from portalis_worker import support_crate, verify
from portalis_worker.rules import translate_module
from portalis_worker.rules.types import Ty, annotation_to_ty

PANIC = "PANIC"
SUPPORT_CACHE = Path(tempfile.gettempdir()) / "portalis-support-rlib"

PRELUDE = verify.PRELUDE
"""The canonical printing (`PyRepr`, `run`) that the worker's differential check uses too."""


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


_CANONICAL: dict[str, Any] = {}
exec(verify.PY_REPR, _CANONICAL)  # the worker's canonical form, mirrored by PyRepr in PRELUDE
py_repr: Callable[[Any], str] = _CANONICAL["py_repr"]


rust_literal = verify.rust_literal


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
