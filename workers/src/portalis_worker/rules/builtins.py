"""Python built-in functions and the ``math`` module, mapped to Rust with Python's semantics."""

from __future__ import annotations

import ast
import string
from collections.abc import Callable
from typing import TYPE_CHECKING

from portalis_worker.rules import logs, regex
from portalis_worker.rules.context import PREC_ADD, PREC_ATOM, PREC_CAST, PREC_LOWEST, ModuleContext, Val
from portalis_worker.rules.types import (
    BOOL,
    FLOAT,
    INT,
    NONE,
    STR,
    UNION_VARIANTS,
    UNKNOWN,
    Ty,
    dict_of,
    is_copy,
    is_hashable,
    is_vtuple,
    list_of,
    set_of,
    tuple_of,
    union_path,
    vtuple_of,
)

if TYPE_CHECKING:
    from portalis_worker.rules.expressions import ExpressionTranslator

BUILTIN_NAMES = frozenset(
    [
        "len",
        "abs",
        "sum",
        "min",
        "max",
        "sorted",
        "reversed",
        "range",
        "enumerate",
        "zip",
        "list",
        "set",
        "frozenset",
        "dict",
        "tuple",
        "str",
        "int",
        "float",
        "bool",
        "ord",
        "chr",
        "bin",
        "hex",
        "oct",
        "round",
        "divmod",
        "pow",
        "any",
        "all",
        "isinstance",
        "print",
        "repr",
        "hash",
        "map",
        "filter",
    ]
)

SUPPORTED_MODULES = frozenset({"math", "re", "string", "sys", "logging", "bisect"})
"""Modules with a mapping; `sys` only for `sys.maxsize` (its version checks are decided before).
Their names may be imported (`from math import sqrt`) too."""
STRING_CONSTANTS = (
    "ascii_letters",
    "ascii_lowercase",
    "ascii_uppercase",
    "digits",
    "hexdigits",
    "octdigits",
    "punctuation",
    "whitespace",
    "printable",
)
"""`string.digits` and friends: their values, as str literals (taken from this Python's `string`)."""

_Handler = Callable[["ExpressionTranslator", ast.Call, Ty | None], Val]


def _one(tx: ExpressionTranslator, name: str, node: ast.Call, count: tuple[int, ...] = (1,)) -> None:
    """Check the positional argument count (and no keywords) for simple builtins."""
    if len(node.args) not in count or node.keywords:
        tx.fail(f"{name}() with these arguments", node)


def _collect(tx: ExpressionTranslator, code: str, elem: Ty, kind: str, node: ast.AST) -> Val:
    """Collect an iterator into a Vec or HashSet."""
    if kind == "set":
        if not tx.vague(elem) and not is_hashable(elem):
            tx.fail(f"set of {elem}", node)
        return Val(f"{code}.collect::<HashSet<{tx.rtype(elem, node)}>>()", set_of(elem))
    return Val(f"{code}.collect::<Vec<{tx.rtype(elem, node)}>>()", list_of(elem))


def call_builtin(tx: ExpressionTranslator, name: str, node: ast.Call, expected: Ty | None) -> Val:
    """Dispatch one built-in call."""
    handler = _HANDLERS.get(name)
    if handler is None:
        if name in ("range", "enumerate", "zip", "reversed", "map", "filter"):
            found = iterate_call(tx, name, node)
            if found is None:
                tx.fail(f"{name}() with these arguments", node)
            code, elem = found
            return _collect(tx, code, elem, "list", node)
        tx.fail(f"builtin {name}", node)
    return handler(tx, node, expected)


def _len(tx: ExpressionTranslator, node: ast.Call, expected: Ty | None) -> Val:
    """``len``: characters for str, elements otherwise."""
    _one(tx, "len", node)
    val = tx.unwrap_option(tx.expr(node.args[0]))
    kind = val.ty.kind
    if kind == "unknown":
        return Val("0", INT)
    if kind == "str":
        return Val(f"{tx.wrap(val, PREC_ATOM)}.chars().count() as isize", INT, "temp", PREC_CAST)
    if kind in ("list", "dict", "set", "bytes"):
        return Val(f"{tx.wrap(val, PREC_ATOM)}.len() as isize", INT, "temp", PREC_CAST)
    if kind == "tuple":
        return Val(str(len(val.ty.args)), INT)
    if kind == "class" and "__len__" in tx.module.classes[val.ty.name].methods:
        return Val(f"{tx.wrap(val, PREC_ATOM)}.__len__()", INT)
    tx.fail(f"len() of {val.ty}", node)


def _abs(tx: ExpressionTranslator, node: ast.Call, expected: Ty | None) -> Val:
    """``abs`` on int/float (bool promotes to int)."""
    _one(tx, "abs", node)
    val = tx.unwrap_option(tx.expr(node.args[0]))
    if tx.vague(val.ty):
        return tx.unknown()
    if val.ty == BOOL:
        val = Val(tx.coerce(val, INT, node), INT, "temp", PREC_CAST)
    if val.ty.kind not in ("int", "float"):
        tx.fail(f"abs() of {val.ty}", node)
    return Val(f"{tx.wrap(val, PREC_ATOM)}.abs()", val.ty)


