"""What ``@dataclass(...)`` generates, as Python the class translator then translates.

The options with a translation: ``slots``, ``match_args`` and ``weakref_slot`` change nothing a
translated program can observe; ``frozen`` refuses assignments to fields outside the generated
``__init__`` (Python raises FrozenInstanceError) and, with ``eq``, makes the class hashable by its
fields, as ``unsafe_hash`` does; ``kw_only`` makes the constructor's parameters keyword-only;
``order`` adds ``__lt__``/``__le__``/``__gt__``/``__ge__`` comparing the fields as a tuple.
``dataclasses.field(...)`` gives a field its ``default`` or ``default_factory`` (called per
instance, as Python does), keeps it out of ``__init__`` (``init=False``) or makes it keyword-only.
Options that change equality, ``repr`` or ``__init__`` away from the generated ones (``eq=False``,
``repr=False``, ``init=False``, ``compare=False``...) are refused by name.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from portalis_worker.rules.errors import Unsupported

HARMLESS = frozenset({"slots", "match_args", "weakref_slot"})
FLAGS = frozenset({"frozen", "kw_only", "order", "unsafe_hash"})
DEFAULT_TRUE = frozenset({"eq", "init", "repr"})
FIELD_IGNORED = frozenset({"metadata", "doc"})

SYNTHESIZED = "portalis_synthesized"
"""Attribute of a FunctionDef that the dataclass decorator would generate (its `__init__`): the one
place a frozen dataclass's fields are assigned."""


@dataclass
class DataclassModel:
    """A dataclass's options and its fields' `field(...)` settings."""

    frozen: bool = False
    kw_only: bool = False
    order: bool = False
    unsafe_hash: bool = False
    keyword_fields: set[str] = field(default_factory=set)
    """Fields passed to `__init__` by keyword only (`kw_only` on the class or on the field)."""
    not_in_init: set[str] = field(default_factory=set)
    """Fields that `__init__` sets to their default rather than taking a parameter (`init=False`)."""

    @property
    def hashable(self) -> bool:
        """Python gives the class a `__hash__` over its fields (`frozen` with `eq`, or `unsafe_hash`)."""
        return self.frozen or self.unsafe_hash


def _flag(keyword: ast.keyword, what: str) -> bool:
    if not isinstance(keyword.value, ast.Constant) or not isinstance(keyword.value.value, bool):
        raise Unsupported(f"{what} option {keyword.arg} that is not True or False", keyword.value.lineno)
    return keyword.value.value


def _is_dataclass_call(node: ast.expr, name: str) -> bool:
    func = node.func if isinstance(node, ast.Call) else node
    if isinstance(func, ast.Attribute):
        return func.attr == name and isinstance(func.value, ast.Name) and func.value.id == "dataclasses"
    return isinstance(func, ast.Name) and func.id == name


def read_model(node: ast.ClassDef) -> DataclassModel:
    """The options of the class's `@dataclass(...)` and of its fields; rewrites each
    `x: T = field(...)` in place to `x: T = <default>` (or no value), so the class body reads as
    plain annotated fields."""
    model = DataclassModel()
    for decorator in node.decorator_list:
        if not isinstance(decorator, ast.Call):
            continue
        if decorator.args:
            raise Unsupported("dataclass with positional options", decorator.lineno)
        for keyword in decorator.keywords:
            name = keyword.arg or "**"
            if name in HARMLESS:
                continue
            if name in FLAGS:
                setattr(model, name, _flag(keyword, "dataclass"))
            elif name in DEFAULT_TRUE and _flag(keyword, "dataclass"):
                continue
            else:
                raise Unsupported(f"dataclass option {ast.unparse(keyword)}", decorator.lineno)
    seen_kw_only_marker = False
    for stmt in node.body:
        if not isinstance(stmt, ast.AnnAssign) or not isinstance(stmt.target, ast.Name):
            continue
        name = stmt.target.id
        if _annotation_name(stmt.annotation) == "KW_ONLY":
            seen_kw_only_marker = True  # `_: KW_ONLY`: the fields after it are keyword-only
            continue
        if model.kw_only or seen_kw_only_marker:
            model.keyword_fields.add(name)
        if stmt.value is not None and _is_dataclass_call(stmt.value, "field"):
            _read_field(stmt, model)
    node.body = [
        s
        for s in node.body
        if not (isinstance(s, ast.AnnAssign) and _annotation_name(s.annotation) == "KW_ONLY")
    ]
    return model


def _annotation_name(annotation: ast.expr) -> str | None:
    if isinstance(annotation, ast.Attribute):
        return annotation.attr
    return annotation.id if isinstance(annotation, ast.Name) else None


