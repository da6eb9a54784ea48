"""Module assembly: collect definitions, run inference to a fixpoint, emit and format Rust."""

from __future__ import annotations

import ast
import inspect
import shutil
import subprocess

from portalis_worker.rules import generators, rebinding, runtime
from portalis_worker.rules.builtins import BUILTIN_NAMES, SUPPORTED_MODULES
from portalis_worker.rules.classes import (
    abstract_members,
    collect_members,
    declare_class,
    drop_abstract_markers,
    exception_classes,
    flatten_inheritance,
    hoist_class_constants,
    without_failing_members,
)
from portalis_worker.rules.context import LEFT_OUT, ClassInfo, FuncSig, ModuleContext, ident
from portalis_worker.rules.errors import Unsupported
from portalis_worker.rules.expressions import float_literal, rust_str_literal
from portalis_worker.rules.statements import FunctionTranslator, walk_statements
from portalis_worker.rules.types import (
    FLOAT,
    INT,
    NONE,
    STR,
    UNKNOWN,
    Ty,
    annotation_to_ty,
    class_ty,
    has_unknown,
    is_bare_final,
    is_hashable,
    rust_type,
)
from portalis_worker.version_checks import fold_version_checks

MAX_MODULE_ROUNDS = 8
STATIC_INIT_PREFIX = "__init_"
MEMO_DECORATORS = frozenset({"cache", "lru_cache", "cached_property"})
"""Memoisation does not change what a function returns; the translation computes it each time."""
FUNCTOOLS_DECORATORS = MEMO_DECORATORS | {"total_ordering"}
"""`functools` names that may be imported: `total_ordering` is written out (classes.expand_total_ordering)."""
IGNORED_MODULES = frozenset(
    {"typing", "typing_extensions", "__future__", "dataclasses", "collections.abc", "abc", "enum"}
)
"""Their names are annotations, decorators or bases, each mapped or refused where it is used."""
IDENTITY_FUNCTIONS = frozenset({"types.MappingProxyType"})
"""Calls that return their argument in the translation: a read-only view of a dict is the dict (the
translated code cannot write through it: Python would have raised)."""


def register_import(module: ModuleContext, node: ast.Import | ast.ImportFrom) -> None:
    """Accept imports with a Rust counterpart (``math``) or none needed (``typing``). A name
    imported from any other module is unavailable: using it fails (where it is used, so a class
    can do without the method that uses it), importing it does not."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name in IGNORED_MODULES or alias.name == "functools":
                continue
            if alias.name in SUPPORTED_MODULES and alias.asname in (None, alias.name):
                module.modules.add(alias.name)
                continue
            module.unavailable[alias.asname or alias.name.split(".")[0]] = f"import {alias.name}"
        return
    if node.module in IGNORED_MODULES and node.level == 0:
        return
    if node.level != 0 or any(a.name == "*" for a in node.names):
        raise Unsupported(f"from {node.module} import", node.lineno)
    for alias in node.names:
        name = alias.asname or alias.name
        if f"{node.module}.{alias.name}" in IDENTITY_FUNCTIONS:
            module.identities.add(name)
        elif node.module == "functools" and alias.name in FUNCTOOLS_DECORATORS:
            continue
        elif node.module in SUPPORTED_MODULES:
            module.imported[name] = (node.module, alias.name)
        else:
            module.unavailable[name] = f"from {node.module} import"


def _signature(module: ModuleContext, node: ast.FunctionDef, owner: str | None, is_static: bool) -> FuncSig:
    """A FuncSig from the def's annotations; untyped nested parameters are left to inference."""
    args = node.args
    if args.vararg or args.kwarg:
        raise Unsupported("*args or **kwargs", node.lineno)
    generators.make_eager(node)
    rebinding.rename_converted_parameters(node)
    classes = module.class_names()
    # Positional-only, positional and keyword-only parameters all become Rust parameters, in that
    # order; calls bind them by position and keyword (`bind_args`), so Python's rules hold.
    positional = [*args.posonlyargs, *args.args]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    params = [*positional, *args.kwonlyargs]
    defaults += list(args.kw_defaults)
    positional_count, positional_only = len(positional), len(args.posonlyargs)
    if owner is not None and not is_static:
        params, defaults = params[1:], defaults[1:]
        positional_count, positional_only = positional_count - 1, max(0, positional_only - 1)
    typed: list[tuple[str, Ty]] = []

    def ty_of(annotation: ast.expr) -> Ty:
        if owner is not None and _names_self_type(annotation):
            return class_ty(owner)  # `typing.Self`: the class itself (there is no subtyping)
        return annotation_to_ty(annotation, classes)

    for p in params:
        if p.annotation is None:
            typed.append((p.arg, UNKNOWN))
        else:
            typed.append((p.arg, ty_of(p.annotation)))
    ret = UNKNOWN if node.returns is None else ty_of(node.returns)
    decorators = [d for d in node.decorator_list if not _is_memo_decorator(d)]
    if decorators and owner is None:
        raise Unsupported("function decorator", node.lineno)
    return FuncSig(
        name=node.name,
        node=node,
        params=typed,
        ret=ret,
        ret_annotated=node.returns is not None,
        defaults=defaults,
        owner=owner,
        is_static=is_static,
        positional=positional_count,
        positional_only=positional_only,
    )


