"""Methods of str, list, dict and set (and of translated classes) mapped to Rust."""

from __future__ import annotations

import ast
import re
import string
from typing import TYPE_CHECKING

from portalis_worker.rules import logs, regex
from portalis_worker.rules.context import LEFT_OUT, PREC_ATOM, PREC_CAST, PREC_LOWEST, PREC_UNARY, Val, ident
from portalis_worker.rules.errors import Unsupported
from portalis_worker.rules.types import (
    BOOL,
    BYTES,
    INT,
    NONE,
    STR,
    Ty,
    TypeClash,
    has_unknown,
    is_copy,
    list_of,
    option_of,
    tuple_of,
    unify,
)

if TYPE_CHECKING:
    from portalis_worker.rules.expressions import ExpressionTranslator

_STR_PREDICATES = {
    "isdigit": "c.is_ascii_digit()",
    "isdecimal": "c.is_ascii_digit()",
    "isnumeric": "c.is_numeric()",
    "isalpha": "c.is_alphabetic()",
    "isalnum": "c.is_alphanumeric()",
    "isspace": "c.is_whitespace()",
}


def _or_default(tx: ExpressionTranslator, found: str, value: Ty, default: Val, node: ast.Call) -> Val:
    """`d.get(k, default)` / `d.pop(k, default)`: the value found, else the default; the result has
    the Optional or union both fit in (`d.get(k, None)` on a `dict[str, int]` is an `Optional[int]`)."""
    if tx.vague(default.ty):
        return tx.unknown()
    try:
        result = unify(value, default.ty)
    except TypeClash:
        tx.fail(f"default of type {default.ty} for values of type {value}", node)
    if result.kind not in ("option", "union"):  # int and float do not widen: 1 would print as 1.0
        return Val(f"{found}.unwrap_or({tx.coerce(default, value, node)})", value)
    inner = tx.fresh("v")
    found_arm = tx.coerce(Val(inner, value, "temp"), result, node)
    default_arm = tx.coerce(default, result, node)
    return Val(f"match {found} {{ Some({inner}) => {found_arm}, None => {default_arm} }}", result)


def mark_mutated(tx: ExpressionTranslator, node: ast.expr) -> None:
    """Record the variable at the root of ``node`` as mutated, so it is declared ``mut``."""
    while isinstance(node, ast.Attribute | ast.Subscript):
        node = node.value
    if isinstance(node, ast.Name):
        if tx.lookup(node.id) is None and node.id in tx.module.constants:
            # A module constant is a `static`: Rust has no writes to it (Python's module state).
            tx.fail(f"a function that changes module constant {node.id}", node)
        tx.mutated.add(node.id)


def _args(tx: ExpressionTranslator, node: ast.Call, name: str, counts: tuple[int, ...]) -> list[ast.expr]:
    """Positional arguments, checked against the accepted counts."""
    if node.keywords or len(node.args) not in counts or any(isinstance(a, ast.Starred) for a in node.args):
        tx.fail(f"{name}() with these arguments", node)
    return list(node.args)


_MUTATING = frozenset(
    {
        "append",
        "extend",
        "insert",
        "pop",
        "remove",
        "sort",
        "reverse",
        "clear",
        "add",
        "discard",
        "update",
        "setdefault",
    }
)


def call_method(tx: ExpressionTranslator, recv: Val, attr: str, node: ast.Call, expected: Ty | None) -> Val:
    """Dispatch on the receiver's static type; mutating calls on elements get a mutable place."""
    receiver = node.func.value if isinstance(node.func, ast.Attribute) else None
    if attr in _MUTATING and isinstance(receiver, ast.Subscript) and recv.ty.kind in ("list", "dict", "set"):
        setup: list[str] = []
        place = tx.mutable_place(receiver, setup)
        mark_mutated(tx, receiver)
        inner = call_method_on(tx, Val(place, recv.ty, "place"), attr, node, expected)
        if not setup:
            return inner
        return Val(f"{{ {' '.join(setup)} {inner.code} }}", inner.ty)
    return call_method_on(tx, recv, attr, node, expected)


