"""Differential verification: translated public functions run in CPython and in Rust on the same inputs.

For every translated top-level `pub` function whose parameter and return types are values
(int, float, bool, str, and list/set/dict/tuple/Optional of those), inputs are generated from the
types (boundary values first, then seeded random ones, so any shard gets the same), the Python
function is called in a child process on the source tree, and the compiled crate's function is
called by a generated probe program. Both print each result in one canonical text form (an
exception and a panic both print `PANIC`); any difference is a mismatch, reported with the smallest
differing input. A unit is `verified` on N inputs only when all N agree. The canonical form prints
lists and tuples alike (`[1, 2]`): a `tuple[int, ...]` is a `Vec` in Rust, and whether a value is
a fixed tuple or a sequence is fixed by the types on both sides already.

This runs the tenant's Python code (importing its modules), inside the worker pod that already
holds that code; module-level side effects run as they would on import.
"""

from __future__ import annotations

import ast
import copy
import json
import logging
import math
import random
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from portalis_worker import support_crate
from portalis_worker.crate import rust_module_paths
from portalis_worker.rules.errors import Unsupported
from portalis_worker.rules.expressions import float_literal, rust_str_literal
from portalis_worker.rules.types import STR, UNION_VARIANTS, Ty, annotation_to_ty, is_vtuple, union_path

LOG = logging.getLogger(__name__)

PANIC = "PANIC"
TIMEOUT = "TIMEOUT"
CALL_SECONDS = 1.0
"""A Python call that runs longer is left out (its input is not compared), as is a Rust one."""
DEFAULT_INPUTS = 24
TIMEOUT_SECONDS = 120
VALUE_KINDS = frozenset(
    {"int", "float", "bool", "str", "bytes", "none", "list", "set", "dict", "tuple", "option", "union"}
)

PROBE_MODULE = "__portalis_probe"
PRELUDE = r"""
#![allow(dead_code, unused_imports, unused_variables, unused_mut, unused_parens, unused_assignments)]
use std::collections::{HashMap, HashSet};

pub trait PyRepr {
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
impl PyRepr for &str {
    fn py(&self) -> String { format!("'{}'", self) }
}
impl PyRepr for u8 {
    fn py(&self) -> String { self.to_string() }
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
            fn py(&self) -> String { format!("[{}]", vec![$(self.$i.py()),+].join(", ")) }
        }
    };
}
tuple_repr!(A 0);
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
pub fn run<T: PyRepr, F: FnOnce() -> T + std::panic::UnwindSafe>(f: F) -> String {
    match std::panic::catch_unwind(f) {
        Ok(v) => v.py(),
        Err(_) => String::from("PANIC"),
    }
}
"""

UNION_REPR = "\n".join(
    f"impl<{', '.join(f'{v}: PyRepr' for v in UNION_VARIANTS[:n])}> PyRepr for "
    f"portalis_py::union::Union{n}<{', '.join(UNION_VARIANTS[:n])}> {{\n"
    "    fn py(&self) -> String { match self { "
    + " ".join(f"portalis_py::union::Union{n}::{v}(x) => x.py()," for v in UNION_VARIANTS[:n])
    + " } }\n}"
    for n in range(2, len(UNION_VARIANTS) + 1)
)
"""A union value prints as the member it holds (added when the crate uses the support crate)."""

# The Python side's canonical form, mirrored by PyRepr above; run in the child process.
PY_REPR = r"""
import math
from collections.abc import Iterator, Mapping

def _float_text(value):
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    text = repr(value)
    if "e" in text:
        mantissa, exponent = text.split("e")
        return f"{mantissa}e{int(exponent)}"
    return text

def py_repr(value):
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
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(py_repr(v) for v in value) + "]"
    if isinstance(value, bytes):
        return "[" + ", ".join(str(b) for b in value) + "]"
    if isinstance(value, Mapping):  # dict, and read-only views of one (MappingProxyType)
        return "{" + ", ".join(sorted(f"{py_repr(k)}: {py_repr(v)}" for k, v in value.items())) + "}"
    if isinstance(value, (set, frozenset)):
        return "{" + ", ".join(sorted(py_repr(v) for v in value)) + "}"
    raise TypeError(type(value).__name__)
"""

