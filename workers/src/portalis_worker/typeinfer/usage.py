"""Types from how a function's body uses its parameters (the rules' usage-based inference).

One walk over the body with an environment of what is known so far (annotations, the best guess of
the previous round) records evidence for each parameter: the methods called on it (`.lower()`: str,
`.append()`: list), the operators it meets (`p + 1`: int, `p + "x"`: str), builtins it is passed to
(`range(p)`: int, `ord(p)`: str, `len(p)`: a sequence), how it is indexed and iterated (the element's
use says the element type), comparisons with typed values, and what it is passed to (a function of
the module whose parameter type is known). Calls to other functions of the module are evidence for
*their* parameters too (call sites), and return statements for the return value.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass, field

from portalis_worker.typeinfer.slots import RETURN, Evidence, Slot, Source
from portalis_worker.typeinfer.terms import (
    BOOL,
    FLOAT,
    INT,
    NONE,
    STR,
    UNKNOWN,
    Term,
    dict_of,
    join,
    join_all,
    list_of,
    of_annotation,
    of_value,
    optional,
    set_of,
    tuple_of,
)

STR_METHODS = frozenset(
    [
        "capitalize",
        "casefold",
        "center",
        "endswith",
        "expandtabs",
        "find",
        "format",
        "isalnum",
        "isalpha",
        "isascii",
        "isdecimal",
        "isdigit",
        "isidentifier",
        "islower",
        "isnumeric",
        "isprintable",
        "isspace",
        "istitle",
        "isupper",
        "ljust",
        "lower",
        "lstrip",
        "partition",
        "removeprefix",
        "removesuffix",
        "replace",
        "rfind",
        "rindex",
        "rjust",
        "rpartition",
        "rsplit",
        "rstrip",
        "split",
        "splitlines",
        "startswith",
        "strip",
        "swapcase",
        "title",
        "translate",
        "upper",
        "zfill",
        "encode",
    ]
)
LIST_METHODS = frozenset(["append", "extend", "insert", "remove", "sort", "reverse"])
DICT_METHODS = frozenset(["keys", "values", "items", "get", "setdefault", "popitem"])
SET_METHODS = frozenset(
    [
        "add",
        "discard",
        "union",
        "intersection",
        "difference",
        "symmetric_difference",
        "issubset",
        "issuperset",
    ]
)
STR_RESULTS = {
    "lower": STR, "upper": STR, "strip": STR, "lstrip": STR, "rstrip": STR, "replace": STR, "join": STR,
    "capitalize": STR, "title": STR, "swapcase": STR, "format": STR, "zfill": STR, "casefold": STR,
    "center": STR, "ljust": STR, "rjust": STR, "removeprefix": STR, "removesuffix": STR,
    "split": list_of(STR), "rsplit": list_of(STR), "splitlines": list_of(STR),
    "find": INT, "rfind": INT, "index": INT, "rindex": INT, "count": INT,
}  # fmt: skip
INT_BUILTINS = frozenset({"range", "chr", "bin", "hex", "oct"})
STR_BUILTINS = frozenset({"ord"})

STRONG, METHOD, OPERATOR, WEAK = 3.0, 2.0, 1.0, 0.4


@dataclass
class Findings:
    """Evidence per slot, from one or more functions' bodies."""

    evidence: dict[Slot, list[Evidence]] = field(default_factory=dict)

    def add(self, slot: Slot, term: Term, weight: float, source: Source = "usage") -> None:
        if term.kind != "unknown" or weight >= STRONG:
            self.evidence.setdefault(slot, []).append(Evidence(term, weight, source))


@dataclass(frozen=True)
class Signature:
    """What a call site needs to know about a function of the module."""

    qualname: str
    params: tuple[str, ...]
    types: tuple[Term, ...]
    """The best known type of each parameter (unknown where none is known)."""
    returns: Term


def collect(
    func: ast.FunctionDef | ast.AsyncFunctionDef,
    qualname: str,
    env: Mapping[str, Term],
    functions: Mapping[str, Signature],
    findings: Findings,
) -> None:
    """Record evidence for `func`'s parameters and return, and for the functions it calls."""
    _Walker(func, qualname, env, functions, findings).run()


