"""Deterministic rule-based Python-to-Rust translator (the CPU path and the model fallback).

``translate_module`` translates a whole file, ``translate_unit`` one top-level function or class
(with the imports it needs); both raise ``Unsupported`` for anything outside the documented subset
(see docs/translator.md) and ``SyntaxError`` for invalid Python.
"""

from __future__ import annotations

import ast

from portalis_worker.rules.emitter import translate_tree
from portalis_worker.rules.errors import Unsupported

__all__ = ["RulesBackend", "Unsupported", "translate_module", "translate_unit"]


def translate_module(source: str, fmt: bool = True) -> str:
    """Translate a Python module (functions, classes, mappable imports) to one Rust source text.

    `fmt=False` skips rustfmt (a process per call); callers that assemble many units format once."""
    tree = ast.parse(source)
    return translate_tree(tree, fmt)


def translate_unit(source: str, fmt: bool = True) -> str:
    """Translate one top-level function or class definition, with the imports it needs."""
    tree = ast.parse(source)
    units = [s for s in tree.body if isinstance(s, ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef)]
    others = [
        s
        for s in tree.body
        if not isinstance(
            s, ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef | ast.Import | ast.ImportFrom
        )
        and not (
            isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant) and isinstance(s.value.value, str)
        )
    ]
    if len(units) != 1:
        line = units[1].lineno if len(units) > 1 else 1
        raise Unsupported("unit that is not exactly one function or class", line)
    if others:
        raise Unsupported(f"top-level {type(others[0]).__name__} in a unit", others[0].lineno)
    return translate_tree(tree, fmt)


class RulesBackend:
    """The worker's backend interface over the rule-based translator."""

    name = "rules"

    def translate(self, source: str) -> str:
        """Translate one unit; raises ``Unsupported``/``SyntaxError`` like ``translate_unit``."""
        return translate_unit(source)
