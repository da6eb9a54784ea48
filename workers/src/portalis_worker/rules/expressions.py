"""Python expressions to Rust expressions, typed, with Python semantics where Rust differs.

The same code runs twice per function: first in *inference* mode, where unknown types flow through
silently while local variable types are collected, then in *emit* mode, where every type is known
and anything the rules cannot express raises ``Unsupported``.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from typing import NoReturn

from portalis_worker.rules import builtins, methods, regex
from portalis_worker.rules.context import (
    PREC_ADD,
    PREC_AND,
    PREC_ATOM,
    PREC_BITAND,
    PREC_BITOR,
    PREC_BITXOR,
    PREC_CAST,
    PREC_CMP,
    PREC_LOWEST,
    PREC_MUL,
    PREC_OR,
    PREC_SHIFT,
    PREC_UNARY,
    ClassInfo,
    FuncSig,
    ModuleContext,
    Val,
    ident,
)
from portalis_worker.rules.dataclass_model import GENERATED_REPR
from portalis_worker.rules.errors import Unsupported
from portalis_worker.rules.types import (
    BOOL,
    BYTES,
    FLOAT,
    INT,
    NONE,
    STR,
    UNION_VARIANTS,
    UNKNOWN,
    Ty,
    TypeClash,
    annotation_to_ty,
    class_ty,
    dict_of,
    has_unknown,
    is_copy,
    is_hashable,
    is_vtuple,
    list_of,
    option_of,
    rust_type,
    set_of,
    tuple_of,
    unify,
    union_member,
    union_path,
    vtuple_of,
)

ISIZE_MAX = 2**63 - 1
_NUMERIC_LITERAL = re.compile(r"-?\d+(\.\d+)?([eE][+-]?\d+)?")

_ARITH = {
    ast.Add: ("+", PREC_ADD),
    ast.Sub: ("-", PREC_ADD),
    ast.Mult: ("*", PREC_MUL),
    ast.BitAnd: ("&", PREC_BITAND),
    ast.BitOr: ("|", PREC_BITOR),
    ast.BitXor: ("^", PREC_BITXOR),
    ast.LShift: ("<<", PREC_SHIFT),
    ast.RShift: (">>", PREC_SHIFT),
}
_CMP = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}


def _root_name(node: ast.expr) -> str | None:
    """The variable at the root of `a.b[c].d`, if any."""
    while isinstance(node, ast.Attribute | ast.Subscript):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _element_of(expected: Ty | None) -> Ty | None:
    """The element type of an expected list or ``tuple[X, ...]``, Optional or not (None otherwise)."""
    if expected is not None and expected.kind == "option":
        expected = expected.args[0]
    if expected is not None and expected.kind == "list":
        return expected.args[0]
    return None


def rust_bytes_literal(value: bytes) -> str:
    """A Rust byte-string literal (``b"..."``) with the same bytes."""
    out = []
    for b in value:
        char = chr(b)
        if char in '"\\':
            out.append("\\" + char)
        elif 0x20 <= b < 0x7F:
            out.append(char)
        else:
            out.append(f"\\x{b:02x}")
    return 'b"' + "".join(out) + '"'


def rust_str_literal(text: str) -> str:
    """A Rust string literal with the same characters as ``text``."""
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 32 or ord(ch) == 127:
            out.append(f"\\u{{{ord(ch):x}}}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def float_literal(value: float) -> str:
    """A Rust f64 literal (always with a dot or exponent so it is not read as an integer)."""
    if value != value:
        return "f64::NAN"
    if value in (float("inf"), float("-inf")):
        return "f64::INFINITY" if value > 0 else "f64::NEG_INFINITY"
    text = repr(value)
    return text if any(c in text for c in ".eE") else text + ".0"


def _is_class_of_self(node: ast.expr) -> bool:
    """`self.__class__` or `type(self)`."""
    if isinstance(node, ast.Attribute) and node.attr == "__class__":
        return isinstance(node.value, ast.Name) and node.value.id == "self"
    return (
        isinstance(node, ast.Call)
        and getattr(node.func, "id", "") == "type"
        and len(node.args) == 1
        and isinstance(node.args[0], ast.Name)
        and node.args[0].id == "self"
    )


class ExpressionTranslator:
    """Typed translation of expressions inside one function body."""

    def __init__(self, module: ModuleContext, sig: FuncSig | None, inferring: bool) -> None:
        self.module = module
        self.sig = sig
        self.inferring = inferring
        self.locals: dict[str, Ty] = {}
        self.scopes: list[dict[str, Ty]] = []
        self.mutated: set[str] = set()
        self.self_code = "self"
        self.counter = 0
        self.comprehensions = 0
        """How many comprehensions enclose the expression being translated."""

    # ----------------------------------------------------------------- basics

    def self_class(self) -> str | None:
        """The class whose method is being translated (None outside methods)."""
        return None

    def fail(self, construct: str, node: ast.AST) -> NoReturn:
        """Raise ``Unsupported`` at ``node``'s line."""
        raise Unsupported(construct, getattr(node, "lineno", 0))

    def unknown(self) -> Val:
        """A placeholder value while inference is still running."""
        return Val("_", UNKNOWN)

    def vague(self, *tys: Ty) -> bool:
        """True when inference is running and some type is not known yet: skip strict checks."""
        return self.inferring and any(has_unknown(t) for t in tys)

    def fresh(self, stem: str) -> str:
        """A fresh Rust identifier that cannot clash with Python names (they never end in ``_N``)."""
        self.counter += 1
        return f"{stem}_{self.counter}"

    def rtype(self, ty: Ty, node: ast.AST) -> str:
        """``rust_type`` that tolerates holes during inference."""
        if self.inferring and has_unknown(ty):
            return "_"
        return rust_type(ty, getattr(node, "lineno", 0))

    def lookup(self, name: str) -> Ty | None:
        """Innermost binding of ``name``: comprehension/lambda scopes, then locals."""
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        return self.locals.get(name)

    def narrowing(self, test: ast.expr) -> tuple[str, Ty, int] | None:
        """`isinstance(x, T)` on a local `x` of a union type with one member T: (x, union, member)."""
        if not (
            isinstance(test, ast.Call)
            and getattr(test.func, "id", "") == "isinstance"
            and len(test.args) == 2
            and isinstance(test.args[0], ast.Name)
        ):
            return None
        name = test.args[0].id
        union = self.lookup(name)
        if union is not None and union.kind == "option":
            union = union.args[0]  # `x: A | B | None`: the test also says that x is not None
        if union is None or union.kind != "union":
            return None
        members = builtins.isinstance_members(self.module, union, test.args[1])
        return (name, union, members[0]) if members is not None and len(members) == 1 else None

    def branch_narrowing(self, test: ast.expr) -> tuple[str, Ty, int] | None:
        """`narrowing` of an `if` test, also `not isinstance(x, T)` on a two-member union (the other)."""
        found = self.narrowing(test)
        if found is None and isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            negated = self.narrowing(test.operand)
            if negated is not None and self.two_way(negated):
                found = (negated[0], negated[1], 1 - negated[2])
        return found

    def two_way(self, narrowing: tuple[str, Ty, int]) -> bool:
        """Whether failing the isinstance test implies the union's other member (two members, and
        no None among the values)."""
        declared = self.lookup(narrowing[0])
        return len(narrowing[1].args) == 2 and declared is not None and declared.kind == "union"

    def member_pattern(self, name: str, union: Ty, k: int, bind: str) -> str:
        """The `match` pattern of member `k` of the union held in `name` (inside `Some` when the
        variable is Optional)."""
        pattern = f"{union_path(union)}::{UNION_VARIANTS[k]}({bind})"
        declared = self.lookup(name)
        return f"Some({pattern})" if declared is not None and declared.kind == "option" else pattern

    @staticmethod
    def wrap(val: Val, min_prec: int) -> str:
        """``val``'s code, parenthesised if it binds looser than ``min_prec``.

        A numeric literal used as a method receiver gets a type suffix (``2.0_f64.powf``),
        since Rust cannot pick a method for an unsuffixed literal.
        """
        if min_prec >= PREC_ATOM and _NUMERIC_LITERAL.fullmatch(val.code):
            suffix = "_f64" if val.ty == FLOAT else "_isize"
            return f"({val.code}{suffix})" if val.code.startswith("-") else f"{val.code}{suffix}"
        return val.code if val.prec >= min_prec else f"({val.code})"

    @staticmethod
    def lhs(val: Val, min_prec: int) -> str:
        """Left operand of a binary operator: ``x as isize < y`` would parse ``<`` as generics."""
        if val.prec == PREC_CAST or val.code.rstrip().endswith(("as isize", "as f64", "as usize")):
            return f"({val.code})"
        return val.code if val.prec >= min_prec else f"({val.code})"

    def owned(self, val: Val) -> str:
        """Code for an owned value: clones places of non-Copy types, converts string literals."""
        if val.kind == "strlit":
            return f"{val.code}.to_string()"
        if val.kind == "place" and not is_copy(val.ty):
            return f"{self.wrap(val, PREC_ATOM)}.clone()"
        return val.code

    def as_str(self, val: Val) -> str:
        """Code usable where ``&str`` is expected (method receivers and arguments)."""
        if val.kind == "strlit":
            return val.code
        return f"{self.wrap(val, PREC_ATOM)}.as_str()"

    def borrow(self, val: Val) -> str:
        """``&value`` for slice/str helper arguments."""
        if val.kind == "strlit":
            return val.code
        return f"&{self.wrap(val, PREC_UNARY)}"

    def unwrap_option(self, val: Val) -> Val:
        """Python uses an Optional as its value after a None check; a None here panics as Python raises."""
        if val.ty.kind != "option":
            return val
        inner = val.ty.args[0]
        base = self.wrap(val, PREC_ATOM)
        if val.kind == "place" and not is_copy(val.ty):
            return Val(f"{base}.clone().unwrap()", inner)
        return Val(f"{base}.unwrap()", inner)

    def coerce(self, val: Val, target: Ty, node: ast.AST) -> str:
        """Owned code of ``val`` converted to ``target`` (int->float, T->Some(T), Option->T)."""
        ty = val.ty
        if ty == target == NONE and val.code == "None":  # the literal where `()` is held
            return "()"
        if self.vague(ty, target) or ty == target:
            return self.owned(val)
        if ty.kind == "never":  # a call that raises: Rust's `!` is every type
            return val.code
        if ty.kind == "none" and target.kind == "option":
            return "None"
        if target.kind == "float" and ty.kind in ("int", "bool"):
            return f"{self.wrap(val, PREC_CAST + 1)} as f64"
        if target.kind == "int" and ty.kind == "bool":
            return f"{self.wrap(val, PREC_CAST + 1)} as isize"
        if target.kind == "option" and ty.kind != "option":
            return f"Some({self.coerce(val, target.args[0], node)})"
        if ty.kind == "option" and target.kind != "option":
            return self.coerce(self.unwrap_option(val), target, node)
        if ty.kind == "option" and target.kind == "option":
            if ty.args[0].kind == "unknown":
                return self.owned(val)
            inner = self.fresh("v")
            conv = self.coerce(Val(inner, ty.args[0]), target.args[0], node)
            return f"{self.wrap(val, PREC_ATOM)}.map(|{inner}| {conv})" if conv != inner else self.owned(val)
        if ty.kind == target.kind and ty.kind in ("list", "set", "dict", "tuple"):
            try:
                merged = unify(ty, target)
            except TypeClash:
                merged = UNKNOWN
            if merged == target and all(
                a.kind == "unknown" or a == b for a, b in zip(ty.args, target.args, strict=True)
            ):
                return self.owned(val)
            if ty.kind == "list" and ty.args[0] in (INT, BOOL) and target.args[0] == FLOAT:
                return f"{self.wrap(val, PREC_ATOM)}.iter().map(|&x| x as f64).collect::<Vec<f64>>()"
            if ty.kind == "tuple" and len(ty.args) == len(target.args):
                tmp = self.fresh("t")
                parts = [
                    self.coerce(Val(f"{tmp}.{i}", a, "place"), b, node)
                    for i, (a, b) in enumerate(zip(ty.args, target.args, strict=True))
                ]
                trail = "," if len(parts) == 1 else ""
                return f"{{ let {tmp} = {self.owned(val)}; ({', '.join(parts)}{trail}) }}"
        if target.kind == "union" and ty.kind != "union":
            k = union_member(target, ty)
            if k is not None:
                inner = self.coerce(val, target.args[k], node)
                return f"{union_path(target)}::{UNION_VARIANTS[k]}({inner})"
        if ty.kind == "tuple" and target.kind == "list":  # a tuple where tuple[T, ...] or Sequence[T] is
            tmp = self.fresh("t")
            parts = [
                self.coerce(Val(f"{tmp}.{i}", a, "place"), target.args[0], node)
                for i, a in enumerate(ty.args)
            ]
            return f"{{ let {tmp} = {self.owned(val)}; vec![{', '.join(parts)}] }}"
        self.fail(f"implicit conversion from {ty} to {target}", node)

    def truthy(self, val: Val, node: ast.AST) -> str:
        """Python truthiness of ``val`` as a Rust ``bool`` expression."""
        kind = val.ty.kind
        if kind == "bool":
            return val.code
        if kind == "unknown":
            return "true"
        if kind == "int":
            return f"{self.wrap(val, PREC_CMP + 1)} != 0"
        if kind == "float":
            return f"{self.wrap(val, PREC_CMP + 1)} != 0.0"
        if kind in ("str", "bytes", "list", "dict", "set"):
            return f"!{self.wrap(val, PREC_ATOM)}.is_empty()"
        if kind == "union":
            return self.per_member(val, node, lambda member: Val(self.truthy(member, node), BOOL)).code
        if kind == "none":
            return "false"
        if kind == "option":
            inner = self.fresh("v")
            inner_val = Val(f"(*{inner})" if is_copy(val.ty.args[0]) else inner, val.ty.args[0], "place")
            test = self.truthy(inner_val, node)
            base = self.wrap(val, PREC_ATOM)
            if test == "true":
                return f"{base}.is_some()"
            return f"{base}.as_ref().is_some_and(|{inner}| {test})"
        if kind == "tuple":
            return "true" if val.ty.args else "false"
        if kind in ("pattern", "match") or (
            kind == "class" and self.module.classes[val.ty.name].enum_members
        ):
            return "true"  # objects without __bool__/__len__ are true; so are enum members
        self.fail(f"truth value of {val.ty}", node)

    def cond(self, node: ast.expr) -> str:
        """A condition: ``and``/``or``/``not`` over truthiness, so mixed operand types are fine here."""
        if isinstance(node, ast.BoolOp):
            op = " && " if isinstance(node.op, ast.And) else " || "
            prec = PREC_AND if isinstance(node.op, ast.And) else PREC_OR
            parts = [self.cond(v) for v in node.values]
            return op.join(
                p if self._cond_prec(v) > prec else f"({p})" for p, v in zip(parts, node.values, strict=True)
            )
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            inner = self.cond(node.operand)
            return f"!{inner}" if self._cond_prec(node.operand) >= PREC_UNARY else f"!({inner})"
        val = self.expr(node)
        return self.truthy(val, node)

    def _cond_prec(self, node: ast.expr) -> int:
        """Precedence of what ``cond`` emits for ``node`` (conservative)."""
        if isinstance(node, ast.BoolOp):
            return PREC_AND if isinstance(node.op, ast.And) else PREC_OR
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return PREC_UNARY
        if isinstance(node, ast.Call | ast.Name | ast.Attribute | ast.Subscript | ast.Constant):
            return PREC_CMP + 1 if not isinstance(node, ast.Call) else PREC_CMP
        return PREC_CMP

    def _optional_text(self, val: Val, node: ast.AST, text: Callable[[Val, ast.AST], str]) -> str:
        """`text` of the value inside an Optional, or `None`."""
        inner = self.fresh("v")
        elem = val.ty.args[0]
        inner_val = Val(f"(*{inner})" if is_copy(elem) else inner, elem, "place")
        return (
            f"match &{self.wrap(val, PREC_ATOM)} {{ Some({inner}) => {text(inner_val, node)}, "
            f'None => String::from("None") }}'
        )

    def _union_text(self, val: Val, node: ast.AST, text: Callable[[Val, ast.AST], str]) -> str:
        """`text` of whichever member a union value holds."""
        return self.per_member(val, node, lambda member: Val(text(member, node), STR, "temp")).code

    def per_member(self, val: Val, node: ast.AST, translate: Callable[[Val], Val]) -> Val:
        """``translate`` applied to whichever member a union value holds (the results unified)."""
        inner = self.fresh("v")
        results = []
        for member in val.ty.args:
            results.append(translate(Val(f"(*{inner})" if is_copy(member) else inner, member, "place")))
        ty = results[0].ty
        for result in results[1:]:
            ty = self.unify_at(ty, result.ty, node)
        path = union_path(val.ty)
        arms = ", ".join(
            f"{path}::{UNION_VARIANTS[i]}({inner}) => {self.coerce(result, ty, node)}"
            for i, result in enumerate(results)
        )
        return Val(f"match &{self.wrap(val, PREC_ATOM)} {{ {arms} }}", ty, "temp", PREC_LOWEST)

    def repr_str(self, val: Val, node: ast.AST) -> str:
        """An owned ``String`` with Python's ``repr()`` of the value."""
        kind = val.ty.kind
        if kind == "union":
            return self._union_text(val, node, self.repr_str)
        if kind == "str":
            return f"portalis_py::text::repr(&{self.wrap(val, PREC_ATOM)})"
        if kind == "bytes":
            return f"portalis_py::text::bytes_repr(&{self.wrap(val, PREC_ATOM)})"
        if kind == "option":
            return self._optional_text(val, node, self.repr_str)
        info = self.module.classes.get(val.ty.name) if kind == "class" else None
        if info is not None and (method := _repr_method(info)) is not None:
            return f"{self.dunder_receiver(val, method)}.{method}()"
        if kind in ("int", "float", "bool", "none", "unknown"):
            return self.static_str(val, node)
        if kind in ("list", "tuple"):
            return self._sequence_repr(val, node)
        self.fail(f"repr() of {val.ty}", node)

    def _sequence_repr(self, val: Val, node: ast.AST) -> str:
        """Python's ``repr()`` of a list or tuple: the ``repr()`` of each item, ``(x,)`` for one."""
        seq = self.fresh("seq")
        if val.ty.kind == "tuple":
            members = enumerate(val.ty.args)
            items = [self.repr_str(Val(f"{seq}.{i}", member, "place"), node) for i, member in members]
            if len(items) == 1:
                return f'{{ let {seq} = &{self.wrap(val, PREC_ATOM)}; format!("({{}},)", {items[0]}) }}'
            slots = ", ".join("{}" for _ in items)
            return f'{{ let {seq} = &{self.wrap(val, PREC_ATOM)}; format!("({slots})", {", ".join(items)}) }}'
        item = self.fresh("item")
        elem = val.ty.args[0]
        text = self.repr_str(Val(f"(*{item})" if is_copy(elem) else item, elem, "place"), node)
        parts = f"{self.wrap(val, PREC_ATOM)}.iter().map(|{item}| {text}).collect::<Vec<String>>()"
        if not is_vtuple(val.ty):
            return f'format!("[{{}}]", {parts}.join(", "))'
        return (
            f'{{ let {seq} = {parts}; if {seq}.len() == 1 {{ format!("({{}},)", {seq}[0]) }} '
            f'else {{ format!("({{}})", {seq}.join(", ")) }} }}'
        )

    def static_str(self, val: Val, node: ast.AST) -> str:
        """An owned ``String`` with Python's ``str()`` of the value."""
        kind = val.ty.kind
        if kind == "option":
            return self._optional_text(val, node, self.static_str)
        if kind == "union":
            return self._union_text(val, node, self.static_str)
        if kind == "none":
            return 'String::from("None")'
        info = self.module.classes.get(val.ty.name) if kind == "class" else None
        if info is not None and "__str__" not in info.methods and (method := _repr_method(info)) is not None:
            return f"{self.dunder_receiver(val, method)}.{method}()"  # str() falls back to __repr__
        if kind == "str":
            return self.owned(val)
        if kind in ("int",):
            return f"{self.wrap(val, PREC_ATOM)}.to_string()"
        if kind == "float":
            self.module.helpers.add("py_float_str")
            return f"py_float_str({val.code})"
        if kind == "bool":
            return f'String::from(if {val.code} {{ "True" }} else {{ "False" }})'
        if kind == "unknown":
            return "String::new()"
        info = self.module.classes.get(val.ty.name) if kind == "class" else None
        if info is not None and (info.is_exception or "__str__" in info.methods):
            return f"{self.wrap(val, PREC_ATOM)}.to_string()"  # its Display: `__str__` or the message
        if kind in ("list", "tuple", "bytes"):
            return self.repr_str(val, node)  # str() of a container or of bytes is its repr()
        self.fail(f"str() of {val.ty}", node)

    # ----------------------------------------------------------------- dispatch

    def expr(self, node: ast.expr, expected: Ty | None = None) -> Val:
        """Translate ``node``; ``expected`` types empty literals and None where context knows."""
        method = getattr(self, f"expr_{type(node).__name__}", None)
        if method is None:
            self.fail(_construct_name(node), node)
        result: Val = method(node, expected)
        return result

    def expr_Constant(self, node: ast.Constant, expected: Ty | None) -> Val:
        """Literals; big ints are outside the subset; bytes are a ``Vec<u8>``."""
        value = node.value
        if isinstance(value, bool):
            return Val("true" if value else "false", BOOL)
        if isinstance(value, int):
            if value > ISIZE_MAX:
                self.fail("integer literal beyond 64 bits", node)
            if expected is not None and expected.kind == "float":
                return Val(float_literal(float(value)), FLOAT)
            return Val(str(value), INT)
        if isinstance(value, float):
            return Val(float_literal(value), FLOAT)
        if isinstance(value, str):
            return Val(rust_str_literal(value), STR, "strlit")
        if value is None:
            if expected == NONE:  # a field or variable annotated `None` holds Rust's `()`
                return Val("()", NONE)
            return Val("None", NONE)
        if isinstance(value, bytes):
            return Val(f"{rust_bytes_literal(value)}.to_vec()", BYTES)
        self.fail(f"{type(value).__name__} literal", node)

    def expr_Name(self, node: ast.Name, expected: Ty | None) -> Val:
        """Locals, parameters and module constants."""
        ty = self.lookup(node.id)
        if ty is not None:
            code = self.self_code if node.id == "self" else ident(node.id)
            return Val(code, ty, "place")
        if node.id in self.module.imported and node.id not in self.module.constants:
            return builtins.module_attribute(self, *self.module.imported[node.id], node)
        if node.id in self.module.unavailable and node.id not in self.module.constants:
            self.fail(self.module.unavailable[node.id], node)
        if node.id in self.module.constants:
            cty = self.module.constants[node.id]
            if node.id in self.module.statics:
                return Val(f"(*{ident(node.id)})", cty, "place")
            return Val(ident(node.id), cty, "strlit" if cty == STR else "place")
        if self.inferring:
            return self.unknown()
        if node.id in self.module.functions or node.id in builtins.BUILTIN_NAMES:
            self.fail(f"function {node.id} used as a value", node)
        self.fail(f"undefined name {node.id}", node)

    def expr_List(self, node: ast.List, expected: Ty | None) -> Val:
        """``vec![...]`` with elements converted to one element type."""
        want = expected.args[0] if expected is not None and expected.kind == "list" else None
        return self._sequence(node.elts, want, node, "list")

    def expr_Set(self, node: ast.Set, expected: Ty | None) -> Val:
        """``HashSet::from([...])``."""
        want = expected.args[0] if expected is not None and expected.kind == "set" else None
        return self._sequence(node.elts, want, node, "set")

    def _sequence(self, elts: list[ast.expr], want: Ty | None, node: ast.AST, kind: str) -> Val:
        """Shared list/set literal logic."""
        if any(isinstance(e, ast.Starred) for e in elts):
            return self._unpacked(elts, want, node, kind)
        vals = [self.expr(e, want) for e in elts]
        elem = want or UNKNOWN
        for v in vals:
            elem = self.unify_at(elem, v.ty, node)
        codes = [self.coerce(v, elem, node) for v in vals]
        if kind == "list":
            if not codes:
                return Val("Vec::new()", list_of(elem))
            return Val(f"vec![{', '.join(codes)}]", list_of(elem))
        if not self.vague(elem) and not is_hashable(elem):
            self.fail(f"set of {elem}", node)
        if not codes:
            return Val("HashSet::new()", set_of(elem))
        return Val(f"HashSet::from([{', '.join(codes)}])", set_of(elem))

    def _unpacked(self, elts: list[ast.expr], want: Ty | None, node: ast.AST, kind: str) -> Val:
        """`[a, *xs, b]`, `(*xs, b)`, `{*xs, *ys}`: the items in order, each `*` operand's items in
        place (a list, a tuple, a str, or a set in a set display; a set's arbitrary order is refused
        in a list or tuple). A tuple display gives a `tuple[T, ...]`."""
        parts: list[tuple[bool, Val]] = []
        elem = want or UNKNOWN
        for e in elts:
            if isinstance(e, ast.Starred):
                val = self.expr(e.value)
                if val.ty.kind == "str":
                    item = STR
                elif val.ty.kind == "tuple":
                    item = UNKNOWN
                    for member in val.ty.args:
                        item = self.unify_at(item, member, node)
                elif val.ty.kind in ("list", "set") and not (val.ty.kind == "set" and kind != "set"):
                    item = val.ty.args[0]
                else:
                    self.fail(f"unpacking a {val.ty} into a {kind}", e)
                elem = self.unify_at(elem, item, node)
                parts.append((True, val))
            else:
                val = self.expr(e, want)
                elem = self.unify_at(elem, val.ty, node)
                parts.append((False, val))
        if self.vague(elem):
            return self.unknown()
        out = self.fresh("items")
        steps = []
        for starred, val in parts:
            if not starred:
                steps.append(f"{out}.push({self.coerce(val, elem, node)});")
            elif val.ty.kind == "str":
                steps.append(f"{out}.extend({self.wrap(val, PREC_ATOM)}.chars().map(|c| c.to_string()));")
            elif val.ty.kind == "set":
                steps.append(f"{out}.extend({self.coerce(val, set_of(elem), node)});")
            else:  # a list, a tuple[T, ...] (its own kind of list) or a fixed tuple (made a list)
                same = Ty("list", (elem,), val.ty.name) if val.ty.kind == "list" else list_of(elem)
                steps.append(f"{out}.extend({self.coerce(val, same, node)});")
        rust = rust_type(elem, getattr(node, "lineno", 0))
        code = f"{{ let mut {out}: Vec<{rust}> = Vec::new(); {' '.join(steps)} {out} }}"
        if kind == "set":
            if not is_hashable(elem):
                self.fail(f"set of {elem}", node)
            return Val(f"{code}.into_iter().collect::<HashSet<{rust}>>()", set_of(elem))
        return Val(code, vtuple_of(elem) if kind == "tuple" else list_of(elem))

    def expr_Dict(self, node: ast.Dict, expected: Ty | None) -> Val:
        """``HashMap::from([(k, v), ...])``."""
        kt, vt = (
            (expected.args[0], expected.args[1]) if expected and expected.kind == "dict" else (None, None)
        )
        if any(k is None for k in node.keys):
            self.fail("dict unpacking", node)
        keys = [self.expr(k, kt) for k in node.keys if k is not None]
        vals = [self.expr(v, vt) for v in node.values]
        key_ty, val_ty = kt or UNKNOWN, vt or UNKNOWN
        for k in keys:
            key_ty = self.unify_at(key_ty, k.ty, node)
        for v in vals:
            val_ty = self.unify_at(val_ty, v.ty, node)
        if not self.vague(key_ty) and not is_hashable(key_ty):
            self.fail(f"dict keyed by {key_ty}", node)
        pairs = [
            f"({self.coerce(k, key_ty, node)}, {self.coerce(v, val_ty, node)})"
            for k, v in zip(keys, vals, strict=True)
        ]
        if not pairs:
            return Val("HashMap::new()", dict_of(key_ty, val_ty))
        return Val(f"HashMap::from([{', '.join(pairs)}])", dict_of(key_ty, val_ty))

    def expr_Tuple(self, node: ast.Tuple, expected: Ty | None) -> Val:
        """A Rust tuple."""
        wants: list[Ty | None] = [None] * len(node.elts)
        if expected is not None and expected.kind == "tuple" and len(expected.args) == len(node.elts):
            wants = list(expected.args)
        if any(isinstance(e, ast.Starred) for e in node.elts):
            want = expected.args[0] if expected is not None and is_vtuple(expected) else None
            return self._unpacked(node.elts, want, node, "tuple")
        vals = [self.expr(e, w) for e, w in zip(node.elts, wants, strict=True)]
        tys = [w if w is not None and not has_unknown(w) else v.ty for v, w in zip(vals, wants, strict=True)]
        codes = [self.coerce(v, t, node) for v, t in zip(vals, tys, strict=True)]
        trail = "," if len(codes) == 1 else ""
        return Val(f"({', '.join(codes)}{trail})", tuple_of(*tys))

    def unify_at(self, a: Ty, b: Ty, node: ast.AST) -> Ty:
        """``unify`` that reports a clash as ``Unsupported`` at ``node``."""
        try:
            return unify(a, b)
        except TypeClash:
            if self.inferring:
                return UNKNOWN
            self.fail(f"mixed types {a} and {b}", node)

    # ----------------------------------------------------------------- operators

    def numeric_pair(self, left: Val, right: Val, node: ast.AST) -> tuple[Val, Val, Ty]:
        """Promote two numeric operands as Python does (bool -> int -> float)."""
        left, right = self.unwrap_option(left), self.unwrap_option(right)
        if not (left.ty.kind in ("int", "float", "bool") and right.ty.kind in ("int", "float", "bool")):
            self.fail(f"arithmetic on {left.ty} and {right.ty}", node)
        target = FLOAT if FLOAT in (left.ty, right.ty) else INT
        conv = []
        for v in (left, right):
            if v.ty == target:
                conv.append(v)
            else:
                conv.append(Val(self.coerce(v, target, node), target, "temp", PREC_CAST))
        return conv[0], conv[1], target

    def _as_vtuple(self, val: Val, node: ast.AST) -> Val:
        """A fixed tuple of one element type as a ``tuple[X, ...]``."""
        elem = UNKNOWN
        for a in val.ty.args:
            elem = self.unify_at(elem, a, node)
        ty = vtuple_of(elem)
        return Val(self.coerce(val, ty, node), ty)

    def expr_BinOp(self, node: ast.BinOp, expected: Ty | None) -> Val:
        """Arithmetic with Python semantics: true division, floor division, modulo, power."""
        if (
            isinstance(node.op, ast.Mod)
            and isinstance(node.left, ast.Constant)
            and isinstance(node.left.value, str)
        ):
            return self.expr(methods.printf_as_fstring(node))
        left = self.expr(node.left, expected if isinstance(node.left, ast.List) else None)
        right = self.expr(node.right, left.ty if isinstance(node.right, ast.List | ast.Set) else None)
        if isinstance(node.left, ast.List | ast.Set) and left.ty != right.ty and not self.vague(right.ty):
            left = self.expr(node.left, right.ty)
        if self.vague(left.ty, right.ty):
            return self.unknown()
        op = type(node.op)
        lk, rk = left.ty.kind, right.ty.kind
        if op is ast.Add and "str" in (lk, rk) and "option" in (lk, rk):
            # Optional[str] used as a str after a check (None + "x" raises in Python, panics here).
            lk, rk = self.unwrap_option(left).ty.kind, self.unwrap_option(right).ty.kind
        if lk == "str" and rk == "str" and op is ast.Add:
            return self._concat(node)
        if lk == "bytes" and rk == "bytes" and op is ast.Add:
            parts = f"{self.wrap(left, PREC_ATOM)}.as_slice(), {self.wrap(right, PREC_ATOM)}.as_slice()"
            return Val(f"[{parts}].concat()", BYTES)
        if {lk, rk} <= {"str", "int", "bool"} and "str" in (lk, rk) and op is ast.Mult:
            text, count = (left, right) if lk == "str" else (right, left)
            n = self.coerce(count, INT, node)
            n_code = n if n.isdigit() else f"({n}).max(0) as usize"
            return Val(f"{self.as_str(text)}.repeat({n_code})", STR)
        if op in (ast.Add, ast.Mult) and "tuple" in (lk, rk):
            # A fixed tuple beside a tuple[X, ...] (`release + (0,)`), or repeated (`(0,) * n`).
            if lk == "tuple" and (is_vtuple(right.ty) or (op is ast.Mult and rk in ("int", "bool"))):
                left = self._as_vtuple(left, node)
            if rk == "tuple" and is_vtuple(left.ty):
                right = self._as_vtuple(right, node)
            lk, rk = left.ty.kind, right.ty.kind
        if lk == "list" and rk == "list" and op is ast.Add:
            if left.ty.name != right.ty.name:
                self.fail(f"{left.ty} + {right.ty}", node)
            elem = self.unify_at(left.ty.args[0], right.ty.args[0], node)
            lt = Ty("list", (elem,), left.ty.name)
            tmp = self.fresh("v")
            return Val(
                f"{{ let mut {tmp} = {self.coerce(left, lt, node)}; "
                f"{tmp}.extend({self.coerce(right, lt, node)}); {tmp} }}",
                lt,
            )
        if lk == "list" and rk in ("int", "bool") and op is ast.Mult:
            self.module.helpers.add("py_list_repeat")
            return Val(f"py_list_repeat({self.borrow(left)}, {self.coerce(right, INT, node)})", left.ty)
        if lk == "set" and rk == "set" and op in (ast.BitOr, ast.BitAnd, ast.Sub, ast.BitXor):
            name = {
                ast.BitOr: "union",
                ast.BitAnd: "intersection",
                ast.Sub: "difference",
                ast.BitXor: "symmetric_difference",
            }[op]
            code = f"{self.wrap(left, PREC_ATOM)}.{name}(&{self.wrap(right, PREC_UNARY)})"
            return Val(f"{code}.cloned().collect::<{self.rtype(left.ty, node)}>()", left.ty)
        if lk == "str" and op is ast.Mod:
            self.fail("printf-style string formatting", node)
        a, b, ty = self.numeric_pair(left, right, node)
        if op in _ARITH:
            sym, prec = _ARITH[op]
            if ty == FLOAT and op not in (ast.Add, ast.Sub, ast.Mult):
                self.fail("bitwise operator on float", node)
            if op in (ast.BitAnd, ast.BitOr, ast.BitXor) and left.ty == BOOL and right.ty == BOOL:
                return Val(f"{self.wrap(left, prec)} {sym} {self.wrap(right, prec + 1)}", BOOL, "temp", prec)
            return Val(f"{self.lhs(a, prec)} {sym} {self.wrap(b, prec + 1)}", ty, "temp", prec)
        if op is ast.Div:
            fa = Val(self.coerce(a, FLOAT, node), FLOAT, "temp", a.prec if ty == FLOAT else PREC_CAST)
            fb = Val(self.coerce(b, FLOAT, node), FLOAT, "temp", b.prec if ty == FLOAT else PREC_CAST)
            if isinstance(node.right, ast.Constant) and node.right.value not in (0, 0.0):
                return Val(
                    f"{self.lhs(fa, PREC_MUL)} / {self.wrap(fb, PREC_MUL + 1)}", FLOAT, "temp", PREC_MUL
                )
            self.module.helpers.add("py_div")
            return Val(f"py_div({fa.code}, {fb.code})", FLOAT)
        if op is ast.FloorDiv:
            helper = "py_floordiv" if ty == INT else "py_ffloordiv"
            self.module.helpers.add(helper)
            return Val(f"{helper}({a.code}, {b.code})", ty)
        if op is ast.Mod:
            helper = "py_mod" if ty == INT else "py_fmod"
            self.module.helpers.add(helper)
            return Val(f"{helper}({a.code}, {b.code})", ty)
        if op is ast.Pow:
            return self._power(a, b, ty, node)
        self.fail(f"operator {type(node.op).__name__}", node)

    def _concat(self, node: ast.BinOp) -> Val:
        """A chain ``a + "-" + b`` of strings becomes one ``format!("{}-{}", a, b)``."""
        parts: list[ast.expr] = []

        def flatten(n: ast.expr) -> None:
            if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Add):
                flatten(n.left)
                flatten(n.right)
            else:
                parts.append(n)

        flatten(node)
        vals = [self.unwrap_option(self.expr(p)) for p in parts]
        vals = [
            v if not (v.kind == "strlit" and not v.code.startswith('"')) else Val(v.code, STR) for v in vals
        ]
        if any(v.ty != STR for v in vals):
            left, right = self.expr(node.left), self.expr(node.right)
            return Val(f'format!("{{}}{{}}", {left.code}, {right.code})', STR)
        fmt, args = [], []
        for v in vals:
            if v.kind == "strlit":
                fmt.append(v.code[1:-1].replace("{", "{{").replace("}", "}}"))
            else:
                fmt.append("{}")
                args.append(v.code)
        if not args:
            raw = "".join(v.code[1:-1] for v in vals)
            return Val(f'String::from("{raw}")', STR)
        return Val(f'format!("{"".join(fmt)}", {", ".join(args)})', STR)

    def _power(self, base: Val, exp: Val, ty: Ty, node: ast.BinOp) -> Val:
        """``**``: int powers stay int (checked); anything with a float is ``powf``."""
        if ty == INT:
            exponent = node.right
            if isinstance(exponent, ast.Constant) and isinstance(exponent.value, int) and exponent.value >= 0:
                return Val(f"{self.wrap(base, PREC_ATOM)}.pow({exponent.value})", INT)
            self.module.helpers.add("py_pow")
            return Val(f"py_pow({base.code}, {exp.code})", INT)
        if isinstance(node.right, ast.Constant) and isinstance(node.right.value, int):
            return Val(f"{self.wrap(base, PREC_ATOM)}.powi({node.right.value})", FLOAT)
        return Val(f"{self.wrap(base, PREC_ATOM)}.powf({exp.code})", FLOAT)

    def expr_UnaryOp(self, node: ast.UnaryOp, expected: Ty | None) -> Val:
        """``not`` uses truthiness; ``-`` on bool promotes to int as in Python."""
        if isinstance(node.op, ast.Not):
            return Val(self.cond(node), BOOL, "temp", PREC_UNARY)
        if isinstance(node.operand, ast.Constant) and isinstance(node.op, ast.USub):
            value = node.operand.value
            if isinstance(value, int) and not isinstance(value, bool):
                if expected is not None and expected.kind == "float":
                    return Val(float_literal(-float(value)), FLOAT, "temp", PREC_UNARY)
                return Val(f"-{value}", INT, "temp", PREC_UNARY)
            if isinstance(value, float):
                return Val(f"-{float_literal(value)}", FLOAT, "temp", PREC_UNARY)
        val = self.unwrap_option(self.expr(node.operand))
        if self.vague(val.ty):
            return self.unknown()
        if val.ty == BOOL and not isinstance(node.op, ast.Not):
            val = Val(self.coerce(val, INT, node), INT, "temp", PREC_CAST)
        if val.ty.kind not in ("int", "float"):
            self.fail(f"unary operator on {val.ty}", node)
        if isinstance(node.op, ast.USub):
            return Val(f"-{self.wrap(val, PREC_UNARY)}", val.ty, "temp", PREC_UNARY)
        if isinstance(node.op, ast.UAdd):
            return val
        if val.ty == FLOAT:
            self.fail("bitwise operator on float", node)
        return Val(f"!{self.wrap(val, PREC_UNARY)}", INT, "temp", PREC_UNARY)

    def expr_BoolOp(self, node: ast.BoolOp, expected: Ty | None) -> Val:
        """``and``/``or``: plain ``&&``/``||`` on bools; on other types Python returns an operand."""
        vals = [self.expr(v) for v in node.values]
        known = [v.ty for v in vals if not has_unknown(v.ty)]
        if known and all(ty == BOOL for ty in known):
            prec = PREC_AND if isinstance(node.op, ast.And) else PREC_OR
            return Val(self.cond(node), BOOL, "temp", prec)
        if self.vague(*(v.ty for v in vals)):
            return self.unknown()  # `a or b` is an operand: its type once inference knows theirs
        ty: Ty = UNKNOWN
        for v in vals:
            ty = self.unify_at(ty, v.ty, node)
        result = vals[-1]
        code = self.coerce(result, ty, node)
        for v in reversed(vals[:-1]):
            tmp = self.fresh("t")
            test = self.truthy(Val(tmp, ty, "place"), node)
            first, second = (tmp, code) if isinstance(node.op, ast.Or) else (code, tmp)
            code = (
                f"{{ let {tmp} = {self.coerce(v, ty, node)}; if {test} {{ {first} }} else {{ {second} }} }}"
            )
        return Val(code, ty)

    def expr_Compare(self, node: ast.Compare, expected: Ty | None) -> Val:
        """Comparisons; a chain ``a < b < c`` becomes ``a < b && b < c`` (``b`` is re-evaluated)."""
        parts = []
        left_node = node.left
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            parts.append(self.compare(op, left_node, right_node, node))
            left_node = right_node
        if len(parts) == 1:
            return Val(parts[0], BOOL, "temp", PREC_CMP)
        return Val(" && ".join(f"({p})" for p in parts), BOOL, "temp", PREC_AND)

    def compare(self, op: ast.cmpop, left_node: ast.expr, right_node: ast.expr, node: ast.AST) -> str:
        """One comparison."""
        if isinstance(op, ast.Is | ast.IsNot):
            return self._identity(op, left_node, right_node, node)
        if isinstance(op, ast.In | ast.NotIn):
            found = self.membership(left_node, right_node, node)
            return f"!{found}" if isinstance(op, ast.NotIn) else found
        left = self.expr(left_node)
        right = self.expr(right_node, left.ty if _is_empty_literal(right_node) else None)
        if _is_empty_literal(left_node) and not self.vague(right.ty):
            left = self.expr(left_node, right.ty)
        if self.vague(left.ty, right.ty):
            return "true"
        sym = _CMP[type(op)]
        equality = sym in ("==", "!=")
        lk, rk = left.ty.kind, right.ty.kind
        if equality and (lk == "none" or rk == "none"):
            other = right if lk == "none" else left
            if other.ty.kind != "option":
                return "false" if sym == "==" else "true"
            return f"{self.wrap(other, PREC_ATOM)}.{'is_none' if sym == '==' else 'is_some'}()"
        if equality and lk in ("list", "set", "dict", "str") and _is_empty_literal(right_node):
            neg = "" if sym == "==" else "!"
            return f"{neg}{self.wrap(left, PREC_ATOM)}.is_empty()"
        if equality and (lk == "option") != (rk == "option"):
            opt, plain = (left, right) if lk == "option" else (right, left)
            some = self.coerce(plain, opt.ty, node)
            return f"{self.lhs(opt, PREC_CMP + 1)} {sym} {some}"
        if not equality:
            left, right = self.unwrap_option(left), self.unwrap_option(right)
            lk, rk = left.ty.kind, right.ty.kind
        if lk == rk == "class" and left.ty.name == right.ty.name:
            dunder = self._compare_dunder(sym, left, right, node)
            if dunder is not None:
                return dunder
        if lk in ("int", "float", "bool") and rk in ("int", "float", "bool"):
            if lk == rk:
                return f"{self.lhs(left, PREC_CMP + 1)} {sym} {self.wrap(right, PREC_CMP + 1)}"
            a, b, _ = self.numeric_pair(left, right, node)
            return f"{self.lhs(a, PREC_CMP + 1)} {sym} {self.wrap(b, PREC_CMP + 1)}"
        if lk == rk == "str":
            if not equality and (left.kind == "strlit" or right.kind == "strlit"):
                return f"{self.as_str(left)} {sym} {self.as_str(right)}"
            return f"{self.lhs(left, PREC_CMP + 1)} {sym} {self.wrap(right, PREC_CMP + 1)}"
        try:
            common = unify(left.ty, right.ty)
        except TypeClash:
            self.fail(f"comparison of {left.ty} with {right.ty}", node)
        if common.kind == "dict" and not equality:
            self.fail("ordering comparison of dicts", node)
        if left.ty != common or right.ty != common:
            lcode, rcode = self.coerce(left, common, node), self.coerce(right, common, node)
            return f"{lcode} {sym} {rcode}"
        return f"{self.lhs(left, PREC_CMP + 1)} {sym} {self.wrap(right, PREC_CMP + 1)}"

    def _compare_dunder(self, sym: str, left: Val, right: Val, node: ast.AST) -> str | None:
        """`a < b` on two values of a class: its `__lt__`, else the reflected `b.__gt__(a)`, as Python
        tries them; `!=` falls back to `not __eq__`. None when the class defines neither (structural
        equality of a dataclass; anything else is refused)."""
        info = self.module.classes[left.ty.name]
        names = {"==": "__eq__", "!=": "__ne__", "<": "__lt__", "<=": "__le__", ">": "__gt__", ">=": "__ge__"}
        reflected = {"<": "__gt__", "<=": "__ge__", ">": "__lt__", ">=": "__le__"}
        method = names[sym]
        if method in info.methods:
            return f"{self.dunder_receiver(left, method)}.{method}({self.owned(right)})"
        if sym in reflected and reflected[sym] in info.methods:
            return f"{self.dunder_receiver(right, reflected[sym])}.{reflected[sym]}({self.owned(left)})"
        if sym == "!=" and "__eq__" in info.methods:
            return f"!{self.dunder_receiver(left, '__eq__')}.__eq__({self.owned(right)})"
        if sym in ("==", "!=") and not (
            info.is_dataclass or info.enum_members is not None or info.is_exception
        ):
            self.fail(f"{sym} on {info.name}, which has no __eq__ (Python compares identity)", node)
        if sym not in ("==", "!=") and info.enum_members is None:
            self.fail(f"ordering comparison of {info.name}, which has no {method}", node)
        return None

    def dunder_receiver(self, val: Val, method: str) -> str:
        """The receiver of an operator's dunder: a copy when the dunder writes to its object (a
        cache): operators read their operands (docs/translator.md: what such a dunder writes is not
        kept)."""
        info = self.module.classes[val.ty.name]
        sig = info.methods.get(method)
        if sig is not None and sig.self_mut:
            return f"{self.wrap(val, PREC_ATOM)}.clone()"
        return self.wrap(val, PREC_ATOM)

    def _identity(self, op: ast.cmpop, left_node: ast.expr, right_node: ast.expr, node: ast.AST) -> str:
        """``is None`` / ``is not None``; other identity tests have no value-semantics meaning."""
        positive = isinstance(op, ast.Is)
        if _is_none(right_node) or _is_none(left_node):
            other_node = left_node if _is_none(right_node) else right_node
            other = self.expr(other_node)
            if other.ty.kind == "option":
                return f"{self.wrap(other, PREC_ATOM)}.{'is_none' if positive else 'is_some'}()"
            if other.ty.kind == "none":
                return "true" if positive else "false"
            return "false" if positive else "true"
        if all(isinstance(n, ast.Attribute) and n.attr == "__class__" for n in (left_node, right_node)):
            # `self.__class__ is other.__class__`: each value has one static type here.
            a, b = self.expr(left_node.value), self.expr(right_node.value)  # type: ignore[attr-defined]
            return "true" if (a.ty == b.ty) == positive else "false"
        left, right = self.expr(left_node), self.expr(right_node)
        if self.vague(left.ty) or self.vague(right.ty):
            return "true"
        enum = self.module.classes.get(left.ty.name) if left.ty.kind == "class" else None
        if enum is not None and enum.enum_members is not None and right.ty == left.ty:
            # Enum members are singletons: identity is equality.
            sym = "==" if positive else "!="
            return f"{self.lhs(left, PREC_CMP + 1)} {sym} {self.wrap(right, PREC_CMP + 1)}"
        self.fail("identity comparison (is) on values", node)

    def membership(self, item_node: ast.expr, container_node: ast.expr, node: ast.AST) -> str:
        """``x in container`` for str, list, tuple, set and dict."""
        container = self.unwrap_option(self.expr(container_node))
        ck = container.ty.kind
        if self.vague(container.ty):
            return "true"
        if ck == "class" and "__contains__" in self.module.classes[container.ty.name].methods:
            sig = self.module.classes[container.ty.name].methods["__contains__"]
            (_, pty), *_ = sig.params
            item = self.expr(item_node, pty)
            return f"{self.wrap(container, PREC_ATOM)}.__contains__({self.coerce(item, pty, node)})"
        if ck == "str":
            item = self.expr(item_node)
            if self.vague(item.ty):
                return "true"
            if item.ty != STR:
                self.fail(f"'in <str>' with {item.ty}", node)
            return f"{self.wrap(container, PREC_ATOM)}.contains({self.as_str(item)})"
        if ck == "tuple":
            elem: Ty = UNKNOWN
            for a in container.ty.args:
                elem = self.unify_at(elem, a, node)
            if isinstance(container_node, ast.Tuple):
                container = self.expr(ast.List(elts=container_node.elts, ctx=ast.Load()), list_of(elem))
            else:
                fields = [
                    self.coerce(Val(f"{self.wrap(container, PREC_ATOM)}.{i}", a, "place"), elem, node)
                    for i, a in enumerate(container.ty.args)
                ]
                container = Val(f"[{', '.join(fields)}]", list_of(elem))
            ck = "list"
        if ck not in ("list", "set", "dict"):
            self.fail(f"'in' on {container.ty}", node)
        elem = container.ty.args[0]
        item = self.expr(item_node, elem)
        if self.vague(item.ty, elem):
            return "true"
        base = self.wrap(container, PREC_ATOM)
        if ck == "list":
            if item.kind == "strlit":
                return f"{base}.iter().any(|e| e == {item.code})"
            target = self.coerce(item, elem, node) if item.ty != elem else None
            ref = f"&{target}" if target is not None else self.ref_arg(item)
            return f"{base}.contains({ref})"
        method = "contains" if ck == "set" else "contains_key"
        if item.kind == "strlit":
            return f"{base}.{method}({item.code})"
        target = self.coerce(item, elem, node) if item.ty != elem else None
        ref = f"&{target}" if target is not None else self.ref_arg(item)
        return f"{base}.{method}({ref})"

    def ref_arg(self, val: Val) -> str:
        """``&value`` without cloning places."""
        if val.kind == "strlit":
            return f"&{val.code}.to_string()"
        return f"&{self.wrap(val, PREC_UNARY)}"

    def expr_IfExp(self, node: ast.IfExp, expected: Ty | None) -> Val:
        """``a if c else b`` -> ``if c { a } else { b }``; ``a if isinstance(x, T) else b`` on a
        union ``x`` is a ``match`` whose arms see ``x`` as the member each branch implies."""
        narrowing = self.branch_narrowing(node.test)
        if narrowing is not None and self.two_way(narrowing):
            return self._narrowed_ifexp(node, expected, *narrowing)
        test = self.cond(node.test)
        body = self.expr(node.body, expected)
        orelse = self.expr(node.orelse, expected if expected is not None else body.ty)
        if _is_empty_literal(node.body) and not self.vague(orelse.ty):
            body = self.expr(node.body, orelse.ty)
        wanted = expected.args[0] if expected is not None and expected.kind == "option" else expected
        if wanted is not None and wanted.kind == "union" and body.ty != orelse.ty:
            ty = wanted  # `s if c else n` where a `str | int` is expected: each branch is a member
        else:
            ty = self.unify_at(body.ty, orelse.ty, node)
        if expected is not None and not has_unknown(expected):
            ty = self.unify_at(expected, ty, node) if ty != expected else ty
        code = f"if {test} {{ {self.coerce(body, ty, node)} }} else {{ {self.coerce(orelse, ty, node)} }}"
        return Val(code, ty, "temp", PREC_LOWEST)

    def _narrowed_ifexp(self, node: ast.IfExp, expected: Ty | None, name: str, union: Ty, k: int) -> Val:
        """Both branches of a conditional expression on ``isinstance(x, T)``, each with ``x`` narrowed."""
        branches: list[tuple[int, Val]] = []
        for member, branch in ((k, node.body), (1 - k, node.orelse)):
            self.scopes.append({name: union.args[member]})
            try:
                first = branches[0][1].ty if branches else expected
                branches.append((member, self.expr(branch, first)))
            finally:
                self.scopes.pop()
        ty = self.unify_at(branches[0][1].ty, branches[1][1].ty, node)
        if expected is not None and not has_unknown(expected):
            ty = self.unify_at(expected, ty, node) if ty != expected else ty
        path = union_path(union)
        arms = " ".join(
            f"{path}::{UNION_VARIANTS[member]}({ident(name)}) => {{ {self.coerce(val, ty, node)} }}"
            for member, val in branches
        )
        return Val(f"match {ident(name)}.clone() {{ {arms} }}", ty, "temp", PREC_LOWEST)

    def expr_JoinedStr(self, node: ast.JoinedStr, expected: Ty | None) -> Val:
        """f-strings become ``format!`` with Python's ``str()`` of each value."""
        fmt: list[str] = []
        args: list[str] = []
        for part in node.values:
            if isinstance(part, ast.Constant) and isinstance(part.value, str):
                fmt.append(rust_str_literal(part.value)[1:-1].replace("{", "{{").replace("}", "}}"))
                continue
            if not isinstance(part, ast.FormattedValue) or part.conversion not in (-1, ord("r"), ord("s")):
                self.fail("f-string conversion", node)
            if part.conversion == ord("r") and part.format_spec is None:
                fmt.append("{}")
                args.append(self.repr_str(self.expr(part.value), node))
                continue
            val = self.expr(part.value)
            if part.format_spec is not None or val.ty.kind != "option":
                val = self.unwrap_option(val)
            spec = ""
            if part.format_spec is not None:
                if not (
                    isinstance(part.format_spec, ast.JoinedStr)
                    and len(part.format_spec.values) == 1
                    and isinstance(part.format_spec.values[0], ast.Constant)
                ):
                    self.fail("f-string format spec", node)
                spec = str(part.format_spec.values[0].value)
            if spec:
                fmt.append(self._format_spec(spec, val, node))
                args.append(val.code)
            else:
                fmt.append("{}")
                args.append(val.code if val.ty.kind in ("str", "int") else self.static_str(val, node))
        joined = "".join(fmt)
        if not args:
            return Val(f'String::from("{joined}")', STR)
        return Val(f'format!("{joined}", {", ".join(args)})', STR)

    def _format_spec(self, spec: str, val: Val, node: ast.AST) -> str:
        """The few format specs whose Rust meaning matches Python's: ``.Nf``, ``d``, width."""
        if spec.endswith("f") and spec[:-1].startswith(".") and spec[1:-1].isdigit() and val.ty == FLOAT:
            return "{:" + spec[:-1] + "}"
        if spec == "d" and val.ty == INT:
            return "{}"
        if spec.isdigit() and val.ty.kind in ("int", "str"):
            return "{:>" + spec + "}" if val.ty == INT else "{:" + spec + "}"
        self.fail(f"f-string format spec {spec}", node)

    def expr_Lambda(self, node: ast.Lambda, expected: Ty | None) -> Val:
        """Lambdas only appear inline (key=, map, filter); anywhere else they are unsupported."""
        self.fail("lambda outside sorted/min/max/map/filter", node)

    # ----------------------------------------------------------------- access

    def expr_Attribute(self, node: ast.Attribute, expected: Ty | None) -> Val:
        """Struct fields and module constants (math.pi)."""
        if node.attr == "__name__" and _is_class_of_self(node.value) and self.self_class() is not None:
            # Each class is its own struct (inheritance copies members down), so the name is static.
            return Val(rust_str_literal(self.self_class() or ""), STR, "strlit")
        if isinstance(node.value, ast.Name) and node.value.id in self.module.modules:
            return builtins.module_attribute(self, node.value.id, node.attr, node)
        if isinstance(node.value, ast.Name) and self.lookup(node.value.id) is None:
            enum = self.module.classes.get(node.value.id)
            if enum is not None and enum.enum_members is not None:
                if node.attr not in enum.enum_members:
                    self.fail(f"{enum.name} has no member {node.attr}", node)
                return Val(f"{enum.name}::{ident(node.attr)}", class_ty(enum.name))
            if enum is not None and node.attr in enum.field_defaults and not enum.is_dataclass:
                # `Flags.FROZEN`: a class attribute read through the class is its default value
                # (immutable, so no instance can have changed what the class holds).
                ty = enum.fields[node.attr]
                return Val(self.coerce(self.expr(enum.field_defaults[node.attr], ty), ty, node), ty)
        base = self.unwrap_option(self.expr(node.value))
        if self.vague(base.ty):
            return self.unknown()
        if base.ty.kind == "pattern":
            return regex.pattern_attribute(self, base, node.attr, node)
        if base.ty.kind == "match":
            return regex.match_attribute(self, base, node.attr, node)
        if base.ty.kind == "class":
            info = self.module.classes[base.ty.name]
            if node.attr in info.properties and node.attr not in info.fields:
                sig = info.methods[node.attr]
                if self.inferring and has_unknown(sig.ret):
                    return self.unknown()
                if sig.self_mut and base.kind == "place" and _root_name(node.value) is not None:
                    methods.mark_mutated(self, node.value)  # a getter that writes (a cache): `&mut self`
                elif sig.self_mut:
                    self.fail(f"property {node.attr} that changes an object held by no variable", node)
                return Val(f"{self.wrap(base, PREC_ATOM)}.{ident(node.attr)}()", sig.ret)
            if info.enum_members is not None and node.attr in ("value", "name"):
                is_int = all(isinstance(v, int) for v in info.enum_members.values())
                ty = INT if node.attr == "value" and is_int else STR
                return Val(f"{self.wrap(base, PREC_ATOM)}.{node.attr}()", ty)
            if node.attr in info.fields:
                return Val(
                    f"{self.wrap(base, PREC_ATOM)}.{ident(node.attr)}", info.fields[node.attr], "place"
                )
            if self.inferring:
                return self.unknown()
            self.fail(f"unknown attribute {node.attr}", node)
        self.fail(f"attribute {node.attr} of {base.ty}", node)

    def expr_Subscript(self, node: ast.Subscript, expected: Ty | None) -> Val:
        """Indexing (negative indices count from the end) and slicing with steps."""
        base = self.unwrap_option(self.expr(node.value))
        if self.vague(base.ty):
            return self.unknown()
        if base.ty.kind == "union" and isinstance(node.slice, ast.Constant | ast.Name | ast.UnaryOp):
            # each member indexed alike (tuples of two shapes, say); the results must agree on a type
            return self.per_member(base, node, lambda member: self._subscript(member, node))
        return self._subscript(base, node)

    def _subscript(self, base: Val, node: ast.Subscript) -> Val:
        kind = base.ty.kind
        if isinstance(node.slice, ast.Slice):
            return self._slice(base, node.slice, node)
        if kind == "dict":
            key = self.expr(node.slice, base.ty.args[0])
            if self.vague(key.ty):
                return self.unknown()
            key_code = key.code if key.kind == "strlit" else f"&{self.coerce(key, base.ty.args[0], node)}"
            if key.kind == "place":
                key_code = self.ref_arg(key)
            return Val(f"{self.wrap(base, PREC_ATOM)}[{key_code}]", base.ty.args[1], "place")
        if kind == "match":  # `m[g]` is `m.group(g)`
            call = ast.copy_location(ast.Call(func=node.value, args=[node.slice], keywords=[]), node)
            return regex.match_method(self, base, "group", call)
        if kind == "tuple":
            index = _const_int(node.slice)
            if index is None:
                self.fail("tuple index that is not a constant", node)
            n = len(base.ty.args)
            if not -n <= index < n:
                self.fail("tuple index out of range", node)
            index %= n
            return Val(f"{self.wrap(base, PREC_ATOM)}.{index}", base.ty.args[index], "place")
        index_val = self.expr(node.slice)
        if self.vague(index_val.ty):
            return self.unknown()
        if index_val.ty.kind not in ("int", "bool"):
            self.fail(f"index of type {index_val.ty}", node)
        index_code = self.coerce(index_val, INT, node)
        if kind == "str":
            self.module.helpers.add("py_str_index")
            return Val(f"py_str_index({self.borrow(base)}, {index_code})", STR)
        if kind != "list":
            self.fail(f"indexing {base.ty}", node)
        elem = base.ty.args[0]
        const = _const_int(node.slice)
        if base.kind != "place":
            tmp = self.fresh("v")
            self.module.helpers.add("py_index")
            inner = f"{tmp}[py_index({index_code}, {tmp}.len())]"
            if not is_copy(elem):
                inner += ".clone()"
            return Val(f"{{ let {tmp} = {base.code}; {inner} }}", elem)
        seq = self.wrap(base, PREC_ATOM)
        if const is not None and const >= 0:
            return Val(f"{seq}[{const}]", elem, "place")
        if const is not None:
            return Val(f"{seq}[{seq}.len() - {-const}]", elem, "place")
        self.module.helpers.add("py_index")
        return Val(f"{seq}[py_index({index_code}, {seq}.len())]", elem, "place")

    def mutable_place(self, node: ast.expr, setup: list[str]) -> str:
        """Code for a place that will be mutated (``xs[i][j]``, ``d[k]``, ``obj.f``).

        Indices are computed into ``setup`` statements first: Rust rejects ``xs[f(xs.len())] = v``
        because the index expression borrows ``xs`` while it is mutably borrowed.
        """
        if isinstance(node, ast.Subscript) and not isinstance(node.slice, ast.Slice):
            outer = self.unwrap_option(self.expr(node.value))
            if outer.ty.kind == "dict":
                key = self.expr(node.slice, outer.ty.args[0])
                if key.kind == "strlit":
                    k = key.code
                elif key.ty == outer.ty.args[0]:
                    k = self.ref_arg(key)
                else:
                    k = f"&{self.coerce(key, outer.ty.args[0], node)}"
                base = self.mutable_place(node.value, setup)
                return f'(*{base}.get_mut({k}).expect("KeyError"))'
            if outer.ty.kind == "list":
                base = self.mutable_place(node.value, setup)
                const = _const_int(node.slice)
                if const is not None and const >= 0:
                    return f"{base}[{const}]"
                index = self.coerce(self.expr(node.slice), INT, node)
                tmp = self.fresh("idx")
                self.module.helpers.add("py_index")
                setup.append(f"let {tmp} = py_index({index}, {base}.len());")
                return f"{base}[{tmp}]"
            if not self.vague(outer.ty):
                self.fail(f"item assignment on {outer.ty}", node)
        val = self.expr(node)
        return self.wrap(val, PREC_ATOM)

    def _slice(self, base: Val, sl: ast.Slice, node: ast.AST) -> Val:
        """``seq[a:b:c]`` through one helper so clamping and negative steps match Python."""
        bounds = []
        for part in (sl.lower, sl.upper, sl.step):
            if part is None:
                bounds.append("None")
                continue
            val = self.expr(part)
            if self.vague(val.ty):
                return self.unknown()
            if val.ty.kind not in ("int", "bool", "option"):
                self.fail(f"slice bound of type {val.ty}", node)
            code = self.coerce(val, option_of(INT), node)
            bounds.append(code)
        kind = base.ty.kind
        if kind == "str":
            self.module.helpers.add("py_str_slice")
            return Val(f"py_str_slice({self.borrow(base)}, {', '.join(bounds)})", STR)
        if kind == "list":
            self.module.helpers.add("py_slice")
            return Val(f"py_slice({self.borrow(base)}, {', '.join(bounds)})", base.ty)
        self.fail(f"slicing {base.ty}", node)

    # ----------------------------------------------------------------- calls

    def expr_Call(self, node: ast.Call, expected: Ty | None) -> Val:
        """Builtins, module functions (math), user functions, constructors and methods."""
        func = node.func
        if isinstance(func, ast.Name):
            name = func.id
            if self.lookup(name) is not None:
                self.fail("call of a variable", node)
            if name in self.module.functions:
                return self.call_user(self.module.functions[name], node, name)
            if name in self.module.classes:
                return self.construct(name, node)
            if name in self.module.identities and len(node.args) == 1 and not node.keywords:
                return self.expr(node.args[0], expected)
            if name in self.module.imported:
                return builtins.call_module(self, *self.module.imported[name], node)
            if name in self.module.unavailable:
                self.fail(self.module.unavailable[name], node)
            if name == "cast" and len(node.args) == 2 and not node.keywords:
                return self._cast(node, expected)
            if name in builtins.BUILTIN_NAMES:
                return builtins.call_builtin(self, name, node, expected)
            if self.inferring:
                return self.unknown()
            self.fail(f"call to unknown function {name}", node)
        if isinstance(func, ast.Attribute):
            if isinstance(func.value, ast.Name) and func.value.id in self.module.modules:
                return builtins.call_module(self, func.value.id, func.attr, node)
            if isinstance(func.value, ast.Name) and func.value.id in self.module.classes:
                info = self.module.classes[func.value.id]
                sig = info.methods.get(func.attr)
                if sig is None or not sig.is_static:
                    self.fail(f"class attribute call {func.attr}", node)
                return self.call_user(sig, node, f"{info.name}::{ident(func.attr)}")
            if isinstance(func.value, ast.Constant) and isinstance(func.value.value, str):
                recv = self.expr(func.value)
            else:
                recv = self.expr(func.value)
            return methods.call_method(self, recv, func.attr, node, expected)
        self.fail("call of a computed function", node)

    def bind_args(self, sig: FuncSig, node: ast.Call) -> list[ast.expr]:
        """Positional + keyword arguments + defaults, in parameter order."""
        if any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords):
            self.fail("argument unpacking", node)
        names = [p for p, _ in sig.params]
        if len(node.args) > (len(names) if sig.positional is None else sig.positional):
            self.fail(f"too many positional arguments to {sig.name}", node)
        bound: list[ast.expr | None] = list(node.args) + [None] * (len(names) - len(node.args))
        for kw in node.keywords:
            if kw.arg not in names or names.index(kw.arg) < sig.positional_only:
                self.fail(f"unknown keyword argument {kw.arg}", node)
            if bound[names.index(kw.arg)] is not None:
                self.fail(f"{sig.name} got multiple values for argument {kw.arg}", node)
            bound[names.index(kw.arg)] = kw.value
        result = []
        for i, arg in enumerate(bound):
            if arg is None:
                default = sig.defaults[i] if i < len(sig.defaults) else None
                if default is None:
                    self.fail(f"missing argument {names[i]} to {sig.name}", node)
                arg = default
            result.append(arg)
        return result

    def call_user(self, sig: FuncSig, node: ast.Call, rust_name: str) -> Val:
        """A call to a translated function: arguments are passed owned (cloned where needed)."""
        args = self.bind_args(sig, node)
        codes = []
        for i, (arg, (pname, pty)) in enumerate(zip(args, sig.params, strict=True)):
            val = self.expr(arg, pty if not has_unknown(pty) else None)
            if self.inferring and has_unknown(pty) and not has_unknown(val.ty):
                try:
                    new = unify(pty, val.ty)
                except TypeClash:
                    new = pty
                if new != pty:
                    sig.params[i] = (pname, new)
                    self.module.changed = True
            if not self.inferring and has_unknown(pty):
                self.fail(f"could not infer type of parameter {pname} of {sig.name}", node)
            codes.append(self.coerce(val, pty, node))
        return Val(f"{ident(rust_name) if '::' not in rust_name else rust_name}({', '.join(codes)})", sig.ret)

    def _cast(self, node: ast.Call, expected: Ty | None) -> Val:
        """`typing.cast(T, x)`: `x`, a note for type checkers; on a union value with a member `T`,
        that member (the value is asserted to hold it: another member panics with TypeError where
        Python would go on with a value the annotation says it cannot have)."""
        val = self.expr(node.args[1], expected)
        if val.ty.kind != "union":
            return val
        try:
            target = annotation_to_ty(node.args[0], self.module.class_names())
        except Unsupported:
            return val
        k = union_member(val.ty, target)
        if k is None or val.ty.args[k] != target:
            return val
        inner = self.fresh("v")
        path = union_path(val.ty)
        held = self.owned(Val(f"(*{inner})" if is_copy(target) else inner, target, "place"))
        return Val(
            f"match &{self.wrap(val, PREC_ATOM)} {{ {path}::{UNION_VARIANTS[k]}({inner}) => {held}, "
            f'_ => panic!("TypeError: cast to {target} of another type") }}',
            target,
        )

    def construct(self, name: str, node: ast.Call) -> Val:
        """``Point(1, 2)`` -> ``Point::new(1, 2)``."""
        info = self.module.classes[name]
        init = info.methods.get("__init__")
        if (
            init is None
            and not info.fields
            and info.enum_members is None
            and not node.args
            and not node.keywords
        ):
            return Val(f"{name}::default()", Ty("class", (), name))  # `object.__init__`: nothing to set
        if init is None:
            self.fail(f"class {name} without a constructor", node)
        val = self.call_user(init, node, f"{name}::new")
        return Val(val.code, Ty("class", (), name))

    # ----------------------------------------------------------------- iteration

    def iterate(self, node: ast.expr, snapshot: bool = False, want: Ty | None = None) -> tuple[str, Ty]:
        """A Rust iterator over owned items of ``node`` and the item type (ranges, strings by char...);
        ``want`` is the item type the context expects (it types a comprehension's element)."""
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and self.lookup(node.func.id) is None
        ):
            special = builtins.iterate_call(self, node.func.id, node)
            if special is not None:
                return special
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and not node.args:
            special = methods.iterate_method(self, node.func.value, node.func.attr, node)
            if special is not None:
                return special
        if isinstance(node, ast.ListComp | ast.GeneratorExp | ast.SetComp):
            return self.comprehension(node, want)
        if isinstance(node, ast.Name) and self.lookup(node.id) is None:
            info = self.module.classes.get(node.id)
            if info is not None and info.enum_members is not None:  # `for m in Color`: definition order
                return f"{node.id}::MEMBERS.into_iter()", class_ty(node.id)
        val = self.unwrap_option(self.expr(node))
        return self.iter_value(val, node, snapshot)

    def iter_value(self, val: Val, node: ast.AST, snapshot: bool = False) -> tuple[str, Ty]:
        """Iterate an already translated value."""
        kind = val.ty.kind
        base = self.wrap(val, PREC_ATOM)
        if kind == "unknown":
            return "std::iter::empty()", UNKNOWN
        if kind in ("list", "set"):
            elem = val.ty.args[0]
            if val.kind == "place" and not snapshot:
                return f"{base}.iter().{'copied' if is_copy(elem) else 'cloned'}()", elem
            if val.kind == "place":
                return f"{base}.clone().into_iter()", elem
            return f"{base}.into_iter()", elem
        if kind == "str":
            return f"{base}.chars().map(String::from)", STR
        if kind == "dict":
            key = val.ty.args[0]
            if val.kind == "place" and not snapshot:
                return f"{base}.keys().{'copied' if is_copy(key) else 'cloned'}()", key
            if val.kind == "place":
                return f"{base}.clone().into_keys()", key
            return f"{base}.into_keys()", key
        if kind == "tuple" and val.ty.args:
            elem = UNKNOWN
            for a in val.ty.args:
                elem = self.unify_at(elem, a, node)
            tmp = self.fresh("t")
            fields = [
                self.coerce(Val(f"{tmp}.{i}", a, "place"), elem, node) for i, a in enumerate(val.ty.args)
            ]
            return f"{{ let {tmp} = {self.owned(val)}; [{', '.join(fields)}] }}.into_iter()", elem
        self.fail(f"iteration over {val.ty}", node)

    def bind_target(self, target: ast.expr, ty: Ty, node: ast.AST) -> tuple[str, dict[str, Ty]]:
        """A Rust pattern for a loop/comprehension target and the names it binds."""
        if isinstance(target, ast.Name):
            if target.id == "_":
                return "_", {}
            return ident(target.id), {target.id: ty}
        if isinstance(target, ast.Tuple | ast.List):
            if ty.kind == "unknown":
                parts = [self.bind_target(t, UNKNOWN, node) for t in target.elts]
            elif ty.kind != "tuple" or len(ty.args) != len(target.elts):
                self.fail(f"unpacking {ty} into {len(target.elts)} names", node)
            else:
                parts = [self.bind_target(t, a, node) for t, a in zip(target.elts, ty.args, strict=True)]
            names: dict[str, Ty] = {}
            for _, bound in parts:
                names.update(bound)
            return f"({', '.join(p for p, _ in parts)})", names
        self.fail("loop target that is not a name or tuple", node)

    def comprehension(
        self, node: ast.ListComp | ast.GeneratorExp | ast.SetComp | ast.DictComp, want: Ty | None = None
    ) -> tuple[str, Ty]:
        """Iterator chain for a comprehension (single ``for``), or a collected loop (several)."""
        self.comprehensions += 1
        try:
            return self._comprehension(node, want)
        finally:
            self.comprehensions -= 1

    def _comprehension(
        self, node: ast.ListComp | ast.GeneratorExp | ast.SetComp | ast.DictComp, want: Ty | None
    ) -> tuple[str, Ty]:
        gens = node.generators
        if any(g.is_async for g in gens):
            self.fail("async comprehension", node)
        if len(gens) == 1:
            return self._simple_comprehension(node, gens[0], want)
        out = self.fresh("out")
        pushed = 0
        opens: list[str] = []
        try:
            for g in gens:
                it_code, elem = self.iterate(g.iter)
                pattern, names = self.bind_target(g.target, elem, node)
                self.scopes.append(names)
                pushed += 1
                opens.append(f"for {pattern} in {it_code} {{")
                opens.extend(f"if {self.cond(c)} {{" for c in g.ifs)
            code, ty = self._element(node, want)
        finally:
            del self.scopes[len(self.scopes) - pushed :]
        body = " ".join(opens) + f" {out}.push({code});" + " }" * len(opens)
        block = f"{{ let mut {out}: Vec<{self.rtype(ty, node)}> = Vec::new(); {body} {out} }}"
        return f"{block}.into_iter()", ty

    def _element(
        self, node: ast.ListComp | ast.GeneratorExp | ast.SetComp | ast.DictComp, want: Ty | None = None
    ) -> tuple[str, Ty]:
        """The produced element (a (key, value) tuple for dict comprehensions); where the context
        expects a union element, each element is converted to it."""
        if isinstance(node, ast.DictComp):
            key, value = self.expr(node.key), self.expr(node.value)
            return f"({self.owned(key)}, {self.owned(value)})", Ty("tuple", (key.ty, value.ty))
        if want is not None and want.kind != "union":
            want = None
        val = self.expr(node.elt, want)
        if want is not None and val.ty != want and not self.vague(val.ty):
            return self.coerce(val, want, node), want
        return self.owned(val), val.ty

    def _simple_comprehension(
        self,
        node: ast.ListComp | ast.GeneratorExp | ast.SetComp | ast.DictComp,
        gen: ast.comprehension,
        want: Ty | None = None,
    ) -> tuple[str, Ty]:
        """``iter.filter(..).map(..)`` for the common one-``for`` case."""
        it_code, elem = self.iterate(gen.iter)
        pattern, names = self.bind_target(gen.target, elem, node)
        self.scopes.append(names)
        try:
            conds = [self.cond(c) for c in gen.ifs]
            code, ty = self._element(node, want)
        finally:
            self.scopes.pop()
        identity = code == pattern or (isinstance(gen.target, ast.Name) and code == f"{pattern}.clone()")
        chain = it_code
        if conds:
            test = " && ".join(f"({c})" if len(conds) > 1 else c for c in conds)
            if is_copy(elem) and pattern != "_":
                chain += f".filter(|&{pattern}| {test})"
            else:
                return f"{chain}.filter_map(|{pattern}| if {test} {{ Some({code}) }} else {{ None }})", ty
        if not identity:
            chain += f".map(|{pattern}| {code})"
        return chain, ty

    def expr_ListComp(self, node: ast.ListComp, expected: Ty | None) -> Val:
        """``[e for x in it if c]`` -> ``it.filter(..).map(..).collect::<Vec<_>>()``."""
        code, ty = self.comprehension(node, _element_of(expected))
        return Val(f"{code}.collect::<Vec<{self.rtype(ty, node)}>>()", list_of(ty))

    def expr_SetComp(self, node: ast.SetComp, expected: Ty | None) -> Val:
        """Set comprehension -> ``HashSet``."""
        code, ty = self.comprehension(node)
        if not self.vague(ty) and not is_hashable(ty):
            self.fail(f"set of {ty}", node)
        return Val(f"{code}.collect::<HashSet<{self.rtype(ty, node)}>>()", set_of(ty))

    def expr_DictComp(self, node: ast.DictComp, expected: Ty | None) -> Val:
        """Dict comprehension -> ``HashMap``."""
        code, ty = self.comprehension(node)
        if ty.kind != "tuple":
            return self.unknown()
        key, value = ty.args
        if not self.vague(key) and not is_hashable(key):
            self.fail(f"dict keyed by {key}", node)
        rust = f"HashMap<{self.rtype(key, node)}, {self.rtype(value, node)}>"
        return Val(f"{code}.collect::<{rust}>()", dict_of(key, value))

    def expr_GeneratorExp(self, node: ast.GeneratorExp, expected: Ty | None) -> Val:
        """A bare generator (not consumed by sum/any/...) is materialised as a list."""
        code, ty = self.comprehension(node, _element_of(expected))
        return Val(f"{code}.collect::<Vec<{self.rtype(ty, node)}>>()", list_of(ty))

    def lambda_body(self, lam: ast.expr, arg_ty: Ty, node: ast.AST) -> tuple[str, Val]:
        """Translate a one-argument callable (lambda, function name, ``str.lower``) applied to a fresh name.

        Returns the closure parameter name and the body value.
        """
        if isinstance(lam, ast.Lambda):
            args = lam.args
            if len(args.args) != 1 or args.vararg or args.kwarg or args.kwonlyargs or args.posonlyargs:
                self.fail("lambda with other than one parameter", node)
            pname = args.args[0].arg
            self.scopes.append({pname: arg_ty})
            try:
                body = self.expr(lam.body)
            finally:
                self.scopes.pop()
            return ident(pname), body
        pname = self.fresh("x")
        if isinstance(lam, ast.Name):
            call: ast.expr = ast.Call(func=lam, args=[ast.Name(id=pname, ctx=ast.Load())], keywords=[])
        elif isinstance(lam, ast.Attribute) and isinstance(lam.value, ast.Name) and lam.value.id == "str":
            call = ast.Call(
                func=ast.Attribute(value=ast.Name(id=pname, ctx=ast.Load()), attr=lam.attr, ctx=ast.Load()),
                args=[],
                keywords=[],
            )
        else:
            self.fail("callable argument that is not a lambda or function name", node)
        ast.copy_location(call, node)
        ast.fix_missing_locations(call)
        self.scopes.append({pname: arg_ty})
        try:
            body = self.expr(call)
        finally:
            self.scopes.pop()
        return pname, body

    # ----------------------------------------------------------------- unsupported

    def expr_NamedExpr(self, node: ast.NamedExpr, expected: Ty | None) -> Val:
        """Assignment expressions would need statement hoisting."""
        self.fail("assignment expression (:=)", node)


