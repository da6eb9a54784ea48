"""Dataclasses and simple classes become a struct plus an ``impl`` block.

Fields come from class-level annotations and from ``self.x = ...`` in ``__init__``; the
constructor is ``Type::new(...)``; a class attribute with an immutable default (`context: str |
None = None`) is a field that starts with that value; a method that assigns to ``self`` (or calls
one that does) takes ``&mut self``, any other ``&self``. Inheritance is copied down into each
subclass; properties are methods; class constants become module statics. A method that does not
translate (other than ``__init__`` and the dunders) is left out of its class, and named in its docs.
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Callable
from typing import TypeVar

from portalis_worker.rules.context import LEFT_OUT, ClassInfo, FuncSig, ModuleContext
from portalis_worker.rules.dataclass_model import (
    GENERATED_REPR,
    init_method,
    order_methods,
    read_model,
    repr_method,
)
from portalis_worker.rules.errors import Unsupported
from portalis_worker.rules.exceptions import BUILTIN_BASES
from portalis_worker.rules.types import BOOL, FLOAT, INT, STR, UNKNOWN, Ty, annotation_to_ty, class_ty

SigFactory = Callable[[ast.FunctionDef, str | None, bool], FuncSig]
T = TypeVar("T")


def _decorator_name(node: ast.expr) -> str:
    """``dataclass`` for ``@dataclass``, ``@dataclasses.dataclass`` and ``@dataclass(...)``."""
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return ast.unparse(node)


BUILTIN_EXCEPTIONS = frozenset({*BUILTIN_BASES, "IOError", "EnvironmentError"})
ENUM_BASES = frozenset({"Enum", "IntEnum", "StrEnum"})
ENUM_DUNDERS = frozenset({"__repr__", "__lt__", "__le__", "__gt__", "__ge__"})
"""Dunders an enum may define: `repr()` and the ordering operators call them (`str()` and `==`
keep Enum's own)."""
COMPARISONS = frozenset({"__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__"})
SPECIAL_METHODS = frozenset(
    {"__init__", "__str__", "__repr__", GENERATED_REPR, "__len__", "__contains__", "__hash__", *COMPARISONS}
)
"""Dunder methods with a translation: `__str__` -> Display, `repr(x)`, `len(x)` and `y in x` call
the others, and so do comparison operators between two values of the class (`__eq__` is also the
struct's `PartialEq`, `__hash__` its `Hash`)."""
OBJECT_PROTOCOL = frozenset(
    {"__getstate__", "__setstate__", "__reduce__", "__reduce_ex__", "__copy__", "__deepcopy__", "__replace__"}
)
"""Pickling and copying hooks: a struct is `Clone` and has no pickle; these methods are left out."""


def base_names(node: ast.ClassDef) -> list[str]:
    """`ValueError`, `Enum` for `enum.Enum`, ...; the last part of each base's dotted name."""
    names = []
    for base in node.bases:
        if isinstance(base, ast.Attribute):
            names.append(base.attr)
        elif isinstance(base, ast.Name):
            names.append(base.id)
        else:
            names.append(ast.unparse(base))
    return names


ABSTRACT_MARKERS = frozenset({"ABC", "ABCMeta"})


def drop_abstract_markers(node: ast.ClassDef) -> None:
    """`class C(ABC)`, `class C(metaclass=ABCMeta)`: the marker goes (an abstract class is a class
    whose subclasses are used); `@abstractmethod` methods leave its body, named in its docs as left
    out (a subclass defines them; a call through the base fails naming them)."""
    node.bases = [b for b in node.bases if _last_name(b) not in ABSTRACT_MARKERS]
    node.keywords = [
        k for k in node.keywords if not (k.arg == "metaclass" and _last_name(k.value) in ABSTRACT_MARKERS)
    ]
    abstract = [
        s
        for s in node.body
        if isinstance(s, ast.FunctionDef)
        and any(_decorator_name(d) == "abstractmethod" for d in s.decorator_list)
    ]
    if abstract:
        node.body = [s for s in node.body if s not in abstract] or [ast.Pass()]
        left_out = dict(getattr(node, LEFT_OUT, {}))
        left_out.update({s.name: "abstract method: its subclasses define it" for s in abstract})
        setattr(node, LEFT_OUT, left_out)


def _last_name(node: ast.expr) -> str:
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else ""


def exception_classes(nodes: list[ast.ClassDef]) -> set[str]:
    """Names among `nodes` that derive from an exception (a builtin one or another of `nodes`)."""
    found: set[str] = set()
    changed = True
    while changed:
        changed = False
        for node in nodes:
            if node.name not in found and any(
                b in BUILTIN_EXCEPTIONS or b in found for b in base_names(node)
            ):
                found.add(node.name)
                changed = True
    return found


def _only_docs(body: list[ast.stmt]) -> bool:
    return all(
        isinstance(s, ast.Pass)
        or (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant) and isinstance(s.value.value, str))
        for s in body
    )