PY_RUNNER = (
    PY_REPR
    + r"""
import ast, copy, importlib, json, signal, sys
sys.setrecursionlimit(10000)
jobs = ast.literal_eval(sys.stdin.read())

class _Timeout(BaseException):
    pass

def _alarm(signum, frame):
    raise _Timeout()

signal.signal(signal.SIGALRM, _alarm)

def _as_declared(value, shape):
    # An int where the annotation says float (`sum([])` is 0) is that float, as PEP 484's numeric
    # tower reads it: the Rust function returns 0.0.
    if shape == "float":
        return float(value) if type(value) is int else value
    if isinstance(shape, list) and value is not None:
        kind = shape[0]
        if kind == "list" and isinstance(value, Iterator):  # a generator: its items, as translated
            value = list(value)
        if kind == "option":
            return _as_declared(value, shape[1])
        if kind == "list" and isinstance(value, (list, tuple)):
            return type(value)(_as_declared(v, shape[1]) for v in value)
        if kind == "tuple" and isinstance(value, tuple) and len(value) == len(shape[1]):
            return tuple(_as_declared(v, t) for v, t in zip(value, shape[1]))
        if kind == "dict" and isinstance(value, dict):
            return {k: _as_declared(v, shape[1]) for k, v in value.items()}
    return value

for job in jobs:
    try:
        func = getattr(importlib.import_module(job["module"]), job["function"])
    except BaseException as exc:
        print(json.dumps({"id": job["id"], "error": f"import failed: {type(exc).__name__}"}), flush=True)
        continue
    if job["constant"]:
        value = func
        func = lambda: value
    if job.get("enum"):
        members = [[m.name, m.value] for m in func]
        func = lambda: members
    if job.get("pattern"):
        pattern = func
        func = lambda s: [[m.span(g) for g in range(pattern.groups + 1)] for m in pattern.finditer(s)]
    out = []
    for args in job["inputs"]:
        signal.setitimer(signal.ITIMER_REAL, CALL_SECONDS)
        try:
            out.append(py_repr(_as_declared(func(*copy.deepcopy(args)), job.get("ret"))))
        except _Timeout:
            out.append("TIMEOUT")
        except Exception:
            out.append("PANIC")
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    print(json.dumps({"id": job["id"], "results": out}), flush=True)
"""
)


@dataclass(frozen=True)
class Candidate:
    unit_id: str
    path: str
    module: str
    """Dotted Python module."""
    rust_path: tuple[str, ...]
    function: str
    """The function's (or the constant's) name."""
    params: list[Ty]
    ret: Ty
    kind: str = "function"
    """function, constant (its value is compared, with no inputs), enum (its members' names and
    values, in order), or pattern (a compiled `re` pattern: the spans of every group of every match
    of `finditer` on generated strings)"""
    static: bool = False
    """A constant that is a `LazyLock` static (read through a deref)."""
    alphabet: str = ""
    """For a pattern: the characters its inputs are made of (its literal's, and a few others)."""


@dataclass(frozen=True)
class Verdict:
    state: str
    """verified | mismatch | unverifiable"""
    inputs: int = 0
    detail: str = ""

    def as_record(self) -> dict[str, Any]:
        out: dict[str, Any] = {"state": self.state, "inputs": self.inputs}
        if self.detail:
            out["detail"] = self.detail
        return out


def _is_value(ty: Ty) -> bool:
    return ty.kind in VALUE_KINDS and all(_is_value(a) for a in ty.args)


VALUE_RUST_TYPE = re.compile(
    r"^(?:isize|f64|bool|String|&(?:'static )?str|Vec|HashMap|HashSet|Option|[<>(), ])+$"
)
PATTERN_ITEM = re.compile(
    r"\bstatic (?:r#)?([A-Za-z_][A-Za-z0-9_]*): std::sync::LazyLock<portalis_py::re::Pattern> = "
)
PATTERN_LITERAL = re.compile(r'compile\(\s*"((?:[^"\\]|\\.)*)"')
PATTERN_FILLER = "aZ09 _-.,:/\n"
"""Characters every pattern's inputs may hold besides its own literal's."""
CONST_ITEM = re.compile(r"\b(const|static) (?:r#)?([A-Za-z_][A-Za-z0-9_]*): (.+?) = ", re.DOTALL)


