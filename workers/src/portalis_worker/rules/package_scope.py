"""Translating one unit with its package as context.

A unit that uses other definitions of its package (a sibling module's class, a constant of its own
module, a function re-exported by `__init__`) is translated together with them: the unit and its
dependency closure form one Python module for the translator, so signatures, fields and inferred
types flow across units exactly as they do within one file. Only the unit's own items are emitted;
each dependency is emitted by its own unit, and a dependency from another module is brought in with
`use crate::<module path>::<name>;`, the Rust module path mirroring the Python one.

Two definitions of different modules that share a name are told apart by renaming the one from the
other module (`use ... as <name>_<hash>`). What makes this refuse a unit, by name: a dependency
closure over MAX_CLOSURE definitions, a module constant that import-time code may change or that is
assigned twice, and everything the translator itself refuses in the unit or in a dependency (a unit
cannot be translated without the types of what it calls).
"""

from __future__ import annotations

import ast
import copy
import hashlib
import re
from collections.abc import Iterator, Mapping

from portalis_worker.package_index import Definition, PackageIndex, defined_names, free_names
from portalis_worker.rules.classes import base_names, without_failing_members
from portalis_worker.rules.context import ident
from portalis_worker.rules.decorators import strip_transparent
from portalis_worker.rules.emitter import ModuleTranslator, format_rust, top_level_name, visibility
from portalis_worker.rules.errors import Unsupported
from portalis_worker.rules.types import Ty, annotation_to_ty, rust_type
from portalis_worker.version_checks import fold_version_checks

MAX_CLOSURE = 256


def translate_in_package(
    index: PackageIndex, module: str, nodes: list[ast.stmt], fmt: bool = False
) -> tuple[str, list[Definition]]:
    """Rust for the unit made of `nodes` (top-level statements of `module`), and its dependencies.

    Raises `Unsupported` like the translator does."""
    closure = _closure(index, module, nodes)
    names = _combined_names(module, nodes, closure)
    imports: dict[str, ast.stmt] = {}
    combined: list[ast.stmt] = []
    for definition in closure:
        combined.append(
            _renamed(index, definition.module, definition.node, names, names[id(definition.node)])
        )
        _add_imports(imports, index, definition.module, [definition.node])
    targets = [
        _renamed(index, module, _as_imported(index, module, node), names, None)
        for node in nodes
        if not isinstance(node, ast.Import | ast.ImportFrom)
    ]
    _add_imports(imports, index, module, nodes)
    folded = ast.Module(body=targets, type_ignores=[])
    fold_version_checks(folded)
    targets = folded.body
    new_types = {name for node in [*combined, *targets] if (name := new_type(node)) is not None}
    classes = frozenset(n.name for n in [*combined, *targets] if isinstance(n, ast.ClassDef))
    aliases = {
        name: value
        for node in [*combined, *targets]
        if (found := type_alias(node, classes))
        for name, value in [found]
    }
    combined = [_expand_aliases(n, aliases) for n in combined if type_alias(n, classes) is None]
    alias_targets = [t for t in targets if type_alias(t, classes) is not None]
    variables = [t for t in targets if type_variable(t) is not None]
    targets = [
        _expand_aliases(t, aliases)
        for t in targets
        if type_alias(t, classes) is None and type_variable(t) is None
    ]
    combined = [c for c in combined if type_variable(c) is None]
    if new_types:
        combined = [_NewTypeCalls(new_types).visit(c) for c in combined]
        targets = [_NewTypeCalls(new_types).visit(t) for t in targets]
    tree = ast.Module(body=[*imports.values(), *combined, *targets], type_ignores=[])

    def attempt(work: ast.Module) -> tuple[str, frozenset[str]]:
        translator = ModuleTranslator(work)
        translator.collect()
        translator.infer()
        constants = translator.module.constants
        for node in nodes:
            _refuse_changed_constants(index, module, node, constants)
        for definition in closure:
            local = names[id(definition.node)]
            _refuse_changed_constants(
                index, definition.module, definition.node, {definition.name: constants.get(local)}
            )
        own = work.body[len(work.body) - len(targets) :]
        return translator.emit(only=frozenset(id(t) for t in own)), translator.module.class_names()

    context = {n for node in combined if (n := top_level_name(node)) is not None}
    context -= {n for node in targets if (n := top_level_name(node)) is not None}
    text, class_names = without_failing_members(tree, attempt, context.__contains__, top_level_name)
    for target in alias_targets:
        found = type_alias(target, classes)
        assert found is not None
        name, value = found
        ty = annotation_to_ty(_expand_aliases_in(value, aliases), class_names)
        text += _alias_item(name, rust_type(ty, target.lineno))
    for target in variables:
        name = type_variable(target)
        kind = "an interpreter hint" if name in INTERPRETER_HINTS else "a type variable"
        text += f"\n// {name}: {kind}; it has no item of its own in Rust.\n"
    own_rust = index.modules[module].rust_path if module in index.modules else ()
    uses = sorted(
        {
            _use_line(index, d, names[id(d.node)])
            for d in closure
            if index.modules[d.module].rust_path != own_rust
            and type_alias(d.node) is None  # uses of an alias are expanded: nothing names it
            and re.search(rf"\b{re.escape(names[id(d.node)])}\b", text)
        }
    )
    uses += [
        line
        for name in ("HashMap", "HashSet")
        if re.search(rf"\b{name}\b", text) and (line := f"use std::collections::{name};") not in text
    ]
    if uses:
        text = "\n".join(uses) + "\n\n" + text
    return (format_rust(text) if fmt else text), closure