def _sum(tx: ExpressionTranslator, node: ast.Call, expected: Ty | None) -> Val:
    """``sum``: bools count as ints, an int start promotes with float items as in Python."""
    if len(node.args) not in (1, 2) or node.keywords:
        tx.fail("sum() with these arguments", node)
    code, elem = tx.iterate(node.args[0])
    if tx.vague(elem):
        return tx.unknown()
    if elem == BOOL:
        code, elem = f"{code}.map(|b| b as isize)", INT
    if elem.kind not in ("int", "float"):
        tx.fail(f"sum() of {elem}", node)
    if elem == FLOAT:  # Python adds to an int 0: an empty sum is 0, never Rust's -0.0
        total = Val(f"{code}.fold(0.0_f64, |acc, x| acc + x)", elem)
    else:
        total = Val(f"{code}.sum::<{tx.rtype(elem, node)}>()", elem)
    if len(node.args) == 2:
        start = tx.expr(node.args[1])
        a, b, ty = tx.numeric_pair(start, total, node)
        return Val(f"{tx.wrap(a, PREC_ADD)} + {tx.wrap(b, PREC_ADD + 1)}", ty, "temp", PREC_ADD)
    return total


def _minmax(tx: ExpressionTranslator, node: ast.Call, which: str) -> Val:
    """``min``/``max`` over an iterable (optionally with key=) or over several arguments."""
    key = None
    for kw in node.keywords:
        if kw.arg == "key":
            key = kw.value
        else:
            tx.fail(f"{which}() with {kw.arg}=", node)
    if len(node.args) == 1:
        code, elem = tx.iterate(node.args[0])
        if tx.vague(elem):
            return tx.unknown()
    elif len(node.args) >= 2:
        vals = [tx.expr(a) for a in node.args]
        elem = UNKNOWN
        for v in vals:
            elem = tx.unify_at(elem, v.ty, node)
        if tx.vague(elem):
            return tx.unknown()
        codes = [tx.coerce(v, elem, node) for v in vals]
        if key is None and len(vals) == 2 and elem.kind in ("int", "float"):
            first = Val(codes[0], elem, "temp", vals[0].prec if vals[0].ty == elem else PREC_CAST)
            return Val(f"{tx.wrap(first, PREC_ATOM)}.{which}({codes[1]})", elem)
        code = f"[{', '.join(codes)}].into_iter()"
    else:
        tx.fail(f"{which}() with no arguments", node)
    if key is None:
        tx.module.helpers.add(f"py_{which}")
        return Val(f"py_{which}({code})", elem)
    pname, body = tx.lambda_body(key, elem, node)
    tx.module.helpers.add(f"py_{which}_by")
    return Val(f"py_{which}_by({code}, |{pname}: {tx.rtype(elem, node)}| {tx.owned(body)})", elem)


def _min(tx: ExpressionTranslator, node: ast.Call, expected: Ty | None) -> Val:
    """``min``."""
    return _minmax(tx, node, "min")


def _max(tx: ExpressionTranslator, node: ast.Call, expected: Ty | None) -> Val:
    """``max``."""
    return _minmax(tx, node, "max")


def is_ord(ty: Ty) -> bool:
    """Whether Rust's total ``Ord`` exists (no f64 inside), allowing ``sort``/``sort_by_key``. A
    class is ordered by its ``__lt__`` alone, as Python's sort is (its ``PartialOrd``)."""
    if ty.kind in ("float", "class"):
        return False
    return all(is_ord(a) for a in ty.args)


def sort_statements(
    tx: ExpressionTranslator,
    target: str,
    elem: Ty,
    key: ast.expr | None,
    reverse: ast.expr | None,
    node: ast.AST,
) -> str:
    """Statements sorting the Vec named ``target`` in place, stable like Python's sort."""
    rev_code = "false"
    if reverse is not None:
        rev_code = tx.cond(reverse)
    if key is None:
        if rev_code == "false":
            if is_ord(elem):
                return f"{target}.sort();"
            return f'{target}.sort_by(|a, b| a.partial_cmp(b).expect("unorderable values"));'
        if rev_code == "true":
            if is_ord(elem):
                return f"{target}.sort_by(|a, b| b.cmp(a));"
            return f'{target}.sort_by(|a, b| b.partial_cmp(a).expect("unorderable values"));'
        cmp = 'a.partial_cmp(b).expect("unorderable values")'
        return f"let rev = {rev_code}; {target}.sort_by(|a, b| {_maybe_reversed(cmp)});"
    pname, body = tx.lambda_body(key, elem, node)
    key_fn = tx.fresh("key")
    decl = f"let {key_fn} = |{pname}: {tx.rtype(elem, node)}| {tx.owned(body)};"
    arg_a = "a.clone()" if not is_copy(elem) else "*a"
    arg_b = "b.clone()" if not is_copy(elem) else "*b"
    if is_ord(body.ty):
        cmp = f"{key_fn}({arg_a}).cmp(&{key_fn}({arg_b}))"
    else:
        cmp = f'{key_fn}({arg_a}).partial_cmp(&{key_fn}({arg_b})).expect("unorderable values")'
    if rev_code == "false":
        if is_ord(body.ty):
            return f"{decl} {target}.sort_by_key(|a| {key_fn}({arg_a}));"
        return f"{decl} {target}.sort_by(|a, b| {cmp});"
    return f"{decl} let rev = {rev_code}; {target}.sort_by(|a, b| {_maybe_reversed(cmp)});"