def _is_super_init(stmt: ast.stmt) -> bool:
    """`super().__init__(...)` as a statement."""
    call = stmt.value if isinstance(stmt, ast.Expr) else None
    return (
        isinstance(call, ast.Call)
        and isinstance(call.func, ast.Attribute)
        and call.func.attr == "__init__"
        and isinstance(call.func.value, ast.Call)
        and getattr(call.func.value.func, "id", "") == "super"
    )


def _exception_init() -> ast.FunctionDef:
    func = ast.parse('def __init__(self, message: str = "") -> None:\n    self.message = message\n').body[0]
    assert isinstance(func, ast.FunctionDef)
    return func


def _enum_members(node: ast.ClassDef, kind: str) -> dict[str, int | str]:
    members: dict[str, int | str] = {}
    for stmt in node.body:
        if _only_docs([stmt]):
            continue
        if isinstance(stmt, ast.FunctionDef):
            if stmt.name.startswith("__") and stmt.name not in ENUM_DUNDERS:
                raise Unsupported(f"Enum with special method {stmt.name}", stmt.lineno)
            continue  # a method of the enum (collect_members)
        if not (
            isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)
        ):
            raise Unsupported("Enum body other than members and methods", stmt.lineno)
        name, value = stmt.targets[0].id, stmt.value
        if (
            isinstance(value, ast.Call)
            and getattr(value.func, "id", getattr(value.func, "attr", "")) == "auto"
        ):
            members[name] = name.lower() if kind == "StrEnum" else len(members) + 1
        elif (
            isinstance(value, ast.Constant)
            and isinstance(value.value, int | str)
            and not isinstance(value.value, bool)
        ):
            members[name] = value.value
        else:
            raise Unsupported("Enum member that is not an int or str literal", stmt.lineno)
    if not members:
        raise Unsupported("Enum without members", node.lineno)
    if len({type(v) for v in members.values()}) > 1:
        raise Unsupported("Enum mixing int and str values", node.lineno)
    if len(set(members.values())) != len(members):
        raise Unsupported("Enum with aliases (two members of one value)", node.lineno)
    return members


def flatten_inheritance(
    classes: list[ast.ClassDef], exceptions: set[str], ancestors: dict[str, tuple[str, ...]]
) -> None:
    """Give each class that derives from one plain class of the module its base's members, in place.

    Inheritance is translated by copying down: the subclass's struct has the base's fields and its
    own, its `impl` the base's methods it does not override and its own. `super().m(...)` calls the
    base's `m`, kept as the method `_super_m` (for `__init__`, `_super___init__`). There is no
    subtyping: a subclass value where the base type is expected is refused as a type mismatch, and
    `isinstance` with a class stays refused. Bases that are not plain classes of the module (enums,
    NamedTuples, exceptions, Protocol, Generic, ...) keep their own rules. `ancestors` receives each
    flattened class's bases, nearest first (for `isinstance`)."""
    by_name = {c.name: c for c in classes}
    done: set[str] = set()

    def plain(node: ast.ClassDef) -> bool:
        # `total_ordering` is written out after the copy-down (it sees inherited comparisons too).
        decorators = [d for d in node.decorator_list if _decorator_name(d) != "total_ordering"]
        return not decorators and not node.keywords and node.name not in exceptions

    def flatten(node: ast.ClassDef, depth: int) -> None:
        if node.name in done or depth > len(classes):
            return
        done.add(node.name)
        bases = [b for b in base_names(node) if b != "object"]
        if len(bases) != 1 or len(node.bases) != 1 or bases[0] not in by_name:
            return
        base = by_name[bases[0]]
        if base is node or not plain(base) or not plain(node):
            return
        flatten(base, depth + 1)
        if [b for b in base_names(base) if b != "object"]:
            return  # the base kept a base of its own (not flattenable): so does the subclass
        node.body = _merged_body(base, node)
        node.bases = []
        ancestors[node.name] = (base.name, *ancestors.get(base.name, ()))

    for node in classes:
        flatten(node, 0)


