"""Python's `re` module, mapped onto the support crate's engine (`portalis_py::re`).

`re.compile` gives a `Pattern`, `search`/`match`/`fullmatch` an `Optional[Match]`; the module-level
functions compile their pattern on each call, as Python's cache makes no difference to results.
A literal pattern is checked when the unit is translated: CPython must accept it, and it must avoid
the few constructs the engine refuses (docs/translator.md), so a translated unit never meets a
pattern error at run time that Python would not raise too.
"""

from __future__ import annotations

import ast
import re
from typing import TYPE_CHECKING

from portalis_worker.rules.context import PREC_ATOM, Val
from portalis_worker.rules.types import INT, MATCH, PATTERN, STR, list_of, option_of, tuple_of

if TYPE_CHECKING:
    from portalis_worker.rules.expressions import ExpressionTranslator

CRATE = "portalis_py::re"
FLAGS = {
    "I": "IGNORECASE",
    "IGNORECASE": "IGNORECASE",
    "M": "MULTILINE",
    "MULTILINE": "MULTILINE",
    "S": "DOTALL",
    "DOTALL": "DOTALL",
    "X": "VERBOSE",
    "VERBOSE": "VERBOSE",
    "U": "UNICODE",
    "UNICODE": "UNICODE",
    "A": "ASCII",
    "ASCII": "ASCII",
}
UNSUPPORTED_SYNTAX = re.compile(
    r"\(\?[aiLmsux]*-?[imsx]*:(?<!\(\?:)|\(\?\(|\(\?>|[*+?}]\+|\\N\{|\(\?[a-zA-Z]*L"
)
"""Scoped flags `(?i:...)`, conditionals, atomic groups, possessive quantifiers, `\\N{}`, LOCALE."""

# Parameters of each module function after the pattern: (name, default Rust code or None if required).
SIGNATURES: dict[str, list[tuple[str, str | None]]] = {
    "compile": [("flags", "0")],
    "search": [("string", None), ("flags", "0")],
    "match": [("string", None), ("flags", "0")],
    "fullmatch": [("string", None), ("flags", "0")],
    "findall": [("string", None), ("flags", "0")],
    "finditer": [("string", None), ("flags", "0")],
    "sub": [("repl", None), ("string", None), ("count", "0"), ("flags", "0")],
    "split": [("string", None), ("maxsplit", "0"), ("flags", "0")],
}
PATTERN_METHODS: dict[str, list[tuple[str, str | None]]] = {
    name: [p for p in params if p[0] != "flags"] for name, params in SIGNATURES.items() if name != "compile"
}
WINDOWED = ("search", "match", "fullmatch")
"""Pattern methods that also take `pos` and `endpos` (a window of the string)."""
for _name in WINDOWED:
    PATTERN_METHODS[_name] = [*PATTERN_METHODS[_name], ("pos", "0"), ("endpos", "isize::MAX")]


def attribute(tx: ExpressionTranslator, attr: str, node: ast.AST) -> Val:
    """`re.IGNORECASE` and the other flags."""
    if attr in FLAGS:
        return Val(f"{CRATE}::{FLAGS[attr]}", INT)
    tx.fail(f"re.{attr}", node)


def _bind(
    tx: ExpressionTranslator,
    name: str,
    params: list[tuple[str, str | None]],
    args: list[ast.expr],
    node: ast.Call,
) -> dict[str, ast.expr | str]:
    if len(args) > len(params) or any(isinstance(a, ast.Starred) for a in args):
        tx.fail(f"re {name}() with these arguments", node)
    bound: dict[str, ast.expr | str] = {p: a for (p, _), a in zip(params, args, strict=False)}
    for kw in node.keywords:
        if kw.arg is None or kw.arg not in dict(params) or kw.arg in bound:
            tx.fail(f"re {name}() with these arguments", node)
        bound[kw.arg] = kw.value
    for p, default in params:
        if p not in bound:
            if default is None:
                tx.fail(f"re {name}() without {p}", node)
            bound[p] = default
    return bound


def _code(tx: ExpressionTranslator, value: ast.expr | str, want: str, node: ast.AST) -> str:
    if isinstance(value, str):
        return value
    val = tx.unwrap_option(tx.expr(value))
    if want == "str":
        if val.ty != STR and not tx.vague(val.ty):
            tx.fail("re argument that is not a str", node)
        return tx.as_str(val)
    return tx.coerce(val, INT, node)


def _literal_flags(value: ast.expr | str) -> int | None:
    if isinstance(value, str):
        return 0
    names = []
    for sub in ast.walk(value):
        if isinstance(sub, ast.Attribute):
            names.append(sub.attr)
    if all(n in FLAGS for n in names) and names:
        return sum(
            {"IGNORECASE": 2, "MULTILINE": 8, "DOTALL": 16, "UNICODE": 32, "VERBOSE": 64, "ASCII": 256}[
                FLAGS[n]
            ]
            for n in set(names)
        )
    return None


def check_pattern(
    tx: ExpressionTranslator, pattern: ast.expr, flags: int | None, node: ast.AST
) -> int | None:
    """Validate a literal pattern now; its group count, or None when the pattern is not a literal."""
    if not (isinstance(pattern, ast.Constant) and isinstance(pattern.value, str)):
        return None
    text = pattern.value
    try:
        compiled = re.compile(text, flags or 0)
    except re.error as exc:
        tx.fail(f"invalid regular expression ({exc})", node)
    if UNSUPPORTED_SYNTAX.search(text):
        tx.fail(
            "regular expression syntax outside the engine (scoped flags, conditionals, atomic groups)", node
        )
    return compiled.groups