def _maybe_reversed(cmp: str) -> str:
    """A comparator body honouring a run-time ``reverse`` flag (still a stable sort)."""
    return f"{{ let o = {cmp}; if rev {{ o.reverse() }} else {{ o }} }}"


def _sorted(tx: ExpressionTranslator, node: ast.Call, expected: Ty | None) -> Val:
    """``sorted(it, key=..., reverse=...)`` -> a block that collects and sorts a Vec."""
    if len(node.args) != 1:
        tx.fail("sorted() with these arguments", node)
    kws = {kw.arg: kw.value for kw in node.keywords}
    if set(kws) - {"key", "reverse"}:
        tx.fail("sorted() with these keywords", node)
    code, elem = tx.iterate(node.args[0])
    if tx.vague(elem):
        return Val("Vec::new()", list_of(elem))
    key, reverse = kws.get("key"), kws.get("reverse")
    tmp = tx.fresh("v")
    sort = sort_statements(tx, tmp, elem, key, reverse, node)
    rust = tx.rtype(elem, node)
    return Val(f"{{ let mut {tmp}: Vec<{rust}> = {code}.collect(); {sort} {tmp} }}", list_of(elem))


def _list(tx: ExpressionTranslator, node: ast.Call, expected: Ty | None) -> Val:
    """``list()`` / ``list(iterable)``."""
    if not node.args and not node.keywords:
        elem = expected.args[0] if expected is not None and expected.kind == "list" else UNKNOWN
        return Val("Vec::new()", list_of(elem))
    _one(tx, "list", node)
    code, elem = tx.iterate(node.args[0])
    return _collect(tx, code, elem, "list", node)


def _set(tx: ExpressionTranslator, node: ast.Call, expected: Ty | None) -> Val:
    """``set()`` / ``set(iterable)``."""
    if not node.args and not node.keywords:
        elem = expected.args[0] if expected is not None and expected.kind == "set" else UNKNOWN
        return Val("HashSet::new()", set_of(elem))
    _one(tx, "set", node)
    code, elem = tx.iterate(node.args[0])
    return _collect(tx, code, elem, "set", node)


def _dict(tx: ExpressionTranslator, node: ast.Call, expected: Ty | None) -> Val:
    """``dict()`` / ``dict(pairs)``."""
    if not node.args and not node.keywords:
        if expected is not None and expected.kind == "dict":
            return Val("HashMap::new()", expected)
        return Val("HashMap::new()", dict_of(UNKNOWN, UNKNOWN))
    _one(tx, "dict", node)
    code, elem = tx.iterate(node.args[0])
    if tx.vague(elem):
        return Val("HashMap::new()", dict_of(UNKNOWN, UNKNOWN))
    if elem.kind != "tuple" or len(elem.args) != 2:
        tx.fail(f"dict() of {elem}", node)
    key, value = elem.args
    if not is_hashable(key):
        tx.fail(f"dict keyed by {key}", node)
    rust = f"HashMap<{tx.rtype(key, node)}, {tx.rtype(value, node)}>"
    return Val(f"{code}.collect::<{rust}>()", dict_of(key, value))


def static_length(node: ast.expr) -> int | None:
    """The length of a sequence known from the source (a literal, possibly sorted/reversed)."""
    if isinstance(node, ast.List | ast.Tuple):
        return len(node.elts) if not any(isinstance(e, ast.Starred) for e in node.elts) else None
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in ("sorted", "list", "reversed", "tuple")
        and len(node.args) == 1
    ):
        return static_length(node.args[0])
    return None


def _tuple(tx: ExpressionTranslator, node: ast.Call, expected: Ty | None) -> Val:
    """``tuple(seq)``: a Rust tuple when the length is visible in the source, else a ``tuple[X, ...]``
    (a ``Vec``)."""
    _one(tx, "tuple", node)
    if expected is not None and expected.kind == "option":
        expected = expected.args[0]  # a tuple where an Optional one is expected
    length = static_length(node.args[0])
    if length is None or (expected is not None and is_vtuple(expected)):
        want = expected.args[0] if expected is not None and is_vtuple(expected) else None
        code, elem = tx.iterate(node.args[0], want=want)
        return Val(f"{code}.collect::<Vec<{tx.rtype(elem, node)}>>()", vtuple_of(elem))
    code, elem = tx.iterate(node.args[0])
    tmp = tx.fresh("v")
    items = [f"{tmp}[{i}]" + ("" if is_copy(elem) else ".clone()") for i in range(length)]
    rust = tx.rtype(elem, node)
    trail = "," if length == 1 else ""
    return Val(
        f"{{ let {tmp}: Vec<{rust}> = {code}.collect(); ({', '.join(items)}{trail}) }}",
        tuple_of(*([elem] * length)),
    )


def _str(tx: ExpressionTranslator, node: ast.Call, expected: Ty | None) -> Val:
    """``str(x)`` with Python's text for floats and bools."""
    if not node.args:
        return Val("String::new()", STR)
    _one(tx, "str", node)
    val = tx.expr(node.args[0])  # str(None) is "None": an Optional is not unwrapped
    if val.ty == STR:
        return val
    return Val(tx.static_str(val, node), STR)