def _merged_body(base: ast.ClassDef, sub: ast.ClassDef) -> list[ast.stmt]:
    own_methods = {s.name for s in sub.body if isinstance(s, ast.FunctionDef)}
    own_fields = {
        t.id
        for s in sub.body
        if isinstance(s, ast.AnnAssign | ast.Assign)
        for t in (s.targets if isinstance(s, ast.Assign) else [s.target])
        if isinstance(t, ast.Name)
    }
    supers = {
        n.func.attr
        for n in ast.walk(sub)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and _is_super_call(n.func.value)
    }
    body: list[ast.stmt] = []
    for stmt in base.body:
        if _only_docs([stmt]):
            continue
        if isinstance(stmt, ast.FunctionDef) and stmt.name in own_methods:
            if stmt.name in supers:
                kept = copy.deepcopy(stmt)
                kept.name = f"_super_{stmt.name}"
                body.append(kept)
            continue
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [getattr(stmt, "target", None)]
        if any(isinstance(t, ast.Name) and t.id in own_fields for t in targets):
            continue
        body.append(copy.deepcopy(stmt))
    for stmt in sub.body:
        for n in ast.walk(stmt):
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and _is_super_call(n.func.value):
                n.func = ast.copy_location(
                    ast.Attribute(
                        value=ast.Name(id="self", ctx=ast.Load()),
                        attr=f"_super_{n.func.attr}",
                        ctx=ast.Load(),
                    ),
                    n.func,
                )
        body.append(stmt)
    return body


def _is_super_call(node: ast.expr) -> bool:
    """`super()` (with no arguments, or `super(Cls, self)`)."""
    return isinstance(node, ast.Call) and getattr(node.func, "id", "") == "super"


_TOTAL_ORDERING = {
    # root -> {derived: body}, as functools.total_ordering defines them (`r` is `self <root> other`).
    "__lt__": {"__gt__": "not r and self != other", "__le__": "r or self == other", "__ge__": "not r"},
    "__le__": {"__ge__": "not r or self == other", "__lt__": "r and self != other", "__gt__": "not r"},
    "__gt__": {"__lt__": "not r and self != other", "__ge__": "r or self == other", "__le__": "not r"},
    "__ge__": {"__le__": "not r or self == other", "__gt__": "r and self != other", "__lt__": "not r"},
}
_OPERATORS = {"__lt__": "<", "__le__": "<=", "__gt__": ">", "__ge__": ">="}


def expand_total_ordering(node: ast.ClassDef) -> None:
    """`@functools.total_ordering`: the decorator goes, and the comparisons it would add are written
    out as methods, each defined from the class's root comparison as the decorator defines it."""
    kept = [d for d in node.decorator_list if _decorator_name(d) != "total_ordering"]
    if len(kept) == len(node.decorator_list):
        return
    node.decorator_list = kept
    methods = {s.name: s for s in node.body if isinstance(s, ast.FunctionDef)}
    root = next((name for name in _TOTAL_ORDERING if name in methods), None)
    if root is None:
        raise Unsupported("total_ordering without an ordering method", node.lineno)
    params = methods[root].args.args
    other = ast.unparse(params[1].annotation) if len(params) > 1 and params[1].annotation else node.name
    for name, body in _TOTAL_ORDERING[root].items():
        if name in methods:
            continue
        source = (
            f"def {name}(self, other: {other}) -> bool:\n"
            f"    r = self {_OPERATORS[root]} other\n"
            f"    return {body}\n"
        )
        func = ast.parse(source).body[0]
        for n in ast.walk(func):
            if isinstance(n, ast.stmt | ast.expr):
                n.lineno = n.end_lineno = node.lineno
        node.body.append(func)