def call_method_on(
    tx: ExpressionTranslator, recv: Val, attr: str, node: ast.Call, expected: Ty | None
) -> Val:
    """Dispatch on the receiver's static type."""
    recv = tx.unwrap_option(recv)
    kind = recv.ty.kind
    if kind == "unknown":
        for a in node.args:
            tx.expr(a)
        return tx.unknown()
    receiver_node = node.func.value if isinstance(node.func, ast.Attribute) else node
    if kind == "str" and attr == "format":
        return tx.expr(format_as_fstring(receiver_node, node))
    if kind == "str":
        return _str_method(tx, recv, attr, node)
    if kind == "bytes":
        return _bytes_method(tx, recv, attr, node)
    if kind == "list":
        return _list_method(tx, recv, attr, node, receiver_node)
    if kind == "dict":
        return _dict_method(tx, recv, attr, node, receiver_node)
    if kind == "set":
        return _set_method(tx, recv, attr, node, receiver_node)
    if kind == "pattern":
        return regex.pattern_method(tx, recv, attr, node)
    if kind == "match":
        return regex.match_method(tx, recv, attr, node)
    if kind == "logger":
        return logs.logger_method(tx, recv, attr, node)
    if kind == "class":
        info = tx.module.classes[recv.ty.name]
        sig = info.methods.get(attr)
        why = getattr(info.node, LEFT_OUT, {}).get(attr)
        if sig is None and why is not None:
            tx.fail(f"method {recv.ty.name}.{attr}, left out of its class ({why})", node)
        if sig is None or (attr.startswith("__") and attr != "__post_init__"):
            tx.fail(f"method {attr} of {recv.ty.name}", node)
        if sig.is_static:
            tx.fail("static method called on an instance", node)
        if sig.self_mut:
            mark_mutated(tx, receiver_node)
        call = tx.call_user(sig, node, ident(attr))
        return Val(f"{tx.wrap(recv, PREC_ATOM)}.{call.code}", sig.ret)
    tx.fail(f"method {attr} of {recv.ty}", node)


def format_as_fstring(template: ast.expr, node: ast.Call) -> ast.JoinedStr:
    """`"{} and {name:>5}".format(a, name=b)` as the f-string `f"{a} and {b:>5}"`, so it is translated by
    the f-string rules: a literal template with automatic, numbered or named fields and their specs."""
    if not (isinstance(template, ast.Constant) and isinstance(template.value, str)):
        raise Unsupported("str.format on a computed template", node.lineno)
    if any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords):
        raise Unsupported("str.format with argument unpacking", node.lineno)
    keywords = {k.arg: k.value for k in node.keywords if k.arg is not None}
    parts: list[ast.expr] = []
    auto = 0
    try:
        fields = list(string.Formatter().parse(template.value))
    except ValueError as exc:
        raise Unsupported(f"str.format template ({exc})", node.lineno) from exc
    for literal, field, spec, conversion in fields:
        if literal:
            parts.append(ast.Constant(value=literal))
        if field is None:
            continue
        if field == "":
            index: int | str = auto
            auto += 1
        else:
            index = int(field) if field.isdigit() else field
        if isinstance(index, int):
            if index >= len(node.args):
                raise Unsupported("str.format field without an argument", node.lineno)
            value = node.args[index]
        elif index in keywords:
            value = keywords[index]
        else:
            raise Unsupported(f"str.format field {index}", node.lineno)
        if spec and "{" in spec:
            raise Unsupported("str.format with a nested field in a spec", node.lineno)
        formatted = ast.FormattedValue(
            value=value,
            conversion=ord(conversion) if conversion else -1,
            format_spec=ast.JoinedStr(values=[ast.Constant(value=spec)]) if spec else None,
        )
        parts.append(formatted)
    joined = ast.JoinedStr(values=parts)
    ast.copy_location(joined, node)
    ast.fix_missing_locations(joined)
    return joined


PRINTF = re.compile(r"%(?:(%)|(-)?(\d*)(?:\.(\d+))?([sdif]))")