def candidates(units: Sequence[Mapping[str, Any]], sources: Mapping[str, str]) -> list[Candidate]:
    """Translated top-level functions with value-typed, annotated signatures, and module constants
    whose Rust type is a value type, and enums (their members)."""
    rust_paths = rust_module_paths(sources)
    found: list[Candidate] = []
    trees: dict[str, ast.Module] = {}
    aliases: dict[str, ast.expr] | None = None
    for unit in units:
        path, name, rust = str(unit["path"]), str(unit["name"]), str(unit.get("rust", ""))
        if unit.get("status") != "translated" or path not in sources:
            continue
        module = ".".join(p for p in Path(path).with_suffix("").parts if p != "__init__")
        where = (str(unit["id"]), path, module, rust_paths[path], name)
        if re.search(rf"\bpub enum {re.escape(name)} \{{", rust) and "pub const MEMBERS" in rust:
            # an enum.Enum: its members' names and values, in order, against `list(Enum)`
            found.append(Candidate(*where, [], Ty("none"), "enum"))
            continue
        pattern = PATTERN_ITEM.search(rust)
        if pattern is not None and pattern.group(1) == name:
            literal = PATTERN_LITERAL.search(rust[pattern.end() :])
            alphabet = "".join(sorted(set(literal.group(1) if literal else "") | set(PATTERN_FILLER)))
            found.append(Candidate(*where, [STR], Ty("none"), "pattern", static=True, alphabet=alphabet))
            continue
        constant = _constant(name, rust)
        if constant is not None:
            found.append(Candidate(*where, [], Ty("none"), "constant", static=constant))
            continue
        if not re.search(rf"\bfn {re.escape(name)}\(", rust):
            continue
        if path not in trees:
            try:
                trees[path] = ast.parse(sources[path])
            except SyntaxError:
                continue
        node = next((n for n in trees[path].body if isinstance(n, ast.FunctionDef) and n.name == name), None)
        if node is None or node.args.vararg or node.args.kwarg or node.args.kwonlyargs:
            continue
        if aliases is None:
            aliases = type_aliases(sources)
        signature = _python_signature(node, aliases) or _rust_signature(rust, name)
        if signature is None:
            continue
        tys, ret = signature
        if not all(_is_value(t) for t in [*tys, ret]):
            continue
        found.append(Candidate(*where, tys, ret))
    return sorted(found, key=lambda c: (c.path, c.function))


def type_aliases(sources: Mapping[str, str]) -> dict[str, ast.expr]:
    """The package's type aliases (`Pos = int`, `Key = tuple[str, ...]`, `N = NewType("N", str)`)
    by name, for reading signatures; a name two modules define differently is left out."""
    found: dict[str, ast.expr] = {}
    clashes: set[str] = set()
    for text in sources.values():
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        for stmt in tree.body:
            if not (
                isinstance(stmt, ast.Assign)
                and len(stmt.targets) == 1
                and isinstance(stmt.targets[0], ast.Name)
            ):
                continue
            value = stmt.value
            if (
                isinstance(value, ast.Call)
                and getattr(value.func, "id", getattr(value.func, "attr", "")) == "NewType"
            ):
                value = value.args[1] if len(value.args) == 2 else value
            if not isinstance(value, ast.Name | ast.Subscript | ast.BinOp | ast.Attribute):
                continue
            name = stmt.targets[0].id
            if name in found and ast.dump(found[name]) != ast.dump(value):
                clashes.add(name)
            found[name] = value
    return {k: v for k, v in found.items() if k not in clashes}


class _Expand(ast.NodeTransformer):
    def __init__(self, aliases: Mapping[str, ast.expr], depth: int = 0) -> None:
        self.aliases, self.depth = aliases, depth

    def visit_Name(self, node: ast.Name) -> ast.expr:
        if node.id in self.aliases and self.depth < 8:
            expanded: ast.expr = _Expand(self.aliases, self.depth + 1).visit(
                copy.deepcopy(self.aliases[node.id])
            )
            return expanded
        return node

    def visit_Constant(self, node: ast.Constant) -> ast.expr:
        if isinstance(node.value, str):  # a string annotation: `"Version"`
            try:
                parsed: ast.expr = self.visit(ast.parse(node.value, mode="eval").body)
                return parsed
            except SyntaxError:
                return node
        return node