class _Walker:
    def __init__(
        self,
        func: ast.FunctionDef | ast.AsyncFunctionDef,
        qualname: str,
        env: Mapping[str, Term],
        functions: Mapping[str, Signature],
        findings: Findings,
    ) -> None:
        self.func = func
        self.qualname = qualname
        self.params = {a.arg for a in (*func.args.posonlyargs, *func.args.args, *func.args.kwonlyargs)}
        self.env: dict[str, Term] = dict(env)
        self.origin: dict[str, str] = {}
        """A local bound to an element of a parameter (`for e in p`, `e = p[i]`): local -> parameter."""
        self.functions = functions
        self.findings = findings

    def run(self) -> None:
        for stmt in self.func.body:
            self.stmt(stmt)

    # evidence ------------------------------------------------------------------------------------

    def need(self, node: ast.expr, term: Term, weight: float, source: Source = "usage") -> None:
        """`node` is used as a `term`: evidence for the parameter it is, or whose element it is."""
        if isinstance(node, ast.Name):
            if node.id in self.params:
                self.findings.add(Slot(self.qualname, node.id), term, weight, source)
            if node.id in self.origin:
                owner = self.origin[node.id]
                self.findings.add(Slot(self.qualname, owner), list_of(term), weight * 0.8, source)
                if term == STR:
                    self.findings.add(Slot(self.qualname, owner), STR, weight * 0.5, source)
        elif isinstance(node, ast.Subscript) and not isinstance(node.slice, ast.Slice):
            index = self.type_of(node.slice)
            if isinstance(node.value, ast.Name) and node.value.id in self.params:
                slot = Slot(self.qualname, node.value.id)
                if index in (STR,):
                    self.findings.add(slot, dict_of(STR, term), weight * 0.8, source)
                else:
                    self.findings.add(slot, list_of(term), weight * 0.8, source)
                    if term == STR:
                        self.findings.add(slot, STR, weight * 0.5, source)

    def sequence(self, node: ast.expr, weight: float) -> None:
        """`node` is sized, indexed or iterated: a list or a str."""
        self.need(node, list_of(), weight)
        self.need(node, STR, weight * 0.75)

    def element_of(self, node: ast.expr) -> str | None:
        """The parameter `node` is an element of (`p[i]`), if any."""
        if not isinstance(node, ast.Subscript) or isinstance(node.slice, ast.Slice):
            return None
        value = node.value
        return value.id if isinstance(value, ast.Name) and value.id in self.params else None

    def loop_target(self, target: ast.expr, iterated: ast.expr, iterable: Term) -> None:
        """Bind a `for` target; `enumerate(p)` and `zip(p, q)` bind their parts to p's and q's elements."""
        self.bind(target, _element(iterable), iterated)
        if not (isinstance(iterated, ast.Call) and isinstance(target, ast.Tuple | ast.List)):
            return
        kind, args = _name(iterated.func), iterated.args
        if kind in ("enumerate", "zip"):
            for arg in args:
                self.sequence(arg, WEAK)
        if kind == "enumerate" and len(args) == 1 and len(target.elts) == 2:
            self.bind(target.elts[0], INT)
            self.bind(target.elts[1], _element(self.type_of(args[0])), args[0])
        elif kind == "zip" and len(args) == len(target.elts):
            for elt, arg in zip(target.elts, args, strict=True):
                self.bind(elt, _element(self.type_of(arg)), arg)

    def bind(self, target: ast.expr, term: Term, iterated: ast.expr | None = None) -> None:
        if isinstance(target, ast.Name):
            self.env[target.id] = term
            self.origin.pop(target.id, None)
            if isinstance(iterated, ast.Name) and iterated.id in self.params:
                self.origin[target.id] = iterated.id
        elif isinstance(target, ast.Tuple | ast.List):
            parts = term.args if term.kind == "tuple" and len(term.args) == len(target.elts) else ()
            for i, elt in enumerate(target.elts):
                self.bind(elt, parts[i] if parts else UNKNOWN)

    # statements ----------------------------------------------------------------------------------

    def stmt(self, node: ast.stmt) -> None:
        if isinstance(node, ast.Assign):
            term = self.type_of(node.value)
            for target in node.targets:
                if isinstance(target, ast.Name) and target.id in self.params:
                    self.need(target, term, OPERATOR)
                self.bind(target, term)
                if isinstance(target, ast.Subscript):
                    self.type_of(target)
            owner = self.element_of(node.value)
            if owner is not None:
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        self.origin[target.id] = owner
        elif isinstance(node, ast.AnnAssign):
            term = of_annotation(node.annotation)
            if node.value is not None:
                self.need(node.value, term, STRONG)
                self.type_of(node.value)
            self.bind(node.target, term)
        elif isinstance(node, ast.AugAssign):
            left = self.type_of(node.target)
            right = self.type_of(node.value)
            self.binop(node.target, node.op, node.value, left, right)
            result = self.result_of(node.op, left, right)
            if isinstance(node.target, ast.Name) and result.kind != "unknown":
                self.env[node.target.id] = result
        elif isinstance(node, ast.For | ast.AsyncFor):
            iterable = self.type_of(node.iter)
            if not (
                isinstance(node.iter, ast.Call) and _name(node.iter.func) in ("range", "enumerate", "zip")
            ):
                self.sequence(node.iter, WEAK)
            self.loop_target(node.target, node.iter, iterable)
            for stmt in (*node.body, *node.orelse):
                self.stmt(stmt)
        elif isinstance(node, ast.While | ast.If):
            self.condition(node.test)
            for stmt in (*node.body, *node.orelse):
                self.stmt(stmt)
        elif isinstance(node, ast.Return):
            if node.value is not None:
                term = self.type_of(node.value)
                self.findings.add(Slot(self.qualname, RETURN), term, OPERATOR)
            else:
                self.findings.add(Slot(self.qualname, RETURN), NONE, OPERATOR)
        elif isinstance(node, ast.Expr):
            self.type_of(node.value)
        elif isinstance(node, ast.With | ast.AsyncWith):
            for stmt in node.body:
                self.stmt(stmt)
        elif isinstance(node, ast.Try):
            for stmt in (*node.body, *node.orelse, *node.finalbody):
                self.stmt(stmt)
            for handler in node.handlers:
                for stmt in handler.body:
                    self.stmt(stmt)
        elif isinstance(node, ast.Assert):
            self.condition(node.test)

    def condition(self, test: ast.expr) -> None:
        self.type_of(test)

    # expressions ---------------------------------------------------------------------------------

    def type_of(self, node: ast.expr) -> Term:
        if isinstance(node, ast.Constant):
            return of_value(node.value)
        if isinstance(node, ast.Name):
            return self.env.get(node.id, UNKNOWN)
        if isinstance(node, ast.List | ast.Set | ast.Tuple):
            elems = [self.type_of(e) for e in node.elts if not isinstance(e, ast.Starred)]
            if isinstance(node, ast.Tuple):
                return tuple_of(*elems)
            joined = join_all(elems) or UNKNOWN
            return list_of(joined) if isinstance(node, ast.List) else set_of(joined)
        if isinstance(node, ast.Dict):
            keys = [self.type_of(k) for k in node.keys if k is not None]
            values = [self.type_of(v) for v in node.values]
            return dict_of(join_all(keys) or UNKNOWN, join_all(values) or UNKNOWN)
        if isinstance(node, ast.JoinedStr):
            for value in node.values:
                if isinstance(value, ast.FormattedValue):
                    self.type_of(value.value)
            return STR
        if isinstance(node, ast.BinOp):
            left, right = self.type_of(node.left), self.type_of(node.right)
            self.binop(node.left, node.op, node.right, left, right)
            return self.result_of(node.op, left, right)
        if isinstance(node, ast.UnaryOp):
            operand = self.type_of(node.operand)
            if isinstance(node.op, ast.Not):
                return BOOL
            if isinstance(node.op, ast.USub | ast.UAdd | ast.Invert):
                if operand.kind == "unknown":
                    self.need(node.operand, INT, WEAK)
                return operand
            return UNKNOWN
        if isinstance(node, ast.BoolOp):
            terms = [self.type_of(v) for v in node.values]
            return join_all(terms) or UNKNOWN
        if isinstance(node, ast.Compare):
            self.compare(node)
            return BOOL
        if isinstance(node, ast.IfExp):
            self.condition(node.test)
            return join(self.type_of(node.body), self.type_of(node.orelse)) or UNKNOWN
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.Attribute):
            self.type_of(node.value)
            return UNKNOWN
        if isinstance(node, ast.Subscript):
            return self.subscript(node)
        if isinstance(node, ast.ListComp | ast.SetComp | ast.GeneratorExp):
            self.comprehension(node.generators)
            elem = self.type_of(node.elt)
            return set_of(elem) if isinstance(node, ast.SetComp) else list_of(elem)
        if isinstance(node, ast.DictComp):
            self.comprehension(node.generators)
            return dict_of(self.type_of(node.key), self.type_of(node.value))
        if isinstance(node, ast.Lambda):
            return UNKNOWN
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr):
                self.type_of(child)
        return UNKNOWN

    def comprehension(self, generators: list[ast.comprehension]) -> None:
        for gen in generators:
            iterable = self.type_of(gen.iter)
            if not (isinstance(gen.iter, ast.Call) and _name(gen.iter.func) in ("range", "enumerate", "zip")):
                self.sequence(gen.iter, WEAK)
            self.loop_target(gen.target, gen.iter, iterable)
            for test in gen.ifs:
                self.condition(test)

    def subscript(self, node: ast.Subscript) -> Term:
        value = self.type_of(node.value)
        if isinstance(node.slice, ast.Slice):
            for part in (node.slice.lower, node.slice.upper, node.slice.step):
                if part is not None and self.type_of(part).kind == "unknown":
                    self.need(part, INT, OPERATOR)
            self.sequence(node.value, WEAK)
            return value
        index = self.type_of(node.slice)
        if value.kind == "dict":
            self.need(node.slice, value.args[0], OPERATOR)
            return value.args[1]
        if index.kind in ("int", "bool") or value.kind in ("list", "str", "tuple"):
            if index.kind == "unknown":
                self.need(node.slice, INT, OPERATOR)
            if value.kind == "unknown":
                self.sequence(node.value, WEAK)
            if value.kind == "tuple" and isinstance(node.slice, ast.Constant):
                position = node.slice.value
                if isinstance(position, int) and -len(value.args) <= position < len(value.args):
                    return value.args[position]
            return _element(value)
        return UNKNOWN

    def binop(
        self, left_node: ast.expr, op: ast.operator, right_node: ast.expr, left: Term, right: Term
    ) -> None:
        numeric = ("int", "float", "bool")
        for node, other, this in ((left_node, right, left), (right_node, left, right)):
            if this.kind != "unknown":
                continue
            if isinstance(
                op, ast.Add | ast.Sub | ast.FloorDiv | ast.Pow | ast.BitAnd | ast.BitOr | ast.BitXor
            ):
                if other.kind in numeric:
                    self.need(node, INT if other.kind == "bool" else other, OPERATOR)
                elif isinstance(op, ast.Add) and other.kind in ("str", "list"):
                    self.need(node, other, OPERATOR)
                elif other.kind == "unknown":
                    self.need(node, INT, WEAK * 0.5)
            elif isinstance(op, ast.Mult):
                if other.kind in ("str", "list"):
                    self.need(node, INT, OPERATOR)
                elif other.kind in numeric:
                    self.need(node, INT if other.kind == "bool" else other, OPERATOR * 0.75)
            elif isinstance(op, ast.Mod):
                if node is left_node and other.kind in numeric:
                    self.need(node, INT if other.kind == "bool" else other, OPERATOR)
            elif isinstance(op, ast.Div | ast.LShift | ast.RShift):
                self.need(node, INT, WEAK)

    @staticmethod
    def result_of(op: ast.operator, left: Term, right: Term) -> Term:
        if isinstance(op, ast.Div):
            return FLOAT
        if left.kind in ("str", "list") and isinstance(op, ast.Mult | ast.Add):
            return left
        if right.kind in ("str", "list") and isinstance(op, ast.Mult):
            return right
        if isinstance(op, ast.Mod) and left.kind == "str":
            return STR
        if left.kind == "unknown" and right.kind == "unknown":
            return UNKNOWN
        joined = join(left, right)
        if joined is not None and joined.kind == "bool":
            return INT
        return joined or UNKNOWN

    def compare(self, node: ast.Compare) -> None:
        left_node = node.left
        left = self.type_of(left_node)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = self.type_of(right_node)
            if isinstance(op, ast.In | ast.NotIn):
                if right.kind == "str" and left.kind == "unknown":
                    self.need(left_node, STR, OPERATOR)
                elif (right.kind in ("list", "set") and left.kind == "unknown") or (
                    right.kind == "dict" and left.kind == "unknown"
                ):
                    self.need(left_node, right.args[0], OPERATOR)
                elif right.kind == "unknown" and left.kind != "unknown":
                    self.need(right_node, list_of(left), WEAK)
                    if left == STR:
                        self.need(right_node, STR, WEAK)
            elif isinstance(op, ast.Is | ast.IsNot):
                if isinstance(right_node, ast.Constant) and right_node.value is None:
                    self.need(left_node, optional(UNKNOWN), OPERATOR)
            else:
                for node_, this, other in ((left_node, left, right), (right_node, right, left)):
                    if this.kind == "unknown" and other.kind != "unknown" and other.kind != "none":
                        self.need(node_, other, OPERATOR)
            left_node, left = right_node, right

    def call(self, node: ast.Call) -> Term:
        func = node.func
        args = node.args
        terms = [self.type_of(a) for a in args]
        for kw in node.keywords:
            self.type_of(kw.value)
        if isinstance(func, ast.Attribute):
            receiver = self.type_of(func.value)
            method = func.attr
            if isinstance(func.value, ast.Name) and func.value.id in ("math", "cmath"):
                integral = method in ("floor", "ceil", "gcd", "factorial", "comb", "isqrt")
                for arg in args:
                    self.need(arg, INT if integral else FLOAT, WEAK)
                return INT if integral else FLOAT
            if method in STR_METHODS:
                self.need(func.value, STR, METHOD)
            elif method in LIST_METHODS:
                self.need(func.value, list_of(terms[0] if method == "append" and terms else UNKNOWN), METHOD)
            elif method in DICT_METHODS:
                self.need(func.value, dict_of(), METHOD)
            elif method in SET_METHODS:
                self.need(func.value, set_of(terms[0] if method == "add" and terms else UNKNOWN), METHOD)
            if method == "join" and args:
                self.need(args[0], list_of(STR), METHOD)
            if receiver.kind == "str" or method in STR_METHODS:
                if method.startswith("is") or method in ("startswith", "endswith"):
                    return BOOL
                return STR_RESULTS.get(method, UNKNOWN)
            if receiver.kind == "list":
                if method == "pop":
                    return receiver.args[0]
                if method in ("index", "count"):
                    return INT
                if method == "copy":
                    return receiver
            if receiver.kind == "dict":
                if method == "get":
                    return receiver.args[1]
                if method == "keys":
                    return list_of(receiver.args[0])
                if method == "values":
                    return list_of(receiver.args[1])
                if method == "items":
                    return list_of(tuple_of(*receiver.args))
            return UNKNOWN
        name = _name(func)
        if name in self.functions:
            sig = self.functions[name]
            for i, arg in enumerate(args):
                if i < len(sig.params):
                    if sig.types[i].kind != "unknown":
                        self.need(arg, sig.types[i], STRONG, "call-site")
                    if terms[i].kind != "unknown":
                        self.findings.add(Slot(sig.qualname, sig.params[i]), terms[i], STRONG, "call-site")
            for kw in node.keywords:
                if kw.arg in sig.params:
                    term = self.type_of(kw.value)
                    if term.kind != "unknown":
                        self.findings.add(Slot(sig.qualname, kw.arg), term, STRONG, "call-site")
            return sig.returns
        if name in INT_BUILTINS:
            for arg in args:
                self.need(arg, INT, METHOD)
            return list_of(INT) if name == "range" else STR
        if name in STR_BUILTINS:
            for arg in args:
                self.need(arg, STR, METHOD)
            return INT
        if name == "len":
            if args:
                self.sequence(args[0], WEAK)
            return INT
        if name in ("str", "repr"):
            return STR
        if name == "int":
            return INT
        if name == "float":
            return FLOAT
        if name == "bool":
            return BOOL
        if name == "abs":
            if args and terms[0].kind == "unknown":
                self.need(args[0], INT, WEAK)
            return terms[0] if terms else UNKNOWN
        if name == "round":
            return INT if len(args) == 1 else FLOAT
        if name in ("sum",):
            if args:
                self.need(args[0], list_of(INT), WEAK)
                elem = _element(terms[0])
                return elem if elem.kind != "unknown" else INT
            return INT
        if name in ("max", "min"):
            if len(args) == 1:
                self.sequence(args[0], WEAK)
                return _element(terms[0])
            joined = join_all(terms)
            return joined or UNKNOWN
        if name in ("sorted", "list", "reversed"):
            if args:
                if name != "list":
                    self.sequence(args[0], WEAK)
                return list_of(_element(terms[0]))
            return list_of()
        if name in ("set", "frozenset"):
            return set_of(_element(terms[0])) if args else set_of()
        if name == "tuple":
            return UNKNOWN
        if name == "dict":
            return dict_of()
        if name == "enumerate" and args:
            return list_of(tuple_of(INT, _element(terms[0])))
        if name == "zip":
            return list_of(tuple_of(*(_element(t) for t in terms)))
        if name in ("any", "all", "isinstance", "callable"):
            return BOOL
        return UNKNOWN


def _name(func: ast.expr) -> str:
    return func.id if isinstance(func, ast.Name) else ""


def _element(term: Term) -> Term:
    """The type of an element got by iterating or indexing a value of `term`."""
    if term.kind in ("list", "set"):
        return term.args[0]
    if term.kind == "str":
        return STR
    if term.kind == "dict":
        return term.args[0]
    if term.kind == "tuple":
        return join_all(list(term.args)) or UNKNOWN
    return UNKNOWN
