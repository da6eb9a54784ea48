"""A parameter converted at the top of its function is a new variable from there on.

`suppress = set(suppress)` (or `list(x)`, `float(x)`, `sorted(x)`, ...) as a statement of the
function's own body, not inside a branch or loop, rebinds the parameter to a value of another type;
Rust's variables have one type each, so from that statement on the name is a new variable
(`suppress_set`), which takes the converted value's type. Since the statement runs exactly once,
before everything after it, the renaming reads the same values Python's code does. Not renamed: a
conversion inside a branch, a loop or `try` (the name would hold either type afterwards), and a
parameter that a nested function or lambda written before the conversion reads (it would see the
new value when called later).
"""

from __future__ import annotations

import ast

CONVERSIONS = frozenset({"set", "frozenset", "list", "tuple", "dict", "sorted", "float", "int", "str"})


def rename_converted_parameters(func: ast.FunctionDef) -> None:
    """Rewrite `func`'s body in place: after `p = conv(p)`, `p` is read and written as a new name."""
    params = {a.arg for a in [*func.args.posonlyargs, *func.args.args, *func.args.kwonlyargs]}
    taken = {n.id for n in ast.walk(func) if isinstance(n, ast.Name)} | params
    for i, stmt in enumerate(func.body):
        param = _converted_parameter(stmt, params)
        if param is None or _closures_read(func.body[:i], param):
            continue
        conversion = stmt.value.func.id  # type: ignore[attr-defined]
        new = f"{param}_{conversion}"
        while new in taken:
            new += "_"
        taken.add(new)
        stmt.targets[0].id = new  # type: ignore[attr-defined]
        renamer = _Rename(param, new)
        func.body[i + 1 :] = [renamer.visit(s) for s in func.body[i + 1 :]]
        params.discard(param)


def _converted_parameter(stmt: ast.stmt, params: set[str]) -> str | None:
    if not (
        isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)
    ):
        return None
    name = stmt.targets[0].id
    value = stmt.value
    if (
        name in params
        and isinstance(value, ast.Call)
        and isinstance(value.func, ast.Name)
        and value.func.id in CONVERSIONS
        and len(value.args) == 1
        and not value.keywords
        and isinstance(value.args[0], ast.Name)
        and value.args[0].id == name
    ):
        return name
    return None


def _closures_read(stmts: list[ast.stmt], name: str) -> bool:
    for stmt in stmts:
        for sub in ast.walk(stmt):
            if isinstance(sub, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) and any(
                isinstance(n, ast.Name) and n.id == name for n in ast.walk(sub)
            ):
                return True
    return False


class _Rename(ast.NodeTransformer):
    def __init__(self, old: str, new: str) -> None:
        self.old = old
        self.new = new

    def visit_Name(self, node: ast.Name) -> ast.Name:
        if node.id == self.old:
            node.id = self.new
        return node

    def _scoped(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> ast.AST:
        args = node.args
        own = {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]}
        own |= {a.arg for a in (args.vararg, args.kwarg) if a is not None}
        if self.old in own:
            return node  # its own parameter of that name: not the outer variable
        return self.generic_visit(node)

    visit_FunctionDef = _scoped
    visit_AsyncFunctionDef = _scoped
    visit_Lambda = _scoped