def _check_no_capture(module: ModuleContext, outer: ast.FunctionDef, inner: ast.FunctionDef) -> None:
    """A nested function can be lifted only if it reads nothing from the enclosing function."""
    own = {a.arg for a in (*inner.args.posonlyargs, *inner.args.args, *inner.args.kwonlyargs)}
    for stmt in walk_statements(inner.body):
        for name in _bound_names(stmt):
            own.add(name)
    outer_locals = {a.arg for a in (*outer.args.posonlyargs, *outer.args.args, *outer.args.kwonlyargs)}
    for stmt in walk_statements(outer.body):
        outer_locals.update(_bound_names(stmt))
    for sub in ast.walk(inner):
        if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load):
            name = sub.id
            if name in own or name not in outer_locals:
                continue
            if _comprehension_bound(inner, name) or _lambda_bound(inner, name):
                continue
            raise Unsupported(f"nested function {inner.name} capturing {name}", sub.lineno)
    if not module:
        return


def _bound_names(stmt: ast.stmt) -> list[str]:
    """Names a statement binds, including nested defs."""
    from portalis_worker.rules.statements import bound_by

    names = bound_by(stmt)
    if isinstance(stmt, ast.FunctionDef):
        names = [*names, stmt.name]
    return names


def _comprehension_bound(root: ast.AST, name: str) -> bool:
    """Whether ``name`` is a comprehension variable somewhere in ``root``."""
    for sub in ast.walk(root):
        if isinstance(sub, ast.comprehension):
            for t in ast.walk(sub.target):
                if isinstance(t, ast.Name) and t.id == name:
                    return True
    return False


def _lambda_bound(root: ast.AST, name: str) -> bool:
    """Whether ``name`` is a lambda parameter somewhere in ``root``."""
    return any(
        isinstance(sub, ast.Lambda) and any(a.arg == name for a in sub.args.args) for sub in ast.walk(root)
    )


