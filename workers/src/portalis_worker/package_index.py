"""The package index: what every module of the source defines and imports, built once per job.

Every shard builds the same index from the whole source (it is a pure function of the files' text),
so a unit is translated with the same context whichever shard owns it. The index answers:

- which top-level definition (function, class or module-level assignment, each one unit) a name
  used by a unit refers to: a definition of the same module, or one reached through the module's
  imports (`from .version import Version`, `from pkg.version import Version as V`, re-exports
  through a package's `__init__`), followed to where it is defined;
- a unit's dependencies (the definitions it uses) and their *interface digest*, which goes into
  the unit's cache key: an edit to a callee's signature changes its callers' keys, an edit to a
  callee's body with a fully annotated signature changes nothing but the callee;
- `__all__` of each module;
- the Rust module path of each Python module (the crate mirrors the package).

Names the index cannot resolve (builtins, the standard library, third-party imports) are left to
the translator, which maps them or refuses them by name.
"""

from __future__ import annotations

import ast
import copy
import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from portalis_worker.crate import module_path, rust_module_paths
from portalis_worker.rules.classes import base_names, left_out_methods
from portalis_worker.rules.decorators import STDLIB_DEPRECATED, is_transparent_decorator, strip_transparent
from portalis_worker.units import assigned_name, is_checker_alias, is_type_checking_block, strip_docstrings
from portalis_worker.version_checks import fold_version_checks

MAX_REEXPORT_HOPS = 8


@dataclass(frozen=True)
class Definition:
    """One top-level definition of a module: the unit that translates it."""

    module: str
    """Dotted Python module name (`pkg.version`; the root package's `__init__` is `pkg`)."""
    name: str
    path: str
    """Source path relative to the source root."""
    node: ast.stmt
    """The def, class or assignment (docstrings stripped)."""

    @property
    def kind(self) -> str:
        if isinstance(self.node, ast.ClassDef):
            return "class"
        if isinstance(self.node, ast.FunctionDef | ast.AsyncFunctionDef):
            return "function"
        return "constant"


@dataclass
class ModuleInfo:
    name: str
    path: str
    is_package: bool
    rust_path: tuple[str, ...]
    definitions: dict[str, Definition] = field(default_factory=dict)
    bindings: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    """Import-bound name -> (absolute module, imported name, or None when the module itself is bound)."""
    imports: list[ast.Import | ast.ImportFrom] = field(default_factory=list)
    exported: frozenset[str] | None = None
    """`__all__` when it is a literal list or tuple of strings."""
    rebound: frozenset[str] = frozenset()
    """Names that more than one top-level statement assigns (Python keeps the last value)."""
    transparent: frozenset[str] = frozenset()
    """Names of decorators that only warn (deprecation): left out wherever they decorate."""
    module_code: list[ast.stmt] = field(default_factory=list)
    """Top-level statements run at import that are not definitions or imports (calls, `X += ...`,
    loops): they may change a module constant after its assignment."""
    import_values: dict[str, str] = field(default_factory=dict)
    """Constant name -> the literal source of its value after import, for constants that
    import-time code changes (import_values.py); their definitions are `NAME = <that literal>`."""


def module_name(path: str) -> str:
    return ".".join(module_path(path))


def absolute_module(current: str, is_package: bool, target: str | None, level: int) -> str:
    """The absolute module an import names (`from ..a import b` inside `pkg.sub.mod` -> `pkg.a`)."""
    if level == 0:
        return target or ""
    parts = current.split(".") if current else []
    base = parts if is_package else parts[:-1]
    up = level - 1
    if up > len(base):
        return ""
    base = base[: len(base) - up]
    return ".".join([*base, *([target] if target else [])])


def top_level_definitions(tree: ast.Module) -> list[tuple[str, ast.stmt]]:
    """(name, node) of the module's definitions, in order: defs, classes, single-name assignments."""
    found: list[tuple[str, ast.stmt]] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            found.append((node.name, node))
        elif (name := assigned_name(node)) is not None:
            found.append((name, node))
        elif is_type_checking_block(node):  # its aliases are the module's aliases
            for alias in node.body:  # type: ignore[attr-defined]
                if is_checker_alias(alias) and (alias_name := assigned_name(alias)) is not None:
                    found.append((alias_name, alias))
    return found


