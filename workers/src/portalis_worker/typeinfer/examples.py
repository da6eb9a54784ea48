"""Types from a function's docstring examples: `>>> f(1, [2])` with its output, `f("ab") == 3`.

Docstrings show calls with literal arguments and the value they return, in doctest form (the call
after `>>>`, the output on the next line) or inline (`f(3) == 5`, `f(3) => 5`, `f(3) ➞ 5`,
`f(3) returns 5`). Each literal gives the type of its parameter or of the return value; an argument
that is not a literal (a name, an expression) gives nothing. Parsing never fails: a line that does
not read as an example is skipped.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from portalis_worker.typeinfer.terms import BOOL, NONE, Term, of_value

_SEPARATOR = re.compile(
    r"^\s*(?:==>|=>|==|->|-->|➞|→|=|:|returns?|should\s+return|should\s+be|gives?)\s*", re.I
)
_WORDS = {"true": True, "false": False, "none": None, "null": None}


@dataclass(frozen=True)
class Example:
    args: tuple[Term | None, ...]
    """Positional arguments; None where the argument is not a literal."""
    kwargs: tuple[tuple[str, Term], ...]
    result: Term | None
    """The shown return value; None when the example shows none (or it is not a literal)."""


def examples(name: str, doc: str | None) -> list[Example]:
    """The examples of calls to `name` that `doc` shows."""
    if not doc:
        return []
    lines = doc.splitlines()
    found: list[Example] = []
    call = re.compile(rf"(?<![\w.]){re.escape(name)}\(")
    for i, line in enumerate(lines):
        match = call.search(line)
        if match is None:
            continue
        end = _closing(line, match.end() - 1)
        if end is None:
            continue
        parsed = _call(line[match.start() : end + 1])
        if parsed is None:
            continue
        args, kwargs = parsed
        rest = line[end + 1 :].strip()
        if rest:
            result = _value(_SEPARATOR.sub("", rest, count=1)) if _SEPARATOR.match(rest) else None
        elif line.lstrip().startswith(">>>") and i + 1 < len(lines):
            following = lines[i + 1].strip()
            result = None if not following or following.startswith(">>>") else _value(following)
        else:
            result = None
        found.append(Example(args, kwargs, result))
    return found


def _closing(line: str, start: int) -> int | None:
    """The index of the bracket closing the one at `start` (quotes respected)."""
    depth, quote, i = 0, "", start
    while i < len(line):
        c = line[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = ""
        elif c in "'\"":
            quote = c
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return None


def _call(text: str) -> tuple[tuple[Term | None, ...], tuple[tuple[str, Term], ...]] | None:
    try:
        node = ast.parse(text, mode="eval").body
    except SyntaxError:
        return None
    if not isinstance(node, ast.Call):
        return None
    args = tuple(_literal(a) for a in node.args if not isinstance(a, ast.Starred))
    kwargs = []
    for kw in node.keywords:
        term = _literal(kw.value)
        if kw.arg is not None and term is not None:
            kwargs.append((kw.arg, term))
    return args, tuple(kwargs)


def _literal(node: ast.expr) -> Term | None:
    try:
        return of_value(ast.literal_eval(node))
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None


def _value(text: str) -> Term | None:
    """The term of a shown value: a Python literal, or true/false/none written in another language."""
    text = text.strip().rstrip(".,;").strip()
    if text.lower() in _WORDS:
        value = _WORDS[text.lower()]
        return NONE if value is None else BOOL
    # "3 (because ...)", "[1, 2] # comment": the whole text, else the longest prefix that is a literal.
    cuts = [len(text)] + [i for i in range(len(text) - 1, 0, -1) if text[i] in " #("]
    for cut in cuts:
        try:
            node = ast.parse(text[:cut].strip().rstrip(".,;"), mode="eval").body
        except SyntaxError:
            continue
        return _literal(node)
    return None
