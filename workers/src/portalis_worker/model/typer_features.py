"""What the type model sees of a slot, and how that text becomes ids: one definition for training,
the Triton backend and the worker.

A slot (an unannotated parameter or return value, typeinfer.slots) is described by a short text
built from the function's AST with every annotation removed: the slot's kind and name, the
function's name, the default value's kind, and one token per use of the parameter in the body (the
method called on it, the operator and the kind of the other operand, the builtin it is passed to,
indexing, iteration) or, for a return, the kind of each returned expression. Tokens are identifier
pieces (split on `_` and case) and these usage marks; ids are feature hashes of the tokens into
`BUCKETS` buckets (blake2b, stable across processes and machines), so there is no vocabulary file to
ship beside the checkpoint.
"""

from __future__ import annotations

import ast
import hashlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

BUCKETS = 1 << 14
MAX_TOKENS = 64
PAD = 0
"""Id 0 is padding; hashed tokens take ids 1..BUCKETS-1."""

_PIECES = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")


@dataclass(frozen=True)
class SlotText:
    function: str
    name: str
    """A parameter's name, or `<return>`."""
    kind: str
    """param or return."""
    text: str


def pieces(identifier: str) -> list[str]:
    """`maxLineLen` -> max, line, len; `is_valid2` -> is, valid, 2."""
    return [p.lower() for p in _PIECES.findall(identifier)]


def token_ids(text: str, max_tokens: int = MAX_TOKENS) -> list[int]:
    """The ids of `text`'s whitespace-separated tokens, at most `max_tokens` (no padding)."""
    out = []
    for token in text.split()[:max_tokens]:
        digest = hashlib.blake2b(token.encode(), digest_size=8).digest()
        out.append(1 + int.from_bytes(digest, "little") % (BUCKETS - 1))
    return out


def batch_ids(texts: Sequence[str], max_tokens: int = MAX_TOKENS) -> list[list[int]]:
    """Rows padded with PAD to the longest row (at least 1)."""
    rows = [token_ids(t, max_tokens) for t in texts]
    width = max([len(r) for r in rows] + [1])
    return [r + [PAD] * (width - len(r)) for r in rows]


def slot_texts(
    func: ast.FunctionDef | ast.AsyncFunctionDef, qualname: str, params: Sequence[str]
) -> Iterator[SlotText]:
    """The text of each parameter in `params` and of the return value of `func`."""
    body = [n for n in func.body if not _is_docstring(n)]
    fname = " ".join(pieces(func.name))
    defaults = _defaults(func)
    for name in params:
        uses = " ".join(_uses(body, name)[:40])
        default = defaults.get(name, "nodefault")
        text = f"param {' '.join(pieces(name))} fn {fname} {default} {uses}"
        yield SlotText(qualname, name, "param", " ".join(text.split()))
    returns = " ".join(_returns(body)[:40])
    yield SlotText(qualname, "<return>", "return", " ".join(f"return fn {fname} {returns}".split()))


def _is_docstring(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


def _defaults(func: ast.FunctionDef | ast.AsyncFunctionDef) -> dict[str, str]:
    args = [*func.args.posonlyargs, *func.args.args]
    out = {}
    for arg, default in zip(args[len(args) - len(func.args.defaults) :], func.args.defaults, strict=True):
        out[arg.arg] = f"default:{_kind(default)}"
    for arg, kw_default in zip(func.args.kwonlyargs, func.args.kw_defaults, strict=True):
        if kw_default is not None:
            out[arg.arg] = f"default:{_kind(kw_default)}"
    return out


def _kind(node: ast.expr | None) -> str:
    """A coarse kind of an expression: the literal's type, a container display, a call's name."""
    if node is None:
        return "none"
    if isinstance(node, ast.Constant):
        return "ellipsis" if node.value is Ellipsis else type(node.value).__name__.lower()
    if isinstance(node, ast.List | ast.ListComp):
        return "list"
    if isinstance(node, ast.Dict | ast.DictComp):
        return "dict"
    if isinstance(node, ast.Set | ast.SetComp):
        return "set"
    if isinstance(node, ast.Tuple):
        return "tuple"
    if isinstance(node, ast.JoinedStr):
        return "str"
    if isinstance(node, ast.Compare | ast.BoolOp) or (
        isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not)
    ):
        return "bool"
    if isinstance(node, ast.Call):
        func = node.func
        name = (
            func.id
            if isinstance(func, ast.Name)
            else func.attr
            if isinstance(func, ast.Attribute)
            else "call"
        )
        return f"call:{name}"
    if isinstance(node, ast.Name):
        return "name"
    if isinstance(node, ast.BinOp):
        return f"binop:{type(node.op).__name__.lower()}"
    return type(node).__name__.lower()


def _uses(body: list[ast.stmt], name: str) -> list[str]:
    marks: list[str] = []
    for stmt in body:
        for node in ast.walk(stmt):
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.Name) and child.id == name:
                    marks.append(_use(node, child))
    return marks


def _use(parent: ast.AST, child: ast.Name) -> str:
    if isinstance(parent, ast.Attribute):
        return f".{parent.attr}"
    if isinstance(parent, ast.Subscript):
        return "index" if parent.value is child else "as-index"
    if isinstance(parent, ast.BinOp):
        other = parent.right if parent.left is child else parent.left
        return f"op:{type(parent.op).__name__.lower()}:{_kind(other)}"
    if isinstance(parent, ast.Compare):
        others = [parent.left, *parent.comparators]
        compared = next((o for o in others if o is not child), None)
        return f"cmp:{type(parent.ops[0]).__name__.lower()}:{_kind(compared)}"
    if isinstance(parent, ast.Call):
        func = parent.func
        callee = (
            func.id
            if isinstance(func, ast.Name)
            else func.attr
            if isinstance(func, ast.Attribute)
            else "call"
        )
        return f"arg:{callee}"
    if isinstance(parent, ast.For | ast.comprehension):
        return "iter" if parent.iter is child else "target"
    if isinstance(parent, ast.If | ast.While | ast.BoolOp | ast.IfExp):
        return "truth"
    if isinstance(parent, ast.Return):
        return "returned"
    if isinstance(parent, ast.Assign | ast.AnnAssign | ast.AugAssign):
        return "assigned"
    return type(parent).__name__.lower()


def _returns(body: list[ast.stmt]) -> list[str]:
    marks = []
    for stmt in body:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Return):
                marks.append(f"ret:{_kind(node.value)}")
            elif isinstance(node, ast.Yield | ast.YieldFrom):
                marks.append("yield")
    return marks or ["ret:implicit"]