class ModuleTranslator:
    """Owns one module's definitions through collection, inference and emission."""

    def __init__(self, tree: ast.Module) -> None:
        self.tree = tree
        self.module = ModuleContext()
        self.order: list[FuncSig] = []
        self.constants: list[tuple[int, str]] = []
        """(id of the top-level statement, Rust item) of each module constant."""
        self.statics: dict[str, FuncSig] = {}
        """Constants computed once (`LazyLock`): name -> the initialiser function."""
        self.origin: dict[int, int] = {}
        """id of each function's def -> id of the top-level statement it comes from (nested defs)."""
        self.translators: dict[int, FunctionTranslator] = {}
        self.top_names: dict[int, str] = {}
        """id of each top-level definition -> its name (to say where a failure arose)."""
        self.abstract: dict[int, str] = {}
        """Base classes that use attributes only their subclasses define: id -> why not emitted."""

    def sig_factory(self, node: ast.FunctionDef, owner: str | None, is_static: bool) -> FuncSig:
        """Signatures for methods (passed to ``classes.collect_members``)."""
        try:
            sig = _signature(self.module, node, owner, is_static)
        except Unsupported as exc:
            raise exc.within(owner, node.name) from None
        if owner is not None:
            untyped = [name for name, ty in sig.params if ty == UNKNOWN]
            if untyped:
                raise Unsupported(f"untyped parameter {untyped[0]}", node.lineno).within(owner, node.name)
            if sig.ret == UNKNOWN and node.name != "__init__":
                sig.ret = UNKNOWN
        return sig

    def collect(self) -> None:
        """First pass over the module's top level."""
        body = self.tree.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            body = body[1:]
        classes: list[ClassInfo] = []
        functions: list[ast.FunctionDef] = []
        for stmt in body:
            if isinstance(stmt, ast.ClassDef):
                drop_abstract_markers(stmt)
        self.module.exceptions = exception_classes([s for s in body if isinstance(s, ast.ClassDef)])
        flatten_inheritance(
            [s for s in body if isinstance(s, ast.ClassDef)], self.module.exceptions, self.module.ancestors
        )
        for stmt in body:
            if isinstance(stmt, ast.ClassDef) and stmt.name not in self.module.exceptions:
                for name, assign in hoist_class_constants(stmt):
                    self.computed_constant(name, assign, origin=id(stmt))
        bases = {b for chain in self.module.ancestors.values() for b in chain}
        for stmt in body:
            if (top := top_level_name(stmt)) is not None:
                self.top_names[id(stmt)] = top
        for stmt in body:
            if isinstance(stmt, ast.Import | ast.ImportFrom):
                register_import(self.module, stmt)
            elif (
                isinstance(stmt, ast.ClassDef) and stmt.name in bases and (missing := abstract_members(stmt))
            ):
                # Its members are in its subclasses; alone it cannot be a struct.
                self.abstract[id(stmt)] = f"abstract base class {stmt.name} (uses self.{missing[0]})"
            elif isinstance(stmt, ast.ClassDef):
                classes.append(declare_class(self.module, stmt))
            elif isinstance(stmt, ast.FunctionDef):
                functions.append(stmt)
            elif _is_dunder_all(stmt) and isinstance(stmt, ast.AugAssign):
                continue  # realised as `pub` on the listed items
            elif isinstance(stmt, ast.Assign | ast.AnnAssign):
                self.constant(stmt)
            elif _is_main_guard(stmt) or _is_docstring_like(stmt):
                continue
            else:
                raise Unsupported(f"top-level {type(stmt).__name__}", stmt.lineno)
        for info in classes:
            for sig in collect_members(self.module, info, self.sig_factory):
                self.order.append(sig)
                self.origin[id(sig.node)] = id(info.node)
                self.lift_nested(sig.node)
        for func in functions:
            self.origin[id(func)] = id(func)
            self.add_function(func)

    def add_function(self, node: ast.FunctionDef) -> None:
        """Register a function and, recursively, the nested functions it defines."""
        if node.name in self.module.functions or node.name in self.module.classes:
            raise Unsupported(f"second definition of {node.name}", node.lineno)
        if node.name in BUILTIN_NAMES:
            raise Unsupported(f"function shadowing builtin {node.name}", node.lineno)
        try:
            sig = _signature(self.module, node, None, False)
        except Unsupported as exc:
            origin = self.origin.get(id(node), id(node))
            raise exc.within(None, self.top_names.get(origin, node.name)) from None
        self.module.functions[node.name] = sig
        self.order.append(sig)
        self.lift_nested(node)

    def lift_nested(self, node: ast.FunctionDef) -> None:
        """Nested defs become module-level functions when they capture nothing."""
        for stmt in walk_statements(node.body):
            if isinstance(stmt, ast.FunctionDef):
                _check_no_capture(self.module, node, stmt)
                self.origin[id(stmt)] = self.origin.get(id(node), id(node))
                self.add_function(stmt)
            elif isinstance(stmt, ast.ClassDef | ast.AsyncFunctionDef):
                raise Unsupported(
                    "nested class" if isinstance(stmt, ast.ClassDef) else "async def", stmt.lineno
                )

    def constant(self, stmt: ast.Assign | ast.AnnAssign) -> None:
        """Module-level constants of scalar type become Rust ``const`` items."""
        target = stmt.targets[0] if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 else None
        if isinstance(stmt, ast.AnnAssign):
            target = stmt.target
        value = stmt.value
        if not isinstance(target, ast.Name) or value is None:
            raise Unsupported("top-level assignment", stmt.lineno)
        if target.id in self.module.constants or target.id in self.module.functions:
            raise Unsupported(f"second definition of {target.id}", stmt.lineno)
        negative = isinstance(value, ast.UnaryOp) and isinstance(value.op, ast.USub)
        literal = value.operand if isinstance(value, ast.UnaryOp) and negative else value
        vis = visibility(target.id)
        name = ident(target.id)
        origin = id(stmt)
        sign = "-" if negative else ""
        if isinstance(literal, ast.Constant) and isinstance(literal.value, bool) and not negative:
            self.module.constants[target.id] = Ty("bool")
            self.constants.append(
                (origin, f"{vis}const {name}: bool = {'true' if literal.value else 'false'};")
            )
        elif isinstance(literal, ast.Constant) and isinstance(literal.value, str) and not negative:
            self.module.constants[target.id] = STR
            self.constants.append((origin, f"{vis}const {name}: &str = {rust_str_literal(literal.value)};"))
        elif isinstance(literal, ast.Constant) and type(literal.value) is int:
            self.module.constants[target.id] = INT
            self.constants.append((origin, f"{vis}const {name}: isize = {sign}{literal.value};"))
        elif isinstance(literal, ast.Constant) and isinstance(literal.value, float):
            self.module.constants[target.id] = FLOAT
            self.constants.append((origin, f"{vis}const {name}: f64 = {sign}{float_literal(literal.value)};"))
        else:
            self.computed_constant(target.id, stmt)

    def computed_constant(
        self, name: str, stmt: ast.Assign | ast.AnnAssign, origin: int | None = None
    ) -> None:
        """Any other value is computed once, on first use: a `LazyLock` static and its initialiser.

        The initialiser is a function `def __init_NAME() -> T: return VALUE` (T from the annotation or
        inferred), so the value's translation is exactly that of a return expression."""
        value = stmt.value
        assert value is not None
        init = ast.FunctionDef(
            name=f"{STATIC_INIT_PREFIX}{name}",
            args=ast.arguments(posonlyargs=[], args=[], kwonlyargs=[], kw_defaults=[], defaults=[]),
            body=[ast.Return(value=value)],
            decorator_list=[],
            returns=stmt.annotation
            if isinstance(stmt, ast.AnnAssign) and not is_bare_final(stmt.annotation)
            else None,
        )
        ast.copy_location(init, stmt)
        ast.fix_missing_locations(init)
        self.origin[id(init)] = id(stmt) if origin is None else origin
        self.add_function(init)
        self.statics[name] = self.module.functions[init.name]
        self.module.constants[name] = UNKNOWN
        self.module.statics.add(name)
        self.constants.append((id(stmt) if origin is None else origin, name))

    def translator(self, sig: FuncSig, inferring: bool) -> FunctionTranslator:
        """The (persistent) translator of one function."""
        key = id(sig)
        if key not in self.translators:
            self_ty = class_ty(sig.owner) if sig.owner is not None else None
            ft = FunctionTranslator(self.module, sig, inferring, self_ty)
            ft.locals = dict(sig.params)
            if self_ty is not None and not sig.is_static:
                ft.locals["self"] = self_ty
                if sig.name == "__init__":
                    ft.self_code = "this"
            self.translators[key] = ft
        ft = self.translators[key]
        for name, ty in sig.params:
            if has_unknown(ft.locals.get(name, UNKNOWN)):
                ft.locals[name] = ty
        return ft

    def infer(self) -> None:
        """Run every function's inference until signatures, fields and locals settle."""
        for _ in range(MAX_MODULE_ROUNDS):
            self.module.changed = False
            for sig in self.order:
                ft = self.translator(sig, True)
                try:
                    ft.infer()
                except Unsupported as exc:
                    raise self.blame(exc, sig) from None
                if sig.owner is not None and not sig.is_static and sig.name != "__init__":
                    self_mut = "self" in ft.mutated
                    if self_mut != sig.self_mut:
                        sig.self_mut = self_mut
                        self.module.changed = True
            for name, init in self.statics.items():
                if self.module.constants.get(name) != init.ret:
                    self.module.constants[name] = init.ret
                    self.module.changed = True
            if not self.module.changed:
                break

    def emit_function(self, sig: FuncSig, in_impl: bool) -> str:
        """One ``fn`` item (a method when ``in_impl``)."""
        try:
            return self._emit_function(sig, in_impl)
        except Unsupported as exc:
            raise self.blame(exc, sig) from None

    def blame(self, exc: Unsupported, sig: FuncSig) -> Unsupported:
        """`exc`, marked with the method or top-level definition it arose in."""
        if sig.owner is not None:
            return exc.within(sig.owner, sig.node.name)
        origin = self.origin.get(id(sig.node), id(sig.node))
        return exc.within(None, self.top_names.get(origin, sig.node.name))

    def _emit_function(self, sig: FuncSig, in_impl: bool) -> str:
        ft = self.translator(sig, False)
        node = sig.node
        for name, ty in sig.params:
            if has_unknown(ty):
                raise Unsupported(f"untyped parameter {name} of {sig.name}", node.lineno)
        if has_unknown(sig.ret):
            raise Unsupported(f"could not infer the return type of {sig.name}", node.lineno)
        is_init = in_impl and sig.name == "__init__"
        if is_init:
            tries = [s for s in walk_statements(node.body) if isinstance(s, ast.Try)]
            if any(isinstance(r, ast.Return) for t in tries for r in walk_statements([t])):
                raise Unsupported("return inside a try in an __init__", node.lineno)
            sig.ret = NONE
        try:
            body = ft.body_lines()
        finally:
            if is_init and sig.owner is not None:
                sig.ret = class_ty(sig.owner)
        params = []
        if in_impl and not sig.is_static and not is_init:
            params.append("&mut self" if sig.self_mut else "&self")
        for name, ty in sig.params:
            params.append(f"{ft.resolve_mut(ft.mut(name))}{ident(name)}: {rust_type(ty, node.lineno)}")
        lines = _doc_lines(node)
        if in_impl:
            vis = "pub "
        elif self.origin.get(id(node), id(node)) == id(node):
            vis = visibility(sig.name)
        else:
            vis = ""  # a lifted nested function or a static's initialiser stays private
        if is_init and sig.owner is not None:
            lines.append(f"{vis}fn new({', '.join(params)}) -> Self {{")
            lines.append("    let mut this = Self::default();")
            lines.extend(self._class_defaults(ft, sig.owner))
            lines.extend(body)
            lines.append("    this")
        else:
            ret = "" if sig.ret == NONE else f" -> {rust_type(sig.ret, node.lineno)}"
            lines.append(f"{vis}fn {ident(sig.name)}({', '.join(params)}){ret} {{")
            lines.extend(body)
        lines.append("}")
        return "\n".join(lines)

    def _class_defaults(self, ft: FunctionTranslator, owner: str) -> list[str]:
        """`this.x = <default>;` for each class attribute with a default (not a dataclass's: its
        defaults are the constructor's parameter defaults)."""
        info = self.module.classes[owner]
        if info.is_dataclass:
            return []
        lines = []
        for name, default in info.field_defaults.items():
            ty = info.fields[name]
            code = ft.coerce(ft.expr(default, ty), ty, default)
            lines.append(f"    this.{ident(name)} = {code};")
        return lines

    def emit_enum(self, info: ClassInfo) -> str:
        """A fieldless Rust ``enum`` with ``value()`` and ``name()`` (``Color.RED.value``)."""
        members = info.enum_members or {}
        name = info.name
        variants = [ident(m) for m in members]
        is_int = all(isinstance(v, int) for v in members.values())
        value_ty = "isize" if is_int else "String"
        listed = ", ".join(f"{name}::{v}" for v in variants)
        lines = _doc_lines(info.node)
        lines += [
            "#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]",
            f"pub enum {name} {{",
            *(f"    {v}," for v in variants),
            "}",
            "",
            f"impl Default for {name} {{",
            f"    fn default() -> Self {{ {name}::{variants[0]} }}",
            "}",
            "",
            f"impl {name} {{",
            f"    /// The members in definition order (`list({name})`).",
            f"    pub const MEMBERS: [Self; {len(variants)}] = [{listed}];",
            "",
            f"    pub fn value(&self) -> {value_ty} {{",
            "        match self {",
        ]
        for variant, value in zip(variants, members.values(), strict=True):
            code = str(value) if is_int else f"{rust_str_literal(str(value))}.to_string()"
            lines.append(f"            {name}::{variant} => {code},")
        lines += ["        }", "    }", "", "    pub fn name(&self) -> String {", "        match self {"]
        for variant, member in zip(variants, members, strict=True):
            lines.append(f"            {name}::{variant} => {rust_str_literal(member)}.to_string(),")
        lines += ["        }", "    }"]
        for sig in info.methods.values():
            # A member is `Copy`: methods take it by value, so `self == Color::RED` compiles.
            lines.append("\n" + self.emit_function(sig, True).replace("(&self", "(self", 1))
        lines.append("}")
        lines += _partial_ord(info)
        return "\n".join(lines)

    def _hashed_by_fields(self, info: ClassInfo, seen: frozenset[str] = frozenset()) -> bool:
        """A dataclass that Python gives a field-wise `__hash__` (frozen or `unsafe_hash`), or a
        NamedTuple (a tuple: hashed by its items), whose fields Rust can hash too (no float;
        classes among them hashable the same way, or enums)."""
        model = info.dataclass
        named_tuple = info.is_dataclass and model is None
        if not (named_tuple or (model is not None and model.hashable)):
            return False
        if {"__eq__", "__hash__"} & set(info.methods):
            return False

        def hashable(ty: Ty) -> bool:
            if ty.kind == "class":
                other = self.module.classes.get(ty.name)
                return other is not None and (
                    other.enum_members is not None
                    or (other.name not in seen and self._hashed_by_fields(other, seen | {info.name}))
                )
            return is_hashable(ty) and all(hashable(a) for a in ty.args)

        return all(hashable(ty) for ty in info.fields.values())

    def emit_class(self, info: ClassInfo) -> str:
        """``struct`` + ``impl`` (an ``enum`` for an ``enum.Enum``; ``Error`` impls for exceptions)."""
        if info.enum_members is not None:
            return self.emit_enum(info)
        fields = []
        for name, ty in info.fields.items():
            if has_unknown(ty):
                raise Unsupported(f"could not infer the type of field {name}", info.node.lineno)
            fields.append(f"    pub {ident(name)}: {rust_type(ty, info.node.lineno)},")
        lines = _doc_lines(info.node)
        left_out = getattr(info.node, LEFT_OUT, {})
        if left_out:
            lines.append("///" if lines else "/// Translated from Python.")
            lines.append("/// Not translated (callers of these fail by name):")
            lines.extend(f"/// - `{name}`: {reason}" for name, reason in sorted(left_out.items()))
        equality = "" if "__eq__" in info.methods else ", PartialEq"
        if self._hashed_by_fields(info):
            equality += ", Eq, Hash"  # a frozen (or unsafe_hash) dataclass: Python hashes its fields
        lines.append(f"#[derive(Debug, Clone{equality}, Default)]")
        lines.append(f"pub struct {info.name} {{")
        lines.extend(fields)
        lines.append("}")
        methods = [self.emit_function(sig, True) for sig in info.methods.values()]
        if methods:
            lines.append("")
            lines.append(f"impl {info.name} {{")
            lines.append("\n\n".join(methods))
            lines.append("}")
        if "__eq__" in info.methods:
            lines += [
                "",
                f"impl PartialEq for {info.name} {{",
                "    fn eq(&self, other: &Self) -> bool {",
                f"        self{_copy_if_writes(info, '__eq__')}.__eq__(other.clone())",
                "    }",
                "}",
            ]
        lines += _partial_ord(info)
        if "__hash__" in info.methods:
            lines += [
                "",
                f"impl std::hash::Hash for {info.name} {{",
                "    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {",
                f"        self{_copy_if_writes(info, '__hash__')}.__hash__().hash(state);",
                "    }",
                "}",
                "",
                f"impl Eq for {info.name} {{}}",
            ]
        if info.is_exception or "__str__" in info.methods:
            # str(x): `__str__` when the class has one, else an exception's message (or its name).
            if "__str__" in info.methods:
                text = f"&self{_copy_if_writes(info, '__str__')}.__str__()"
            elif "message" in info.fields and info.fields["message"] == STR:
                text = "&self.message"
            else:
                text = rust_str_literal(info.name)
            lines += [
                "",
                f"impl std::fmt::Display for {info.name} {{",
                "    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {",
                f"        f.write_str({text})",
                "    }",
                "}",
            ]
        if info.is_exception:
            lines += ["", f"impl std::error::Error for {info.name} {{}}"]
        return "\n".join(lines)

    def emit(self, only: frozenset[int] | None = None) -> str:
        """The whole Rust file; with `only`, just the items that come from those top-level statements.

        The other definitions were in the module as context (the dependencies of a unit translated at
        package scope): they took part in inference but are emitted by their own units."""

        def wanted(node_id: int) -> bool:
            return only is None or node_id in only

        items: list[str] = []
        for node_id, reason in self.abstract.items():
            if only is not None and node_id in only:
                raise Unsupported(reason, 1)  # the unit is that class: nothing of its own to emit
            if only is None:
                items.append(f"// {reason}: its members are in its subclasses.")

        consts = []
        for origin, item in self.constants:
            if not wanted(origin):
                continue
            if item in self.statics:
                init = self.statics[item]
                ty = rust_type(self.module.constants[item], init.node.lineno)
                item = (
                    f"{visibility(item)}static {ident(item)}: std::sync::LazyLock<{ty}> = "
                    f"std::sync::LazyLock::new({ident(init.name)});"
                )
            consts.append(item)
        if consts:
            items.append("\n".join(consts))
        for info in self.module.classes.values():
            if wanted(id(info.node)):
                items.append(self.emit_class(info))
        for sig in self.order:
            if sig.owner is None and wanted(self.origin.get(id(sig.node), id(sig.node))):
                items.append(self.emit_function(sig, False))
        items.extend(runtime.expand(self.module.helpers))
        text = "\n\n".join(items) + "\n"
        uses = [f"use std::collections::{name};" for name in ("HashMap", "HashSet") if name in text]
        if uses:
            text = "\n".join(uses) + "\n\n" + text
        return text