def printf_as_fstring(node: ast.BinOp) -> ast.JoinedStr:
    """`"%s has %5d (%.2f%%)" % (a, n, x)` as the f-string `f"{a} has {n:5} ({x:.2f}%)"`: literal
    templates with `%s`, `%d`/`%i` (with a width), `%f`/`%.Nf` and `%%`; a tuple or one value on the
    right. Other conversions and flags are refused by name."""
    assert isinstance(node.left, ast.Constant)
    template = str(node.left.value)
    values = list(node.right.elts) if isinstance(node.right, ast.Tuple) else [node.right]
    parts: list[ast.expr] = []
    last = 0
    used = 0
    for m in PRINTF.finditer(template):
        if m.start() > last:
            parts.append(ast.Constant(value=template[last : m.start()]))
        last = m.end()
        if m.group(1):
            parts.append(ast.Constant(value="%"))
            continue
        if used >= len(values) or isinstance(values[used], ast.Starred):
            raise Unsupported("printf-style formatting with these arguments", node.lineno)
        left, width, precision, kind = m.group(2), m.group(3), m.group(4), m.group(5)
        if kind == "s" and not (left or width or precision):
            spec = ""
        elif kind in "di" and not (left or precision):
            spec = width or "d"  # %5d and f"{n:5}" both right-align
        elif kind == "f" and not (left or width):
            spec = f".{precision or 6}f"
        else:
            raise Unsupported(f"printf-style format {m.group(0)}", node.lineno)
        value = ast.FormattedValue(
            value=values[used],
            conversion=-1,
            format_spec=ast.JoinedStr(values=[ast.Constant(value=spec)]) if spec else None,
        )
        parts.append(value)
        used += 1
    if "%" in PRINTF.sub("", template) or used != len(values):
        raise Unsupported("printf-style string formatting", node.lineno)
    if last < len(template):
        parts.append(ast.Constant(value=template[last:]))
    joined = ast.JoinedStr(values=parts)
    ast.copy_location(joined, node)
    ast.fix_missing_locations(joined)
    return joined