def _python_signature(
    node: ast.FunctionDef, aliases: Mapping[str, ast.expr] | None = None
) -> tuple[list[Ty], Ty] | None:
    """Parameter and return types from the annotations (the package's type aliases expanded),
    when all are there and map to types."""
    params = [*node.args.posonlyargs, *node.args.args]
    if node.returns is None or any(p.annotation is None for p in params):
        return None

    def ty(annotation: ast.expr) -> Ty:
        expanded = _Expand(aliases or {}).visit(copy.deepcopy(annotation))
        return annotation_to_ty(expanded, frozenset())

    try:
        return [ty(p.annotation) for p in params if p.annotation is not None], ty(node.returns)
    except (Unsupported, SyntaxError, RecursionError):
        return None


_RUST_SCALARS = {"isize": "int", "f64": "float", "bool": "bool", "String": "str"}


def _rust_signature(rust: str, name: str) -> tuple[list[Ty], Ty] | None:
    """Types read from the translated `fn`, for parameters whose annotations are missing (inferred)
    or name the package's aliases. Only scalars, and Optional, dict and set of them: a `Vec` may be
    a list or a tuple in Python, which the Rust type does not tell."""
    match = re.search(rf"\bfn {re.escape(name)}\((.*?)\)(?:\s*->\s*(.+?))?\s*\{{", rust, re.DOTALL)
    if match is None:
        return None
    params = []
    for part in _top_level_split(match.group(1)):
        if not part.strip():
            continue
        _, _, rtype = part.partition(":")
        ty = _rust_ty(rtype.strip())
        if ty is None:
            return None
        params.append(ty)
    ret = _rust_ty(match.group(2).strip()) if match.group(2) else Ty("none")
    return (params, ret) if ret is not None else None


