"""Type terms: the small type language inference works in, and how terms combine.

A term is a Python type as the translator understands it (int, float, bool, str, bytes, None, list,
set, dict, tuple, Optional of those, a class of the package), where a container's element may be
still unknown. Evidence from different places is combined with `join` (the least type that holds
both: int and float give float, T and None give Optional[T], an unknown element takes the other
side's); two terms that no type holds (str and list) do not join.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

SCALARS = ("int", "float", "bool", "str", "bytes")
CONTAINERS = {"list": 1, "set": 1, "dict": 2}


@dataclass(frozen=True)
class Term:
    kind: str
    """int, float, bool, str, bytes, none, list, set, dict, tuple, optional, class, unknown."""
    args: tuple[Term, ...] = ()
    name: str = ""
    """The class name, for kind `class`."""

    def render(self) -> str:
        """The annotation text (builtin generics; `Optional[T]` as `T | None`)."""
        if self.kind in SCALARS:
            return self.kind
        if self.kind == "none":
            return "None"
        if self.kind == "class":
            return self.name
        if self.kind == "optional":
            return f"{self.args[0].render()} | None"
        if self.kind == "tuple":
            if not self.args:
                return "tuple[()]"
            return f"tuple[{', '.join(a.render() for a in self.args)}]"
        if self.kind in CONTAINERS:
            return f"{self.kind}[{', '.join(a.render() for a in self.args)}]"
        return "unknown"

    @property
    def complete(self) -> bool:
        """No unknown anywhere inside (an annotation can be written for it)."""
        return self.kind != "unknown" and all(a.complete for a in self.args)


UNKNOWN = Term("unknown")
INT, FLOAT, BOOL, STR, BYTES, NONE = (Term(k) for k in ("int", "float", "bool", "str", "bytes", "none"))


def list_of(elem: Term = UNKNOWN) -> Term:
    return Term("list", (elem,))


def set_of(elem: Term = UNKNOWN) -> Term:
    return Term("set", (elem,))


def dict_of(key: Term = UNKNOWN, value: Term = UNKNOWN) -> Term:
    return Term("dict", (key, value))


def tuple_of(*elems: Term) -> Term:
    return Term("tuple", tuple(elems))


def optional(inner: Term) -> Term:
    if inner.kind in ("optional", "none"):
        return inner
    return Term("optional", (inner,))


def join(a: Term, b: Term) -> Term | None:
    """The least term that holds both, or None when they do not fit one type."""
    if a == b:
        return a
    if a.kind == "unknown":
        return b
    if b.kind == "unknown":
        return a
    if a.kind == "none":
        return optional(b)
    if b.kind == "none":
        return optional(a)
    if a.kind == "optional" or b.kind == "optional":
        inner = join(a.args[0] if a.kind == "optional" else a, b.args[0] if b.kind == "optional" else b)
        return None if inner is None else optional(inner)
    numeric = {"bool": 0, "int": 1, "float": 2}
    if a.kind in numeric and b.kind in numeric:
        return a if numeric[a.kind] >= numeric[b.kind] else b
    if a.kind != b.kind or len(a.args) != len(b.args) or a.name != b.name:
        return None
    args = []
    for x, y in zip(a.args, b.args, strict=True):
        joined = join(x, y)
        if joined is None:
            return None
        args.append(joined)
    return Term(a.kind, tuple(args), a.name)


def join_all(terms: list[Term]) -> Term | None:
    out: Term | None = UNKNOWN
    for term in terms:
        out = None if out is None else join(out, term)
    return out


def of_value(value: object) -> Term:
    """The term of a Python value (a literal from a docstring example)."""
    if value is None:
        return NONE
    if isinstance(value, bool):
        return BOOL
    for kind in (int, float, str, bytes):
        if isinstance(value, kind):
            return Term(kind.__name__)
    if isinstance(value, list | set | frozenset):
        elem = join_all([of_value(v) for v in value])
        return Term("list" if isinstance(value, list) else "set", (elem or UNKNOWN,))
    if isinstance(value, tuple):
        return tuple_of(*(of_value(v) for v in value))
    if isinstance(value, dict):
        key = join_all([of_value(k) for k in value])
        val = join_all([of_value(v) for v in value.values()])
        return dict_of(key or UNKNOWN, val or UNKNOWN)
    return UNKNOWN


_NAMES = {"List": "list", "Set": "set", "Dict": "dict", "Tuple": "tuple", "FrozenSet": "set"}


def of_annotation(node: ast.expr | None, classes: frozenset[str] = frozenset()) -> Term:
    """The term of an annotation as written; what we cannot read is unknown (never an error)."""
    if node is None:
        return UNKNOWN
    if isinstance(node, ast.Constant):
        if node.value is None:
            return NONE
        if isinstance(node.value, str):
            try:
                return of_annotation(ast.parse(node.value, mode="eval").body, classes)
            except SyntaxError:
                return UNKNOWN
        return UNKNOWN
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        left, right = of_annotation(node.left, classes), of_annotation(node.right, classes)
        if NONE in (left, right):
            return optional(right if left == NONE else left)
        return UNKNOWN
    name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else None
    if name is not None:
        name = _NAMES.get(name, name)
        if name in SCALARS:
            return Term(name)
        if name in CONTAINERS:
            return Term(name, (UNKNOWN,) * CONTAINERS[name])
        if name == "tuple":
            return UNKNOWN
        if name in classes:
            return Term("class", name=name)
        return UNKNOWN
    if isinstance(node, ast.Subscript):
        base_name = node.value.id if isinstance(node.value, ast.Name) else getattr(node.value, "attr", "")
        base_name = _NAMES.get(base_name, base_name)
        items = list(node.slice.elts) if isinstance(node.slice, ast.Tuple) else [node.slice]
        args = tuple(of_annotation(i, classes) for i in items)
        if base_name in CONTAINERS and len(args) == CONTAINERS[base_name]:
            return Term(base_name, args)
        if base_name == "tuple" and not any(
            isinstance(i, ast.Constant) and i.value is Ellipsis for i in items
        ):
            return tuple_of(*args)
        if base_name == "Optional" and len(args) == 1:
            return optional(args[0])
    return UNKNOWN