def _int(tx: ExpressionTranslator, node: ast.Call, expected: Ty | None) -> Val:
    """``int(x)`` and ``int(s, base)``; on a union, ``int()`` of whichever member it holds."""
    _one(tx, "int", node, (1, 2))
    val = tx.unwrap_option(tx.expr(node.args[0]))
    if val.ty.kind == "union" and len(node.args) == 1:
        return tx.per_member(val, node, lambda member: _int_of(tx, member, node))
    if len(node.args) == 1:
        return _int_of(tx, val, node)
    if val.ty.kind == "unknown":
        return Val("0", INT)
    if val.ty.kind != "str":
        tx.fail("int() with a base on a non-string", node)
    base = tx.coerce(tx.expr(node.args[1]), INT, node)
    parse = f"isize::from_str_radix({tx.as_str(val)}.trim(), {base} as u32)"
    return Val(f'{parse}.expect("ValueError: invalid literal")', INT)


def _int_of(tx: ExpressionTranslator, val: Val, node: ast.Call) -> Val:
    """``int(x)`` of one value: parses str and bytes (ValueError -> panic), truncates float toward zero."""
    kind = val.ty.kind
    if kind == "unknown":
        return Val("0", INT)
    if kind == "str":
        tx.module.helpers.add("py_int")
        return Val(f"py_int({tx.borrow(val)})", INT)
    if kind == "bytes":
        tx.module.helpers.add("py_int")
        return Val(f"py_int(&String::from_utf8_lossy(&{tx.wrap(val, PREC_ATOM)}))", INT)
    if kind == "int":
        return val
    if kind in ("float", "bool"):
        return Val(f"{tx.wrap(val, PREC_CAST + 1)} as isize", INT, "temp", PREC_CAST)
    tx.fail(f"int() of {val.ty}", node)


def _float(tx: ExpressionTranslator, node: ast.Call, expected: Ty | None) -> Val:
    """``float(x)``; on a union, ``float()`` of whichever member it holds."""
    _one(tx, "float", node)
    val = tx.unwrap_option(tx.expr(node.args[0]))
    if val.ty.kind == "union":
        return tx.per_member(val, node, lambda member: _float_of(tx, member, node))
    return _float_of(tx, val, node)


def _float_of(tx: ExpressionTranslator, val: Val, node: ast.Call) -> Val:
    """``float(x)`` of one value."""
    if val.ty.kind == "str":
        tx.module.helpers.add("py_float")
        return Val(f"py_float({tx.borrow(val)})", FLOAT)
    if val.ty.kind in ("int", "bool", "float"):
        return Val(tx.coerce(val, FLOAT, node), FLOAT, "temp", PREC_CAST if val.ty != FLOAT else val.prec)
    if tx.vague(val.ty):
        return tx.unknown()
    tx.fail(f"float() of {val.ty}", node)


def _bool(tx: ExpressionTranslator, node: ast.Call, expected: Ty | None) -> Val:
    """``bool(x)`` is truthiness."""
    _one(tx, "bool", node)
    return Val(tx.cond(node.args[0]), BOOL, "temp", PREC_LOWEST)


def _ord(tx: ExpressionTranslator, node: ast.Call, expected: Ty | None) -> Val:
    """``ord(c)``."""
    _one(tx, "ord", node)
    val = tx.expr(node.args[0])
    tx.module.helpers.add("py_ord")
    return Val(f"py_ord({tx.borrow(val)})", INT)


def _chr(tx: ExpressionTranslator, node: ast.Call, expected: Ty | None) -> Val:
    """``chr(i)``."""
    _one(tx, "chr", node)
    tx.module.helpers.add("py_chr")
    return Val(f"py_chr({tx.coerce(tx.expr(node.args[0]), INT, node)})", STR)


def _radix(prefix: str, name: str) -> _Handler:
    """``bin``/``oct``/``hex`` share one helper."""

    def handler(tx: ExpressionTranslator, node: ast.Call, expected: Ty | None) -> Val:
        _one(tx, name, node)
        tx.module.helpers.add("py_radix")
        return Val(f'py_radix({tx.coerce(tx.expr(node.args[0]), INT, node)}, "{prefix}")', STR)

    return handler


def _round(tx: ExpressionTranslator, node: ast.Call, expected: Ty | None) -> Val:
    """``round``: half to even, as Python 3."""
    _one(tx, "round", node, (1, 2))
    val = tx.unwrap_option(tx.expr(node.args[0]))
    if val.ty.kind in ("int", "bool"):
        return Val(tx.coerce(val, INT, node), INT)
    if len(node.args) == 1:
        tx.module.helpers.add("py_round")
        return Val(f"py_round({tx.coerce(val, FLOAT, node)})", INT)
    digits = tx.expr(node.args[1])
    if (
        isinstance(node.args[1], ast.Constant)
        and isinstance(node.args[1].value, int)
        and node.args[1].value < 0
    ):
        tx.fail("round() to negative digits", node)
    tx.module.helpers.add("py_round_digits")
    return Val(f"py_round_digits({tx.coerce(val, FLOAT, node)}, {tx.coerce(digits, INT, node)})", FLOAT)


def _divmod(tx: ExpressionTranslator, node: ast.Call, expected: Ty | None) -> Val:
    """``divmod(a, b)`` -> ``(a // b, a % b)``."""
    _one(tx, "divmod", node, (2,))
    a, b, ty = tx.numeric_pair(tx.expr(node.args[0]), tx.expr(node.args[1]), node)
    if ty != INT:
        tx.fail("divmod() of floats", node)
    tx.module.helpers.update({"py_floordiv", "py_mod"})
    return Val(f"(py_floordiv({a.code}, {b.code}), py_mod({a.code}, {b.code}))", tuple_of(INT, INT))


