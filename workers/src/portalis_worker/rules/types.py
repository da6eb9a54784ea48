"""Python type hints to Rust types, and the small type algebra the inference pass works in.

The mapping follows MultiPL-E's Rust prompts: ``int`` -> ``isize``, ``float`` -> ``f64``,
``str`` -> ``String``, ``List[T]`` -> ``Vec<T>``, ``Dict[K, V]`` -> ``HashMap<K, V>``,
``Set[T]`` -> ``HashSet<T>``, ``Tuple[A, B]`` -> ``(A, B)``, ``Optional[T]`` -> ``Option<T>``.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from portalis_worker.rules.errors import Unsupported


@dataclass(frozen=True)
class Ty:
    """A static type: ``kind`` is int/float/bool/str/none/list/dict/set/tuple/option/class/unknown."""

    kind: str
    args: tuple[Ty, ...] = ()
    name: str = ""

    def __str__(self) -> str:
        if self.kind == "class":
            return self.name
        if is_vtuple(self):
            return f"tuple[{self.args[0]}, ...]"
        if not self.args:
            return self.kind
        return f"{self.kind}[{', '.join(str(a) for a in self.args)}]"


INT = Ty("int")
FLOAT = Ty("float")
BOOL = Ty("bool")
STR = Ty("str")
BYTES = Ty("bytes")
"""`bytes`: a `Vec<u8>`."""
NONE = Ty("none")
NEVER = Ty("never")
"""`NoReturn`/`Never`: a function that always raises; Rust's `!`."""
UNKNOWN = Ty("unknown")
PATTERN = Ty("pattern")
"""`re.Pattern` (the support crate's `portalis_py::re::Pattern`)."""
MATCH = Ty("match")
"""`re.Match` (`portalis_py::re::Match`)."""


def list_of(elem: Ty) -> Ty:
    """``List[elem]``."""
    return Ty("list", (elem,))


def set_of(elem: Ty) -> Ty:
    """``Set[elem]``."""
    return Ty("set", (elem,))


def dict_of(key: Ty, value: Ty) -> Ty:
    """``Dict[key, value]``."""
    return Ty("dict", (key, value))


def vtuple_of(elem: Ty) -> Ty:
    """``tuple[elem, ...]``: a sequence of any length; a ``Vec`` in Rust, so it is a list to the
    translator (every read of a list works on it), told apart for hashing, unifying and checks."""
    return Ty("list", (elem,), "tuple")


def is_vtuple(ty: Ty) -> bool:
    """Whether ``ty`` is ``tuple[X, ...]``."""
    return ty.kind == "list" and ty.name == "tuple"


def tuple_of(*elems: Ty) -> Ty:
    """``Tuple[elems...]`` (fixed length, heterogeneous)."""
    return Ty("tuple", tuple(elems))


def option_of(inner: Ty) -> Ty:
    """``Optional[inner]``; Optional of Optional collapses, as in Python."""
    if inner.kind in ("option", "none"):
        return inner if inner.kind == "option" else Ty("option", (UNKNOWN,))
    return Ty("option", (inner,))


def class_ty(name: str) -> Ty:
    """A user class translated to a struct."""
    return Ty("class", (), name)


class TypeClash(Exception):
    """Two types that have no common Rust type; callers turn this into ``Unsupported``."""


def has_unknown(ty: Ty) -> bool:
    """True while inference has not yet pinned down some part of ``ty``."""
    return ty.kind == "unknown" or any(has_unknown(a) for a in ty.args)


def is_numeric(ty: Ty) -> bool:
    """int, float or bool: the operands Python arithmetic accepts."""
    return ty.kind in ("int", "float", "bool")


def is_copy(ty: Ty) -> bool:
    """Whether the Rust type is ``Copy``, so values need no ``.clone()``."""
    if ty.kind in ("int", "float", "bool", "none", "logger"):
        return True
    if ty.kind in ("tuple", "option"):
        return all(is_copy(a) for a in ty.args)
    return False


def is_immutable(ty: Ty) -> bool:
    """Whether values of ``ty`` cannot change in place in Python (numbers, str, bytes, None, and
    tuples, Optionals and unions of those): sharing one or copying it cannot be told apart."""
    if ty.kind in ("int", "float", "bool", "str", "bytes", "none"):
        return True
    if ty.kind in ("tuple", "option", "union") or is_vtuple(ty):
        return all(is_immutable(a) for a in ty.args)
    return False


def is_hashable(ty: Ty) -> bool:
    """Whether the Rust type implements ``Hash + Eq`` (f64 does not), for set and dict keys."""
    if ty.kind in ("int", "bool", "str", "bytes", "unknown"):
        return True
    if ty.kind == "class":
        return True  # an enum, or a class with `__hash__`; rustc refuses any other
    if ty.kind in ("tuple", "option", "union") or is_vtuple(ty):
        return all(is_hashable(a) for a in ty.args)
    return False


