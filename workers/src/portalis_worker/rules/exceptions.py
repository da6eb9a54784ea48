"""Python's exception classes, for `raise` and `except`.

Translated code raises an exception as a panic whose text starts with the class name
(`"ValueError: bad value"`); `except C` catches the exceptions whose class is `C` or a subclass of
it. Rust has no class hierarchy at run time, so the translator lists the names an `except` clause
takes: `C` and every subclass it knows of, the builtin ones (Python's hierarchy, below) and the
package's own exception classes (their bases are read from the class definitions).
"""

from __future__ import annotations

import ast

from portalis_worker.rules.context import ModuleContext
from portalis_worker.rules.errors import Unsupported

BUILTIN_BASES: dict[str, str] = {
    "Exception": "BaseException",
    "ArithmeticError": "Exception",
    "AssertionError": "Exception",
    "AttributeError": "Exception",
    "EOFError": "Exception",
    "ImportError": "Exception",
    "LookupError": "Exception",
    "NameError": "Exception",
    "OSError": "Exception",
    "RuntimeError": "Exception",
    "StopIteration": "Exception",
    "TypeError": "Exception",
    "ValueError": "Exception",
    "Warning": "Exception",
    "FloatingPointError": "ArithmeticError",
    "OverflowError": "ArithmeticError",
    "ZeroDivisionError": "ArithmeticError",
    "ModuleNotFoundError": "ImportError",
    "IndexError": "LookupError",
    "KeyError": "LookupError",
    "FileExistsError": "OSError",
    "FileNotFoundError": "OSError",
    "IsADirectoryError": "OSError",
    "NotADirectoryError": "OSError",
    "PermissionError": "OSError",
    "TimeoutError": "OSError",
    "NotImplementedError": "RuntimeError",
    "RecursionError": "RuntimeError",
    "UnicodeError": "ValueError",
    "UnicodeDecodeError": "UnicodeError",
    "UnicodeEncodeError": "UnicodeError",
    "DeprecationWarning": "Warning",
    "RuntimeWarning": "Warning",
    "UserWarning": "Warning",
}
"""Each builtin exception class and its base (`IOError` is `OSError` in Python 3)."""

CATCH_ALL = frozenset({"BaseException", "Exception"})
"""Classes whose clause takes every exception (translated code raises no `KeyboardInterrupt`)."""


def class_name(node: ast.expr) -> str:
    """`ValueError` for `ValueError`, `builtins.ValueError` and `module.Error`."""
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return "OSError" if node.id in ("IOError", "EnvironmentError") else node.id
    raise Unsupported(f"except clause naming {ast.unparse(node)}", node.lineno)


def _bases(module: ModuleContext) -> dict[str, str]:
    """Builtin and package exception classes -> their (first) base."""
    bases = dict(BUILTIN_BASES)
    for info in module.classes.values():
        if info.is_exception:
            found = [class_name(b) for b in info.node.bases]
            if found:
                bases[info.name] = found[0]
    return bases


def caught(module: ModuleContext, handler: ast.ExceptHandler) -> tuple[str, ...] | None:
    """The class names an `except` clause takes, sorted; None when it takes every exception."""
    if handler.type is None:
        return None
    types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    bases = _bases(module)
    names: set[str] = set()
    for node in types:
        name = class_name(node)
        if name in CATCH_ALL:
            return None
        if name not in bases:
            raise Unsupported(f"except {name} (not a known exception class)", handler.lineno)
        names.update(n for n in bases if _derives(n, name, bases))
    return tuple(sorted(names))


def _derives(name: str, ancestor: str, bases: dict[str, str]) -> bool:
    seen = set()
    while name not in seen:
        if name == ancestor:
            return True
        seen.add(name)
        if name not in bases:
            return False
        name = bases[name]
    return False
