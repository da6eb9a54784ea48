"""Splitting a Python file into units, and the keys that identify them.

A unit is one top-level function, one top-level class, or the module-level code of a file (every
top-level statement that is not a def, a class or an import, as one unit named `<module>`). Each
unit's source for the translator is the unit itself preceded by the file's imports it uses.

Two hashes, both over the *normalised* AST (`ast.dump` without positions, docstrings removed;
comments are not in the AST), so formatting, comments, docstrings and position in the file do not
matter:
- `key`: the exact-match translation cache key (the used imports and the unit). Identical code
  anywhere in the codebase is translated once.
- `id`: the unit's identity in the ledger: the file path, the unit's name and ordinal among units of
  that name in the file, and `key`. Resume skips every id already in the ledger.

A file that cannot be split (too large, binary, not UTF-8, a syntax error, nesting too deep for the
parser) becomes one failed unit named `<file>`, so it is counted and reported, never fatal.
"""

from __future__ import annotations

import ast
import hashlib
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from portalis_worker.version_checks import fold_version_checks

if TYPE_CHECKING:
    from portalis_worker.package_index import PackageIndex

MODULE_UNIT = "<module>"
FILE_UNIT = "<file>"
BINARY_PROBE = 8192


@dataclass(frozen=True)
class Failure:
    reason: str
    """A short, stable category: too-large, binary, non-utf8, syntax-error, too-deep, path-escape,
    read-error, unsupported, translate-error, model-error, rustc, rustc-timeout, rustc-crash."""
    message: str


@dataclass(frozen=True)
class Unit:
    id: str
    key: str
    path: str
    name: str
    order: int
    source: str
    lines: int
    failure: Failure | None = None
    """Set when the unit failed before translation (the whole file could not be split)."""
    deps: tuple[str, ...] = ()
    """`path::name` of each package definition the unit uses (from the package index), sorted."""


def _sha(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


def unit_id(path: str, name: str, ordinal: int, key: str) -> str:
    return _sha(path, name, str(ordinal), key)[:32]


def strip_docstrings(tree: ast.AST) -> None:
    """Remove every docstring in place (a module may become empty; a def keeps a `pass`)."""
    for sub in ast.walk(tree):
        if isinstance(sub, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Module):
            body = sub.body
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                sub.body = body[1:] or ([] if isinstance(sub, ast.Module) else [ast.Pass()])


def normalised_key(nodes: list[ast.stmt]) -> str:
    """Hash of the nodes' AST without positions; the caller has stripped docstrings already."""
    dump = ast.dump(ast.Module(body=nodes, type_ignores=[]), annotate_fields=True, include_attributes=False)
    return _sha("portalis-unit-v1", dump)


def _bound_names(node: ast.Import | ast.ImportFrom) -> set[str]:
    names = set()
    for alias in node.names:
        bound = alias.asname or alias.name.split(".")[0]
        names.add(bound)
    return names


def _used_names(nodes: list[ast.stmt]) -> set[str]:
    used: set[str] = set()
    for node in nodes:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name):
                used.add(sub.id)
            elif isinstance(sub, ast.Constant) and isinstance(sub.value, str):
                # String annotations ("List[int]") name things too; a cheap over-approximation.
                words = re.split(r"[^A-Za-z0-9_.]+", sub.value)
                used.update(w.split(".")[0] for w in words if w)
    return used


def _segment(text: str, lines: list[str], node: ast.stmt) -> str:
    """The statement's source; dedented, for one that was nested in a decided version check."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
        end = node.end_lineno or node.lineno
        return textwrap.dedent("".join(lines[start - 1 : end])).rstrip() + "\n"
    segment = ast.get_source_segment(text, node, padded=True)
    return textwrap.dedent(segment if segment is not None else ast.unparse(node)).rstrip() + "\n"


def _code_lines(source: str) -> int:
    return sum(1 for line in source.splitlines() if line.strip() and not line.lstrip().startswith("#"))


def file_failure(path: str, reason: str, message: str, fingerprint: str) -> Unit:
    key = _sha("portalis-file-v1", fingerprint)
    return Unit(
        id=unit_id(path, FILE_UNIT, 0, key),
        key=key,
        path=path,
        name=FILE_UNIT,
        order=0,
        source="",
        lines=0,
        failure=Failure(reason, message),
    )


def split_source(path: str, text: str, index: PackageIndex | None = None) -> list[Unit]:
    """The units of one file's text, in source order; a single failed `<file>` unit when unparsable."""
    try:
        tree = ast.parse(text)
    except SyntaxError as exc:
        return [file_failure(path, "syntax-error", f"{exc.msg} (line {exc.lineno})", _sha(text))]
    except (RecursionError, MemoryError) as exc:
        return [
            file_failure(
                path, "too-deep", f"nesting too deep for the parser ({type(exc).__name__})", _sha(text)
            )
        ]
    except ValueError as exc:
        return [file_failure(path, "syntax-error", str(exc), _sha(text))]
    try:
        return _units_of(path, text, tree, index)
    except (RecursionError, MemoryError) as exc:
        return [
            file_failure(path, "too-deep", f"nesting too deep to process ({type(exc).__name__})", _sha(text))
        ]