def declare_class(module: ModuleContext, node: ast.ClassDef) -> ClassInfo:
    """Register the class name first so annotations elsewhere can refer to it."""
    expand_total_ordering(node)
    bases = [b for b in base_names(node) if b != "object"]
    if len(bases) == 1 and bases[0] in ENUM_BASES and not node.decorator_list and not node.keywords:
        info = ClassInfo(name=node.name, node=node, enum_members=_enum_members(node, bases[0]))
        module.classes[node.name] = info
        return info
    if bases == ["NamedTuple"] and not node.decorator_list and not node.keywords:
        # A NamedTuple is a dataclass with positional construction; its tuple behaviour (indexing,
        # unpacking, ordering) has no translation and is refused where it is used.
        _add_generated_repr(node)
        info = ClassInfo(name=node.name, node=node, is_dataclass=True)
        module.classes[node.name] = info
        return info
    if bases and node.name in module.exceptions:
        if node.decorator_list or node.keywords:
            raise Unsupported("exception class with decorators or keywords", node.lineno)
        if _only_docs(node.body):
            node.body = [_exception_init()]
        else:
            # Fields and methods as in any class; the base's `__init__` keeps Python's `args`, which
            # the translation does not model (str() of the exception comes from `__str__` or `message`).
            for stmt in node.body:
                if isinstance(stmt, ast.FunctionDef) and stmt.name == "__init__":
                    stmt.body = [s for s in stmt.body if not _is_super_init(s)] or [ast.Pass()]
        info = ClassInfo(name=node.name, node=node, is_exception=True)
        module.classes[node.name] = info
        return info
    if bases:
        raise Unsupported(
            f"class inheritance from {bases[0]} (not a plain class of the package that translates)",
            node.lineno,
        )
    if node.keywords:
        raise Unsupported("class keywords", node.lineno)
    decorators = [_decorator_name(d) for d in node.decorator_list]
    if any(d != "dataclass" for d in decorators):
        raise Unsupported(f"class decorator {decorators[0]}", node.lineno)
    model = read_model(node) if decorators else None
    if model is not None and model.order:
        if COMPARISONS & {s.name for s in node.body if isinstance(s, ast.FunctionDef)}:
            raise Unsupported("dataclass with order=True that defines a comparison", node.lineno)  # TypeError
        node.body.extend(order_methods(node))
    if model is not None:
        _add_generated_repr(node)
    info = ClassInfo(name=node.name, node=node, is_dataclass=bool(decorators), dataclass=model)
    module.classes[node.name] = info
    return info


def _add_generated_repr(node: ast.ClassDef) -> None:
    """The decorator's `__repr__`, unless the class writes its own."""
    if not any(isinstance(s, ast.FunctionDef) and s.name == "__repr__" for s in node.body):
        node.body.append(repr_method(node))