def _construct_name(node: ast.AST) -> str:
    """A readable construct name for ``Unsupported``."""
    names = {
        "Await": "await",
        "Yield": "yield",
        "YieldFrom": "yield from",
        "Starred": "starred expression",
        "Slice": "slice outside subscript",
    }
    return names.get(type(node).__name__, type(node).__name__)


def _is_none(node: ast.expr) -> bool:
    """The literal ``None``."""
    return isinstance(node, ast.Constant) and node.value is None


def _is_empty_literal(node: ast.expr) -> bool:
    """``[]``, ``{}``, ``set()``-like literals whose element type comes from context."""
    if isinstance(node, ast.List | ast.Set | ast.Tuple):
        return not node.elts
    if isinstance(node, ast.Dict):
        return not node.keys
    return isinstance(node, ast.Constant) and node.value is None


def _const_int(node: ast.expr) -> int | None:
    """The value of an integer literal (including a negated one)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, int) and not isinstance(node.value, bool):
        return node.value
    if (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, ast.USub)
        and isinstance(node.operand, ast.Constant)
        and isinstance(node.operand.value, int)
        and not isinstance(node.operand.value, bool)
    ):
        return -node.operand.value
    return None


__all__ = ["ExpressionTranslator", "float_literal", "rust_str_literal"]


def _repr_method(info: ClassInfo) -> str | None:
    """The method giving the class's `repr()`: its own `__repr__`, or the one `@dataclass` generates."""
    return next((m for m in ("__repr__", GENERATED_REPR) if m in info.methods), None)
