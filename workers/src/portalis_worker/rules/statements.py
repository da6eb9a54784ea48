"""Python statements to Rust statements, and one function's local-variable inference.

Scoping: Python locals are function-wide, Rust's are block-scoped. A local first bound by a
top-level statement of the function is declared there (``let``); one first bound inside a
block is declared at the top of the function with ``Default::default()`` so every later use
compiles. A ``for`` target used only inside its loop stays the Rust loop variable.
"""

from __future__ import annotations

import ast
import contextlib
from collections.abc import Iterator

from portalis_worker.rules.context import PREC_ATOM, FuncSig, ModuleContext, Val, ident
from portalis_worker.rules.dataclass_model import SYNTHESIZED
from portalis_worker.rules.exceptions import EXC, translate_try
from portalis_worker.rules.expressions import ExpressionTranslator
from portalis_worker.rules.methods import mark_mutated
from portalis_worker.rules.types import (
    FLOAT,
    INT,
    NEVER,
    NONE,
    STR,
    UNKNOWN,
    Ty,
    TypeClash,
    dict_of,
    has_unknown,
    is_immutable,
    list_of,
    unify,
)

MAX_INFERENCE_ROUNDS = 8


def walk_statements(stmts: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Every statement in ``stmts``, depth first, without entering nested defs or classes."""
    for stmt in stmts:
        yield stmt
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        for field in ("body", "orelse", "finalbody"):
            yield from walk_statements(getattr(stmt, field, []))
        for handler in getattr(stmt, "handlers", []):
            yield from walk_statements(handler.body)


def target_names(target: ast.expr) -> list[str]:
    """Names bound by an assignment or loop target."""
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, ast.Tuple | ast.List):
        return [n for t in target.elts for n in target_names(t)]
    if isinstance(target, ast.Starred):
        return target_names(target.value)
    return []


def _walrus_names(body: list[ast.stmt]) -> list[str]:
    """Names bound by assignment expressions (``:=``) in the statements' own expressions."""
    names: list[str] = []
    for stmt in walk_statements(body):
        for field, value in ast.iter_fields(stmt):
            if field in ("body", "orelse", "finalbody", "handlers"):
                continue
            for part in value if isinstance(value, list) else [value]:
                if isinstance(part, ast.expr):
                    names.extend(
                        n.target.id
                        for n in ast.walk(part)
                        if isinstance(n, ast.NamedExpr) and isinstance(n.target, ast.Name)
                    )
    return names


def bound_by(stmt: ast.stmt) -> list[str]:
    """Names a single statement binds (not looking into its sub-blocks)."""
    if isinstance(stmt, ast.Assign):
        return [n for t in stmt.targets for n in target_names(t)]
    if isinstance(stmt, ast.AnnAssign | ast.AugAssign):
        return target_names(stmt.target)
    if isinstance(stmt, ast.For):
        return target_names(stmt.target)
    return []


def always_returns(stmts: list[ast.stmt]) -> bool:
    """Whether control cannot fall off the end of ``stmts``."""
    if not stmts:
        return False
    last = stmts[-1]
    if isinstance(last, ast.Return | ast.Raise):
        return True
    if isinstance(last, ast.If):
        return always_returns(last.body) and always_returns(last.orelse)
    if isinstance(last, ast.Try):
        completes = always_returns(last.body) or always_returns(last.orelse)
        handled = all(always_returns(h.body) for h in last.handlers)
        return always_returns(last.finalbody) or (completes and handled)
    if isinstance(last, ast.While) and isinstance(last.test, ast.Constant) and last.test.value is True:
        return not any(isinstance(s, ast.Break) for s in loop_level(last.body))
    return False


def loop_level(stmts: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Statements of a loop body that belong to this loop (not to nested loops)."""
    for stmt in stmts:
        yield stmt
        if isinstance(stmt, ast.For | ast.While | ast.FunctionDef | ast.ClassDef):
            continue
        for field in ("body", "orelse", "finalbody"):
            yield from loop_level(getattr(stmt, field, []))
        for handler in getattr(stmt, "handlers", []):
            yield from loop_level(handler.body)


def _loads(node: ast.AST) -> Iterator[str]:
    """Names read in an expression or statement header (not inside nested defs)."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load):
            yield sub.id


class FunctionTranslator(ExpressionTranslator):
    """Translates one function (or method) body; run once to infer, once more to emit."""

    def __init__(
        self, module: ModuleContext, sig: FuncSig, inferring: bool, self_ty: Ty | None = None
    ) -> None:
        super().__init__(module, sig, inferring)
        self.fsig = sig
        self.self_ty = self_ty
        self.lines: list[str] = []
        self.depth = 1
        self.declared: set[str] = set()
        self.loop_labels: list[str | None] = []
        self.try_depth = 0
        """How many `try` bodies (Rust closures) enclose the statement being translated."""
        self.handling: list[str] = []
        """The Rust variable holding the exception of each enclosing `except` clause."""
        self.ret_seen: Ty = UNKNOWN
        self.has_value_return = False
        self.params = {name for name, _ in sig.params}
        body = sig.node.body
        self.body = body[1:] if body and _is_docstring(body[0]) else body
        self.loop_local, self.hoisted = self._scopes()

    def self_class(self) -> str | None:
        return self.self_ty.name if self.self_ty is not None and self.self_ty.kind == "class" else None

    # ----------------------------------------------------------------- analysis

    def _scopes(self) -> tuple[set[str], set[str]]:
        """Which names are loop-local and which must be declared at the top of the function."""
        for_bound: set[str] = set()
        other_bound: set[str] = set()
        for stmt in walk_statements(self.body):
            names = bound_by(stmt)
            (for_bound if isinstance(stmt, ast.For) else other_bound).update(names)
        outside: set[str] = set()
        self._outside_loads(self.body, frozenset(), outside)
        loop_local = for_bound - other_bound - outside - self.params
        seen = set(self.params)
        hoisted: set[str] = set(_walrus_names(self.body)) - self.params
        for stmt in self.body:
            if isinstance(stmt, ast.Assign | ast.AnnAssign):
                seen.update(bound_by(stmt))
                continue
            for sub in walk_statements([stmt]):
                for name in bound_by(sub):
                    if name not in seen and name not in loop_local:
                        hoisted.add(name)
                    seen.add(name)
        hoisted.discard("_")  # a discarded value (`a, _, b = ...`): never a variable
        return loop_local, hoisted

    def _outside_loads(self, stmts: list[ast.stmt], active: frozenset[str], out: set[str]) -> None:
        """Collect names read where no enclosing ``for`` binds them."""
        for stmt in stmts:
            if isinstance(stmt, ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef):
                continue
            if isinstance(stmt, ast.For):
                out.update(n for n in _loads(stmt.iter) if n not in active)
                inner = active | frozenset(target_names(stmt.target))
                self._outside_loads(stmt.body, inner, out)
                self._outside_loads(stmt.orelse, active, out)
                continue
            headers: list[ast.AST] = []
            for field, value in ast.iter_fields(stmt):
                if field in ("body", "orelse", "finalbody", "handlers"):
                    continue
                if isinstance(value, ast.AST):
                    headers.append(value)
                elif isinstance(value, list):
                    headers.extend(v for v in value if isinstance(v, ast.AST))
            for h in headers:
                out.update(n for n in _loads(h) if n not in active)
            for field in ("body", "orelse", "finalbody"):
                self._outside_loads(getattr(stmt, field, []), active, out)
            for handler in getattr(stmt, "handlers", []):
                self._outside_loads(handler.body, active, out)

    # ----------------------------------------------------------------- output

    def emit(self, line: str) -> None:
        """Append one line at the current depth."""
        self.lines.append("    " * self.depth + line)

    def mut(self, name: str) -> str:
        """A placeholder resolved to ``mut `` once we know whether ``name`` is ever mutated."""
        return f"\x00{name}\x00"

    def resolve_mut(self, text: str) -> str:
        """Replace the ``mut`` placeholders."""
        parts = text.split("\x00")
        for i in range(1, len(parts), 2):
            parts[i] = "mut " if parts[i] in self.mutated else ""
        return "".join(parts)

    # ----------------------------------------------------------------- driver

    def run(self) -> None:
        """Translate the body once (inference or emit mode)."""
        self.lines = []
        self.declared = set(self.params)
        self.ret_seen = UNKNOWN
        self.has_value_return = False
        if not self.inferring:
            for name in sorted(self.hoisted):
                ty = self.locals.get(name, UNKNOWN)
                if has_unknown(ty):
                    self.fail(f"could not infer the type of {name}", self.fsig.node)
                self.emit(f"let mut {ident(name)}: {self.rtype(ty, self.fsig.node)} = Default::default();")
                self.declared.add(name)
        else:
            self.declared.update(self.hoisted)
        self.block(self.body, top=True)
        if not self.fsig.ret_annotated and self.inferring:
            ret = self.ret_seen if self.has_value_return else NONE
            if self.has_value_return and not always_returns(self.body):
                ret = self.unify_at(ret, NONE, self.fsig.node)
            if ret != self.fsig.ret:
                self.fsig.ret = ret
                self.module.changed = True

    def infer(self) -> None:
        """Iterate the body until local types stop changing."""
        self.inferring = True
        for _ in range(MAX_INFERENCE_ROUNDS):
            before = (dict(self.locals), self.fsig.ret)
            self.mutated = set()
            self.run()
            if (dict(self.locals), self.fsig.ret) == before:
                break

    def body_lines(self) -> list[str]:
        """Emit mode: the Rust lines of the body, with ``mut`` resolved."""
        self.inferring = False
        self.mutated = set(self.hoisted)
        self.run()
        if self.fsig.ret != NONE and not always_returns(self.body):
            if self.fsig.ret.kind == "option":
                self.emit("None")
            else:
                self.emit(f'panic!("{self.fsig.name}() ended without returning a value")')
        return [self.resolve_mut(line) for line in self.lines]

    # ----------------------------------------------------------------- blocks

    def block(self, stmts: list[ast.stmt], top: bool = False) -> None:
        """Translate statements; a final ``return x`` at function level becomes a tail expression."""
        pushed = 0
        try:
            for i, stmt in enumerate(stmts):
                last = top and i == len(stmts) - 1
                if (
                    last
                    and isinstance(stmt, ast.Return)
                    and stmt.value is not None
                    and not _not_implemented(stmt)
                ):
                    code = self.return_value(stmt)
                    self.emit(code)
                    continue
                converted = self._conversion(stmt)
                if converted is not None:
                    name, value, ty = converted
                    self.emit(f"let {ident(name)}: {self.rtype(ty, stmt)} = {value};")
                    self.scopes.append({name: ty})
                    pushed += 1
                    continue
                self.stmt(stmt)
                narrowed = self._narrowed_after(stmt)
                if narrowed is not None:
                    name, value, ty = narrowed
                    self.emit(f"let {ident(name)} = {value};")
                    self.scopes.append({name: ty})
                    pushed += 1
        finally:
            del self.scopes[len(self.scopes) - pushed :]

    def _conversion(self, stmt: ast.stmt) -> tuple[str, str, Ty] | None:
        """`if isinstance(x, T): x = f(x)` (or `if not isinstance(x, T): x = T(x)`) on a union `x`:
        the idiom that normalises a parameter. `x` is rebound to a `match` whose converting arm
        computes the new value and whose other arms keep their member; after it, `x` has the type
        the arms agree on (one type, or the union again). (name, the match's code, its type)."""
        if not (
            isinstance(stmt, ast.If)
            and not stmt.orelse
            and len(stmt.body) == 1
            and isinstance(assign := stmt.body[0], ast.Assign)
            and len(assign.targets) == 1
            and isinstance(assign.targets[0], ast.Name)
        ):
            return None
        test = stmt.test
        operand = test.operand if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not) else None
        negated = operand is not None
        found = self.narrowing(operand if operand is not None else test)
        declared = self.lookup(assign.targets[0].id)
        if found is None or found[0] != assign.targets[0].id or declared is None or declared.kind != "union":
            return None
        name, union, k = found
        two = len(union.args) == 2
        if negated:
            # The converting arm holds the other members (the other one, with two); member k is kept.
            kept: list[tuple[str, Ty]] = [(self.member_pattern(name, union, k, "v"), union.args[k])]
            converting = self.member_pattern(name, union, 1 - k, ident(name)) if two else "_"
            seen = union.args[1 - k] if two else union
        else:
            kept = [(self.member_pattern(name, union, i, "v"), t) for i, t in enumerate(union.args) if i != k]
            converting = self.member_pattern(name, union, k, ident(name))
            seen = union.args[k]
        self.scopes.append({name: seen})
        try:
            val = self.expr(assign.value)
        finally:
            self.scopes.pop()
        if self.vague(val.ty):
            return name, "unreachable!()", declared
        results = {val.ty, *(t for _, t in kept)}
        if len(results) == 1:
            ty = val.ty
        elif all(t in union.args for t in results):
            ty = union
        else:
            self.fail(f"assignment to {name} of a {val.ty} where isinstance() narrowed it", stmt)
        value = self.coerce(val, ty, stmt)
        arms = [f"{pattern} => {self.coerce(Val('v', t, 'temp'), ty, stmt)}" for pattern, t in kept]
        arms.append(f"{converting} => {{ {value} }}")
        return name, f"match {ident(name)}.clone() {{ {', '.join(arms)} }}", ty

    def _narrowed_after(self, stmt: ast.stmt) -> tuple[str, str, Ty] | None:
        """`if not isinstance(x, T): <leaves>`: after it, `x` holds a T (when the union has two
        members, the other one when the test is positive); `if x is None: <leaves>` on an Optional
        union: after it, `x` holds the union. (name, its narrowed value's code, its type)."""
        if not isinstance(stmt, ast.If) or stmt.orelse or not always_returns(stmt.body):
            return None
        test = stmt.test
        none_tested = _is_none_test(test)
        if none_tested is not None:
            declared = self.lookup(none_tested)
            if declared is not None and declared.kind == "option" and declared.args[0].kind == "union":
                return none_tested, f"{ident(none_tested)}.clone().unwrap()", declared.args[0]
            return None
        if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            found = self.narrowing(test.operand)
        else:
            found = self.narrowing(test)
            found = (found[0], found[1], 1 - found[2]) if found is not None and self.two_way(found) else None
        if found is None:
            return None
        name, union, k = found
        pattern = self.member_pattern(name, union, k, "v")
        return name, f"match {ident(name)}.clone() {{ {pattern} => v, _ => unreachable!() }}", union.args[k]

    def nested(self, stmts: list[ast.stmt]) -> None:
        """A ``{ ... }`` body one level deeper."""
        self.depth += 1
        try:
            self.block(stmts)
        finally:
            self.depth -= 1

    def stmt(self, node: ast.stmt) -> None:
        """Dispatch one statement."""
        method = getattr(self, f"stmt_{type(node).__name__}", None)
        if method is None:
            names = {
                "TryStar": "try/except*",
                "With": "with",
                "AsyncWith": "async with",
                "AsyncFor": "async for",
                "Global": "global",
                "Nonlocal": "nonlocal",
                "Match": "match",
                "ClassDef": "nested class",
                "AsyncFunctionDef": "async def",
            }
            self.fail(names.get(type(node).__name__, type(node).__name__), node)
        method(node)

    # ----------------------------------------------------------------- binding

    def bind(self, name: str, val: Val, node: ast.AST, declared_ty: Ty | None = None) -> None:
        """Assign ``val`` to local ``name``: learn its type when inferring, ``let`` on first binding."""
        if name == "_":
            self.emit(f"let _ = {self.owned(val)};")
            return
        if any(name in scope for scope in self.scopes):
            self.fail(f"assignment to {name} where isinstance() narrowed it", node)
        if self.inferring:
            current = self.locals.get(name, UNKNOWN)
            if declared_ty is not None:
                self.locals[name] = declared_ty
            else:
                try:
                    self.locals[name] = unify(current, val.ty)
                except TypeClash:
                    self.locals[name] = current
            self.declared.add(name)
            return
        ty = self.locals.get(name, val.ty)
        if has_unknown(ty):
            self.fail(f"could not infer the type of {name}", node)
        code = self.coerce(val, ty, node)
        if name in self.declared:
            self.mutated.add(name)
            self.emit(f"{ident(name)} = {code};")
        else:
            self.declared.add(name)
            self.emit(f"let {self.mut(name)}{ident(name)}: {self.rtype(ty, node)} = {code};")

    def expr_NamedExpr(self, node: ast.NamedExpr, expected: Ty | None) -> Val:
        """``(x := value)``: ``x`` is declared at the top of the function; the expression assigns
        it and has its value."""
        name = node.target.id
        if self.comprehensions:
            self.fail("assignment expression (:=) in a comprehension", node)
        val = self.expr(node.value, self.locals.get(name))
        if any(name in scope for scope in self.scopes):
            self.fail(f"assignment to {name} where isinstance() narrowed it", node)
        if self.inferring:
            with contextlib.suppress(TypeClash):
                self.locals[name] = unify(self.locals.get(name, UNKNOWN), val.ty)
            return Val(ident(name), self.locals[name], "place")
        ty = self.locals.get(name, val.ty)
        self.mutated.add(name)
        place = Val(ident(name), ty, "place")
        return Val(f"{{ {ident(name)} = {self.coerce(val, ty, node)}; {self.owned(place)} }}", ty)

    def assign(self, target: ast.expr, val: Val, node: ast.AST) -> None:
        """Assign to a name, tuple of targets, element, or field."""
        if isinstance(target, ast.Name):
            self.bind(target.id, val, node)
            return
        if isinstance(target, ast.Tuple | ast.List):
            self.unpack(target, val, node)
            return
        if isinstance(target, ast.Subscript):
            self.store_item(target, val, node)
            return
        if isinstance(target, ast.Attribute):
            self.store_attr(target, val, node)
            return
        self.fail("assignment target", node)

    def unpack(self, target: ast.Tuple | ast.List, val: Val, node: ast.AST) -> None:
        """``a, b = value``: the value is evaluated once, into a temporary, then each part assigned."""
        if any(isinstance(e, ast.Starred) for e in target.elts):
            self.fail("starred assignment", node)
        n = len(target.elts)
        kind = val.ty.kind
        if kind == "unknown":
            for t in target.elts:
                self.assign(t, self.unknown(), node)
            return
        tmp = self.fresh("tmp")
        if kind == "tuple":
            if len(val.ty.args) != n:
                self.fail(f"unpacking {val.ty} into {n} names", node)
            self.emit(f"let {tmp} = {self.owned(val)};")
            for i, (t, ty) in enumerate(zip(target.elts, val.ty.args, strict=True)):
                self.assign(t, Val(f"{tmp}.{i}", ty, "place"), node)
            return
        if kind == "list":
            self.emit(f"let {tmp} = {self.owned(val)};")
            self.emit(
                f"if {tmp}.len() != {n} {{ "
                f'panic!("ValueError: expected {n} values to unpack, got {{}}", {tmp}.len()); }}'
            )
            for i, t in enumerate(target.elts):
                self.assign(t, Val(f"{tmp}[{i}]", val.ty.args[0], "place"), node)
            return
        self.fail(f"unpacking {val.ty}", node)

    def store_item(self, target: ast.Subscript, val: Val, node: ast.AST) -> None:
        """``seq[i] = v`` / ``d[k] = v``."""
        if isinstance(target.slice, ast.Slice):
            self.fail("slice assignment", node)
        mark_mutated(self, target)
        base = self.expr(target.value)
        if base.kind != "place" and not self.vague(base.ty):
            self.fail("item assignment on a temporary", node)
        if base.ty.kind == "dict":
            key = self.expr(target.slice, base.ty.args[0])
            if self.inferring and isinstance(target.value, ast.Name):
                current = self.locals.get(target.value.id)
                if current is not None and has_unknown(current):
                    with contextlib.suppress(TypeClash):
                        self.locals[target.value.id] = unify(current, dict_of(key.ty, val.ty))
                return
            k = self.coerce(key, base.ty.args[0], node)
            v = self.coerce(val, base.ty.args[1], node)
            dict_setup: list[str] = []
            dict_place = self.mutable_place(target.value, dict_setup)
            for line in dict_setup:
                self.emit(line)
            self.emit(f"{dict_place}.insert({k}, {v});")
            return
        if self.vague(base.ty):
            return
        if base.ty.kind != "list":
            self.fail(f"item assignment on {base.ty}", node)
        value = self.coerce(val, base.ty.args[0], node)
        setup: list[str] = []
        place = self.mutable_place(target, setup)
        if setup:
            tmp = self.fresh("value")
            self.emit(f"let {tmp} = {value};")
            value = tmp
        for line in setup:
            self.emit(line)
        self.emit(f"{place} = {value};")

    def store_attr(self, target: ast.Attribute, val: Val, node: ast.AST) -> None:
        """``obj.field = v``; in ``__init__`` this also declares the field's type; assigning a
        property with a setter calls it."""
        mark_mutated(self, target)
        owner = self.expr(target.value)
        info = self.module.classes.get(owner.ty.name) if owner.ty.kind == "class" else None
        if (
            info is not None
            and info.dataclass is not None
            and info.dataclass.frozen
            and target.attr in info.fields
            and not getattr(self.fsig.node, SYNTHESIZED, False)
        ):
            frozen = f"frozen dataclass {info.name} (Python raises FrozenInstanceError)"
            self.fail(f"assignment to field {target.attr} of {frozen}", node)
        if info is not None and target.attr in info.setters:
            sig = info.methods[info.setters[target.attr]]
            (_, pty), *_ = sig.params
            code = self.coerce(val, pty, node) if not self.vague(val.ty, pty) else val.code
            self.emit(f"{self.wrap(owner, PREC_ATOM)}.{info.setters[target.attr]}({code});")
            return
        if (
            self.inferring
            and isinstance(target.value, ast.Name)
            and target.value.id == "self"
            and self.self_ty is not None
            and self.fsig.name in ("__init__", "_super___init__")  # the base's, for a subclass
        ):
            info = self.module.classes[self.self_ty.name]
            current = info.fields.get(target.attr, UNKNOWN)
            try:
                new = unify(current, val.ty)
            except TypeClash:
                new = current
            if new != current:
                info.fields[target.attr] = new
                self.module.changed = True
            return
        place = self.expr(target)
        if self.vague(place.ty):
            return
        self.emit(f"{place.code} = {self.coerce(val, place.ty, node)};")

    # ----------------------------------------------------------------- simple statements

    def stmt_Assign(self, node: ast.Assign) -> None:
        """``x = v``; chained ``a = b = v`` evaluates ``v`` once and assigns it left to right."""
        if len(node.targets) != 1:
            val = self.expr(node.value)
            if not self.vague(val.ty) and not is_immutable(val.ty):
                # Python binds every target to one object: a copy each would not see the others' changes.
                self.fail(f"chained assignment of a mutable {val.ty}", node)
            held = self.fresh("value")
            if not self.inferring:
                self.emit(f"let {held} = {self.owned(val)};")
            for target in node.targets:
                self.assign(target, Val(held, val.ty, "place"), node)
            return
        target = node.targets[0]
        expected = None
        if isinstance(target, ast.Name):
            known = self.locals.get(target.id)
            expected = known if known is not None and not has_unknown(known) else None
        val = self.expr(node.value, expected)
        self.assign(target, val, node)

    def stmt_AnnAssign(self, node: ast.AnnAssign) -> None:
        """``x: T = v`` fixes the variable's type from the annotation."""
        from portalis_worker.rules.types import annotation_to_ty

        ty = annotation_to_ty(node.annotation, self.module.class_names())
        target = node.target
        if (
            isinstance(target, ast.Attribute)
            and isinstance(target.value, ast.Name)
            and target.value.id == "self"
            and self.self_ty is not None
            and node.value is not None
        ):
            info = self.module.classes[self.self_ty.name]
            if self.inferring and info.fields.get(target.attr) != ty:
                info.fields[target.attr] = ty
                self.module.changed = True
            self.store_attr(target, self.expr(node.value, ty), node)
            return
        if not isinstance(node.target, ast.Name):
            self.fail("annotated assignment to a non-name", node)
        if node.value is None:
            self.locals[node.target.id] = ty
            return
        val = self.expr(node.value, ty)
        if self.inferring:
            self.locals[node.target.id] = ty
        self.bind(node.target.id, val, node, declared_ty=ty)

    def stmt_AugAssign(self, node: ast.AugAssign) -> None:
        """``x += v``: in place where Rust has the operator with Python's meaning, else ``x = x op v``."""
        target = node.target
        if isinstance(target, ast.Name):
            self.mutated.add(target.id)
            current = self.expr(target)
            if self.vague(current.ty):
                val = self.expr(node.value)
                self.bind(target.id, val if not isinstance(node.op, ast.Div) else Val("_", FLOAT), node)
                return
            op = type(node.op)
            if current.ty == STR and op is ast.Add:
                val = self.expr(node.value)
                if val.ty != STR:
                    self.fail(f"str += {val.ty}", node)
                if not self.inferring:
                    self.emit(f"{ident(target.id)}.push_str({self.as_str(val)});")
                return
            if current.ty.kind == "list" and op is ast.Add:
                code, elem = self.iterate(node.value)
                if self.inferring:
                    self.bind(target.id, Val("_", list_of(elem)), node)
                    return
                if elem != current.ty.args[0]:
                    self.fail(f"extending {current.ty} with {elem}", node)
                self.emit(f"{ident(target.id)}.extend({code});")
                return
            if current.ty.kind in ("int", "float") and op in (ast.Add, ast.Sub, ast.Mult):
                val = self.expr(node.value)
                if val.ty == FLOAT and current.ty == INT:
                    if self.inferring:
                        self.bind(target.id, val, node)
                        return
                    self.fail("int variable updated with a float", node)
                if self.vague(val.ty) or self.inferring:
                    return
                sym = {ast.Add: "+=", ast.Sub: "-=", ast.Mult: "*="}[op]
                self.emit(f"{ident(target.id)} {sym} {self.coerce(val, current.ty, node)};")
                return
        combined = ast.copy_location(ast.BinOp(left=_as_load(target), op=node.op, right=node.value), node)
        val = self.expr(combined)
        self.assign(target, val, node)

    def stmt_Expr(self, node: ast.Expr) -> None:
        """Expression statements (calls); stray string literals are comments in Python."""
        if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            return
        val = self.expr(node.value)
        if self.inferring:
            return
        if val.ty in (NONE, UNKNOWN) or isinstance(node.value, ast.Call):
            code = val.code
            if code.startswith("{") and code.endswith("}"):
                self.emit(code)
            else:
                self.emit(f"{code};")
            return
        self.emit(f"let _ = {val.code};")

    def stmt_Pass(self, node: ast.Pass) -> None:
        """Nothing to do."""

    def stmt_Break(self, node: ast.Break) -> None:
        """``break`` (to the enclosing labelled block when the loop has an ``else``)."""
        label = self.loop_labels[-1] if self.loop_labels else None
        self.emit(f"break {label};" if label else "break;")

    def stmt_Continue(self, node: ast.Continue) -> None:
        """``continue``."""
        self.emit("continue;")

    def return_value(self, node: ast.Return) -> str:
        """The returned value converted to the function's return type."""
        ret = self.fsig.ret
        if node.value is None:
            val = Val("None", NONE)
        else:
            val = self.expr(node.value, ret if not has_unknown(ret) else None)
        if self.inferring:
            if node.value is not None:
                self.has_value_return = True
                self.ret_seen = self.unify_at(self.ret_seen, val.ty, node)
                if isinstance(node.value, ast.Name) and self.fsig.ret_annotated:
                    current = self.locals.get(node.value.id)
                    if current is not None and has_unknown(current):
                        with contextlib.suppress(TypeClash):
                            self.locals[node.value.id] = unify(current, ret)
            return "_"
        if ret == NONE:
            if node.value is not None and val.ty != NONE:
                self.fail("returning a value from a function without a return type", node)
            return ""
        return self.coerce(val, ret, node)

    def stmt_Return(self, node: ast.Return) -> None:
        """``return v``. ``return NotImplemented`` (a comparison with another type) cannot happen:
        comparisons are between values of one static type."""
        if _not_implemented(node):
            self.emit('unreachable!("NotImplemented: comparison with another type");')
            return
        code = self.return_value(node)
        if not self.inferring:
            if self.fsig.name == "__init__" and self.self_code == "this":
                self.emit("return this;")  # an early return from a constructor
            elif self.try_depth:  # inside a `try` body's closure: the value leaves it as Some
                self.emit(f"return Some({code or '()'});")
            else:
                self.emit(f"return {code};" if code else "return;")

    def stmt_Assert(self, node: ast.Assert) -> None:
        """``assert c, msg`` -> ``assert!`` (AssertionError is a panic)."""
        test = self.cond(node.test)
        if node.msg is None:
            self.emit(f"assert!({test});")
        else:
            msg = self.expr(node.msg)
            self.emit(f'assert!({test}, "{{}}", {self.static_str(msg, node)});')

    def stmt_Raise(self, node: ast.Raise) -> None:
        """Exceptions are panics: ``raise ValueError(msg)`` -> ``panic!("ValueError: {}", msg)``."""
        exc = node.exc
        if exc is None:
            if not self.handling:
                self.fail("bare raise outside an except clause", node)
            self.emit(f"{EXC}::reraise({self.handling[-1]});")
            return
        if isinstance(exc, ast.Name):
            self.emit(f'panic!("{exc.id}");')
            return
        if isinstance(exc, ast.Call) and self._never_returns(exc):
            self.emit(f"{self.expr(exc).code};")  # `raise self.fail(...)`: the call raises itself
            return
        info = (
            self.module.classes.get(exc.func.id)
            if isinstance(exc, ast.Call) and isinstance(exc.func, ast.Name)
            else None
        )
        if info is not None and info.is_exception:
            error = self.expr(exc)  # constructed as Python would, so its arguments are evaluated
            self.emit(f'panic!("{info.name}: {{}}", {error.code});')
            return
        if isinstance(exc, ast.Call) and isinstance(exc.func, ast.Name) and not exc.keywords:
            if not exc.args:
                self.emit(f'panic!("{exc.func.id}");')
                return
            if len(exc.args) == 1:
                msg = self.unwrap_option(self.expr(exc.args[0]))
                text = msg.code if msg.ty.kind in ("str", "int") else self.static_str(msg, node)
                if exc.func.id == "KeyError" and msg.ty.kind == "str":  # str(KeyError(k)) is repr(k)
                    text = f"portalis_py::text::repr(&{self.wrap(msg, PREC_ATOM)})"
                self.emit(f'panic!("{exc.func.id}: {{}}", {text});')
                return
        self.fail("raise of this form", node)

    def _never_returns(self, call: ast.Call) -> bool:
        """A call to a function or method annotated `NoReturn`/`Never` (it raises)."""
        func = call.func
        if isinstance(func, ast.Name):
            sig = self.module.functions.get(func.id)
            return sig is not None and sig.ret == NEVER
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "self":
            owner = self.fsig.owner
            info = self.module.classes.get(owner) if owner is not None else None
            method = info.methods.get(func.attr) if info is not None else None
            return method is not None and method.ret == NEVER
        return False

    def stmt_Try(self, node: ast.Try) -> None:
        """`try`/`except`/`else`/`finally` (rules/exceptions.py)."""
        translate_try(self, node)

    def stmt_FunctionDef(self, node: ast.FunctionDef) -> None:
        """Nested functions were lifted to module level before the body is translated."""

    def stmt_Import(self, node: ast.Import) -> None:
        """Imports inside functions register modules like top-level ones."""
        from portalis_worker.rules.emitter import register_import

        register_import(self.module, node)

    def stmt_ImportFrom(self, node: ast.ImportFrom) -> None:
        """``from typing import ...`` inside a function."""
        from portalis_worker.rules.emitter import register_import

        register_import(self.module, node)

    def stmt_Delete(self, node: ast.Delete) -> None:
        """``del d[k]`` and ``del xs[i]``."""
        for target in node.targets:
            if not isinstance(target, ast.Subscript) or isinstance(target.slice, ast.Slice):
                self.fail("del of this target", node)
            mark_mutated(self, target)
            base = self.expr(target.value)
            if self.vague(base.ty):
                continue
            if base.ty.kind == "dict":
                key = self.expr(target.slice, base.ty.args[0])
                k = key.code if key.kind == "strlit" else f"&{self.coerce(key, base.ty.args[0], node)}"
                self.emit(f'{self.wrap(base, PREC_ATOM)}.remove({k}).expect("KeyError");')
            elif base.ty.kind == "list":
                idx = self.coerce(self.expr(target.slice), INT, node)
                self.module.helpers.add("py_pop")
                self.emit(f"py_pop(&mut {self.wrap(base, PREC_ATOM)}, {idx});")
            else:
                self.fail(f"del on {base.ty}", node)

    # ----------------------------------------------------------------- compound statements

    def stmt_If(self, node: ast.If) -> None:
        """``if``/``elif``/``else`` chains; ``if isinstance(x, T):`` on a union narrows ``x``."""
        narrowing = self.branch_narrowing(node.test)
        if narrowing is not None:
            self._if_isinstance(node, *narrowing)
            return
        self.emit(f"if {self.cond(node.test)} {{")
        self.nested(node.body)
        orelse = node.orelse
        while len(orelse) == 1 and isinstance(orelse[0], ast.If):
            elif_node = orelse[0]
            self.emit(f"}} else if {self.cond(elif_node.test)} {{")
            self.nested(elif_node.body)
            orelse = elif_node.orelse
        if orelse:
            self.emit("} else {")
            self.nested(orelse)
        self.emit("}")

    def _if_isinstance(self, node: ast.If, name: str, union: Ty, k: int) -> None:
        """A `match` whose arm for member `k` sees `x` as that member (the other arm sees the
        other member when the union has two)."""
        two_way = self.two_way((name, union, k))
        self.emit(f"match {ident(name)}.clone() {{")
        self.depth += 1
        arms: list[tuple[str, list[ast.stmt], Ty | None]] = [
            (self.member_pattern(name, union, k, ident(name)), node.body, union.args[k])
        ]
        if two_way:
            other = 1 - k
            arms.append(
                (self.member_pattern(name, union, other, ident(name)), node.orelse, union.args[other])
            )
        else:
            arms.append(("_", node.orelse, None))
        for pattern, body, member in arms:
            self.emit(f"{pattern} => {{")
            if member is not None:
                self.scopes.append({name: member})
            try:
                self.nested(body)
            finally:
                if member is not None:
                    self.scopes.pop()
            self.emit("}")
        self.depth -= 1
        self.emit("}")

    def stmt_While(self, node: ast.While) -> None:
        """``while``; ``while True`` is ``loop``."""
        label = self._open_else(node)
        if isinstance(node.test, ast.Constant) and node.test.value is True:
            self.emit("loop {")
        else:
            self.emit(f"while {self.cond(node.test)} {{")
        self._loop_body(node.body, label)
        self._close_else(node, label)

    def stmt_For(self, node: ast.For) -> None:
        """``for`` over any supported iterable; a loop variable used after the loop is assigned each turn."""
        snapshot = self._mutated_in(node.iter, node.body)
        code, elem = self.iterate(node.iter, snapshot=snapshot)
        code = _strip_range_parens(code)
        names = target_names(node.target)
        label = self._open_else(node)
        if names and all(n in self.loop_local for n in names):
            pattern, bound = self.bind_target(node.target, elem, node)
            pattern = self._mut_pattern(node.target, pattern)
            self.emit(f"for {pattern} in {code} {{")
            self.scopes.append(bound)
            try:
                self._loop_body(node.body, label)
            finally:
                self.scopes.pop()
        else:
            item = self.fresh("item")
            self.emit(f"for {item} in {code} {{")
            self.depth += 1
            self.assign(node.target, Val(item, elem, "temp"), node)
            self.depth -= 1
            self._loop_body(node.body, label)
        self._close_else(node, label)

    def _mut_pattern(self, target: ast.expr, pattern: str) -> str:
        """Loop variables reassigned in the body need ``mut`` in the pattern."""
        if isinstance(target, ast.Name) and target.id != "_":
            return f"{self.mut(target.id)}{pattern}"
        if isinstance(target, ast.Tuple | ast.List):
            parts = [self._mut_pattern(t, self.bind_target(t, UNKNOWN, target)[0]) for t in target.elts]
            return f"({', '.join(parts)})"
        return pattern

    def _mutated_in(self, iter_node: ast.expr, body: list[ast.stmt]) -> bool:
        """Whether the iterated variable is changed in the loop body (then iterate over a copy)."""
        if not isinstance(iter_node, ast.Name):
            return False
        name = iter_node.id
        for stmt in walk_statements(body):
            if name in bound_by(stmt):
                return True
            for sub in ast.walk(stmt):
                if (
                    isinstance(sub, ast.Attribute)
                    and isinstance(sub.value, ast.Name)
                    and sub.value.id == name
                ):
                    return True
                if (
                    isinstance(sub, ast.Subscript)
                    and isinstance(sub.value, ast.Name)
                    and sub.value.id == name
                    and isinstance(sub.ctx, ast.Store | ast.Del)
                ):
                    return True
        return False

    def _open_else(self, node: ast.For | ast.While) -> str | None:
        """A loop with ``else`` runs inside a labelled block so ``break`` can skip the ``else``."""
        if not node.orelse:
            return None
        label = f"'{self.fresh('loop')}"
        self.emit(f"{label}: {{")
        self.depth += 1
        return label

    def _loop_body(self, body: list[ast.stmt], label: str | None) -> None:
        """The loop body with the right ``break`` target."""
        self.loop_labels.append(label)
        try:
            self.nested(body)
        finally:
            self.loop_labels.pop()
        self.emit("}")

    def _close_else(self, node: ast.For | ast.While, label: str | None) -> None:
        """The ``else`` part after the loop, then close the labelled block."""
        if label is None:
            return
        self.block(node.orelse)
        self.depth -= 1
        self.emit("}")


def _strip_range_parens(code: str) -> str:
    """``for i in (0..n)`` reads better (and warns less) as ``for i in 0..n``."""
    if not (code.startswith("(") and code.endswith(")")):
        return code
    depth = 0
    for i, ch in enumerate(code):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth == 0 and i != len(code) - 1:
            return code
    inner = code[1:-1]
    return inner if ".." in inner and not inner.startswith("{") else code


def _is_docstring(stmt: ast.stmt) -> bool:
    """A leading string literal statement."""
    return (
        isinstance(stmt, ast.Expr)
        and isinstance(stmt.value, ast.Constant)
        and isinstance(stmt.value.value, str)
    )


def _as_load(target: ast.expr) -> ast.expr:
    """A copy of an assignment target usable as an expression."""
    clone = ast.parse(ast.unparse(target), mode="eval").body
    ast.copy_location(clone, target)
    for sub in ast.walk(clone):
        ast.copy_location(sub, target)
    return clone


__all__ = ["FunctionTranslator", "always_returns", "walk_statements"]


def _is_none_test(test: ast.expr) -> str | None:
    """The local name in `x is None`, else None."""
    if (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and len(test.ops) == 1
        and isinstance(test.ops[0], ast.Is)
        and isinstance(test.comparators[0], ast.Constant)
        and test.comparators[0].value is None
    ):
        return test.left.id
    return None


def _not_implemented(node: ast.Return) -> bool:
    """`return NotImplemented`."""
    return isinstance(node.value, ast.Name) and node.value.id == "NotImplemented"