def collect_members(module: ModuleContext, info: ClassInfo, sig_for: SigFactory) -> list[FuncSig]:
    """Fields and method signatures of a declared class."""
    node = info.node
    classes = module.class_names()
    methods: list[FuncSig] = []
    left_out = left_out_methods(node) | set(getattr(node, LEFT_OUT, {}))
    statements = node.body
    if info.enum_members is not None:
        statements = [s for s in node.body if isinstance(s, ast.FunctionDef)]  # the rest are members
    for stmt in statements:
        if (
            isinstance(stmt, ast.Expr)
            and isinstance(stmt.value, ast.Constant)
            and isinstance(stmt.value.value, str)
        ):
            continue
        if isinstance(stmt, ast.FunctionDef) and (stmt.name in left_out or _setter_name(stmt) in left_out):
            continue
        if isinstance(stmt, ast.Pass) or _is_slots(stmt) or _for_type_checkers(stmt):
            continue  # `__slots__`, `__match_args__`, declarations for type checkers only
        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            annotation = stmt.annotation
            if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
                annotation = ast.parse(annotation.value, mode="eval").body
            bare = _decorator_name(annotation) in ("Final", "ClassVar")
            literal = _literal_type(stmt.value) if bare and stmt.value is not None else None
            if literal is not None:
                info.fields[stmt.target.id] = literal  # `FROZEN: Final = 0`: the value's type
            else:
                info.fields[stmt.target.id] = annotation_to_ty(stmt.annotation, classes)
            if stmt.value is not None:
                if not info.is_dataclass and not _immutable_literal(stmt.value):
                    # Python shares one value among all instances: a copy per instance would differ
                    # as soon as one of them changes it in place.
                    raise Unsupported("class attribute with a mutable default", stmt.lineno)
                info.field_defaults[stmt.target.id] = stmt.value
            elif (
                info.is_dataclass
                and _positional(info, stmt.target.id)
                and any(_positional(info, f) for f in info.field_defaults)
            ):
                raise Unsupported("dataclass field without default after one with a default", stmt.lineno)
            continue
        if (
            isinstance(stmt, ast.Assign)
            and not info.is_dataclass
            and len(stmt.targets) == 1
            and isinstance(stmt.targets[0], ast.Name)
            and (literal := _literal_type(stmt.value)) is not None
        ):
            info.fields[stmt.targets[0].id] = literal  # `kind = "x"`: a class attribute
            info.field_defaults[stmt.targets[0].id] = stmt.value
            continue
        if isinstance(stmt, ast.FunctionDef):
            if [_decorator_name(d) for d in stmt.decorator_list] == ["classmethod"]:
                _class_method_as_static(stmt, info.name)
            decorators = [_decorator_name(d) for d in stmt.decorator_list]
            if decorators == ["setter"] and isinstance(stmt.decorator_list[0], ast.Attribute):
                # `@x.setter def x(self, v)`: the method `set_x`; `obj.x = v` calls it.
                prop = stmt.name
                if prop not in info.properties or len(stmt.args.args) != 2:
                    raise Unsupported(f"setter of {prop}", stmt.lineno)
                stmt.name, stmt.decorator_list, decorators = f"set_{prop}", [], []
                info.setters[prop] = stmt.name
            is_static = decorators == ["staticmethod"]
            if stmt.name.removeprefix("_super_") in COMPARISONS:  # a base's comparison kept too
                _compare_with_own_class(stmt, info.name)
            is_property = decorators in (["property"], ["cached_property"])
            if decorators and not (is_static or is_property):
                raise Unsupported(f"method decorator {decorators[0]}", stmt.lineno).within(
                    info.name, stmt.name
                )
            if is_property:
                if len(stmt.args.args) != 1 or stmt.args.vararg or stmt.args.kwonlyargs:
                    raise Unsupported("property with parameters", stmt.lineno).within(info.name, stmt.name)
                info.properties.add(stmt.name)
            if (
                stmt.name.startswith("__")
                and stmt.name not in SPECIAL_METHODS
                and not (info.is_dataclass and stmt.name == "__post_init__")
            ):
                raise Unsupported(f"special method {stmt.name}", stmt.lineno).within(info.name, stmt.name)
            if not is_static and (not stmt.args.args or stmt.args.args[0].arg != "self"):
                raise Unsupported("method without self", stmt.lineno).within(info.name, stmt.name)
            sig = sig_for(stmt, info.name, is_static)
            info.methods[stmt.name] = sig
            methods.append(sig)
            continue
        raise Unsupported("class body statement", stmt.lineno)
    if not info.is_dataclass and info.field_defaults and "__init__" not in info.methods:
        init = ast.parse("def __init__(self) -> None:\n    pass\n").body[0]
        assert isinstance(init, ast.FunctionDef)
        ast.increment_lineno(init, node.lineno - 1)
        sig = sig_for(init, info.name, False)
        info.methods["__init__"] = sig
        methods.insert(0, sig)
    if info.is_dataclass and "__init__" not in info.methods:
        annotations = {name: _annotation_source(info, name) for name in info.fields}
        init = init_method(node, info.dataclass, annotations)
        sig = sig_for(init, info.name, False)
        info.methods["__init__"] = sig
        methods.insert(0, sig)
    for sub in ast.walk(node):
        if (
            isinstance(sub, ast.Attribute)
            and isinstance(sub.ctx, ast.Store)
            and sub.attr in info.properties
            and sub.attr not in info.setters
            and isinstance(sub.value, ast.Name)
            and sub.value.id == "self"
        ):
            raise Unsupported(f"assignment to property {sub.attr}", sub.lineno)
    if "__init__" in info.methods:
        init_sig = info.methods["__init__"]
        init_sig.ret = class_ty(info.name)
        init_sig.ret_annotated = True
    for sub in ast.walk(node):
        if (
            isinstance(sub, ast.Attribute)
            and isinstance(sub.ctx, ast.Store)
            and isinstance(sub.value, ast.Name)
            and sub.value.id == "self"
        ):
            info.fields.setdefault(sub.attr, UNKNOWN)
    return methods