RUST_PRELUDE_TYPES = frozenset({"String", "Vec", "Option", "Result", "Box", "HashMap", "HashSet"})
"""Rust types that translated code names unqualified: an item of that name would shadow them in
its whole module."""


def _alias_item(name: str, rust: str) -> str:
    """The public Rust item of a type alias (its uses are expanded, so this is the crate's API).
    An alias named like a Rust prelude type (semver's `String = Union[str, bytes]`) gets a trailing
    underscore, as it would otherwise shadow that type."""
    if name in RUST_PRELUDE_TYPES:
        doc = f"/// `{name}` in Python: renamed, as `{name}` is a Rust prelude type.\n"
        return f"\n{doc}{visibility(name)}type {name}_ = {rust};\n"
    return f"\n{visibility(name)}type {ident(name)} = {rust};\n"


def _as_imported(index: PackageIndex, module: str, node: ast.stmt) -> ast.stmt:
    """The index's `NAME = <literal>` for a constant whose value after import it holds."""
    info = index.modules.get(module)
    names = defined_names(node)
    if info is not None and len(names) == 1 and names[0] in info.import_values:
        return info.definitions[names[0]].node
    return node


def _refuse_changed_constants(
    index: PackageIndex, module: str, node: ast.stmt, types: Mapping[str, Ty | None]
) -> None:
    """A module constant that import-time code may change keeps its first value in Rust: refused,
    naming the statement, unless the index holds its value after import (`import_values`)."""
    found = changed_constant(index, module, node, types)
    if found is not None:
        raise Unsupported(found[0], found[1])


