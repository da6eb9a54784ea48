"""Generator functions, translated eagerly: the items are computed when the function is called.

`def f(...) -> Iterator[T]` with `yield` becomes, as Python the function translator then
translates, a function that appends each item to a list and returns it (`-> list[T]`, a `Vec<T>`
in Rust):

    yield x          ->  items.append(x)
    yield from it    ->  items.extend(it)
    return           ->  return items         (and at the end of the body)

A consumer that takes every item (`for`, `list()`, `sorted()`, `yield from`, `in`) sees the same
items in the same order. What differs is when the work happens: all of it at the call, before the
first item is used, so an exception raised after some items surfaces before any is used, and side
effects between items are not interleaved with the consumer's. Generators whose eager form would
differ more are refused by name: one that never ends (`while True` with no `break` or `return`),
`yield` used as an expression (`x = yield v`, the `send()` protocol), and `return value` (the
value of StopIteration). `next()` on a generator, which consumes one item, is refused where it is
written (the result is a list).
"""

from __future__ import annotations

import ast
import copy

from portalis_worker.rules.errors import Unsupported

ITEMS = "yielded_items_"
"""The list the items are appended to (a name no Python code of the function binds)."""

_ITERATOR_NAMES = frozenset({"Iterator", "Iterable", "Generator"})


def own_yields(node: ast.FunctionDef) -> list[ast.Yield | ast.YieldFrom]:
    """The `yield`s of the function itself (not of functions or lambdas nested in it)."""
    found: list[ast.Yield | ast.YieldFrom] = []
    pending: list[ast.AST] = list(node.body)
    while pending:
        sub = pending.pop()
        if isinstance(sub, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            continue
        if isinstance(sub, ast.Yield | ast.YieldFrom):
            found.append(sub)
        pending.extend(ast.iter_child_nodes(sub))
    return found


def make_eager(node: ast.FunctionDef) -> None:
    """Rewrite a generator function in place into one that returns the list of its items."""
    yields = own_yields(node)
    if not yields:
        return
    if any(isinstance(n, ast.Name) and n.id == ITEMS for n in ast.walk(node)):
        raise Unsupported(f"generator function that uses the name {ITEMS}", node.lineno)
    for sub in ast.walk(node):
        if isinstance(sub, ast.Await):
            raise Unsupported("async generator", sub.lineno)
    node.returns = _list_annotation(node)
    node.body = _rewrite_block(node.body)
    first = 1 if node.body and _is_docstring(node.body[0]) else 0
    start = ast.parse(
        f"{ITEMS}: {ast.unparse(node.returns)} = []" if node.returns is not None else f"{ITEMS} = []"
    ).body[0]
    node.body.insert(first, start)
    if not _ends_in_return(node.body):
        node.body.append(ast.Return(value=ast.Name(id=ITEMS, ctx=ast.Load())))
    for sub in ast.walk(node):
        if isinstance(sub, ast.stmt | ast.expr) and not hasattr(sub, "lineno"):
            sub.lineno = sub.end_lineno = node.lineno
            sub.col_offset = sub.end_col_offset = 0


def _list_annotation(node: ast.FunctionDef) -> ast.expr | None:
    """`Iterator[T]`, `Iterable[T]` or `Generator[T, None, None]` -> `list[T]`; none -> none."""
    returns = node.returns
    if returns is None:
        return None
    if isinstance(returns, ast.Constant) and isinstance(returns.value, str):
        returns = ast.parse(returns.value, mode="eval").body
    base = returns.value if isinstance(returns, ast.Subscript) else returns
    name = base.attr if isinstance(base, ast.Attribute) else getattr(base, "id", None)
    if name not in _ITERATOR_NAMES:
        raise Unsupported(f"generator function annotated {ast.unparse(returns)}", node.lineno)
    if not isinstance(returns, ast.Subscript):
        return ast.Name(id="list", ctx=ast.Load())
    items = list(returns.slice.elts) if isinstance(returns.slice, ast.Tuple) else [returns.slice]
    for extra in items[1:]:  # Generator[T, SendType, ReturnType]: only None (or Any) for the others
        if not (isinstance(extra, ast.Constant) and extra.value is None) and ast.unparse(extra) != "Any":
            raise Unsupported(f"generator with send or return type {ast.unparse(returns)}", node.lineno)
    return ast.Subscript(
        value=ast.Name(id="list", ctx=ast.Load()), slice=copy.deepcopy(items[0]), ctx=ast.Load()
    )


def _rewrite_block(stmts: list[ast.stmt]) -> list[ast.stmt]:
    out: list[ast.stmt] = []
    for stmt in stmts:
        out.extend(_rewrite(stmt))
    return out


def _rewrite(stmt: ast.stmt) -> list[ast.stmt]:
    if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return [stmt]
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Yield | ast.YieldFrom):
        value = stmt.value.value
        method = "extend" if isinstance(stmt.value, ast.YieldFrom) else "append"
        arg = value if value is not None else ast.Constant(value=None)
        call = ast.Call(
            func=ast.Attribute(value=ast.Name(id=ITEMS, ctx=ast.Load()), attr=method, ctx=ast.Load()),
            args=[arg],
            keywords=[],
        )
        return [ast.copy_location(ast.Expr(value=ast.copy_location(call, stmt)), stmt)]
    if isinstance(stmt, ast.Return):
        if stmt.value is not None and not (isinstance(stmt.value, ast.Constant) and stmt.value.value is None):
            raise Unsupported("return with a value in a generator (StopIteration's value)", stmt.lineno)
        return [ast.copy_location(ast.Return(value=ast.Name(id=ITEMS, ctx=ast.Load())), stmt)]
    if isinstance(stmt, ast.While) and _always_true(stmt.test) and not _leaves(stmt.body):
        raise Unsupported("generator that never ends (while True with no break or return)", stmt.lineno)
    for sub in ast.walk(stmt):
        if isinstance(sub, ast.Yield | ast.YieldFrom) and not _is_statement_yield(stmt, sub):
            raise Unsupported("yield used as an expression (send)", sub.lineno)
    for field in ("body", "orelse", "finalbody"):
        if isinstance(getattr(stmt, field, None), list):
            setattr(stmt, field, _rewrite_block(getattr(stmt, field)))
    for handler in getattr(stmt, "handlers", []):
        handler.body = _rewrite_block(handler.body)
    for case in getattr(stmt, "cases", []):
        case.body = _rewrite_block(case.body)
    return [stmt]