def _pow(tx: ExpressionTranslator, node: ast.Call, expected: Ty | None) -> Val:
    """``pow(a, b)`` like ``**``; ``pow(a, b, m)`` modular."""
    _one(tx, "pow", node, (2, 3))
    if len(node.args) == 2:
        return tx.expr(
            ast.copy_location(ast.BinOp(left=node.args[0], op=ast.Pow(), right=node.args[1]), node)
        )
    codes = [tx.coerce(tx.expr(a), INT, node) for a in node.args]
    tx.module.helpers.add("py_modpow")
    return Val(f"py_modpow({', '.join(codes)})", INT)


def _any_all(tx: ExpressionTranslator, node: ast.Call, which: str) -> Val:
    """``any``/``all`` short-circuit over a generator without materialising it."""
    _one(tx, which, node)
    arg = node.args[0]
    if isinstance(arg, ast.GeneratorExp | ast.ListComp) and len(arg.generators) == 1:
        gen = arg.generators[0]
        code, elem = tx.iterate(gen.iter)
        pattern, names = tx.bind_target(gen.target, elem, node)
        tx.scopes.append(names)
        try:
            conds = [tx.cond(c) for c in gen.ifs]
            test = tx.cond(arg.elt)
        finally:
            tx.scopes.pop()
        if conds:
            guard = " && ".join(f"({c})" for c in conds)
            test = f"{guard} && ({test})" if which == "any" else f"!({guard}) || ({test})"
        return Val(f"{code}.{which}(|{pattern}| {test})", BOOL)
    code, elem = tx.iterate(arg)
    name = tx.fresh("x")
    test = tx.truthy(Val(name, elem, "place"), node)
    return Val(f"{code}.{which}(|{name}| {test})", BOOL)


def _any(tx: ExpressionTranslator, node: ast.Call, expected: Ty | None) -> Val:
    """``any``."""
    return _any_all(tx, node, "any")


def _all(tx: ExpressionTranslator, node: ast.Call, expected: Ty | None) -> Val:
    """``all``."""
    return _any_all(tx, node, "all")


_ISINSTANCE_KINDS = {
    "int": "int",
    "float": "float",
    "bool": "bool",
    "str": "str",
    "bytes": "bytes",
    "list": "list",
    "dict": "dict",
    "set": "set",
    "tuple": "tuple",
}


def _holds(module: ModuleContext, ty: Ty, kinds: set[str], classes: set[str]) -> bool:
    """Whether a value of static type `ty` is an instance of one of the named types."""
    if ty.kind == "class":
        # A class value's static type is exact (no subtyping), so its ancestry decides.
        return ty.name in classes or any(a in classes for a in module.ancestors.get(ty.name, ()))
    if is_vtuple(ty):
        return "tuple" in kinds
    return ty.kind in kinds


def _isinstance_spec(module: ModuleContext, spec: ast.expr) -> tuple[set[str], set[str]] | None:
    """(kinds, classes) named by the second argument of isinstance; None when it names others."""
    names = list(spec.elts) if isinstance(spec, ast.Tuple) else [spec]
    kinds: set[str] = set()
    classes: set[str] = set()
    for n in names:
        if isinstance(n, ast.Name) and (
            n.id in module.classes or any(n.id in chain for chain in module.ancestors.values())
        ):
            classes.add(n.id)  # a class, or a base class (abstract ones have no struct of their own)
        elif isinstance(n, ast.Name) and n.id in _ISINSTANCE_KINDS:
            kinds.add(_ISINSTANCE_KINDS[n.id])
            if n.id == "int":
                kinds.add("bool")
        else:
            return None
    return kinds, classes


def isinstance_members(module: ModuleContext, union: Ty, spec: ast.expr) -> list[int] | None:
    """The members of a union type that `isinstance(x, spec)` accepts; None for other specs."""
    found = _isinstance_spec(module, spec)
    if found is None:
        return None
    return [i for i, member in enumerate(union.args) if _holds(module, member, *found)]


def _isinstance(tx: ExpressionTranslator, node: ast.Call, expected: Ty | None) -> Val:
    """``isinstance`` is decided statically from the inferred type (values have one static type);
    on an Optional it tests for a value, on a union for the members it names."""
    _one(tx, "isinstance", node, (2,))
    val = tx.expr(node.args[0])
    found = _isinstance_spec(tx.module, node.args[1])
    if found is None:
        tx.fail("isinstance() with this type", node)
    ty = val.ty.args[0] if val.ty.kind == "option" else val.ty
    if ty.kind == "union":
        members = [i for i, m in enumerate(ty.args) if _holds(tx.module, m, *found)]
        if not members:
            return Val("false", BOOL)
        path = union_path(ty)
        arms = " | ".join(f"{path}::{UNION_VARIANTS[i]}(_)" for i in members)
        pattern = f"Some({arms})" if val.ty.kind == "option" else arms
        return Val(f"matches!(&{tx.wrap(val, PREC_ATOM)}, {pattern})", BOOL)
    held = _holds(tx.module, ty, *found)
    if val.ty.kind == "option" and held:  # None is an instance of none of them
        return Val(f"{tx.wrap(val, PREC_ATOM)}.is_some()", BOOL)
    return Val("true" if held else "false", BOOL)


