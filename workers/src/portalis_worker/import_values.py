"""Module constants as they are after import, for constants that import-time code changes.

Real packages build tables at import: `RULES = [...]` followed by module code that inserts into
it (`_irregular("person", "people")`), `TABLE = add_uppercase(_TABLE)` where the call extends its
argument in place. A translation of the initialiser alone would keep the first value, so such a
constant was refused (a name assigned twice still is: each assignment is a unit). Here the
package's modules are imported in CPython (as the differential check does: this runs the tenant's module
code inside the worker pod that holds it), each such constant is read back, and when its value is
plain data (None, bool, int, float, str, bytes, and tuples, lists, dicts and sets of them, or a
compiled pattern) the index holds it as a literal: the constant is that literal in Rust, and the
unit's cache key covers it.

Values that depend on the run (time, randomness, set order, the environment) must not leak into
the crate: the import runs twice, in two processes with different hash seeds, and only values that
agree are kept. Like `sys.version_info` checks (version_checks.py), values are those of the
worker's Python.
"""

from __future__ import annotations

import ast
import json
import logging
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from portalis_worker.package_index import Definition, PackageIndex, defined_names
from portalis_worker.rules.package_scope import changed_constant

LOG = logging.getLogger(__name__)

TIMEOUT_SECONDS = 60
MAX_LITERAL_CHARS = 200_000

RUNNER = r"""
import importlib, json, math, re, sys

FLAGS = [("IGNORECASE", re.IGNORECASE), ("MULTILINE", re.MULTILINE), ("DOTALL", re.DOTALL),
         ("VERBOSE", re.VERBOSE), ("ASCII", re.ASCII)]

def lit(v, depth=0):
    if depth > 32:
        raise TypeError("too deep")
    t = type(v)
    if v is None or t in (bool, int, str, bytes):
        return repr(v)
    if t is float:
        if math.isnan(v) or math.isinf(v):
            raise TypeError("not finite")
        return repr(v)
    if t is tuple:
        items = [lit(x, depth + 1) for x in v]
        return "(" + items[0] + ",)" if len(items) == 1 else "(" + ", ".join(items) + ")"
    if t is list:
        return "[" + ", ".join(lit(x, depth + 1) for x in v) + "]"
    if t is dict:
        return "{" + ", ".join(lit(k, depth + 1) + ": " + lit(x, depth + 1) for k, x in v.items()) + "}"
    if t in (set, frozenset):
        items = sorted(lit(x, depth + 1) for x in v)
        return ("{" + ", ".join(items) + "}") if items else "set()"
    if isinstance(v, re.Pattern) and isinstance(v.pattern, str):
        names = [f"re.{n}" for n, f in FLAGS if v.flags & f]
        rest = v.flags & ~re.UNICODE & ~sum(f for _, f in FLAGS)
        if rest:
            raise TypeError("flags")
        return f"re.compile({v.pattern!r}" + (", " + " | ".join(names) if names else "") + ")"
    raise TypeError(t.__name__)

wanted = json.loads(sys.stdin.read())
out = {}
for module, names in sorted(wanted.items()):
    try:
        m = importlib.import_module(module)
    except BaseException as exc:
        out[module] = {}
        continue
    values = {}
    for name in names:
        try:
            values[name] = lit(getattr(m, name))
        except BaseException:
            pass
    out[module] = values
print(json.dumps(out))
"""


def candidates(index: PackageIndex) -> dict[str, list[str]]:
    """Module -> names of its constants that import-time code may change, and of the constants
    whose initialisers read those (they must be read back too, or they would see the final value)."""
    found: dict[str, list[str]] = {}
    for module, info in sorted(index.modules.items()):
        changed: set[str] = set()
        for definition in info.definitions.values():
            # A name assigned twice is a unit per assignment: it stays refused (one value, two items).
            if definition.name not in info.rebound and changed_constant(index, module, definition.node, {}):
                changed.add(definition.name)
        while changed:
            readers = {
                d.name
                for d in info.definitions.values()
                if isinstance(d.node, ast.Assign | ast.AnnAssign)
                and d.name not in changed
                and changed & {n.id for n in ast.walk(d.node) if isinstance(n, ast.Name)}
            }
            if not readers:
                break
            changed |= readers
        if changed:
            found[module] = sorted(changed)
    return found


def read_back(
    wanted: Mapping[str, list[str]], source_root: Path, python: str = sys.executable
) -> dict[str, dict[str, str]]:
    """Module -> {name: literal source} for the values that two imports agree on."""
    runs = [_run(wanted, source_root, python, seed) for seed in ("0", "1")]
    first, second = runs
    agreed: dict[str, dict[str, str]] = {}
    for module, values in first.items():
        other = second.get(module, {})
        kept = {n: v for n, v in values.items() if other.get(n) == v and len(v) <= MAX_LITERAL_CHARS}
        if kept:
            agreed[module] = kept
    return agreed


def _run(wanted: Mapping[str, list[str]], root: Path, python: str, seed: str) -> dict[str, dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONHASHSEED"] = seed
    try:
        proc = subprocess.run(
            [python, "-I", "-c", f"import sys\nsys.path.insert(0, {str(root.resolve())!r})\n" + RUNNER],
            input=json.dumps(dict(wanted)),
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
            cwd=root,
            env=env,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        LOG.warning("import-time values not read", extra={"reason": type(exc).__name__})
        return {}
    try:
        lines = proc.stdout.strip().splitlines()
        out = json.loads(lines[-1]) if lines else {}
    except ValueError:
        out = {}
    return out if isinstance(out, dict) else {}


def apply(index: PackageIndex, values: Mapping[str, Mapping[str, str]]) -> None:
    """Make each read-back constant's definition in the index `NAME = <literal>` (its annotation
    kept), and record the literal on its module (`ModuleInfo.import_values`)."""
    for module, named in values.items():
        info = index.modules.get(module)
        if info is None:
            continue
        for name, source in named.items():
            definition = info.definitions.get(name)
            if definition is None or defined_names(definition.node) != [name]:
                continue
            try:
                value = ast.parse(source, mode="eval").body
            except (SyntaxError, ValueError, RecursionError):
                continue
            info.definitions[name] = Definition(
                definition.module, name, definition.path, literal_definition(definition.node, name, value)
            )
            info.import_values[name] = source


def literal_definition(original: ast.stmt, name: str, value: ast.expr) -> ast.stmt:
    """`name = value`, or `name: T = value` when the original was annotated, at the original's line."""
    target = ast.Name(id=name, ctx=ast.Store())
    node: ast.stmt
    if isinstance(original, ast.AnnAssign):
        node = ast.AnnAssign(target=target, annotation=original.annotation, value=value, simple=1)
    else:
        node = ast.Assign(targets=[target], value=value)
    for sub in ast.walk(node):
        if isinstance(sub, ast.expr | ast.stmt):
            sub.lineno = sub.end_lineno = original.lineno
            sub.col_offset = sub.end_col_offset = 0
    return node


def load(index: PackageIndex, source_root: Path) -> None:
    """Read back and apply the import-time values the index's constants need (none: no import)."""
    wanted = candidates(index)
    if wanted:
        apply(index, read_back(wanted, source_root))