def _doc_lines(node: ast.FunctionDef | ast.ClassDef) -> list[str]:
    """The docstring as ``///`` comments."""
    doc = ast.get_docstring(node)
    if not doc:
        return []
    return [f"/// {line}".rstrip() for line in inspect.cleandoc(doc).splitlines()]


def _is_docstring_like(stmt: ast.stmt) -> bool:
    """A bare literal statement (module docstring or comment string)."""
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)


def _names_self_type(annotation: ast.expr) -> bool:
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        return annotation.value.strip() == "Self"
    return (isinstance(annotation, ast.Name) and annotation.id == "Self") or (
        isinstance(annotation, ast.Attribute) and annotation.attr == "Self"
    )


def _is_memo_decorator(node: ast.expr) -> bool:
    target = node.func if isinstance(node, ast.Call) else node
    name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
    return name in ("cache", "lru_cache")


def _is_dunder_all(stmt: ast.stmt) -> bool:
    return (
        isinstance(stmt, ast.Assign | ast.AnnAssign | ast.AugAssign)
        and isinstance(target := (stmt.targets[0] if isinstance(stmt, ast.Assign) else stmt.target), ast.Name)
        and target.id == "__all__"
    )


def visibility(name: str) -> str:
    """Python's public names (dunders like `__version__` included) are `pub`; private ones (`_x`) are
    `pub(crate)`, so sibling modules that import them still can, as Python allows, while the crate's
    API shows only the public ones."""
    private = name.startswith("_") and not (name.startswith("__") and name.endswith("__"))
    return "pub(crate) " if private else "pub "