def unify(a: Ty, b: Ty) -> Ty:
    """The least type holding both ``a`` and ``b`` values (int+float -> float, None+T -> Optional[T])."""
    if a == b:
        return a
    if a.kind in ("unknown", "never"):
        return b
    if b.kind in ("unknown", "never"):
        return a
    if a.kind == "none":
        return option_of(b)
    if b.kind == "none":
        return option_of(a)
    if a.kind == "option" or b.kind == "option":
        inner_a = a.args[0] if a.kind == "option" else a
        inner_b = b.args[0] if b.kind == "option" else b
        return option_of(unify(inner_a, inner_b))
    for union, member in ((a, b), (b, a)):
        if union.kind == "union" and (member.kind == "union" or union_member(union, member) is not None):
            if member.kind == "union" and member != union:
                break
            return union  # a member's value where the union is expected
    if {a.kind, b.kind} == {"int", "float"}:
        return FLOAT
    if {a.kind, b.kind} == {"int", "bool"}:
        return INT
    if a.kind == b.kind and a.kind in ("list", "set", "dict") and len(a.args) == len(b.args):
        if a.name != b.name:  # a list and a tuple[X, ...]
            raise TypeClash(f"{a} vs {b}")
        return Ty(a.kind, tuple(unify(x, y) for x, y in zip(a.args, b.args, strict=True)), a.name)
    for fixed, variable in ((a, b), (b, a)):
        if fixed.kind == "tuple" and is_vtuple(variable):  # () or (1, 2) where tuple[int, ...] is
            elem = variable.args[0]
            for e in fixed.args:
                elem = unify(elem, e)
            return vtuple_of(elem)
    if a.kind == b.kind == "tuple" and len(a.args) == len(b.args):
        return Ty("tuple", tuple(unify(x, y) for x, y in zip(a.args, b.args, strict=True)))
    raise TypeClash(f"{a} vs {b}")


def rust_type(ty: Ty, line: int) -> str:
    """Render ``ty`` as Rust, or raise ``Unsupported`` when inference left a hole."""
    kind = ty.kind
    simple = {"int": "isize", "float": "f64", "bool": "bool", "str": "String", "bytes": "Vec<u8>"}
    simple["none"] = "()"
    simple["never"] = "!"
    if kind in simple:
        return simple[kind]
    if kind == "list":
        return f"Vec<{rust_type(ty.args[0], line)}>"
    if kind == "set":
        if not is_hashable(ty.args[0]):
            raise Unsupported(f"set of {ty.args[0]}", line)
        return f"HashSet<{rust_type(ty.args[0], line)}>"
    if kind == "dict":
        if not is_hashable(ty.args[0]):
            raise Unsupported(f"dict keyed by {ty.args[0]}", line)
        return f"HashMap<{rust_type(ty.args[0], line)}, {rust_type(ty.args[1], line)}>"
    if kind == "tuple":
        parts = [rust_type(a, line) for a in ty.args]
        return f"({parts[0]},)" if len(parts) == 1 else f"({', '.join(parts)})"
    if kind == "option":
        return f"Option<{rust_type(ty.args[0], line)}>"
    if kind == "union":
        return f"portalis_py::union::Union{len(ty.args)}<{', '.join(rust_type(a, line) for a in ty.args)}>"
    if kind == "class":
        return ty.name
    if kind == "pattern":
        return "portalis_py::re::Pattern"
    if kind == "match":
        return "portalis_py::re::Match"
    if kind == "logger":
        return "portalis_py::log::Logger"
    raise Unsupported("value of unknown type", line)


_SCALARS = {"int": INT, "float": FLOAT, "bool": BOOL, "str": STR, "bytes": BYTES, "None": NONE}
_SCALARS |= {"NoReturn": NEVER, "Never": NEVER}
_PROTOCOLS = {"SupportsInt": INT, "SupportsIndex": INT, "SupportsFloat": FLOAT}
"""`typing.SupportsInt` and kin are their builtin type: the Rust signature accepts that one
(a caller passing another type that has `__int__` is refused by rustc, never miscomputed)."""
_GENERIC = {
    "List": "list",
    "list": "list",
    "Sequence": "list",
    "Iterable": "list",
    "Iterator": "list",  # a generator's items, computed eagerly (rules/generators.py)
    "Collection": "list",
    "MutableSequence": "list",
    "MutableSet": "set",
    "MutableMapping": "dict",
    "Set": "set",
    "set": "set",
    "FrozenSet": "set",
    "AbstractSet": "set",
    "frozenset": "set",
    "Dict": "dict",
    "dict": "dict",
    "Mapping": "dict",
    "Tuple": "tuple",
    "tuple": "tuple",
}


_QUALIFIERS = frozenset({"Final", "ClassVar", "Annotated"})
_REGEX = {"Pattern": PATTERN, "Match": MATCH}