def _literal_type(node: ast.expr) -> Ty | None:
    """The type of an int, float, str or bool literal (a negative number included)."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        node = node.operand
    if isinstance(node, ast.Constant):
        return {bool: BOOL, int: INT, float: FLOAT, str: STR}.get(type(node.value))
    return None


def _immutable_literal(node: ast.expr) -> bool:
    """A number, string, bool, None, or a tuple of them."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return _immutable_literal(node.operand)
    return isinstance(node, ast.Tuple) and all(_immutable_literal(e) for e in node.elts)


MAX_LEFT_OUT = 64


LEAVABLE_DUNDERS = frozenset(
    {
        *("__iter__", "__reversed__", "__next__", "__getitem__", "__setitem__", "__delitem__"),
        *("__contains__", "__call__", "__enter__", "__exit__", "__getattr__", "__missing__"),
        *("__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__", "__truediv__"),
        *("__floordiv__", "__mod__", "__pow__", "__neg__", "__pos__", "__abs__", "__and__", "__or__"),
        *("__xor__", "__invert__", "__lshift__", "__rshift__", "__matmul__", "__int__", "__float__"),
        *("__index__", "__iadd__", "__isub__", "__imul__", "__ior__", "__iand__", "__rand__", "__ror__"),
        *("__repr__", GENERATED_REPR),
    }
)
"""Dunders whose absence makes every use refused where it is translated (iterating, indexing,
calling, an operator; `repr()`, and `str()` of a class without `__str__`): a class may be translated
without them. The others (`__init__`, `__eq__`,
`__hash__`, `__bool__`, `__len__`, `__str__`, `__format__`, `__setattr__`, ...) change what plain
code does when absent, so a class that needs them is translated whole or not at all."""


def leavable(method: str) -> bool:
    """Whether a class is still worth translating without `method`: any method but `__init__` and
    the dunders that change the behaviour of code that does not name them."""
    return not (method.startswith("__") and method.endswith("__")) or method in LEAVABLE_DUNDERS


def without_failing_members(
    tree: ast.Module,
    attempt: Callable[[ast.Module], T],
    droppable: Callable[[str], bool] = lambda _: False,
    top_name: Callable[[ast.stmt], str | None] = lambda _: None,
) -> T:
    """`attempt` on a copy of `tree`; when it fails in a method of a class that can do without it,
    again with that method left out (its name and reason on the class, for its docs and callers).
    A top-level definition that fails where it cannot be left out is dropped when `droppable` says
    the tree holds it only as context (a dependency of the unit being translated).

    Methods that call a left-out or dropped definition fail in turn and are left out too; what
    remains is the largest part of each class that translates. Each try starts from a fresh copy of
    the tree (the translation rewrites class bodies)."""
    left_out: dict[str, dict[str, str]] = {}
    dropped: set[str] = set()
    while True:
        work = copy.deepcopy(tree)
        work.body = [stmt for stmt in work.body if top_name(stmt) not in dropped]
        for stmt in work.body:
            if isinstance(stmt, ast.ClassDef) and stmt.name in left_out:
                setattr(stmt, LEFT_OUT, dict(left_out[stmt.name]))
        try:
            return attempt(work)
        except Unsupported as exc:
            if len(dropped) + sum(map(len, left_out.values())) >= MAX_LEFT_OUT:
                raise
            if exc.member is not None and leavable(exc.member[1]):
                known = left_out.setdefault(exc.member[0], {})
                if exc.member[1] not in known:
                    known[exc.member[1]] = str(exc)
                    continue
            where = exc.member[0] if exc.member is not None else exc.definition
            if where is None or where in dropped or not droppable(where):
                raise
            dropped.add(where)