def changed_constant(
    index: PackageIndex, module: str, node: ast.stmt, types: Mapping[str, Ty | None]
) -> tuple[str, int] | None:
    """(why, line) when import-time code may change a constant that `node` defines (`X.append(...)`,
    `X += ...`, a call of a package function that reaches it), else None. A value of an immutable
    type (numbers, strings, tuples of them, a compiled pattern) can only be rebound; a constant
    assigned twice counts too (Python keeps the last value). A constant whose value after import
    is in the index (`ModuleInfo.import_values`) is that value, and never changes.

    Only what runs at import time counts: the bodies of functions defined by module code do not
    (their decorators and defaults do), and a call can reach the constant only through a package
    definition that uses it, or through reflection (`globals()`, `setattr`, `exec`, ...)."""
    info = index.modules.get(module)
    if (
        info is None
        or not isinstance(node, ast.Assign | ast.AnnAssign)
        or type_alias(node) is not None
        or type_variable(node) is not None
    ):
        return None
    for name in defined_names(node):
        if name in info.import_values:
            continue
        if name in info.rebound:
            return f"constant {name} assigned more than once at module level", node.lineno
        target = info.definitions.get(name)
        others = [d.node for d in info.definitions.values() if d.name != name]
        for stmt in [*info.module_code, *others]:
            evaluated = list(_import_time_nodes(stmt))
            loaded = {n.id for n in evaluated if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
            calls = [n for n in evaluated if isinstance(n, ast.Call)]
            reflective = any(isinstance(c.func, ast.Name) and c.func.id in _REFLECTIVE for c in calls)
            reaches = target is not None and _reaches(index, module, loaded - {name}, target)
            # Module code may not mention it at all; another definition's initialiser may read it
            # (`Y = X + [1]`), but not hand a mutable value to a call or call its methods
            # (`Y = grow(X)`).
            if stmt in info.module_code:
                mentioned = name in loaded
            else:
                mentioned = _mutable(types.get(name)) and _handed_over(name, evaluated)
            if mentioned or (calls and _mutable(types.get(name)) and (reflective or reaches)):
                return f"constant {name} may be changed by module code at line {stmt.lineno}", 1
        read = {
            n.id for n in _import_time_nodes(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
        }
        changed_inputs = sorted(read & set(info.import_values))
        if changed_inputs:
            # `Y = list(X)` before module code changes X: Y's initialiser would read X's final value.
            why = f"constant {name} is computed from {changed_inputs[0]}, which module code changes"
            return why, node.lineno
    return None


def _handed_over(name: str, nodes: list[ast.AST]) -> bool:
    """Whether `name` is an argument of a call, the receiver of a method call, or a target of an
    augmented or item assignment among `nodes`."""
    for n in nodes:
        if isinstance(n, ast.Call):
            values = [*n.args, *(k.value for k in n.keywords)]
            if any(isinstance(v, ast.Name | ast.Starred) and _names(v, name) for v in values):
                return True
            if isinstance(n.func, ast.Attribute) and _names(n.func.value, name):
                return True
        if isinstance(n, ast.AugAssign) and _names(n.target, name):
            return True
        if isinstance(n, ast.Subscript) and isinstance(n.ctx, ast.Store | ast.Del) and _names(n.value, name):
            return True
    return False


def _names(node: ast.expr, name: str) -> bool:
    if isinstance(node, ast.Starred):
        node = node.value
    return isinstance(node, ast.Name) and node.id == name


_REFLECTIVE = frozenset({"globals", "vars", "locals", "setattr", "exec", "eval", "__import__"})


def _import_time_nodes(stmt: ast.stmt) -> Iterator[ast.AST]:
    """The nodes of a module-level statement that are evaluated when the module is imported."""
    pending: list[ast.AST] = [stmt]
    while pending:
        node = pending.pop()
        yield node
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            if not isinstance(node, ast.Lambda):
                pending.extend(node.decorator_list)
            pending.extend(node.args.defaults)
            pending.extend(d for d in node.args.kw_defaults if d is not None)
            continue
        pending.extend(ast.iter_child_nodes(node))


def _reaches(index: PackageIndex, module: str, names: set[str], target: Definition) -> bool:
    """Whether any of `names` (read at the top level of `module`) is a package definition whose
    dependency closure contains `target`."""
    pending = [d for n in sorted(names) if (d := index.resolve(module, n)) is not None]
    seen: set[int] = set()
    while pending:
        definition = pending.pop()
        if definition.node is target.node:
            return True
        if id(definition.node) in seen or len(seen) > MAX_CLOSURE:
            continue
        seen.add(id(definition.node))
        pending.extend(index.dependencies(definition.module, [definition.node]).values())
    return False


def _mutable(ty: Ty | None) -> bool:
    """Whether values of the type can change in place (unknown counts as mutable)."""
    if ty is None:
        return True
    if ty.kind in ("tuple", "option"):
        return any(_mutable(a) for a in ty.args)
    return ty.kind not in ("int", "float", "bool", "str", "none", "pattern")


def _combined_names(module: str, nodes: list[ast.stmt], closure: list[Definition]) -> dict[int, str]:
    """The name of each dependency in the combined module (id of its node -> name).

    The unit's own names and its module's definitions keep their names (they are the names in the
    crate's module); a definition of another module whose name is taken gets a suffix, and is
    brought in with `use ... as <that name>`."""
    taken = {name for node in nodes for name in defined_names(node)}
    names: dict[int, str] = {}
    ordered = sorted(closure, key=lambda d: (d.module != module, d.module, d.name))
    for definition in ordered:
        name = definition.name
        if name in taken:
            if definition.module == module:
                raise Unsupported(f"two definitions named {name} in the unit's module", _line(nodes))
            digest = hashlib.sha256(definition.module.encode()).hexdigest()[:6]
            name = f"{definition.name}_{digest}"
        taken.add(name)
        names[id(definition.node)] = name
    return names


def _use_line(index: PackageIndex, definition: Definition, local: str) -> str:
    path = "::".join(["crate", *index.modules[definition.module].rust_path, _rust_name(definition.name)])
    alias = "" if local == definition.name else f" as {_rust_name(local)}"
    return f"use {path}{alias};"


def _rust_name(name: str) -> str:
    return ident(name)


def _closure(index: PackageIndex, module: str, nodes: list[ast.stmt]) -> list[Definition]:
    """Every definition the unit depends on, directly or not, in a deterministic order."""
    seen: dict[int, Definition] = {}
    pending = list(index.dependencies(module, nodes).values())
    own = {(module, name) for n in nodes for name in defined_names(n)}
    while pending:
        definition = pending.pop()
        if id(definition.node) in seen or (definition.module, definition.name) in own:
            continue
        seen[id(definition.node)] = definition
        if len(seen) > MAX_CLOSURE:
            raise Unsupported(f"dependency closure over {MAX_CLOSURE} definitions", _line(nodes))
        pending.extend(index.dependencies(definition.module, [definition.node]).values())
    return sorted(seen.values(), key=lambda d: (d.module, d.name))


def _line(nodes: list[ast.stmt]) -> int:
    return min((getattr(n, "lineno", 1) for n in nodes), default=1)


class _Rename(ast.NodeTransformer):
    def __init__(self, mapping: dict[str, str]) -> None:
        self.mapping = mapping

    def visit_Name(self, node: ast.Name) -> ast.Name:
        if node.id in self.mapping:
            return ast.copy_location(ast.Name(id=self.mapping[node.id], ctx=node.ctx), node)
        return node


def _renamed(
    index: PackageIndex, module: str, node: ast.stmt, names: dict[int, str], own: str | None
) -> ast.stmt:
    """A copy of `node` (the index's nodes are shared) with each dependency referred to by its name
    in the combined module, and with its own name `own` when that differs."""
    mapping = {
        local: names[id(d.node)]
        for local, d in index.dependencies(module, [node]).items()
        if id(d.node) in names and local != names[id(d.node)]
    }
    info = index.modules.get(module)
    copied = copy.deepcopy(strip_transparent(node, info.transparent if info is not None else frozenset()))
    if own is not None:
        if isinstance(copied, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            copied.name = own
        elif isinstance(copied, ast.Assign | ast.AnnAssign):
            for target in copied.targets if isinstance(copied, ast.Assign) else [copied.target]:
                if isinstance(target, ast.Name):
                    target.id = own
    renamed = _Rename(mapping).visit(copied) if mapping else copied
    assert isinstance(renamed, ast.stmt)
    return renamed


def _add_imports(
    imports: dict[str, ast.stmt], index: PackageIndex, module: str, nodes: list[ast.stmt]
) -> None:
    """The module's imports that the nodes use and that are not the package's own (the standard
    library, typing, third-party): the translator maps or refuses those by name."""
    info = index.modules.get(module)
    if info is None:
        return
    used = free_names(nodes)
    for imp in info.imports:
        if index.is_package_import(module, imp):
            continue
        bound = {a.asname or a.name.split(".")[0] for a in imp.names}
        if (isinstance(imp, ast.ImportFrom) and imp.module == "__future__") or bound & used:
            imports.setdefault(ast.dump(imp), imp)


class PackageTranslator:
    """Package-scope translation of units and of single definitions, memoised per definition.

    The memo serves the checker: a unit that `use`s a definition of another module is checked with
    that definition's own translation in place (translate_definition), made once per process."""

    def __init__(self, index: PackageIndex) -> None:
        self.index = index
        self._memo: dict[tuple[str, str], str | None] = {}
        self._failures: dict[tuple[str, str], Unsupported | None] = {}

    def translate_unit(self, path: str, source: str) -> str:
        """Rust for a unit's source (its imports and its statements) of the file at `path`."""
        info = self.index.module_of_path(path)
        if info is None:
            raise Unsupported(f"file {path} is not in the package index", 1)
        nodes = ast.parse(source).body
        try:
            return translate_in_package(self.index, info.name, nodes)[0]
        except Unsupported as failure:
            raise self._attributed(info.name, nodes) or failure from None

    def _attributed(self, module: str, nodes: list[ast.stmt]) -> Unsupported | None:
        """When a unit fails, the failure of a dependency that does not translate on its own, named:
        that is what blocks the unit (its own code may translate once the dependency does)."""
        closure = _closure(self.index, module, nodes)
        # Bases are copied into their subclasses: a base that fails alone blocks nothing.
        bases = {
            b
            for n in [*nodes, *(d.node for d in closure)]
            if isinstance(n, ast.ClassDef)
            for b in base_names(n)
        }
        for definition in closure:
            if definition.name in bases and isinstance(definition.node, ast.ClassDef):
                continue
            failure = self._failure(definition)
            if failure is not None:
                where = f"{definition.path}::{definition.name}"
                construct = failure.construct
                if " in dependency " not in construct:
                    construct = f"{construct} in dependency {where}"
                return Unsupported(construct, failure.line)
        return None

    def _failure(self, definition: Definition) -> Unsupported | None:
        key = (definition.module, definition.name)
        if key not in self._failures:
            self._failures[key] = None
            try:
                self._memo[key] = translate_in_package(self.index, definition.module, [definition.node])[0]
            except Unsupported as failure:
                self._memo[key] = None
                self._failures[key] = self._attributed(definition.module, [definition.node]) or failure
            except (SyntaxError, RecursionError) as error:
                self._memo[key] = None
                self._failures[key] = Unsupported(f"{type(error).__name__}", definition.node.lineno)
        return self._failures[key]

    def definition_names(self, rust_path: tuple[str, ...]) -> frozenset[str]:
        """The Rust names of the definitions of the module at `rust_path`."""
        info = self.index.by_rust_path.get(rust_path)
        if info is None:
            return frozenset()
        return frozenset(_rust_name(d.name) for d in info.definitions.values())

    def translate_definition(self, rust_path: tuple[str, ...], name: str) -> str | None:
        """The Rust of the definition `name` of the module at `rust_path`; None when it does not
        translate (or is not in the package)."""
        info = self.index.by_rust_path.get(rust_path)
        if info is None:
            return None
        key = (info.name, name)
        if key not in self._memo:
            definition = next(
                (d for d in info.definitions.values() if _rust_name(d.name) == name or d.name == name), None
            )
            self._memo[key] = None
            if definition is not None:
                try:
                    self._memo[key] = translate_in_package(self.index, info.name, [definition.node])[0]
                except (Unsupported, SyntaxError, RecursionError):
                    self._memo[key] = None
        return self._memo[key]


TYPING_GENERICS = frozenset(
    {
        "List",
        "Dict",
        "Set",
        "FrozenSet",
        "Tuple",
        "Optional",
        "Union",
        "Callable",
        "Sequence",
        "Mapping",
        "MutableMapping",
        "Iterable",
        "Iterator",
        "Type",
        "Literal",
        "list",
        "dict",
        "set",
        "frozenset",
        "tuple",
        "type",
    }
)
BUILTIN_TYPES = frozenset({"int", "float", "str", "bool", "bytes", "None"})


def _is_type_expr(node: ast.expr, classes: frozenset[str] = frozenset()) -> bool:
    if isinstance(node, ast.Name):
        return node.id in BUILTIN_TYPES or node.id in classes
    if isinstance(node, ast.Subscript):
        base = node.value
        name = base.attr if isinstance(base, ast.Attribute) else getattr(base, "id", "")
        return name in TYPING_GENERICS
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _is_type_expr(node.left, classes) or _is_type_expr(node.right, classes)
    return isinstance(node, ast.Constant) and node.value is None


def _called(node: ast.stmt, function: str) -> ast.Call | None:
    """The call of `function` (`typing.function` too) that a single-name assignment assigns."""
    value = node.value if isinstance(node, ast.Assign | ast.AnnAssign) else None
    if not isinstance(value, ast.Call):
        return None
    name = value.func.attr if isinstance(value.func, ast.Attribute) else getattr(value.func, "id", "")
    return value if name == function and defined_names(node) else None


INTERPRETER_HINTS = frozenset({"__lazy_modules__", "__docformat__"})
"""Module dunders that configure CPython or tools (PEP 810's lazy imports, docstring format): no
program reads them, so they have no Rust item."""


def type_variable(node: ast.stmt) -> str | None:
    """The name a `T = TypeVar("T", ...)` (or ParamSpec) assignment defines, or an interpreter hint's."""
    if _called(node, "TypeVar") or _called(node, "ParamSpec"):
        return defined_names(node)[0]
    names = defined_names(node) if isinstance(node, ast.Assign | ast.AnnAssign) else []
    return names[0] if len(names) == 1 and names[0] in INTERPRETER_HINTS else None


def new_type(node: ast.stmt) -> str | None:
    """The name a `UserId = NewType("UserId", int)` assignment defines: to a type checker a new
    type, at run time the identity function; in Rust an alias of the type it wraps."""
    call = _called(node, "NewType")
    return defined_names(node)[0] if call is not None and len(call.args) == 2 else None


class _NewTypeCalls(ast.NodeTransformer):
    """`UserId(x)` -> `x` for each NewType name (Python's NewType returns its argument)."""

    def __init__(self, names: set[str]) -> None:
        self.names = names

    def visit_Call(self, node: ast.Call) -> ast.expr:
        self.generic_visit(node)
        if isinstance(node.func, ast.Name) and node.func.id in self.names and len(node.args) == 1:
            return node.args[0]
        return node


def type_alias(node: ast.stmt, classes: frozenset[str] = frozenset()) -> tuple[str, ast.expr] | None:
    """(name, type) of a module-level type alias: `Pos = int`, `Key = tuple[str, int]`,
    `Id: TypeAlias = Union[int, str]`, `UserId = NewType("UserId", int)`, and `Node = Leaf | Tree`
    where `classes` holds the class names."""
    if (name := new_type(node)) is not None:
        call = _called(node, "NewType")
        assert call is not None
        return name, call.args[1]
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
        annotation = node.annotation
        name = annotation.attr if isinstance(annotation, ast.Attribute) else getattr(annotation, "id", "")
        if name == "TypeAlias":
            return node.target.id, node.value
        return None
    if (
        isinstance(node, ast.Assign)
        and len(node.targets) == 1
        and isinstance(node.targets[0], ast.Name)
        and _is_type_expr(node.value, classes)
    ):
        return node.targets[0].id, node.value
    return None


class _ExpandAliases(ast.NodeTransformer):
    def __init__(self, aliases: dict[str, ast.expr]) -> None:
        self.aliases = aliases

    def visit_Name(self, node: ast.Name) -> ast.expr:
        if node.id in self.aliases:
            expanded: ast.expr = self.visit(copy.deepcopy(self.aliases[node.id]))
            return expanded
        return node

    def visit_Constant(self, node: ast.Constant) -> ast.expr:
        if isinstance(node.value, str) and node.value.strip() in self.aliases:
            expanded: ast.expr = self.visit(copy.deepcopy(self.aliases[node.value.strip()]))
            return expanded
        return node


def _expand_aliases_in(annotation: ast.expr, aliases: dict[str, ast.expr]) -> ast.expr:
    expanded = annotation
    for _ in range(8):  # an alias may name another alias
        before = ast.dump(expanded)
        expanded = _ExpandAliases(aliases).visit(copy.deepcopy(expanded))
        if ast.dump(expanded) == before:
            break
    return expanded


def _expand_aliases(node: ast.stmt, aliases: dict[str, ast.expr]) -> ast.stmt:
    """Type aliases replaced by what they name, in every annotation of `node` (in place)."""
    if not aliases:
        return node
    for sub in ast.walk(node):
        if isinstance(sub, ast.arg | ast.AnnAssign) and sub.annotation is not None:
            sub.annotation = _expand_aliases_in(sub.annotation, aliases)
        elif isinstance(sub, ast.FunctionDef | ast.AsyncFunctionDef) and sub.returns is not None:
            sub.returns = _expand_aliases_in(sub.returns, aliases)
    return node