def _str_method(tx: ExpressionTranslator, recv: Val, attr: str, node: ast.Call) -> Val:
    """str methods; Python str is immutable, so these all produce new values."""
    base = tx.wrap(recv, PREC_ATOM)
    if attr in ("lower", "upper"):
        _args(tx, node, attr, (0,))
        return Val(f"{base}.to_{attr}case()", STR)
    if attr in ("strip", "lstrip", "rstrip"):
        args = _args(tx, node, attr, (0, 1))
        rust = {"strip": "trim", "lstrip": "trim_start", "rstrip": "trim_end"}[attr]
        if not args or (isinstance(args[0], ast.Constant) and args[0].value is None):
            return Val(f"{base}.{rust}().to_string()", STR)
        chars = tx.expr(args[0])
        return Val(f"{base}.{rust}_matches(|c: char| {tx.as_str(chars)}.contains(c)).to_string()", STR)
    if attr == "split":
        args = _args(tx, node, attr, (0, 1, 2))
        if not args or (isinstance(args[0], ast.Constant) and args[0].value is None):
            if len(args) == 2:
                tx.fail("split(None, maxsplit)", node)
            return Val(f"{base}.split_whitespace().map(String::from).collect::<Vec<String>>()", list_of(STR))
        sep = tx.expr(args[0])
        if len(args) == 2:
            count = tx.coerce(tx.expr(args[1]), INT, node)
            tx.module.helpers.add("py_split_n")
            return Val(f"py_split_n({tx.borrow(recv)}, {tx.as_str(sep)}, {count})", list_of(STR))
        tx.module.helpers.add("py_split")
        return Val(f"py_split({tx.borrow(recv)}, {tx.as_str(sep)})", list_of(STR))
    if attr == "rsplit":
        args = _args(tx, node, attr, (0, 1, 2))
        no_sep = not args or (isinstance(args[0], ast.Constant) and args[0].value is None)
        sep_code = "None" if no_sep else f"Some({tx.as_str(tx.expr(args[0]))})"
        count = tx.coerce(tx.expr(args[1]), INT, node) if len(args) == 2 else "-1"
        tx.module.helpers.add("py_rsplit")
        return Val(f"py_rsplit({tx.borrow(recv)}, {sep_code}, {count})", list_of(STR))
    if attr in ("partition", "rpartition"):
        (arg,) = _args(tx, node, attr, (1,))
        tx.module.helpers.add("py_partition")
        right = "true" if attr == "rpartition" else "false"
        return Val(
            f"py_partition({tx.borrow(recv)}, {tx.as_str(tx.expr(arg))}, {right})", tuple_of(STR, STR, STR)
        )
    if attr == "splitlines":
        _args(tx, node, attr, (0,))
        return Val(f"{base}.lines().map(String::from).collect::<Vec<String>>()", list_of(STR))
    if attr == "join":
        (arg,) = _args(tx, node, attr, (1,))
        val = tx.expr(arg)
        if val.ty == list_of(STR):
            return Val(f"{tx.wrap(val, PREC_ATOM)}.join({tx.as_str(recv)})", STR)
        code, elem = tx.iterate(arg)
        if tx.vague(elem):
            return Val("String::new()", STR)
        if elem != STR:
            tx.fail(f"str.join of {elem}", node)
        return Val(f"{code}.collect::<Vec<String>>().join({tx.as_str(recv)})", STR)
    if attr in ("startswith", "endswith"):
        (arg,) = _args(tx, node, attr, (1,))
        rust = "starts_with" if attr == "startswith" else "ends_with"
        if isinstance(arg, ast.Tuple):
            tests = [f"{base}.{rust}({tx.as_str(tx.expr(e))})" for e in arg.elts]
            return Val(" || ".join(tests), BOOL, "temp", 20)
        return Val(f"{base}.{rust}({tx.as_str(tx.expr(arg))})", BOOL)
    if attr == "replace":
        args = _args(tx, node, attr, (2, 3))
        old, new = tx.as_str(tx.expr(args[0])), tx.as_str(tx.expr(args[1]))
        if len(args) == 3:
            count = tx.coerce(tx.expr(args[2]), INT, node)
            return Val(f"{base}.replacen({old}, {new}, {count} as usize)", STR)
        return Val(f"{base}.replace({old}, {new})", STR)
    if attr in ("find", "rfind", "count", "index"):
        (arg,) = _args(tx, node, attr, (1,))
        sub = tx.as_str(tx.expr(arg))
        helper = {"find": "py_find", "rfind": "py_rfind", "count": "py_str_count", "index": "py_find"}[attr]
        tx.module.helpers.add(helper)
        call = f"{helper}({tx.borrow(recv)}, {sub})"
        if attr == "index":
            tmp = tx.fresh("i")
            return Val(
                f"{{ let {tmp} = {call}; "
                f'if {tmp} < 0 {{ panic!("ValueError: substring not found") }} {tmp} }}',
                INT,
            )
        return Val(call, INT)
    if attr in ("isprintable", "isidentifier"):  # CPython's Unicode tables (the support crate)
        _args(tx, node, attr, (0,))
        module = attr.removeprefix("is")
        return Val(f"portalis_py::{module}::{attr}({tx.borrow(recv)})", BOOL)
    if attr == "isascii":  # true of the empty string too
        _args(tx, node, attr, (0,))
        return Val(f"{base}.is_ascii()", BOOL)
    if attr in _STR_PREDICATES:
        _args(tx, node, attr, (0,))
        test = _STR_PREDICATES[attr]
        return Val(f"!{base}.is_empty() && {base}.chars().all(|c| {test})", BOOL, "temp", 30)
    if attr in ("isupper", "islower", "swapcase", "capitalize", "title"):
        _args(tx, node, attr, (0,))
        tx.module.helpers.add(f"py_{attr}")
        return Val(f"py_{attr}({tx.borrow(recv)})", BOOL if attr.startswith("is") else STR)
    if attr == "zfill":
        (arg,) = _args(tx, node, attr, (1,))
        width = tx.coerce(tx.expr(arg), INT, node)
        tx.module.helpers.add("py_zfill")
        return Val(f"py_zfill({tx.as_str(recv)}, {width})", STR)
    if attr == "encode":
        codec = _codec(tx, node, "encode")
        if codec == "utf-8":
            return Val(f"{base}.as_bytes().to_vec()", BYTES)
        limit = 128 if codec == "ascii" else 256
        return Val(
            f"{base}.chars().map(|c| if (c as u32) < {limit} {{ c as u8 }} else {{ "
            f"panic!(\"UnicodeEncodeError: '{codec}' codec can't encode character {{:?}}\", c) }})"
            ".collect::<Vec<u8>>()",
            BYTES,
        )
    tx.fail(f"str.{attr}", node)


_CODECS = {
    "utf-8": "utf-8",
    "utf8": "utf-8",
    "ascii": "ascii",
    "us-ascii": "ascii",
    "latin-1": "latin-1",
    "latin1": "latin-1",
    "iso-8859-1": "latin-1",
    "l1": "latin-1",
}