def _hash(tx: ExpressionTranslator, node: ast.Call, expected: Ty | None) -> Val:
    """``hash(x)``: Rust's hash of the value. Equal values hash equal, as Python requires; the
    numbers differ from CPython's (which differ between CPython processes for str too)."""
    _one(tx, "hash", node)
    val = tx.expr(node.args[0])
    if tx.vague(val.ty):
        return tx.unknown()
    if _py_hashable(val.ty):
        # The support crate's `PyHash`: it covers f64 (Rust's `Hash` does not), and equal numbers
        # of different types hash alike (`hash(1) == hash(1.0)`), as Python requires.
        return Val(f"portalis_py::hash::hash(&{tx.wrap(val, PREC_ATOM)})", INT)
    if not is_hashable(val.ty):
        tx.fail(f"hash() of {val.ty}", node)
    return Val(f"portalis_py::text::hash(&{tx.wrap(val, PREC_ATOM)})", INT)


def _py_hashable(ty: Ty) -> bool:
    """Types the support crate's `PyHash` covers and Python hashes: numbers, str, bytes, None, and
    tuples, Optionals and unions of those (a list is unhashable in Python)."""
    if ty.kind in ("int", "float", "bool", "str", "bytes", "none"):
        return True
    if ty.kind in ("tuple", "option", "union") or is_vtuple(ty):
        return all(_py_hashable(a) for a in ty.args)
    return False


def _repr(tx: ExpressionTranslator, node: ast.Call, expected: Ty | None) -> Val:
    """``repr(x)``: quoted and escaped for a str, ``__repr__`` for a class that has one."""
    _one(tx, "repr", node)
    val = tx.expr(node.args[0])
    if tx.vague(val.ty):
        return tx.unknown()
    return Val(tx.repr_str(val, node), STR)


def _print(tx: ExpressionTranslator, node: ast.Call, expected: Ty | None) -> Val:
    """``print(a, b)`` -> ``println!`` with Python's ``str()`` of each argument."""
    if node.keywords:
        tx.fail("print() with keywords", node)
    args = []
    for a in node.args:
        val = tx.unwrap_option(tx.expr(a))
        args.append(val.code if val.ty.kind in ("str", "int") else tx.static_str(val, node))
    fmt = " ".join(["{}"] * len(args))
    return Val(f'println!("{fmt}"{"".join(", " + a for a in args)})', NONE)


_HANDLERS: dict[str, _Handler] = {
    "repr": _repr,
    "hash": _hash,
    "len": _len,
    "abs": _abs,
    "sum": _sum,
    "min": _min,
    "max": _max,
    "sorted": _sorted,
    "list": _list,
    "set": _set,
    "frozenset": _set,  # immutability is a static property here: nothing mutates it after translation
    "dict": _dict,
    "tuple": _tuple,
    "str": _str,
    "int": _int,
    "float": _float,
    "bool": _bool,
    "ord": _ord,
    "chr": _chr,
    "bin": _radix("0b", "bin"),
    "oct": _radix("0o", "oct"),
    "hex": _radix("0x", "hex"),
    "round": _round,
    "divmod": _divmod,
    "pow": _pow,
    "any": _any,
    "all": _all,
    "isinstance": _isinstance,
    "print": _print,
}


def iterate_call(tx: ExpressionTranslator, name: str, node: ast.Call) -> tuple[str, Ty] | None:
    """Lazy iterators for range/enumerate/zip/reversed/map/filter/sorted in loops and generators."""
    if name == "range":
        if node.keywords or not 1 <= len(node.args) <= 3:
            tx.fail("range() with these arguments", node)
        vals = [tx.coerce(tx.expr(a), INT, node) for a in node.args]
        if len(vals) == 1:
            return f"(0..{_range_bound(vals[0])})", INT
        start, stop = _range_bound(vals[0]), _range_bound(vals[1])
        if len(vals) == 2:
            return f"({start}..{stop})", INT
        step = node.args[2]
        if isinstance(step, ast.Constant) and isinstance(step.value, int) and step.value > 0:
            return f"({start}..{stop}).step_by({step.value})", INT
        tx.module.helpers.add("py_range")
        return f"py_range({vals[0]}, {vals[1]}, {vals[2]}).into_iter()", INT
    if name == "enumerate":
        if not 1 <= len(node.args) <= 2 or any(k.arg != "start" for k in node.keywords):
            tx.fail("enumerate() with these arguments", node)
        code, elem = tx.iterate(node.args[0])
        start_node = (
            node.args[1] if len(node.args) == 2 else (node.keywords[0].value if node.keywords else None)
        )
        offset = ""
        if start_node is not None:
            start_val = Val(tx.coerce(tx.expr(start_node), INT, node), INT, "temp", PREC_CAST)
            offset = f" + {tx.wrap(start_val, PREC_ADD + 1)}"
        return f"{code}.enumerate().map(|(i, x)| (i as isize{offset}, x))", tuple_of(INT, elem)
    if name == "zip":
        if len(node.args) < 2 or node.keywords:
            tx.fail("zip() with these arguments", node)
        parts = [tx.iterate(a) for a in node.args]
        code = parts[0][0]
        for other, _ in parts[1:]:
            code = f"{code}.zip({other})"
        if len(parts) > 2:
            names = [f"z{i}" for i in range(len(parts))]
            nested = f"({names[0]}, {names[1]})"
            for n in names[2:]:
                nested = f"({nested}, {n})"
            code = f"{code}.map(|{nested}| ({', '.join(names)}))"
        return code, tuple_of(*(t for _, t in parts))
    if name == "reversed":
        _one(tx, "reversed", node)
        code, elem = tx.iterate(node.args[0])
        return f"{code}.rev()", elem
    if name == "sorted":
        val = _sorted(tx, node, None)
        return f"{val.code}.into_iter()", val.ty.args[0] if val.ty.args else UNKNOWN
    if name in ("map", "filter"):
        if len(node.args) != 2 or node.keywords:
            tx.fail(f"{name}() with these arguments", node)
        if name == "map":
            found = _map_over_fixed_tuple(tx, node)
            if found is not None:
                return found
        code, elem = tx.iterate(node.args[1])
        if name == "filter" and isinstance(node.args[0], ast.Constant) and node.args[0].value is None:
            pname = tx.fresh("x")
            test = tx.truthy(Val(pname, elem, "place"), node)
            return f"{code}.filter_map(|{pname}| if {test} {{ Some({pname}) }} else {{ None }})", elem
        pname, body = tx.lambda_body(node.args[0], elem, node)
        if name == "map":
            return f"{code}.map(|{pname}| {tx.owned(body)})", body.ty
        test = tx.truthy(body, node)
        if is_copy(elem):
            return f"{code}.filter(|&{pname}| {test})", elem
        return f"{code}.filter_map(|{pname}| if {test} {{ Some({pname}) }} else {{ None }})", elem
    if name == "list" and len(node.args) == 1 and not node.keywords:
        return tx.iterate(node.args[0])
    return None