def left_out_methods(node: ast.ClassDef) -> set[str]:
    """The pickling hooks, and the private methods only they call (a `_restore` helper)."""
    methods = {s.name: s for s in node.body if isinstance(s, ast.FunctionDef)}
    out = {name for name in methods if name in OBJECT_PROTOCOL}
    changed = True
    while changed:
        changed = False
        for name in methods:
            if name in out or not name.startswith("_") or name.startswith("__"):
                continue
            callers = {
                other
                for other, f in methods.items()
                if other != name and any(isinstance(n, ast.Attribute) and n.attr == name for n in ast.walk(f))
            }
            if callers and callers <= out:
                out.add(name)
                changed = True
    return out


def _compare_with_own_class(func: ast.FunctionDef, name: str) -> None:
    """`def __eq__(self, other: object)`: values compared are of one static type here (comparing with
    another type is refused where it is written), so `other` is typed as the class."""
    args = func.args.args
    if len(args) != 2 or func.args.vararg or func.args.kwonlyargs:
        raise Unsupported(f"{func.name} with other parameters than (self, other)", func.lineno)
    args[1].annotation = ast.copy_location(ast.Name(id=name, ctx=ast.Load()), args[1])
    if func.returns is None or _last_name(func.returns) in ("Any", "object"):  # bool, or NotImplemented
        func.returns = ast.copy_location(ast.Name(id="bool", ctx=ast.Load()), func)


def _is_slots(stmt: ast.stmt) -> bool:
    """`__slots__ = (...)` (which attributes instances may have: a struct has exactly its fields)
    and `__match_args__` (positions for `match`, which is outside the subset)."""
    return (
        isinstance(stmt, ast.Assign)
        and len(stmt.targets) == 1
        and isinstance(stmt.targets[0], ast.Name)
        and stmt.targets[0].id in ("__slots__", "__match_args__")
    )


def abstract_members(node: ast.ClassDef) -> list[str]:
    """`self.x` that the class reads but neither assigns, declares nor defines as a method: what
    its subclasses provide (a base class used only through them)."""
    defined = {s.name for s in node.body if isinstance(s, ast.FunctionDef)}
    for stmt in node.body:
        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            defined.add(stmt.target.id)
        if isinstance(stmt, ast.Assign):
            defined.update(t.id for t in stmt.targets if isinstance(t, ast.Name))
    read: list[str] = []
    for n in ast.walk(node):
        if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == "self":
            if isinstance(n.ctx, ast.Store):
                defined.add(n.attr)
            elif n.attr not in read:
                read.append(n.attr)
    return [a for a in read if a not in defined and not (a.startswith("__") and a.endswith("__"))]


def _for_type_checkers(stmt: ast.stmt) -> bool:
    """`if TYPE_CHECKING:` (or `typing.TYPE_CHECKING`) without `else`: never runs."""
    test = stmt.test if isinstance(stmt, ast.If) else None
    name = test.attr if isinstance(test, ast.Attribute) else getattr(test, "id", None)
    return isinstance(stmt, ast.If) and name == "TYPE_CHECKING" and not stmt.orelse