def _codec(tx: ExpressionTranslator, node: ast.Call, method: str) -> str:
    """The codec of ``str.encode``/``bytes.decode`` (utf-8, ascii or latin-1, strict errors only)."""
    args = list(node.args)
    named = {k.arg: k.value for k in node.keywords}
    if len(args) > 2 or set(named) - {"encoding", "errors"} or (len(args) > 0 and "encoding" in named):
        tx.fail(f"{method}() with these arguments", node)
    encoding = args[0] if args else named.get("encoding")
    errors = args[1] if len(args) > 1 else named.get("errors")
    if errors is not None and not (isinstance(errors, ast.Constant) and errors.value == "strict"):
        tx.fail(f"{method}() with an error handler", node)
    if encoding is None:
        return "utf-8"
    if not isinstance(encoding, ast.Constant) or not isinstance(encoding.value, str):
        tx.fail(f"{method}() with a computed encoding", node)
    codec = _CODECS.get(encoding.value.lower().replace("_", "-"))
    if codec is None:
        tx.fail(f"codec {encoding.value}", node)
    return codec


def _as_set(tx: ExpressionTranslator, recv: Val, arg: ast.expr, node: ast.Call) -> Val:
    """The argument of a set operation as a set of the receiver's type (any iterable is accepted)."""
    other = tx.expr(arg, recv.ty)
    if other.ty.kind == "set" or tx.vague(other.ty, recv.ty):
        return other
    code, item_ty = tx.iterate(arg)
    if item_ty != recv.ty.args[0]:
        tx.fail(f"set of {recv.ty.args[0]} with items of {item_ty}", node)
    return Val(f"{code}.collect::<{tx.rtype(recv.ty, node)}>()", recv.ty)


def _bytes_method(tx: ExpressionTranslator, recv: Val, attr: str, node: ast.Call) -> Val:
    """bytes methods: ``decode``."""
    base = tx.wrap(recv, PREC_ATOM)
    if attr != "decode":
        tx.fail(f"bytes.{attr}", node)
    codec = _codec(tx, node, "decode")
    if codec == "latin-1":
        return Val(f"{base}.iter().map(|&b| b as char).collect::<String>()", STR)
    check = f"{base}.is_ascii()" if codec == "ascii" else f"std::str::from_utf8(&{base}).is_ok()"
    return Val(
        f"if {check} {{ String::from_utf8({base}.to_vec()).unwrap() }} else {{ "
        f"panic!(\"UnicodeDecodeError: '{codec}' codec can't decode bytes\") }}",
        STR,
        "temp",
        PREC_LOWEST,
    )


def _list_method(tx: ExpressionTranslator, recv: Val, attr: str, node: ast.Call, target: ast.expr) -> Val:
    """list methods; mutating ones need the receiver to be a variable (or element/field)."""
    elem = recv.ty.args[0]
    base = tx.wrap(recv, PREC_ATOM)
    mutating = {"append", "extend", "insert", "pop", "remove", "sort", "reverse", "clear"}
    if attr in mutating:
        if recv.kind != "place":
            tx.fail(f"list.{attr} on a temporary", node)
        mark_mutated(tx, target)
    if attr == "append":
        (arg,) = _args(tx, node, attr, (1,))
        val = tx.expr(arg, elem if not has_unknown(elem) else None)
        _refine(tx, target, list_of(val.ty))
        return Val(f"{base}.push({tx.coerce(val, elem, node)})", NONE)
    if attr == "extend":
        (arg,) = _args(tx, node, attr, (1,))
        code, item = tx.iterate(arg)
        _refine(tx, target, list_of(item))
        if item != elem and not tx.vague(item, elem):
            tx.fail(f"extending list[{elem}] with {item}", node)
        return Val(f"{base}.extend({code})", NONE)
    if attr == "insert":
        index_node, value_node = _args(tx, node, attr, (2,))
        val = tx.expr(value_node, elem)
        _refine(tx, target, list_of(val.ty))
        idx = tx.coerce(tx.expr(index_node), INT, node)
        n, i = tx.fresh("n"), tx.fresh("i")
        return Val(
            f"{{ let {n} = {base}.len() as isize; let {i} = {idx}; "
            f"let {i} = if {i} < 0 {{ ({i} + {n}).max(0) }} else {{ {i}.min({n}) }}; "
            f"{base}.insert({i} as usize, {tx.coerce(val, elem, node)}) }}",
            NONE,
        )
    if attr == "pop":
        args = _args(tx, node, attr, (0, 1))
        if not args:
            return Val(f'{base}.pop().expect("IndexError: pop from empty list")', elem)
        index = tx.coerce(tx.expr(args[0]), INT, node)
        if index == "0":
            return Val(f"{base}.remove(0)", elem)
        tx.module.helpers.add("py_pop")
        return Val(f"py_pop(&mut {tx.wrap(recv, PREC_UNARY)}, {index})", elem)
    if attr in ("remove", "index", "count"):
        (arg,) = _args(tx, node, attr, (1,))
        val = tx.expr(arg, elem)
        if tx.vague(val.ty, elem):
            return Val("0", INT) if attr != "remove" else Val("()", NONE)
        item_ref = tx.ref_arg(val) if val.ty == elem else f"&{tx.coerce(val, elem, node)}"
        if attr == "count":
            return Val(f"{base}.iter().filter(|e| *e == {item_ref}).count() as isize", INT, "temp", PREC_CAST)
        helper = "py_list_remove" if attr == "remove" else "py_list_index"
        tx.module.helpers.add(helper)
        first = f"&mut {tx.wrap(recv, PREC_UNARY)}" if attr == "remove" else tx.borrow(recv)
        return Val(f"{helper}({first}, {item_ref})", NONE if attr == "remove" else INT)
    if attr == "sort":
        from portalis_worker.rules.builtins import sort_statements

        if node.args:
            tx.fail("list.sort() with positional arguments", node)
        kws = {kw.arg: kw.value for kw in node.keywords}
        if set(kws) - {"key", "reverse"}:
            tx.fail("list.sort() with these keywords", node)
        if tx.vague(elem):
            return Val("()", NONE)
        stmts = sort_statements(tx, base, elem, kws.get("key"), kws.get("reverse"), node)
        return Val(f"{{ {stmts} }}", NONE)
    if attr in ("reverse", "clear"):
        _args(tx, node, attr, (0,))
        return Val(f"{base}.{attr}()", NONE)
    if attr == "copy":
        _args(tx, node, attr, (0,))
        return Val(f"{base}.clone()", recv.ty)
    tx.fail(f"list.{attr}", node)