def defined_names(node: ast.stmt) -> list[str]:
    """The module-level names a top-level statement defines."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return [node.name]
    if isinstance(node, ast.Assign):
        return [t.id for t in node.targets if isinstance(t, ast.Name)]
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return [node.target.id]
    return []


def free_names(nodes: Iterable[ast.stmt]) -> set[str]:
    """Names a unit reads and does not bind locally (no scope analysis: a name bound anywhere in a
    function or comprehension of the unit counts as local). String annotations (`"Version"`,
    `"Optional[Tag]"`) are read too; other strings are data."""
    loads: set[str] = set()
    local: set[str] = set()
    for node in nodes:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load):
                loads.add(sub.id)
            elif isinstance(sub, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                local.update(a.arg for a in ast.walk(sub.args) if isinstance(a, ast.arg))
                if not isinstance(sub, ast.Lambda):
                    for inner in sub.body:
                        local.update(
                            n.id
                            for n in ast.walk(inner)
                            if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)
                        )
            elif isinstance(sub, ast.comprehension):
                local.update(n.id for n in ast.walk(sub.target) if isinstance(n, ast.Name))
            for annotation in _annotations(sub):
                loads.update(_string_annotation_names(annotation))
    return loads - local


def _annotations(node: ast.AST) -> list[ast.expr]:
    if isinstance(node, ast.arg | ast.AnnAssign) and node.annotation is not None:
        return [node.annotation]
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.returns is not None:
        return [node.returns]
    return []


def _string_annotation_names(annotation: ast.expr) -> set[str]:
    names: set[str] = set()
    for sub in ast.walk(annotation):
        if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
            try:
                expr = ast.parse(sub.value.strip(), mode="eval")
            except (SyntaxError, ValueError):
                continue
            names.update(n.id for n in ast.walk(expr) if isinstance(n, ast.Name))
    return names


def interface_digest(definition: Definition) -> str:
    """What callers depend on: the signature when it is fully annotated, else the whole definition.

    A fully annotated function's body does not change what its callers see; anything whose types
    are inferred (an unannotated return, a class, a constant) is its whole normalised AST."""
    node = definition.node
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.returns is not None:
        args = node.args
        every = [*args.posonlyargs, *args.args, *args.kwonlyargs]
        if all(a.annotation is not None for a in every):
            shape = ast.dump(
                ast.FunctionDef(
                    name=node.name,
                    args=node.args,
                    body=[],
                    decorator_list=node.decorator_list,
                    returns=node.returns,
                ),
                include_attributes=False,
            )
            return _sha("sig", definition.module, shape)
    return _sha("def", definition.module, ast.dump(node, include_attributes=False))


def _sha(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


class PackageIndex:
    """Modules, definitions, bindings and exports of one source tree (see the module docstring)."""

    def __init__(self, modules: Mapping[str, ModuleInfo]) -> None:
        self.modules = dict(modules)
        self.by_path = {m.path: m for m in self.modules.values()}
        self.by_rust_path = {m.rust_path: m for m in self.modules.values()}

    @classmethod
    def build(cls, sources: Mapping[str, str]) -> PackageIndex:
        """Index `{relative path: text}`; files that do not parse contribute no definitions."""
        rust_paths = rust_module_paths(sources)
        modules: dict[str, ModuleInfo] = {}
        for path in sorted(sources):
            name = module_name(path)
            info = ModuleInfo(
                name=name,
                path=path,
                is_package=path.endswith("__init__.py"),
                rust_path=rust_paths[path],
            )
            if name in modules:  # `a.py` beside `a/__init__.py`: Python imports the package
                continue
            modules[name] = info
            try:
                tree = ast.parse(sources[path])
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                continue
            strip_docstrings(tree)
            fold_version_checks(tree)
            for def_name, node in top_level_definitions(tree):
                if def_name == "__all__":
                    info.exported = _literal_names(node)  # and a constant like any other
                info.definitions[def_name] = Definition(name, def_name, path, node)
            definitions = top_level_definitions(tree)
            defined = {id(n) for _, n in definitions}
            counts = Counter(name for name, _ in definitions)
            info.rebound = frozenset(name for name, n in counts.items() if n > 1)
            info.transparent = frozenset(
                name
                for name, n in definitions
                if isinstance(n, ast.FunctionDef) and is_transparent_decorator(n)
            )
            info.module_code = [
                n
                for n in tree.body
                if id(n) not in defined
                and not isinstance(n, ast.Import | ast.ImportFrom)
                and not is_type_checking_block(n)
                and not _is_main_guard(n)
                and not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))
            ]
            for node in tree.body:
                found = node.body if is_type_checking_block(node) else [node]  # type: ignore[attr-defined]
                for imp in found:
                    if isinstance(imp, ast.Import | ast.ImportFrom):
                        info.imports.append(imp)
                        _bind(info, imp)
                        info.transparent |= _stdlib_deprecated(imp)
        return cls(modules)

    def module_of_path(self, path: str) -> ModuleInfo | None:
        return self.by_path.get(path)

    def resolve(self, module: str, name: str) -> Definition | None:
        """The definition `name` refers to at the top level of `module`, following imports."""
        for _ in range(MAX_REEXPORT_HOPS):
            info = self.modules.get(module)
            if info is None:
                return None
            if name in info.definitions:
                return info.definitions[name]
            bound = info.bindings.get(name)
            if bound is None or bound[1] is None:
                return None
            module, name = bound[0], bound[1]
        return None

    def dependencies(self, module: str, nodes: Iterable[ast.stmt]) -> dict[str, Definition]:
        """Local name -> definition for every package definition the nodes use (their own excluded)."""
        info = self.modules.get(module)
        transparent = info.transparent if info is not None else frozenset()
        nodes = [_translated_part(strip_transparent(n, transparent)) for n in nodes]
        own = {name for n in nodes for name in defined_names(n)}
        deps: dict[str, Definition] = {}
        for name in sorted(free_names(nodes)):
            found = self.resolve(module, name)
            if found is not None and not (found.module == module and found.name in own):
                deps[name] = found
        return deps

    def dependency_key(self, path: str, nodes: list[ast.stmt]) -> tuple[tuple[str, ...], str]:
        """(`path::name` of each dependency, sorted; digest of their interfaces) of a unit of `path`."""
        info = self.by_path.get(path)
        if info is None:
            return (), ""
        found = self.dependencies(info.name, nodes).values()
        refs = tuple(sorted({f"{d.path}::{d.name}" for d in self._crate_dependencies(info.name, nodes)}))
        own = sorted(
            _sha("import value", name, info.import_values[name])
            for n in nodes
            for name in defined_names(n)
            if name in info.import_values
        )
        return refs, _sha(*sorted({interface_digest(d) for d in found}), *own)

    def _crate_dependencies(self, module: str, nodes: list[ast.stmt]) -> list[Definition]:
        """The definitions whose Rust items the unit's Rust uses: its dependencies, where a class
        base is replaced by what the base uses (its members are copied into the subclass; the base's
        own item is not referred to)."""
        bases = {b for n in nodes if isinstance(n, ast.ClassDef) for b in base_names(n)}
        out: list[Definition] = []
        seen: set[int] = set()
        pending = [(module, name, d) for name, d in self.dependencies(module, nodes).items()]
        while pending:
            where, local, definition = pending.pop()
            if id(definition.node) in seen:
                continue
            seen.add(id(definition.node))
            node = definition.node
            if local in bases and where == module and isinstance(node, ast.ClassDef) and len(seen) < 256:
                inner = self.dependencies(definition.module, [definition.node])
                pending.extend((definition.module, n, d) for n, d in inner.items())
                bases.update(base_names(node))
                continue
            out.append(definition)
        return out

    def is_package_import(self, module: str, node: ast.Import | ast.ImportFrom) -> bool:
        """Whether an import statement of `module` names a module of this package."""
        info = self.modules.get(module)
        if info is None:
            return False
        if isinstance(node, ast.ImportFrom):
            target = absolute_module(module, info.is_package, node.module, node.level)
            return target in self.modules or any(f"{target}.{a.name}" in self.modules for a in node.names)
        return any(a.name in self.modules for a in node.names)


def _stdlib_deprecated(node: ast.Import | ast.ImportFrom) -> frozenset[str]:
    """Names an import binds to `warnings.deprecated` / `typing_extensions.deprecated`."""
    if isinstance(node, ast.ImportFrom):
        return frozenset(a.asname or a.name for a in node.names if (node.module, a.name) in STDLIB_DEPRECATED)
    return frozenset(
        f"{a.asname or a.name}.deprecated" for a in node.names if (a.name, "deprecated") in STDLIB_DEPRECATED
    )


def _translated_part(node: ast.stmt) -> ast.stmt:
    """A class without the methods the translation leaves out (pickling hooks and the helpers only
    they call): what they use is not a dependency."""
    if not isinstance(node, ast.ClassDef):
        return node
    left_out = left_out_methods(node)
    if not left_out:
        return node
    part = copy.copy(node)
    part.body = [s for s in node.body if not (isinstance(s, ast.FunctionDef) and s.name in left_out)]
    return part


def _is_main_guard(node: ast.stmt) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return isinstance(test, ast.Compare) and isinstance(test.left, ast.Name) and test.left.id == "__name__"


def _literal_names(node: ast.stmt) -> frozenset[str] | None:
    value = node.value if isinstance(node, ast.Assign | ast.AnnAssign) else None
    if isinstance(value, ast.List | ast.Tuple) and all(
        isinstance(e, ast.Constant) and isinstance(e.value, str) for e in value.elts
    ):
        return frozenset(str(e.value) for e in value.elts if isinstance(e, ast.Constant))
    return None


def _bind(info: ModuleInfo, node: ast.Import | ast.ImportFrom) -> None:
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.asname:
                info.bindings[alias.asname] = (alias.name, None)
            else:
                top = alias.name.split(".")[0]
                info.bindings.setdefault(top, (top, None))
        return
    target = absolute_module(info.name, info.is_package, node.module, node.level)
    for alias in node.names:
        if alias.name == "*":
            continue
        info.bindings[alias.asname or alias.name] = (target, alias.name)