def is_bare_final(node: ast.expr | None) -> bool:
    """`X: Final = value`: the type is the value's."""
    return node is not None and _type_name(node) == "Final"


def _type_name(node: ast.expr) -> str | None:
    """``List`` for ``List``, ``typing.List`` and ``t.List``."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def annotation_to_ty(node: ast.expr, classes: frozenset[str] = frozenset()) -> Ty:
    """Map a Python annotation expression to a ``Ty``; bare containers get unknown elements."""
    line = getattr(node, "lineno", 0)
    if isinstance(node, ast.Constant):
        if node.value is None:
            return NONE
        if isinstance(node.value, str):
            return annotation_to_ty(ast.parse(node.value, mode="eval").body, classes)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _union([node.left, node.right], classes, line)
    name = _type_name(node)
    if name is not None:
        if name in _SCALARS:
            return _SCALARS[name]
        if name in _PROTOCOLS:
            return _PROTOCOLS[name]
        if name in _REGEX:
            return _REGEX[name]
        if name in _GENERIC:
            kind = _GENERIC[name]
            if kind == "tuple":
                return vtuple_of(UNKNOWN)
            arity = {"list": 1, "set": 1, "dict": 2}[kind]
            return Ty(kind, (UNKNOWN,) * arity)
        if name in classes:
            return class_ty(name)
        raise Unsupported(f"type {name}", line)
    if isinstance(node, ast.Subscript):
        base = _type_name(node.value)
        items = list(node.slice.elts) if isinstance(node.slice, ast.Tuple) else [node.slice]
        if base in _REGEX:
            return _REGEX[base]  # Pattern[str], Match[str]
        if base == "Literal" and items and all(isinstance(i, ast.Constant) for i in items):
            # Literal["a", "b"] is a str (the values are not checked: a wider type, same results).
            kinds = {type(i.value) for i in items if isinstance(i, ast.Constant)}
            literal = {str: STR, int: INT, bool: BOOL}.get(kinds.pop()) if len(kinds) == 1 else None
            if literal is not None:
                return literal
        if base in _QUALIFIERS and items:
            return annotation_to_ty(items[0], classes)  # Final[T], ClassVar[T], Annotated[T, ...]: T
        if base == "Optional" and len(items) == 1:
            return option_of(annotation_to_ty(items[0], classes))
        if base == "Union":
            return _union(items, classes, line)
        if base in _GENERIC:
            kind = _GENERIC[base]
            if kind == "tuple":
                if len(items) == 2 and isinstance(items[1], ast.Constant) and items[1].value is Ellipsis:
                    return vtuple_of(annotation_to_ty(items[0], classes))
                return tuple_of(*(annotation_to_ty(i, classes) for i in items))
            args = tuple(annotation_to_ty(i, classes) for i in items)
            if (kind in ("list", "set") and len(args) == 1) or (kind == "dict" and len(args) == 2):
                return Ty(kind, args)
        raise Unsupported(f"type {ast.unparse(node)}", line)
    raise Unsupported(f"type {ast.unparse(node)}", line)


def _union(items: list[ast.expr], classes: frozenset[str], line: int) -> Ty:
    """``Union[T, None]`` is Optional; a union of other types is the support crate's
    ``UnionN<...>`` enum (one variant per member, in the order written), Optional when None is
    one of them."""
    tys: list[Ty] = []
    for item in items:
        ty = annotation_to_ty(item, classes)
        if ty.kind == "option" and ty.args[0].kind != "unknown":
            ty = Ty("union", (*_members(ty.args[0]), NONE))  # Union[int, Optional[str]]: int | str | None
        for member in _members(ty):
            if member not in tys:
                tys.append(member)
    rest = [t for t in tys if t.kind != "none"]
    if len(rest) == 1:
        return option_of(rest[0]) if len(tys) > 1 else rest[0]
    if any(t.kind in ("option", "unknown") for t in rest):
        raise Unsupported("Union type with an Optional member", line)
    if len(rest) > MAX_UNION:
        raise Unsupported(f"Union of more than {MAX_UNION} types", line)
    union = Ty("union", tuple(rest))
    return option_of(union) if len(rest) < len(tys) else union


def _members(ty: Ty) -> tuple[Ty, ...]:
    """A union's members; any other type is its own one member."""
    return ty.args if ty.kind == "union" else (ty,)


MAX_UNION = 4
"""The support crate has `Union2` to `Union4`."""
UNION_VARIANTS = "ABCD"


def union_path(union: Ty) -> str:
    """The Rust enum of a union type, without its type arguments."""
    return f"portalis_py::union::Union{len(union.args)}"


def union_member(union: Ty, ty: Ty) -> int | None:
    """The variant of `union` that holds a value of type `ty` (an int goes to a float member when
    there is no int one)."""
    if ty in union.args:
        return union.args.index(ty)
    if ty.kind in ("int", "bool") and FLOAT in union.args:
        return union.args.index(FLOAT)
    return None