def _refine(tx: ExpressionTranslator, target: ast.expr, ty: Ty) -> None:
    """During inference, learn a container's element type from what is put into it."""
    if not tx.inferring or not isinstance(target, ast.Name):
        return
    current = tx.locals.get(target.id)
    if current is None or not has_unknown(current):
        return
    try:
        tx.locals[target.id] = unify(current, ty)
    except Exception:  # a clash is reported when the emit pass meets it
        return


def _dict_method(tx: ExpressionTranslator, recv: Val, attr: str, node: ast.Call, target: ast.expr) -> Val:
    """dict methods; keys/values/items as values are materialised (their order is HashMap order)."""
    key, value = recv.ty.args
    base = tx.wrap(recv, PREC_ATOM)
    if attr in ("pop", "setdefault", "update", "clear"):
        if recv.kind != "place":
            tx.fail(f"dict.{attr} on a temporary", node)
        mark_mutated(tx, target)
    if attr == "get":
        args = _args(tx, node, attr, (1, 2))
        k = tx.expr(args[0], key)
        kref = (
            k.code if k.kind == "strlit" else tx.ref_arg(k) if k.ty == key else f"&{tx.coerce(k, key, node)}"
        )
        got = f"{base}.get({kref}).{'copied' if is_copy(value) else 'cloned'}()"
        if len(args) == 1:
            return Val(got, option_of(value))
        return _or_default(tx, got, value, tx.expr(args[1], value), node)
    if attr in ("keys", "values", "items"):
        _args(tx, node, attr, (0,))
        found = (
            iterate_method(tx, node.func.value, attr, node) if isinstance(node.func, ast.Attribute) else None
        )
        if found is None:
            tx.fail(f"dict.{attr} here", node)
        code, elem = found
        return Val(f"{code}.collect::<Vec<{tx.rtype(elem, node)}>>()", list_of(elem))
    if attr == "pop":
        args = _args(tx, node, attr, (1, 2))
        k = tx.expr(args[0], key)
        kref = k.code if k.kind == "strlit" else f"&{tx.coerce(k, key, node)}"
        if len(args) == 1:
            return Val(f'{base}.remove({kref}).expect("KeyError")', value)
        return _or_default(tx, f"{base}.remove({kref})", value, tx.expr(args[1], value), node)
    if attr == "setdefault":
        k_node, d_node = _args(tx, node, attr, (2,))
        k, d = tx.expr(k_node, key), tx.expr(d_node, value)
        entry = f"{base}.entry({tx.coerce(k, key, node)}).or_insert({tx.coerce(d, value, node)})"
        return Val(f"{entry}.clone()" if not is_copy(value) else f"*{entry}", value)
    if attr == "update":
        (arg,) = _args(tx, node, attr, (1,))
        other = tx.expr(arg, recv.ty)
        return Val(f"{base}.extend({tx.coerce(other, recv.ty, node)})", NONE)
    if attr in ("clear", "copy"):
        _args(tx, node, attr, (0,))
        return Val(f"{base}.clear()", NONE) if attr == "clear" else Val(f"{base}.clone()", recv.ty)
    tx.fail(f"dict.{attr}", node)


