"""Python's exception classes, for `raise` and `except`.

Translated code raises an exception as a panic whose text starts with the class name
(`"ValueError: bad value"`); `except C` catches the exceptions whose class is `C` or a subclass of
it. Rust has no class hierarchy at run time, so the translator lists the names an `except` clause
takes: `C` and every subclass it knows of, the builtin ones (Python's hierarchy, below) and the
package's own exception classes (their bases are read from the class definitions).
`translate_try` translates `try` statements over the support crate's `portalis_py::exc`.
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from portalis_worker.rules.context import ModuleContext, ident
from portalis_worker.rules.errors import Unsupported
from portalis_worker.rules.types import NONE, STR

if TYPE_CHECKING:
    from portalis_worker.rules.statements import FunctionTranslator

EXC = "portalis_py::exc"

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


def translate_try(tx: FunctionTranslator, node: ast.Try) -> None:
    """`try`/`except`/`else`/`finally` over the support crate's exceptions (`portalis_py::exc`).

    The body runs in a closure under `exc::try_`, which returns `Some(v)` when the body returned
    `v` and `None` when it completed; the `finally` body runs next, whatever happened; then a
    `match` returns, runs the `else` body, or runs the first clause that takes the exception,
    and raises it again when none does. With both clauses and `finally`, the clauses and their
    `try` are the body of an outer `try`/`finally`."""
    if node.finalbody and (node.handlers or node.orelse):
        inner = ast.copy_location(
            ast.Try(body=node.body, handlers=node.handlers, orelse=node.orelse, finalbody=[]), node
        )
        _try(tx, [inner], [], [], node.finalbody, node)
    else:
        _try(tx, node.body, node.handlers, node.orelse, node.finalbody, node)


def _try(
    tx: FunctionTranslator,
    body: list[ast.stmt],
    handlers: list[ast.ExceptHandler],
    orelse: list[ast.stmt],
    finalbody: list[ast.stmt],
    node: ast.Try,
) -> None:
    from portalis_worker.rules.statements import always_returns, loop_level  # it imports this module

    for stmt in loop_level(body):
        if isinstance(stmt, ast.Break | ast.Continue):
            tx.fail("break or continue inside a try body", stmt)
    result = tx.fresh("tried")
    ret = "()" if tx.fsig.ret == NONE else tx.rtype(tx.fsig.ret, node)
    tx.emit(f"let {result} = {EXC}::try_(|| -> Option<{ret}> {{")
    tx.try_depth += 1
    try:
        tx.nested(body)
    finally:
        tx.try_depth -= 1
    if not always_returns(body):
        tx.emit("    None")
    tx.emit("});")
    tx.block(finalbody)
    tx.emit(f"match {result} {{")
    tx.depth += 1
    value = "Some(value)" if tx.try_depth else "value"
    if tx.self_code == "this" and not tx.try_depth:
        # In `__init__` (no `return` inside its try blocks): the closure never returns a value.
        tx.emit("Ok(Some(_)) => unreachable!(),")
    else:
        tx.emit(f"Ok(Some(value)) => return {value},")
    if orelse:
        tx.emit("Ok(None) => {")
        tx.nested(orelse)
        tx.emit("}")
    else:
        tx.emit("Ok(None) => unreachable!()," if always_returns(body) else "Ok(None) => {}")
    exc = tx.fresh("exc")
    catch_all = False
    for handler in handlers:
        names = caught(tx.module, handler)
        if names is None:
            catch_all = True
            tx.emit(f"Err({exc}) => {{")
        else:
            listed = ", ".join(f'"{n}"' for n in names)
            tx.emit(f"Err({exc}) if {EXC}::is(&{exc}, &[{listed}]) => {{")
        _handler(tx, handler, exc)
        tx.emit("}")
        if catch_all:
            break
    if not catch_all:
        tx.emit(f"Err({exc}) => {EXC}::reraise({exc}),")
    tx.depth -= 1
    tx.emit("}")


def _handler(tx: FunctionTranslator, handler: ast.ExceptHandler, exc: str) -> None:
    """One `except` clause's body; `as e` binds `str(e)`, the exception's message."""
    bound = handler.name
    fresh_name = bound is not None and bound not in tx.declared
    tx.depth += 1
    if bound is not None:
        if tx.inferring:
            tx.locals[bound] = STR
        else:
            tx.emit(f"let {ident(bound)}: String = {EXC}::message(&{exc});")
        tx.declared.add(bound)
    tx.handling.append(exc)
    try:
        tx.block(handler.body)
    finally:
        tx.handling.pop()
        tx.depth -= 1
        if fresh_name:
            tx.declared.discard(bound)  # Python unbinds it when the clause ends