def _read_field(stmt: ast.AnnAssign, model: DataclassModel) -> None:
    """`x: T = field(default=..., default_factory=..., init=..., kw_only=...)`."""
    call = stmt.value
    assert isinstance(call, ast.Call)
    assert isinstance(stmt.target, ast.Name)
    name = stmt.target.id
    if call.args:
        raise Unsupported("field() with positional arguments", call.lineno)
    default: ast.expr | None = None
    for keyword in call.keywords:
        arg = keyword.arg or "**"
        if arg == "default":
            default = keyword.value
        elif arg == "default_factory":
            # Called for each instance, as Python's generated `__init__` does.
            default = ast.copy_location(ast.Call(func=keyword.value, args=[], keywords=[]), keyword.value)
        elif arg == "init":
            if not _flag(keyword, "field"):
                model.not_in_init.add(name)
        elif arg == "kw_only":
            if _flag(keyword, "field"):
                model.keyword_fields.add(name)
            else:
                model.keyword_fields.discard(name)
        elif arg in DEFAULT_TRUE | {"compare"}:
            if not _flag(keyword, "field"):
                raise Unsupported(f"field() option {arg}=False", call.lineno)
        elif arg == "hash":
            if not (isinstance(keyword.value, ast.Constant) and keyword.value.value is None):
                raise Unsupported(f"field() option {ast.unparse(keyword)}", call.lineno)
        elif arg not in FIELD_IGNORED:
            raise Unsupported(f"field() option {ast.unparse(keyword)}", call.lineno)
    if name in model.not_in_init and default is None:
        raise Unsupported(f"field {name} with init=False and no default", call.lineno)
    stmt.value = default


def field_names(node: ast.ClassDef) -> list[str]:
    """The dataclass's fields, in order (`ClassVar` annotations are class attributes, not fields)."""
    return [
        s.target.id
        for s in node.body
        if isinstance(s, ast.AnnAssign)
        and isinstance(s.target, ast.Name)
        and _annotation_name(s.annotation.value if isinstance(s.annotation, ast.Subscript) else s.annotation)
        != "ClassVar"
    ]


GENERATED_REPR = "__generated_repr__"
"""The `__repr__` that `@dataclass` (or `NamedTuple`) generates, under a name of its own: unlike a
written `__repr__`, a class can do without it (its callers are refused by name) when a field's type
has no `repr()`."""


def repr_method(node: ast.ClassDef) -> ast.FunctionDef:
    """`Name(field=repr(field), ...)` over the fields in order, as the decorator writes it."""
    names = [n for n in field_names(node) if not _is_kw_only_marker(node, n)]
    parts = ", ".join(f"{n}={{self.{n}!r}}" for n in names)
    source = f"def {GENERATED_REPR}(self) -> str:\n    return f'{node.name}({parts})'\n"
    return _at_class(ast.parse(source).body[0], node)


def _is_kw_only_marker(node: ast.ClassDef, name: str) -> bool:
    return any(
        isinstance(s, ast.AnnAssign)
        and isinstance(s.target, ast.Name)
        and s.target.id == name
        and _annotation_name(s.annotation) == "KW_ONLY"
        for s in node.body
    )


def order_methods(node: ast.ClassDef) -> list[ast.FunctionDef]:
    """`order=True`: each comparison compares the fields in order, as tuples."""
    names = field_names(node)
    mine = "(" + "".join(f"self.{n}, " for n in names) + ")"
    theirs = "(" + "".join(f"other.{n}, " for n in names) + ")"
    methods = []
    for dunder, op in (("__lt__", "<"), ("__le__", "<="), ("__gt__", ">"), ("__ge__", ">=")):
        source = f"def {dunder}(self, other: '{node.name}') -> bool:\n    return {mine} {op} {theirs}\n"
        methods.append(_at_class(ast.parse(source).body[0], node))
    return methods


def init_method(
    node: ast.ClassDef, model: DataclassModel | None, annotations: dict[str, str]
) -> ast.FunctionDef:
    """The `__init__` the decorator would generate: positional fields first, then the keyword-only
    ones after a `*`; `init=False` fields set to their default; `__post_init__` called last."""
    model = model or DataclassModel()
    defaults = {
        s.target.id: s.value
        for s in node.body
        if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name)
    }
    positional: list[str] = []
    keyword: list[str] = []
    body: list[str] = []
    for name in annotations:
        default = defaults.get(name)
        if name in model.not_in_init:
            assert default is not None
            body.append(f"    self.{name} = {ast.unparse(default)}")
            continue
        param = f"{name}: {annotations[name]}" + (f" = {ast.unparse(default)}" if default is not None else "")
        (keyword if name in model.keyword_fields else positional).append(param)
        body.append(f"    self.{name} = {name}")
    if any(isinstance(s, ast.FunctionDef) and s.name == "__post_init__" for s in node.body):
        body.append("    self.__post_init__()")
    params = ["self", *positional, *(["*", *keyword] if keyword else [])]
    source = f"def __init__({', '.join(params)}):\n" + ("\n".join(body) or "    pass") + "\n"
    func = _at_class(ast.parse(source).body[0], node)
    setattr(func, SYNTHESIZED, True)
    return func


def _at_class(func: ast.stmt, node: ast.ClassDef) -> ast.FunctionDef:
    assert isinstance(func, ast.FunctionDef)
    for sub in ast.walk(func):
        if isinstance(sub, ast.stmt | ast.expr | ast.arg):
            sub.lineno = sub.end_lineno = node.lineno
    return func