def _set_method(tx: ExpressionTranslator, recv: Val, attr: str, node: ast.Call, target: ast.expr) -> Val:
    """set methods."""
    elem = recv.ty.args[0]
    base = tx.wrap(recv, PREC_ATOM)
    if attr in ("add", "remove", "discard", "clear", "update"):
        if recv.kind != "place":
            tx.fail(f"set.{attr} on a temporary", node)
        mark_mutated(tx, target)
    if attr == "add":
        (arg,) = _args(tx, node, attr, (1,))
        val = tx.expr(arg, elem if not has_unknown(elem) else None)
        _refine(tx, target, Ty("set", (val.ty,)))
        return Val(f"{base}.insert({tx.coerce(val, elem, node)})", NONE)
    if attr in ("remove", "discard"):
        (arg,) = _args(tx, node, attr, (1,))
        val = tx.expr(arg, elem)
        item = (
            val.code
            if val.kind == "strlit"
            else tx.ref_arg(val)
            if val.ty == elem
            else f"&{tx.coerce(val, elem, node)}"
        )
        if attr == "remove":
            return Val(f'assert!({base}.remove({item}), "KeyError")', NONE)
        return Val(f"{base}.remove({item})", NONE)
    if attr == "update":
        (arg,) = _args(tx, node, attr, (1,))
        code, item_ty = tx.iterate(arg)
        _refine(tx, target, Ty("set", (item_ty,)))
        return Val(f"{base}.extend({code})", NONE)
    if attr in ("union", "intersection", "difference", "symmetric_difference"):
        (arg,) = _args(tx, node, attr, (1,))
        other = _as_set(tx, recv, arg, node)
        return Val(
            f"{base}.{attr}(&{tx.wrap(other, PREC_UNARY)}).cloned().collect::<{tx.rtype(recv.ty, node)}>()",
            recv.ty,
        )
    if attr in ("issubset", "issuperset", "isdisjoint"):
        (arg,) = _args(tx, node, attr, (1,))
        other = _as_set(tx, recv, arg, node)  # any iterable, as in Python (`s.issuperset("abc")`)
        rust = {"issubset": "is_subset", "issuperset": "is_superset", "isdisjoint": "is_disjoint"}[attr]
        return Val(f"{base}.{rust}(&{tx.wrap(other, PREC_UNARY)})", BOOL)
    if attr in ("clear", "copy"):
        _args(tx, node, attr, (0,))
        return Val(f"{base}.clear()", NONE) if attr == "clear" else Val(f"{base}.clone()", recv.ty)
    tx.fail(f"set.{attr}", node)


def iterate_method(
    tx: ExpressionTranslator, recv_node: ast.expr, attr: str, node: ast.AST
) -> tuple[str, Ty] | None:
    """Lazy iteration over ``d.items()``/``d.keys()``/``d.values()``."""
    if attr not in ("items", "keys", "values"):
        return None
    recv = tx.unwrap_option(tx.expr(recv_node))
    if recv.ty.kind != "dict":
        return None
    key, value = recv.ty.args
    base = tx.wrap(recv, PREC_ATOM)
    owned = recv.kind != "place"

    def take(ty: Ty, name: str) -> str:
        return name if owned else f"*{name}" if is_copy(ty) else f"{name}.clone()"

    if attr == "keys":
        return (
            f"{base}.into_keys()" if owned else f"{base}.keys().{'copied' if is_copy(key) else 'cloned'}()"
        ), key
    if attr == "values":
        if owned:
            return f"{base}.into_values()", value
        return f"{base}.values().{'copied' if is_copy(value) else 'cloned'}()", value
    source = f"{base}.into_iter()" if owned else f"{base}.iter()"
    if owned:
        return source, tuple_of(key, value)
    return f"{source}.map(|(k, v)| ({take(key, 'k')}, {take(value, 'v')}))", tuple_of(key, value)