def _map_over_fixed_tuple(tx: ExpressionTranslator, node: ast.Call) -> tuple[str, Ty] | None:
    """`map(f, t)` over a tuple whose items differ in type (`map(str, ("a", 1))`): `f` applied to
    each item at its own type, when the results share one."""
    seq = tx.unwrap_option(tx.expr(node.args[1]))
    if seq.ty.kind != "tuple" or len(set(seq.ty.args)) < 2 or tx.vague(seq.ty):
        return None
    held = tx.fresh("t")
    results = []
    for i, item in enumerate(seq.ty.args):
        pname, body = tx.lambda_body(node.args[0], item, node)
        results.append((pname, i, body))
    ty = results[0][2].ty
    for _, _, body in results[1:]:
        ty = tx.unify_at(ty, body.ty, node)
    items = ", ".join(
        f"{{ let {pname} = {held}.{i}.clone(); {tx.coerce(body, ty, node)} }}" for pname, i, body in results
    )
    return f"{{ let {held} = {tx.owned(seq)}; [{items}] }}.into_iter()", ty


def _range_bound(code: str) -> str:
    """Range bounds need parentheses when they are not simple (``0..(n + 1)`` reads better)."""
    simple = code.replace("_", "").replace(".", "").isalnum() or code.lstrip("-").isdigit()
    return code if simple else f"({code})"


# ----------------------------------------------------------------------------- math

_MATH_UNARY = {
    "sqrt": "sqrt",
    "exp": "exp",
    "sin": "sin",
    "cos": "cos",
    "tan": "tan",
    "asin": "asin",
    "acos": "acos",
    "atan": "atan",
    "log2": "log2",
    "log10": "log10",
    "fabs": "abs",
}


_MATH_DOMAIN = {
    "sqrt": "!(v < 0.0)",
    "log": "!(v <= 0.0)",
    "log2": "!(v <= 0.0)",
    "log10": "!(v <= 0.0)",
    "asin": "!(v.abs() > 1.0)",
    "acos": "!(v.abs() > 1.0)",
}
"""Arguments Python accepts (NaN passes, as in Python); others raise `ValueError: math domain error`."""


def module_attribute(tx: ExpressionTranslator, module: str, attr: str, node: ast.AST) -> Val:
    """``math.pi`` and friends."""
    consts = {"pi": "std::f64::consts::PI", "e": "std::f64::consts::E", "tau": "std::f64::consts::TAU"}
    consts.update({"inf": "f64::INFINITY", "nan": "f64::NAN"})
    if module == "re":
        return regex.attribute(tx, attr, node)
    if module == "logging":
        return logs.module_attribute(tx, attr, node)
    if module == "string" and attr in STRING_CONSTANTS:
        from portalis_worker.rules.expressions import rust_str_literal  # expressions imports this module

        return Val(rust_str_literal(getattr(string, attr)), STR, "strlit")
    if module == "math" and attr in consts:
        return Val(consts[attr], FLOAT)
    if module == "sys" and attr == "maxsize":
        return Val("isize::MAX", INT)
    tx.fail(f"{module}.{attr}", node)


_BISECT = {
    "bisect_left": "<",
    "bisect_right": "<=",
    "bisect": "<=",
    "insort_left": "<",
    "insort_right": "<=",
    "insort": "<=",
}


