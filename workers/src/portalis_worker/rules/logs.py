"""The `logging` module, as a library uses it: `logger = logging.getLogger(__name__)` and
`logger.warning("... %s", x)`.

A library configures no handlers, so Python writes records of level WARNING and above to stderr as
the bare message and drops the rest; the support crate's `portalis_py::log::Logger` does the same.
The message is formatted like `%` formatting (the same forms as `"..." % args`). Handlers, levels
set at run time, `exc_info` and `logger.exception` (which prints a traceback) are refused by name.
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from portalis_worker.rules.context import PREC_ATOM, Val
from portalis_worker.rules.types import BOOL, INT, NONE, STR, Ty

if TYPE_CHECKING:
    from portalis_worker.rules.expressions import ExpressionTranslator

LOGGER = Ty("logger")
CRATE = "portalis_py::log"
LEVELS = {"debug": "DEBUG", "info": "INFO", "warning": "WARNING", "warn": "WARNING", "error": "ERROR"}
LEVELS["critical"] = "CRITICAL"
LEVELS["fatal"] = "CRITICAL"
CONSTANTS = frozenset({"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"})


def module_attribute(tx: ExpressionTranslator, attr: str, node: ast.AST) -> Val:
    """`logging.WARNING` and the other levels."""
    if attr in CONSTANTS:
        return Val(f"{CRATE}::{attr}", INT)
    tx.fail(f"logging.{attr}", node)


def call_module(tx: ExpressionTranslator, attr: str, node: ast.Call) -> Val:
    """`logging.getLogger(name)`: the name does not change what is written, and is not evaluated."""
    if attr == "getLogger" and len(node.args) <= 1 and not node.keywords:
        return Val(f"{CRATE}::Logger::new()", LOGGER)
    tx.fail(f"logging.{attr}", node)


def logger_method(tx: ExpressionTranslator, recv: Val, attr: str, node: ast.Call) -> Val:
    """`logger.warning(msg, *args)` and the other levels; `logger.isEnabledFor(level)`."""
    receiver = tx.wrap(recv, PREC_ATOM)
    if attr == "isEnabledFor" and len(node.args) == 1 and not node.keywords:
        return Val(f"{receiver}.enabled({tx.coerce(tx.expr(node.args[0]), INT, node)})", BOOL)
    if attr not in LEVELS:
        tx.fail(f"logger.{attr}", node)
    if any(k.arg != "stacklevel" for k in node.keywords) or not node.args:
        tx.fail(f"logger.{attr} with these arguments", node)
    if any(isinstance(a, ast.Starred) for a in node.args):
        tx.fail("argument unpacking", node)
    template, *args = node.args
    if args:
        if not (isinstance(template, ast.Constant) and isinstance(template.value, str)):
            tx.fail(f"logger.{attr} with a computed template and arguments", node)
        from portalis_worker.rules.methods import printf_as_fstring  # methods imports this module

        values = args[0] if len(args) == 1 else ast.Tuple(elts=list(args), ctx=ast.Load())
        formatted = ast.copy_location(ast.BinOp(left=template, op=ast.Mod(), right=values), node)
        message = tx.expr(printf_as_fstring(formatted))
    else:
        message = tx.expr(template)
    if message.ty != STR and not tx.vague(message.ty):
        message = Val(tx.static_str(message, node), STR)
    return Val(f"{receiver}.log({CRATE}::{LEVELS[attr]}, &{tx.wrap(message, PREC_ATOM)})", NONE)