def _top_level_split(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for c in text:
        depth += c in "<("
        depth -= c in ">)"
        if c == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += c
    return [*parts, current]


def _rust_ty(text: str) -> Ty | None:
    if text in _RUST_SCALARS:
        return Ty(_RUST_SCALARS[text])
    generic = re.fullmatch(r"(Option|HashSet|HashMap)<(.+)>", text)
    if generic is None:
        return None
    args = [_rust_ty(a.strip()) for a in _top_level_split(generic.group(2))]
    if any(a is None for a in args):
        return None
    kind = {"Option": "option", "HashSet": "set", "HashMap": "dict"}[generic.group(1)]
    return Ty(kind, tuple(a for a in args if a is not None))


def _constant(name: str, rust: str) -> bool | None:
    """For a unit that is one module constant of a value type: whether it is a static; else None."""
    match = CONST_ITEM.search(rust)
    if match is None or match.group(2) != name:
        return None
    kind, ty = match.group(1), match.group(3).strip()
    if kind == "static":
        inner = re.fullmatch(r"std::sync::LazyLock<(.+)>", ty)
        if inner is None:
            return None
        ty = inner.group(1)
    return (kind == "static") if VALUE_RUST_TYPE.match(ty) else None


def generate(ty: Ty, rng: random.Random, depth: int = 0) -> Any:
    kind = ty.kind
    if kind == "int":
        return rng.choice([0, 1, -1, 2, 7, -13, 100, rng.randint(-1000, 1000), rng.randint(-10, 10)])
    if kind == "float":
        return rng.choice([0.0, 1.5, -2.25, 0.1, 1e3, rng.uniform(-100, 100), float(rng.randint(-5, 5))])
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "str":
        alphabet = "abcXYZ 019_-.,:/é"
        return "".join(rng.choice(alphabet) for _ in range(rng.choice([0, 1, 3, 8, 15])))
    if kind == "none":
        return None
    if kind == "bytes":
        return bytes(rng.choice(b"ab09 .\x00\xff") for _ in range(rng.choice([0, 1, 3, 8])))
    if kind == "union":
        return generate(rng.choice(ty.args), rng, depth)
    size = 0 if depth > 2 else rng.choice([0, 1, 2, 4])
    if kind == "list":
        items = [generate(ty.args[0], rng, depth + 1) for _ in range(size)]
        return tuple(items) if is_vtuple(ty) else items
    if kind == "set":
        return {generate(ty.args[0], rng, depth + 1) for _ in range(size)}
    if kind == "dict":
        return {
            generate(ty.args[0], rng, depth + 1): generate(ty.args[1], rng, depth + 1) for _ in range(size)
        }
    if kind == "tuple":
        return tuple(generate(a, rng, depth + 1) for a in ty.args)
    if kind == "option":
        return None if rng.random() < 0.25 else generate(ty.args[0], rng, depth)
    raise TypeError(str(ty))


def inputs_for(candidate: Candidate, count: int) -> list[list[Any]]:
    """`count` distinct argument lists, the same on every run (seeded by the function's identity);
    a constant has one "call" with no arguments."""
    if candidate.kind in ("constant", "enum"):
        return [[]]
    if candidate.kind == "pattern":
        rng = random.Random(f"{candidate.path}:{candidate.function}")
        strings = {"", *(rng.choice(candidate.alphabet) for _ in range(3))}
        while len(strings) < count:
            strings.add("".join(rng.choice(candidate.alphabet) for _ in range(rng.randint(1, 24))))
        return [[s] for s in sorted(strings)[:count]]
    rng = random.Random(f"{candidate.path}:{candidate.function}")
    seen: set[str] = set()
    out: list[list[Any]] = []
    for _ in range(count * 5):
        args = [generate(t, rng) for t in candidate.params]
        key = repr(args)
        if key not in seen and all(_finite(a) for a in args):
            seen.add(key)
            out.append(args)
        if len(out) == count:
            break
    return out


def _finite(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list | tuple | set):
        return all(_finite(v) for v in value)
    if isinstance(value, Mapping):  # dict, and read-only views of one (MappingProxyType)
        return all(_finite(k) and _finite(v) for k, v in value.items())
    return True


def rust_literal(value: Any, ty: Ty) -> str:
    """A Rust expression for an input of static type `ty`."""
    kind = ty.kind
    if kind == "option":
        return "None" if value is None else f"Some({rust_literal(value, ty.args[0])})"
    if kind == "bool":
        return "true" if value else "false"
    if kind == "int":
        return f"({value}isize)"
    if kind == "float":
        return f"({float_literal(float(value))})"
    if kind == "str":
        return f"String::from({rust_str_literal(value)})"
    if kind == "bytes":
        return "vec![" + ", ".join(f"{b}u8" for b in value) + "] as Vec<u8>"
    if kind == "union":
        member = _member_holding(value, ty)
        return f"{union_path(ty)}::{UNION_VARIANTS[member]}({rust_literal(value, ty.args[member])})"
    if kind == "none":
        return "()"
    if kind == "list":
        return "vec![" + ", ".join(rust_literal(v, ty.args[0]) for v in value) + "]"
    if kind == "set":
        return "HashSet::from([" + ", ".join(rust_literal(v, ty.args[0]) for v in value) + "])"
    if kind == "dict":
        pairs = [f"({rust_literal(k, ty.args[0])}, {rust_literal(v, ty.args[1])})" for k, v in value.items()]
        return "HashMap::from([" + ", ".join(pairs) + "])"
    if kind == "tuple":
        trail = "," if len(ty.args) == 1 else ""
        return "(" + ", ".join(rust_literal(v, t) for v, t in zip(value, ty.args, strict=True)) + trail + ")"
    raise TypeError(str(ty))


def _shape(ty: Ty) -> Any:
    """Where a declared type holds floats, for the Python side (`_as_declared`); None elsewhere."""
    if ty.kind == "float":
        return "float"
    if ty.kind == "option":
        return ["option", _shape(ty.args[0])]
    if ty.kind == "list":
        return ["list", _shape(ty.args[0])]
    if ty.kind == "tuple":
        return ["tuple", [_shape(a) for a in ty.args]]
    if ty.kind == "dict":
        return ["dict", _shape(ty.args[1])]
    return None


def _member_holding(value: Any, union: Ty) -> int:
    """The member of `union` whose generated values look like `value` (bool before int)."""
    kinds = {bool: "bool", int: "int", float: "float", str: "str", bytes: "bytes", list: "list", dict: "dict"}
    kinds.update({set: "set", type(None): "none"})
    kind = kinds.get(type(value))
    for i, member in enumerate(union.args):
        if isinstance(value, tuple) and (member.kind == "tuple" or is_vtuple(member)):
            return i
        if kind == member.kind and not (kind == "list" and is_vtuple(member)):
            return i
    raise TypeError(f"{value!r} is no member of {union}")


def _probe_errors(stderr: str, spans: list[tuple[int, int, str]]) -> dict[str, str]:
    """Unit id -> first error of each probe arm that rustc rejected (a Rust signature that is not
    the one the Python annotations describe, for example)."""
    broken: dict[str, str] = {}
    for line in stderr.splitlines():
        try:
            diag = json.loads(line)
        except ValueError:
            continue
        if not isinstance(diag, dict) or diag.get("level") != "error":
            continue
        for span in diag.get("spans") or []:
            if span.get("is_primary") and str(span.get("file_name", "")).endswith(f"{PROBE_MODULE}.rs"):
                at = int(span.get("line_start", 0))
                for first, last, uid in spans:
                    if first <= at <= last:
                        broken.setdefault(uid, f"the probe call did not compile: {diag.get('message')}")
    return broken


def escape_default(text: str) -> str:
    """Rust's `str::escape_default`: the probe prints each result on one line this way, and the
    Python results are compared in the same form (a newline inside a value cannot split a line)."""
    out = []
    for ch in text:
        if ch in "\t\r\n":
            out.append({"\t": "\\t", "\r": "\\r", "\n": "\\n"}[ch])
        elif ch in "\\'\"":
            out.append("\\" + ch)
        elif " " <= ch <= "~":
            out.append(ch)
        else:
            out.append(f"\\u{{{ord(ch):x}}}")
    return "".join(out)


def _size(args: list[Any]) -> int:
    return len(repr(args))


class Verifier:
    def __init__(self, rustc: str, edition: str, scratch_dir: Path, count: int = DEFAULT_INPUTS) -> None:
        found = shutil.which(rustc)
        if found is None:
            raise FileNotFoundError(f"rustc not found ({rustc!r})")
        self.rustc = found
        self.edition = edition
        self.scratch_dir = scratch_dir
        self.count = count

    def verify(
        self,
        crate_dir: Path,
        crate_name: str,
        source_root: Path,
        units: Sequence[Mapping[str, Any]],
        sources: Mapping[str, str],
    ) -> dict[str, Verdict]:
        """Unit id -> verdict for every candidate; empty when there is none."""
        found = candidates(units, sources)
        if not found:
            return {}
        jobs = {c.unit_id: inputs_for(c, self.count) for c in found}
        self.scratch_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="portalis-verify-", dir=self.scratch_dir) as tmp:
            work = Path(tmp)
            python = self._python(found, jobs, source_root)
            for c in found:  # inputs on which Python ran too long are not compared (nor run in Rust)
                py = python.get(c.unit_id)
                if isinstance(py, list) and len(py) == len(jobs[c.unit_id]):
                    keep = [i for i, r in enumerate(py) if r != TIMEOUT]
                    jobs[c.unit_id] = [jobs[c.unit_id][i] for i in keep]
                    python[c.unit_id] = [py[i] for i in keep]
            rust, error, excluded = self._rust(found, jobs, crate_dir, crate_name, work)
        verdicts: dict[str, Verdict] = {}
        for c in found:
            inputs = jobs[c.unit_id]
            py, rs = python.get(c.unit_id), rust.get(c.unit_id)
            if isinstance(py, list):
                py = [escape_default(r) for r in py]
            if isinstance(py, str):
                verdicts[c.unit_id] = Verdict("unverifiable", 0, py)
            elif c.unit_id in excluded:
                verdicts[c.unit_id] = Verdict("unverifiable", 0, excluded[c.unit_id][:300])
            elif not inputs:
                verdicts[c.unit_id] = Verdict("unverifiable", 0, "Python ran too long on every input")
            elif rs is None or py is None or len(rs) != len(inputs) or len(py) != len(inputs):
                got = 0 if rs is None else len(rs)
                reason = error or f"the probe printed {got} of {len(inputs)} results"
                verdicts[c.unit_id] = Verdict("unverifiable", 0, reason)
            else:
                wrong = [i for i in range(len(inputs)) if py[i] != rs[i]]
                if not wrong:
                    verdicts[c.unit_id] = Verdict("verified", len(inputs))
                else:
                    i = min(wrong, key=lambda j: _size(inputs[j]))
                    args = ", ".join(repr(a) for a in inputs[i])
                    call = c.function if c.kind in ("constant", "enum") else f"{c.function}({args[:200]})"
                    detail = f"{call}: Python {py[i][:200]}, Rust {rs[i][:200]}"
                    verdicts[c.unit_id] = Verdict("mismatch", len(inputs), detail)
        return verdicts

    def _python(
        self, found: list[Candidate], jobs: dict[str, list[list[Any]]], source_root: Path
    ) -> dict[str, list[str] | str]:
        root = source_root.resolve()
        payload = [
            {
                "id": c.unit_id,
                "module": c.module,
                "function": c.function,
                "constant": c.kind == "constant",
                "enum": c.kind == "enum",
                "pattern": c.kind == "pattern",
                "ret": _shape(c.ret),
                "inputs": jobs[c.unit_id],
            }
            for c in found
        ]
        try:
            proc = subprocess.run(
                [
                    sys.executable,
                    "-I",
                    "-c",
                    f"import sys\nsys.path.insert(0, {str(root)!r})\nCALL_SECONDS = {CALL_SECONDS}\n"
                    + PY_RUNNER,
                ],
                input=repr(payload),  # literals round-trip exactly (tuples, sets, int keys)
                capture_output=True,
                text=True,
                timeout=TIMEOUT_SECONDS,
                check=False,
                cwd=root,
            )
        except subprocess.TimeoutExpired:
            return {c.unit_id: "the Python side timed out" for c in found}
        out: dict[str, list[str] | str] = {}
        for line in proc.stdout.splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                continue
            out[row["id"]] = row.get("results", row.get("error", "no result"))
        return out

    def _rust(
        self,
        found: list[Candidate],
        jobs: dict[str, list[list[Any]]],
        crate_dir: Path,
        crate_name: str,
        work: Path,
    ) -> tuple[dict[str, list[str]], str, dict[str, str]]:
        """(results by unit id, an error that cost every result, unit id -> why its call was dropped)."""
        # The probe module goes inside a copy of the crate, so crate-private items are reachable.
        copy = work / "crate"
        shutil.copytree(crate_dir / "src", copy / "src")
        lib = work / f"lib{crate_name}.rlib"
        extra: list[str] = []
        lib_text = "".join(p.read_text() for p in (copy / "src").rglob("*.rs"))
        if support_crate.USE_MARKER in lib_text:
            support = support_crate.rlib(self.rustc, self.edition, self.scratch_dir / "support")
            extra = [
                "--extern",
                f"{support_crate.CRATE_NAME}={support}",
                "-L",
                f"dependency={support.parent}",
            ]
        excluded: dict[str, str] = {}
        for _ in range(3):  # calls that do not compile are dropped (reported), the rest rebuilt
            live = [c for c in found if c.unit_id not in excluded]
            spans = self._write_probe_module(copy, live, jobs, bool(extra))
            build = self._run(
                [
                    *self._base("rlib", crate_name),
                    *extra,
                    "--error-format=json",
                    *("-o", str(lib), str(copy / "src" / "lib.rs")),
                ]
            )
            if build is None:
                return {}, "building the crate with the probe ran too long", {}
            if build.returncode == 0:
                break
            broken = _probe_errors(build.stderr, spans)
            if not broken:
                return {}, "the crate with the probe did not build", excluded
            excluded.update(broken)
        else:
            return {}, "the crate with the probe did not build", excluded
        found = [c for c in found if c.unit_id not in excluded]
        probe = work / "probe.rs"
        probe.write_text(
            "fn main() {\n    std::panic::set_hook(Box::new(|_| {}));\n"
            + "    let start: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(0);\n"
            + f"    for k in start..{len(found)} {{\n"
            + f"        {crate_name}::{PROBE_MODULE}::call(k);\n"
            + '        println!("#done\\t{}", k);\n    }\n}\n'
        )
        binary = work / "probe"
        link = self._run(
            [
                *(self.rustc, "--edition", self.edition, "-A", "warnings"),
                *("--extern", f"{crate_name}={lib}", "-L", f"dependency={work}", *extra),
                *("-o", str(binary), str(probe)),
            ]
        )
        if link is None or link.returncode != 0:
            first = "" if link is None else next((ln for ln in link.stderr.splitlines() if "error" in ln), "")
            return {}, f"the probe did not build: {first[:200]}", excluded
        return self._run_probe(binary, found), "", excluded

    @staticmethod
    def _write_probe_module(
        copy: Path, found: list[Candidate], jobs: dict[str, list[list[Any]]], support: bool = False
    ) -> list[tuple[int, int, str]]:
        """Write the probe module (one `match` arm per candidate); (first, last line, unit id) per arm.
        `support`: the crate uses the support crate (its union types can be printed)."""
        prelude = PRELUDE + UNION_REPR + "\n" if support else PRELUDE
        lines = [*prelude.splitlines(), "pub fn call(k: usize) {", "    match k {"]
        spans: list[tuple[int, int, str]] = []
        for k, c in enumerate(found):
            path = "::".join(["crate", *c.rust_path, c.function])
            first = len(lines) + 1
            lines.append(f"        {k} => {{")
            for j, args in enumerate(jobs[c.unit_id]):
                if c.kind == "constant":
                    value = f"(*{path}).clone()" if c.static else f"{path}.clone()"
                    call = f"run(|| {value})"
                elif c.kind == "enum":
                    members = f"{path}::MEMBERS.iter().map(|m| (m.name(), m.value())).collect::<Vec<_>>()"
                    call = f"run(|| {members})"
                elif c.kind == "pattern":
                    text = rust_literal(args[0], STR)
                    matches = f"(*{path}).finditer(&{text}).iter().map(|m| m.spans()).collect::<Vec<_>>()"
                    call = f"run(move || {matches})"
                else:
                    rendered = ", ".join(rust_literal(a, t) for a, t in zip(args, c.params, strict=True))
                    call = f"run(move || {path}({rendered}))"
                lines.append(f'            println!("{c.unit_id}#{j}\\t{{}}", {call}.escape_default());')
            lines.append("        }")
            spans.append((first, len(lines), c.unit_id))
        lines += ["        _ => {}", "    }", "}"]
        (copy / "src" / f"{PROBE_MODULE}.rs").write_text("\n".join(lines) + "\n")
        lib = copy / "src" / "lib.rs"
        declaration = f"\n#[doc(hidden)]\npub mod {PROBE_MODULE};\n"
        if declaration not in lib.read_text():
            with open(lib, "a") as fh:
                fh.write(declaration)
        return spans

    def _run_probe(self, binary: Path, found: list[Candidate]) -> dict[str, list[str]]:
        """Results by unit id. A function that crashes the probe (stack overflow, abort) or runs too
        long loses its results; the probe is restarted at the next function."""
        out: dict[str, list[str]] = {}
        start = 0
        while start < len(found):
            try:
                proc = subprocess.run(
                    [str(binary), str(start)],
                    capture_output=True,
                    text=True,
                    timeout=CALL_SECONDS * 30,
                    check=False,
                )
                stdout, finished = proc.stdout, proc.returncode == 0
            except subprocess.TimeoutExpired as exc:
                raw = exc.stdout or b""
                stdout, finished = (raw.decode(errors="replace") if isinstance(raw, bytes) else raw), False
            done = start - 1
            for line in stdout.splitlines():
                key, _, value = line.partition("\t")
                if key == "#done":
                    done = int(value)
                    continue
                uid, _, _ = key.rpartition("#")
                out.setdefault(uid, []).append(value)
            if finished:
                break
            broken = found[done + 1].unit_id if done + 1 < len(found) else ""
            out.pop(broken, None)
            start = done + 2
        return out

    def _base(self, kind: str, crate_name: str) -> list[str]:
        return [
            self.rustc,
            "--edition",
            self.edition,
            "--crate-type",
            kind,
            "--crate-name",
            crate_name,
            "-A",
            "warnings",
        ]

    @staticmethod
    def _run(argv: list[str]) -> subprocess.CompletedProcess[str] | None:
        try:
            return subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False)
        except subprocess.TimeoutExpired:
            return None