def hoist_class_constants(node: ast.ClassDef) -> list[tuple[str, ast.Assign]]:
    """Class attributes computed once (`_regex = re.compile(...)`), taken out of the class body as
    module constants named `<Class>_<attr>`; reads through `self`, `cls` or the class become reads
    of that constant. Only attributes that no method assigns are taken (they are class-wide
    values, shared by every instance, as in Python)."""
    if any(b in ENUM_BASES for b in base_names(node)):
        return []  # an enum's assignments are its members
    stored = {
        n.attr
        for n in ast.walk(node)
        if isinstance(n, ast.Attribute) and isinstance(n.ctx, ast.Store | ast.Del)
    }
    hoisted: list[tuple[str, ast.Assign]] = []
    names: dict[str, str] = {}
    literals: dict[str, ast.expr] = {}
    """Class-body names with an immutable literal value (`__slots__` too): what a hoisted value that
    reads them in the class body sees."""
    body = []
    final = not any(_decorator_name(d) == "dataclass" for d in node.decorator_list)
    for stmt in node.body:
        target, value = _class_assignment(stmt, final)
        if target is not None and value is not None and _immutable_literal(value):
            literals[target.id] = value
        if (
            target is not None
            and value is not None
            and not target.id.startswith("__")
            and not _immutable_literal(value)
            and target.id not in stored
        ):
            name = f"{node.name}_{target.id}"
            value = _ClassBodyNames(names, literals).visit(copy.deepcopy(value))
            names[target.id] = name
            store = ast.copy_location(ast.Name(id=name, ctx=ast.Store()), target)
            hoisted.append((name, ast.copy_location(ast.Assign(targets=[store], value=value), stmt)))
            continue
        body.append(stmt)
    if not names:
        return []
    owners = {"self", "cls", node.name}

    class Reads(ast.NodeTransformer):
        def visit_Attribute(self, attr: ast.Attribute) -> ast.expr:
            self.generic_visit(attr)
            if attr.attr in names and isinstance(attr.value, ast.Name) and attr.value.id in owners:
                return ast.copy_location(ast.Name(id=names[attr.attr], ctx=ast.Load()), attr)
            return attr

    node.body = [Reads().visit(stmt) for stmt in body] or [ast.Pass()]
    return hoisted


def _setter_name(func: ast.FunctionDef) -> str | None:
    """`set_x` for `@x.setter def x(...)` (the method it becomes), else None."""
    decorators = [_decorator_name(d) for d in func.decorator_list]
    return f"set_{func.name}" if decorators == ["setter"] else None


def _class_assignment(stmt: ast.stmt, final: bool = False) -> tuple[ast.Name | None, ast.expr | None]:
    """`x = v`, or `x: ClassVar[T] = v` (a class attribute, never an instance field): (x, v). With
    `final`, `x: Final = v` too (PEP 591: a Final assigned in a class body is a class variable;
    not in a dataclass, whose Final annotations are fields)."""
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
        return stmt.targets[0], stmt.value
    if (
        isinstance(stmt, ast.AnnAssign)
        and isinstance(stmt.target, ast.Name)
        and stmt.value is not None
        and _decorator_name(
            stmt.annotation.value if isinstance(stmt.annotation, ast.Subscript) else stmt.annotation
        )
        in (("ClassVar", "Final") if final else ("ClassVar",))
    ):
        return stmt.target, stmt.value
    return None, None


class _ClassBodyNames(ast.NodeTransformer):
    """A class-body expression read at module level: names of earlier class attributes become
    their hoisted constants, or their literal values."""

    def __init__(self, hoisted: dict[str, str], literals: dict[str, ast.expr]) -> None:
        self.hoisted, self.literals = hoisted, literals

    def visit_Name(self, node: ast.Name) -> ast.expr:
        if isinstance(node.ctx, ast.Load) and node.id in self.hoisted:
            return ast.copy_location(ast.Name(id=self.hoisted[node.id], ctx=ast.Load()), node)
        if isinstance(node.ctx, ast.Load) and node.id in self.literals:
            return ast.copy_location(copy.deepcopy(self.literals[node.id]), node)
        return node


def _class_method_as_static(func: ast.FunctionDef, owner: str) -> None:
    """`@classmethod def f(cls, ...)`: each class is its own struct (inheritance copies members
    down), so `cls` is that class; the method becomes a static one naming it."""
    cls = func.args.args[0].arg if func.args.args else None
    if cls is None:
        raise Unsupported("classmethod without cls", func.lineno)
    func.args.args = func.args.args[1:]
    func.decorator_list = [ast.copy_location(ast.Name(id="staticmethod", ctx=ast.Load()), func)]
    for n in ast.walk(func):
        if isinstance(n, ast.Name) and n.id == cls:
            n.id = owner


def _positional(info: ClassInfo, name: str) -> bool:
    """Whether the dataclass's `__init__` takes field `name` as a positional parameter."""
    model = info.dataclass
    return model is None or (name not in model.keyword_fields and name not in model.not_in_init)


def _annotation_source(info: ClassInfo, name: str) -> str:
    """The annotation text of a dataclass field."""
    for stmt in info.node.body:
        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.target.id == name:
            return ast.unparse(stmt.annotation)
    raise Unsupported(f"field {name} without annotation", info.node.lineno)