def _units_of(path: str, text: str, tree: ast.Module, index: PackageIndex | None) -> list[Unit]:
    lines = text.splitlines(keepends=True)
    imports: list[ast.Import | ast.ImportFrom] = []
    groups: list[tuple[str, list[ast.stmt]]] = []
    module_code: list[ast.stmt] = []
    strip_docstrings(tree)  # positions stay; segments come from the text
    fold_version_checks(tree)  # a definition under `if sys.version_info ...:` is a unit of its own
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            imports.append(node)
        elif is_type_checking_block(node):
            imports.extend(n for n in node.body if isinstance(n, ast.Import | ast.ImportFrom))  # type: ignore[attr-defined]
            if index is not None:
                aliases = [n for n in node.body if is_checker_alias(n)]  # type: ignore[attr-defined]
                groups.extend((name, [n]) for n in aliases if (name := assigned_name(n)) is not None)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            groups.append((node.name, [node]))
        elif index is not None and (name := assigned_name(node)) is not None:
            groups.append((name, [node]))  # at package scope each constant is a unit of its own
        else:
            if not module_code:
                groups.append((MODULE_UNIT, module_code))
            module_code.append(node)

    units: list[Unit] = []
    seen: dict[str, int] = {}
    for order, (name, nodes) in enumerate(groups):
        used = _used_names(nodes)
        needed = [
            imp
            for imp in imports
            if (isinstance(imp, ast.ImportFrom) and imp.module == "__future__") or _bound_names(imp) & used
        ]
        key = normalised_key([*needed, *nodes])
        deps: tuple[str, ...] = ()
        if index is not None:
            deps, interfaces = index.dependency_key(path, nodes)
            if deps:
                key = _sha("portalis-unit-deps-v1", key, interfaces)
        ordinal = seen.get(name, 0)
        seen[name] = ordinal + 1
        body_text = "".join(_segment(text, lines, n) for n in nodes)
        source = "".join(_segment(text, lines, n) for n in needed) + ("\n" if needed else "") + body_text
        units.append(
            Unit(
                id=unit_id(path, name, ordinal, key),
                key=key,
                path=path,
                name=name,
                order=order,
                source=source,
                lines=_code_lines(body_text),
                deps=deps,
            )
        )
    return units


def read_text(absolute: Path, max_bytes: int) -> str | None:
    """A file's text when it is small enough, readable, not binary and UTF-8; None otherwise."""
    try:
        if absolute.stat().st_size > max_bytes:
            return None
        data = absolute.read_bytes()
        if b"\0" in data[:BINARY_PROBE]:
            return None
        return data.decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def split_file(path: str, absolute: Path, max_bytes: int, index: PackageIndex | None = None) -> list[Unit]:
    """Read and split one file; every problem becomes a failed `<file>` unit, never an exception."""
    try:
        size = absolute.stat().st_size
        if size > max_bytes:
            return [
                file_failure(
                    path, "too-large", f"{size} bytes, over the {max_bytes}-byte limit", f"size:{size}"
                )
            ]
        data = absolute.read_bytes()
    except OSError as exc:
        return [file_failure(path, "read-error", exc.strerror or type(exc).__name__, "unreadable")]
    if b"\0" in data[:BINARY_PROBE]:
        return [file_failure(path, "binary", "NUL bytes: not a text file", hashlib.sha256(data).hexdigest())]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return [
            file_failure(
                path, "non-utf8", f"invalid UTF-8 at byte {exc.start}", hashlib.sha256(data).hexdigest()
            )
        ]
    return split_source(path, text, index)


def is_type_checking_block(node: ast.stmt) -> bool:
    """`if TYPE_CHECKING:` (or `typing.TYPE_CHECKING`) holding only imports and type aliases
    (`X: TypeAlias = ...`, or `X = <type>`: nothing there runs, so an assignment of a type is an
    alias): imports and definitions, for the translator."""
    test = node.test if isinstance(node, ast.If) else None
    name = test.attr if isinstance(test, ast.Attribute) else getattr(test, "id", None)
    return (
        isinstance(node, ast.If)
        and name == "TYPE_CHECKING"
        and not node.orelse
        and all(
            isinstance(n, ast.Import | ast.ImportFrom | ast.Pass) or is_checker_alias(n) for n in node.body
        )
    )


def is_checker_alias(node: ast.stmt) -> bool:
    """A type alias in an `if TYPE_CHECKING:` block: `X: TypeAlias = ...`, or `X = <type>` (a
    subscripted generic, a union or a name)."""
    if is_explicit_alias(node):
        return True
    if not isinstance(node, ast.Assign) or len(node.targets) != 1:
        return False
    if not isinstance(node.targets[0], ast.Name):
        return False
    value = node.value
    if isinstance(value, ast.BinOp):
        return isinstance(value.op, ast.BitOr)
    return isinstance(value, ast.Subscript | ast.Name | ast.Attribute)


def is_explicit_alias(node: ast.stmt) -> bool:
    """`X: TypeAlias = ...` (`typing.TypeAlias` too)."""
    if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None):
        return False
    annotation = node.annotation
    name = annotation.attr if isinstance(annotation, ast.Attribute) else getattr(annotation, "id", None)
    return name == "TypeAlias"


def assigned_name(node: ast.stmt) -> str | None:
    """The one plain name a top-level `X = ...` / `X: T = ...` binds, else None."""
    if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
        return node.targets[0].id
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
        return node.target.id
    return None
