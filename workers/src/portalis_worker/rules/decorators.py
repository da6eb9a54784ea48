"""Decorators that change nothing a caller can observe but warnings, left out of the translation.

A deprecation decorator wraps a function in one that warns and then calls it with the same
arguments, returning what it returns. The translated crate has no warnings, so such a decorator is
dropped and the function translated as written. Recognised: `warnings.deprecated` and
`typing_extensions.deprecated`, and any function of the package whose innermost wrapper (a
`def w(*args, **kwargs)`, possibly made by a decorator factory) ends with `return f(*args,
**kwargs)` for a function `f` it was given, returns nowhere else, and binds no names outside itself.
"""

from __future__ import annotations

import ast
import copy

STDLIB_DEPRECATED = frozenset({("warnings", "deprecated"), ("typing_extensions", "deprecated")})


def is_transparent_decorator(node: ast.FunctionDef) -> bool:
    """Whether `node` (a decorator or a decorator factory) only warns before calling through."""
    given = {a.arg for a in node.args.args}
    for inner in ast.walk(node):
        if isinstance(inner, ast.FunctionDef) and inner is not node:
            given.update(a.arg for a in inner.args.args)
    wrappers = [
        f for f in ast.walk(node) if isinstance(f, ast.FunctionDef) and f.args.vararg and f.args.kwarg
    ]
    if len(wrappers) != 1:
        return False
    wrapper = wrappers[0]
    assert wrapper.args.vararg is not None
    assert wrapper.args.kwarg is not None
    last = wrapper.body[-1] if wrapper.body else None
    call = last.value if isinstance(last, ast.Return) else None
    if not (
        isinstance(call, ast.Call)
        and isinstance(call.func, ast.Name)
        and call.func.id in given
        and len(call.args) == 1
        and isinstance(call.args[0], ast.Starred)
        and getattr(call.args[0].value, "id", None) == wrapper.args.vararg.arg
        and len(call.keywords) == 1
        and call.keywords[0].arg is None
        and getattr(call.keywords[0].value, "id", None) == wrapper.args.kwarg.arg
    ):
        return False
    returns = [n for n in ast.walk(wrapper) if isinstance(n, ast.Return)]
    escapes = [
        n for n in ast.walk(wrapper) if isinstance(n, ast.Global | ast.Nonlocal | ast.Yield | ast.YieldFrom)
    ]
    return len(returns) == 1 and not escapes


def decorator_name(node: ast.expr) -> str | None:
    """`name` for `@name`, `@name(...)` and `@module.name(...)`."""
    target = node.func if isinstance(node, ast.Call) else node
    if isinstance(target, ast.Name):
        return target.id
    if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name):
        return f"{target.value.id}.{target.attr}"
    return None


def strip_transparent(node: ast.stmt, names: frozenset[str]) -> ast.stmt:
    """`node` without the decorators named in `names` (on it, or on its methods); a copy when
    anything is removed."""
    if not names or not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return node
    if not any(decorator_name(d) in names for t in _decorated(node) for d in t.decorator_list):
        return node
    copied = copy.deepcopy(node)
    for target in _decorated(copied):
        target.decorator_list = [d for d in target.decorator_list if decorator_name(d) not in names]
    return copied


def _decorated(
    node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef,
) -> list[ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef]:
    """The node and, for a class, its methods."""
    if isinstance(node, ast.ClassDef):
        return [node, *(s for s in node.body if isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef))]
    return [node]
