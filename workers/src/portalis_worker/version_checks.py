"""`sys.version_info` checks decided at translation time.

Real packages choose code by Python version (`if sys.version_info >= (3, 11): import tomllib`).
The translation is of the package as it runs on the worker's Python, the same interpreter the
differential check compares against, so each such check is decided once: an `if` keeps the branch
that Python would run, a conditional expression the value it would take, a comparison becomes
`True` or `False`. Only comparisons of `sys.version_info` (whole, sliced, indexed, or
`.major`/`.minor`), `sys.implementation.name` and `getattr(sys, "attr", default)` (for an attribute
this Python lacks) with literals, combined with `and`/`or`/`not`, are decided, and `if
TYPE_CHECKING: ... else: ...` keeps its `else` (what runs); anything else
(`sys.platform` included: the Rust crate may run elsewhere) is left as written.
"""

from __future__ import annotations

import ast
import operator
import sys
from collections.abc import Callable
from typing import Any

_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}
_UNDECIDED = object()


def _is_sys(node: ast.AST) -> bool:
    return isinstance(node, ast.Name) and node.id == "sys"


def _value(node: ast.expr) -> Any:
    """The value of a literal, of `sys.version_info` and its parts, of `sys.implementation.name`,
    or of `getattr(sys, "name", default)` for an attribute this Python's `sys` lacks (the default);
    _UNDECIDED otherwise."""
    if (
        isinstance(node, ast.Constant)
        and isinstance(node.value, int | str)
        and not isinstance(node.value, bool)
    ):
        return node.value
    if (
        isinstance(node, ast.Attribute)
        and node.attr == "name"
        and isinstance(node.value, ast.Attribute)
        and node.value.attr == "implementation"
        and _is_sys(node.value.value)
    ):
        return sys.implementation.name
    if (
        isinstance(node, ast.Call)
        and getattr(node.func, "id", "") == "getattr"
        and len(node.args) == 3
        and _is_sys(node.args[0])
        and isinstance(node.args[1], ast.Constant)
        and isinstance(node.args[1].value, str)
        and not hasattr(sys, node.args[1].value)
    ):
        return _value(node.args[2])
    if isinstance(node, ast.Tuple):
        items = [_value(e) for e in node.elts]
        return _UNDECIDED if any(i is _UNDECIDED for i in items) else tuple(items)
    if isinstance(node, ast.Attribute):
        if node.attr == "version_info" and isinstance(node.value, ast.Name) and node.value.id == "sys":
            return tuple(sys.version_info)
        if node.attr in ("major", "minor", "micro"):
            base = _value(node.value)
            if isinstance(base, tuple) and len(base) >= 3:
                return base[("major", "minor", "micro").index(node.attr)]
        return _UNDECIDED
    if isinstance(node, ast.Subscript):
        base = _value(node.value)
        if not isinstance(base, tuple):
            return _UNDECIDED
        index = node.slice
        if isinstance(index, ast.Constant) and isinstance(index.value, int):
            return base[index.value] if -len(base) <= index.value < len(base) else _UNDECIDED
        if isinstance(index, ast.Slice) and index.step is None:
            lower = _value(index.lower) if index.lower is not None else 0
            upper = _value(index.upper) if index.upper is not None else len(base)
            if isinstance(lower, int) and isinstance(upper, int):
                return base[lower:upper]
    return _UNDECIDED


def decide(test: ast.expr) -> bool | None:
    """Whether a version check holds on this Python; None when `test` is not one."""
    if isinstance(test, ast.Constant) and isinstance(test.value, bool):
        return test.value  # a check decided already (comparisons are folded first)
    if isinstance(test, ast.BoolOp):
        parts = [decide(v) for v in test.values]
        if any(p is None for p in parts):
            return None
        return all(parts) if isinstance(test.op, ast.And) else any(parts)
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        inner = decide(test.operand)
        return None if inner is None else not inner
    if isinstance(test, ast.Compare) and len(test.ops) == 1 and type(test.ops[0]) in _COMPARE:
        if not _mentions_version(test):
            return None
        left, right = _value(test.left), _value(test.comparators[0])
        if left is _UNDECIDED or right is _UNDECIDED or type(left) is not type(right):
            return None
        return bool(_COMPARE[type(test.ops[0])](left, right))
    return None


def _is_type_checking(test: ast.expr) -> bool:
    name = test.attr if isinstance(test, ast.Attribute) else getattr(test, "id", None)
    return name == "TYPE_CHECKING"


def _mentions_version(node: ast.AST) -> bool:
    """Whether a comparison reads `sys` (comparisons of literals alone are left as written)."""
    return any(_is_sys(n) for n in ast.walk(node))


class _Fold(ast.NodeTransformer):
    def visit_If(self, node: ast.If) -> Any:
        self.generic_visit(node)
        holds = decide(node.test)
        if holds is None and node.orelse and _is_type_checking(node.test):
            holds = False  # what runs; a block without `else` stays (its imports name annotations)
        if holds is None:
            return node
        return (node.body if holds else node.orelse) or [ast.copy_location(ast.Pass(), node)]

    def visit_Compare(self, node: ast.Compare) -> Any:
        self.generic_visit(node)
        holds = decide(node)
        return node if holds is None else ast.copy_location(ast.Constant(value=holds), node)

    def visit_IfExp(self, node: ast.IfExp) -> Any:
        self.generic_visit(node)
        holds = decide(node.test)
        if holds is None:
            return node
        return node.body if holds else node.orelse


def fold_version_checks(tree: ast.AST) -> None:
    """Decide every `sys.version_info` check in `tree`, in place."""
    _Fold().visit(tree)