def _is_statement_yield(stmt: ast.stmt, sub: ast.AST) -> bool:
    """Whether `sub` is a `yield` that a nested statement of `stmt` has as its whole expression
    (rewritten when that statement is reached); any other `yield` is used for its value."""
    return any(isinstance(inner, ast.Expr) and inner.value is sub for inner in ast.walk(stmt))


def _always_true(test: ast.expr) -> bool:
    return isinstance(test, ast.Constant) and bool(test.value)


def _leaves(body: list[ast.stmt]) -> bool:
    """A `break` of this loop or a `return` anywhere in its body (raising also ends it, but a
    generator that only stops by raising is still one whose eager form never returns items)."""
    pending: list[ast.AST] = list(body)
    while pending:
        sub = pending.pop()
        if isinstance(sub, ast.Return):
            return True
        if isinstance(sub, ast.Break):
            return True
        if isinstance(sub, ast.For | ast.While | ast.AsyncFor):
            pending.extend(s for s in ast.walk(sub) if isinstance(s, ast.Return))
            continue
        if isinstance(sub, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            continue
        pending.extend(ast.iter_child_nodes(sub))
    return False


def _ends_in_return(body: list[ast.stmt]) -> bool:
    return bool(body) and isinstance(body[-1], ast.Return)


def _is_docstring(stmt: ast.stmt) -> bool:
    return (
        isinstance(stmt, ast.Expr)
        and isinstance(stmt.value, ast.Constant)
        and isinstance(stmt.value.value, str)
    )