def _is_main_guard(stmt: ast.stmt) -> bool:
    """``if __name__ == "__main__":`` (a script entry point, not part of the library)."""
    return (
        isinstance(stmt, ast.If)
        and isinstance(stmt.test, ast.Compare)
        and isinstance(stmt.test.left, ast.Name)
        and stmt.test.left.id == "__name__"
    )


def format_rust(text: str) -> str:
    """Run rustfmt when it is installed; the unformatted text is valid Rust either way."""
    exe = shutil.which("rustfmt")
    if exe is None:
        return text
    try:
        done = subprocess.run(
            [exe, "--edition", "2021"], input=text, capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return text
    return done.stdout if done.returncode == 0 and done.stdout else text


def _partial_ord(info: ClassInfo) -> list[str]:
    """`PartialOrd` from `__lt__`: Python's sort, min and max use `<` alone, and so does this order
    (`sort_by(partial_cmp)`)."""
    if "__lt__" not in info.methods:
        return []
    receiver = f"self{_copy_if_writes(info, '__lt__')}"
    other = f"other{_copy_if_writes(info, '__lt__')}"
    return [
        "",
        f"impl PartialOrd for {info.name} {{",
        "    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {",
        f"        Some(if {receiver}.__lt__(other.clone()) {{",
        "            std::cmp::Ordering::Less",
        f"        }} else if {other}.__lt__(self.clone()) {{",
        "            std::cmp::Ordering::Greater",
        "        } else {",
        "            std::cmp::Ordering::Equal",
        "        })",
        "    }",
        "}",
    ]


def _copy_if_writes(info: ClassInfo, method: str) -> str:
    """`.clone()` when the dunder behind a trait writes to its object (a cache): the trait's
    methods take `&self` (docs/translator.md: what it writes is not kept)."""
    sig = info.methods.get(method)
    return ".clone()" if sig is not None and sig.self_mut else ""


def top_level_name(stmt: ast.stmt) -> str | None:
    """The name a top-level definition binds (the first target of an assignment)."""
    if isinstance(stmt, ast.FunctionDef | ast.ClassDef):
        return stmt.name
    targets = (
        stmt.targets
        if isinstance(stmt, ast.Assign)
        else [stmt.target]
        if isinstance(stmt, ast.AnnAssign)
        else []
    )
    names = [t.id for t in targets if isinstance(t, ast.Name)]
    return names[0] if names else None


def translate_tree(tree: ast.Module, fmt: bool = True) -> str:
    """Collect, infer, emit, format (`sys.version_info` checks decided first); a class method that
    does not translate is left out of its class (classes.without_failing_members)."""
    fold_version_checks(tree)

    def attempt(work: ast.Module) -> str:
        mt = ModuleTranslator(work)
        mt.collect()
        mt.infer()
        return mt.emit()

    text = without_failing_members(tree, attempt)
    return format_rust(text) if fmt else text


__all__ = ["ModuleTranslator", "format_rust", "register_import", "translate_tree"]