def call_module(tx: ExpressionTranslator, attr: str, node: ast.Call) -> Val:
    """`re.compile(p, flags)`, `re.search(p, s)`, `re.sub(p, repl, s, count)`, `re.escape(s)`, ..."""
    if attr == "escape" and len(node.args) == 1 and not node.keywords:
        return Val(f"{CRATE}::escape({_code(tx, node.args[0], 'str', node)})", STR)
    if attr not in SIGNATURES or not node.args:
        tx.fail(f"re.{attr}", node)
    bound = _bind(tx, attr, SIGNATURES[attr], node.args[1:], node)
    groups = check_pattern(tx, node.args[0], _literal_flags(bound["flags"]), node)
    compiled = (
        f"{CRATE}::compile({_code(tx, node.args[0], 'str', node)}, {_code(tx, bound['flags'], 'int', node)})"
    )
    if attr == "compile":
        return Val(compiled, PATTERN)
    return _apply(tx, Val(compiled, PATTERN), attr, bound, groups, node)


def pattern_method(tx: ExpressionTranslator, recv: Val, attr: str, node: ast.Call) -> Val:
    if attr not in PATTERN_METHODS:
        tx.fail(f"Pattern.{attr}", node)
    bound = _bind(tx, attr, PATTERN_METHODS[attr], list(node.args), node)
    return _apply(tx, recv, attr, bound, None, node)


def _apply(
    tx: ExpressionTranslator,
    pattern: Val,
    attr: str,
    bound: dict[str, ast.expr | str],
    groups: int | None,
    node: ast.Call,
) -> Val:
    base = tx.wrap(pattern, PREC_ATOM)
    string = _code(tx, bound["string"], "str", node)
    if attr in WINDOWED and (bound.get("pos", "0"), bound.get("endpos", "isize::MAX")) != ("0", "isize::MAX"):
        window = f"{_code(tx, bound['pos'], 'int', node)}, {_code(tx, bound['endpos'], 'int', node)}"
        return Val(f"{base}.{attr}_at({string}, {window})", option_of(MATCH))
    if attr in ("search", "fullmatch"):
        return Val(f"{base}.{attr}({string})", option_of(MATCH))
    if attr == "match":
        return Val(f"{base}.match_({string})", option_of(MATCH))
    if attr == "finditer":
        return Val(f"{base}.finditer({string})", list_of(MATCH))
    if attr == "findall":
        if groups is not None and groups > 1:
            tx.fail("re findall with several groups (a list of tuples)", node)
        return Val(f"{base}.findall({string})", list_of(STR))
    if attr == "split":
        if groups:
            tx.fail("re split with groups", node)
        return Val(f"{base}.split({string}, {_code(tx, bound['maxsplit'], 'int', node)})", list_of(STR))
    count = _code(tx, bound["count"], "int", node)
    repl = bound["repl"]
    if isinstance(repl, ast.Lambda | ast.Name) and not _is_str_value(tx, repl):
        # A function as the replacement: called with each match, as Python does.
        pname, body = tx.lambda_body(repl, MATCH, node)
        result = tx.coerce(body, STR, node)
        closure = f"|{pname}: &{CRATE}::Match| -> String {{ {result} }}"
        return Val(f"{base}.sub_fn({closure}, {string}, {count})", STR)
    return Val(f"{base}.sub({_code(tx, repl, 'str', node)}, {string}, {count})", STR)


def _is_str_value(tx: ExpressionTranslator, node: ast.expr) -> bool:
    """Whether a name is a str variable or constant (a template), not a function."""
    if isinstance(node, ast.Lambda):
        return False
    return isinstance(node, ast.Name) and node.id not in tx.module.functions


def pattern_attribute(tx: ExpressionTranslator, recv: Val, attr: str, node: ast.AST) -> Val:
    base = tx.wrap(recv, PREC_ATOM)
    if attr == "pattern":
        return Val(f"{base}.pattern", STR, "place")
    if attr == "groups":
        return Val(f"({base}.groups as isize)", INT)
    if attr == "flags":
        return Val(f"{base}.flags", INT, "place")
    tx.fail(f"Pattern.{attr}", node)


def match_method(tx: ExpressionTranslator, recv: Val, attr: str, node: ast.Call) -> Val:
    """`m.group()`, `m.group(1)`, `m.group("name")`, `m.start()`, `m.end()`, `m.span()`, `m.expand(t)`."""
    base = tx.wrap(recv, PREC_ATOM)
    if node.keywords or len(node.args) > 1:
        tx.fail(f"Match.{attr} with these arguments", node)
    arg = node.args[0] if node.args else None
    if attr == "expand" and arg is not None:
        return Val(f"{base}.expand({_code(tx, arg, 'str', node)})", STR)
    if attr not in ("group", "start", "end", "span"):
        tx.fail(f"Match.{attr}", node)
    if arg is not None and isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        if attr != "group":
            tx.fail(f"Match.{attr} of a named group", node)
        return Val(f"{base}.group_named({_code(tx, arg, 'str', node)})", STR)
    index = "0" if arg is None else _code(tx, arg, "int", node)
    if attr == "span":
        return Val(f"{base}.span({index})", tuple_of(INT, INT))
    return Val(f"{base}.{attr}({index})", STR if attr == "group" else INT)


def match_attribute(tx: ExpressionTranslator, recv: Val, attr: str, node: ast.AST) -> Val:
    if attr == "string":
        return Val(f"{tx.wrap(recv, PREC_ATOM)}.string", STR, "place")
    tx.fail(f"Match.{attr}", node)