def _bisect(tx: ExpressionTranslator, attr: str, node: ast.Call) -> Val:
    """``bisect.bisect_left/bisect_right(a, x, lo, hi)`` (a ``partition_point`` over ``a[lo:hi]``)
    and ``insort_left/insort_right(a, x)`` on a list variable; ``key=`` is not translated."""
    if attr not in _BISECT:
        tx.fail(f"bisect.{attr}", node)
    named = {k.arg: k.value for k in node.keywords}
    if set(named) - {"lo", "hi"} or len(node.args) not in (2, 3, 4) or len(node.args) + len(named) > 4:
        tx.fail(f"bisect.{attr} with these arguments", node)
    seq = tx.expr(node.args[0])
    if tx.vague(seq.ty):
        return tx.unknown()
    if seq.ty.kind != "list":
        tx.fail(f"bisect.{attr} on {seq.ty}", node)
    elem = seq.ty.args[0]
    x = tx.coerce(tx.expr(node.args[1], elem), elem, node)
    lo_node = node.args[2] if len(node.args) > 2 else named.get("lo")
    hi_node = node.args[3] if len(node.args) > 3 else named.get("hi")
    base, item, value = tx.wrap(seq, PREC_ATOM), tx.fresh("e"), tx.fresh("x")
    lo = tx.coerce(tx.expr(lo_node), INT, node) if lo_node is not None else "0"
    hi = tx.coerce(tx.expr(hi_node), INT, node) if hi_node is not None else f"{base}.len() as isize"
    test = f"*{item} {_BISECT[attr]} {value}" if is_copy(elem) else f"{item} {_BISECT[attr]} &{value}"
    # Python raises ValueError for a negative lo, returns lo when the range is empty, and raises
    # IndexError when it looks past the end (here: whenever hi is past the end).
    find = (
        f"let {value} = {x}; let lo = {lo}; let hi = {hi}; "
        f'if lo < 0 {{ panic!("ValueError: lo must be non-negative") }} '
        f"let at = if lo >= hi {{ lo as usize }} else {{ "
        f'if hi as usize > {base}.len() {{ panic!("IndexError: list index out of range") }} '
        f"lo as usize + {base}[lo as usize..hi as usize].partition_point(|{item}| {test}) }};"
    )
    if attr.startswith("bisect"):
        return Val(f"{{ {find} at as isize }}", INT)
    from portalis_worker.rules.methods import mark_mutated  # methods imports this module

    if not isinstance(node.args[0], ast.Name):
        tx.fail(f"bisect.{attr} on an element", node)
    mark_mutated(tx, node.args[0])
    return Val(f"{{ {find} {base}.insert(at, {value}); }}", NONE)


def call_module(tx: ExpressionTranslator, module: str, attr: str, node: ast.Call) -> Val:
    """``math.f(x)`` -> the f64 method or a helper with Python's result type."""
    if module == "re":
        return regex.call_module(tx, attr, node)
    if module == "logging":
        return logs.call_module(tx, attr, node)
    if module == "bisect":
        return _bisect(tx, attr, node)
    if module != "math" or node.keywords:
        tx.fail(f"{module}.{attr}", node)
    args = [tx.unwrap_option(tx.expr(a)) for a in node.args]
    if any(tx.vague(a.ty) for a in args):
        return tx.unknown()

    def as_float(v: Val) -> str:
        code = tx.coerce(v, FLOAT, node)
        return code if v.ty == FLOAT and v.prec >= PREC_ATOM else f"({code})"

    if attr in _MATH_DOMAIN and len(args) == 1:
        # Python raises ValueError outside the domain, where f64 would give NaN or -inf.
        tx.module.helpers.add("py_math_domain")
        method = _MATH_UNARY.get(attr, "ln")
        arg = tx.coerce(args[0], FLOAT, node)
        return Val(f"py_math_domain({arg}, |v| {_MATH_DOMAIN[attr]}).{method}()", FLOAT)
    if attr in ("isnan", "isinf", "isfinite") and len(args) == 1:
        method = {"isnan": "is_nan", "isinf": "is_infinite", "isfinite": "is_finite"}[attr]
        return Val(f"{as_float(args[0])}.{method}()", BOOL)
    if attr in _MATH_UNARY and len(args) == 1:
        return Val(f"{as_float(args[0])}.{_MATH_UNARY[attr]}()", FLOAT)
    if attr in ("floor", "ceil", "trunc") and len(args) == 1:
        if args[0].ty.kind in ("int", "bool"):
            return Val(tx.coerce(args[0], INT, node), INT)
        return Val(f"{as_float(args[0])}.{attr}() as isize", INT, "temp", PREC_CAST)
    if attr == "log" and len(args) in (1, 2):
        if len(args) == 1:
            return Val(f"{as_float(args[0])}.ln()", FLOAT)
        return Val(f"{as_float(args[0])}.log({tx.coerce(args[1], FLOAT, node)})", FLOAT)
    if attr in ("pow", "atan2", "hypot") and len(args) == 2:
        method = {"pow": "powf", "atan2": "atan2", "hypot": "hypot"}[attr]
        return Val(f"{as_float(args[0])}.{method}({tx.coerce(args[1], FLOAT, node)})", FLOAT)
    if attr in ("gcd", "isqrt", "factorial"):
        if (attr == "gcd" and len(args) != 2) or (attr != "gcd" and len(args) != 1):
            tx.fail(f"math.{attr} with these arguments", node)
        tx.module.helpers.add(f"py_{attr}")
        codes = [tx.coerce(a, INT, node) for a in args]
        return Val(f"py_{attr}({', '.join(codes)})", INT)
    if attr == "prod" and len(node.args) == 1:
        code, elem = tx.iterate(node.args[0])
        if elem.kind not in ("int", "float"):
            tx.fail(f"math.prod of {elem}", node)
        return Val(f"{code}.product::<{tx.rtype(elem, node)}>()", elem)
    tx.fail(f"math.{attr}", node)
