"""State shared across one translation: signatures, classes, helpers, and translated values."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Literal

from portalis_worker.rules.dataclass_model import DataclassModel
from portalis_worker.rules.types import Ty

# Rust operator precedence levels (higher binds tighter); used to parenthesise only when needed.
PREC_ATOM = 100
PREC_UNARY = 90
PREC_CAST = 85
PREC_MUL = 80
PREC_ADD = 70
PREC_SHIFT = 60
PREC_BITAND = 55
PREC_BITXOR = 50
PREC_BITOR = 45
PREC_CMP = 40
PREC_AND = 30
PREC_OR = 20
PREC_LOWEST = 10

RUST_KEYWORDS = frozenset(
    [
        "as",
        "break",
        "const",
        "continue",
        "crate",
        "else",
        "enum",
        "extern",
        "false",
        "fn",
        "for",
        "gen",
        "if",
        "impl",
        "in",
        "let",
        "loop",
        "match",
        "mod",
        "move",
        "mut",
        "pub",
        "ref",
        "return",
        "self",
        "Self",
        "static",
        "struct",
        "super",
        "trait",
        "true",
        "type",
        "union",
        "unsafe",
        "use",
        "where",
        "while",
        "async",
        "await",
        "dyn",
        "abstract",
        "become",
        "box",
        "do",
        "final",
        "macro",
        "override",
        "priv",
        "typeof",
        "unsized",
        "virtual",
        "yield",
        "try",
    ]
)


def ident(name: str) -> str:
    """A Python name as a Rust identifier (raw identifier for Rust keywords)."""
    if name in RUST_KEYWORDS and name not in ("self", "Self", "crate", "super"):
        return f"r#{name}"
    if name in ("crate", "super", "Self"):
        return f"{name}_"
    return name


@dataclass
class Val:
    """A translated expression: Rust code, its static type, what kind of code it is, its precedence.

    ``kind`` is ``place`` for a variable, field or element (needs ``.clone()`` to be owned unless
    Copy), ``strlit`` for a string literal (a ``&str``), and ``temp`` for an owned temporary.
    """

    code: str
    ty: Ty
    kind: Literal["place", "temp", "strlit"] = "temp"
    prec: int = PREC_ATOM


@dataclass
class FuncSig:
    """A function's Rust-facing signature; untyped parameters are inferred from call sites."""

    name: str
    node: ast.FunctionDef
    params: list[tuple[str, Ty]]
    ret: Ty
    ret_annotated: bool
    defaults: list[ast.expr | None] = field(default_factory=list)
    owner: str | None = None
    self_mut: bool = False
    is_static: bool = False
    positional: int | None = None
    """How many parameters may be passed by position (None: all); the rest are keyword-only."""
    positional_only: int = 0
    """How many leading parameters may not be passed by keyword."""


LEFT_OUT = "portalis_left_out"
"""Attribute of a ClassDef: {method: why} for methods that did not translate (left out of the class)."""


@dataclass
class ClassInfo:
    """A class translated to a struct: ordered fields and methods."""

    name: str
    node: ast.ClassDef
    fields: dict[str, Ty] = field(default_factory=dict)
    field_defaults: dict[str, ast.expr] = field(default_factory=dict)
    methods: dict[str, FuncSig] = field(default_factory=dict)
    is_dataclass: bool = False
    dataclass: DataclassModel | None = None
    """A `@dataclass`'s options and field settings (None for a NamedTuple or a plain class)."""
    enum_members: dict[str, int | str] | None = None
    """An `enum.Enum`: member name -> value, in order (a Rust `enum`); None for a struct."""
    properties: set[str] = field(default_factory=set)
    setters: dict[str, str] = field(default_factory=dict)
    """Property -> the method its `@x.setter` became (`set_x`)."""
    """`@property` methods: read as `obj.name`, translated as `obj.name()`."""
    is_exception: bool = False
    """A subclass of an exception: a struct with a `message`, `Display` and `std::error::Error`."""


@dataclass
class ModuleContext:
    """Everything module-wide: known functions, classes, constants and the helpers used."""

    functions: dict[str, FuncSig] = field(default_factory=dict)
    classes: dict[str, ClassInfo] = field(default_factory=dict)
    constants: dict[str, Ty] = field(default_factory=dict)
    exceptions: set[str] = field(default_factory=set)
    """Names of the module's exception classes (bases of exception classes may be among them)."""
    statics: set[str] = field(default_factory=set)
    """Constants that are `LazyLock` statics (read through a deref)."""
    modules: set[str] = field(default_factory=set)
    ancestors: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Each class that inherits (copied down) -> its bases, nearest first."""
    imported: dict[str, tuple[str, str]] = field(default_factory=dict)
    """`from math import sqrt as root`: root -> ("math", "sqrt"); used as `math.sqrt` would be."""
    unavailable: dict[str, str] = field(default_factory=dict)
    """Names imported from modules without a mapping -> the import (using one is refused)."""
    identities: set[str] = field(default_factory=set)
    """Imported names whose call returns its argument (`MappingProxyType(d)`: a read-only view)."""
    helpers: set[str] = field(default_factory=set)
    changed: bool = False

    def class_names(self) -> frozenset[str]:
        """Names usable in annotations as struct types."""
        return frozenset(self.classes)
