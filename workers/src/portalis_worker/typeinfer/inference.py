"""Inference over one module: the slots that need a type, their candidates, and typed sources.

A slot needs a type when its annotation is missing or a bare container (`list`); one written in terms
inference cannot read (an alias, `Any`, a class of another module) is kept as written. Evidence comes
from the function's docstring examples, the rules' usage walk (usage.py) over every function of the
module, literal default values and, weakly, parameter names (names.py). The walk runs `ROUNDS`
times, each with the previous round's best guesses in its environment, so that what one parameter
settles reaches the values it meets (`p + q`) and the functions it is passed to (call sites). A
return slot is left to the translator, which infers a return type from the body, unless docstring
examples show the value; then the examples' type comes first and the translator's own inference
second.
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from portalis_worker.typeinfer import ranking, usage
from portalis_worker.typeinfer.examples import examples
from portalis_worker.typeinfer.names import NAME_WEIGHT, name_prior
from portalis_worker.typeinfer.slots import RETURN, Candidate, Evidence, Slot
from portalis_worker.typeinfer.terms import UNKNOWN, Term, of_annotation, of_value, optional

ROUNDS = 2
DOCSTRING = 4.0
"""The weight of one docstring example's value (a literal the author wrote for this very call)."""
DEFAULT_VALUE = 2.0
"""The weight of a parameter's literal default value (`n=0`: int; `name=None`: Optional)."""
TRANSLATOR_RETURN = 0.3
"""The score of "leave the return to the translator" when docstring examples show a return value."""

Function = ast.FunctionDef | ast.AsyncFunctionDef


@dataclass(frozen=True)
class Typing:
    """One way to type a module: its source with the chosen annotations written in."""

    source: str
    score: float
    chosen: Mapping[Slot, Candidate]


@dataclass
class ModuleTypes:
    written: dict[Slot, Term] = field(default_factory=dict)
    """Slots whose annotation is complete as written."""
    open: dict[Slot, list[Candidate]] = field(default_factory=dict)
    """Slots that need a type, with their candidates best first."""


def functions(tree: ast.Module) -> Iterator[tuple[str, Function, list[str]]]:
    """(qualname, def, parameter names that take a type) of top-level functions and methods."""
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node.name, node, _params(node, method=False)
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                    yield f"{node.name}.{item.name}", item, _params(item, method=True)


def _params(func: Function, method: bool) -> list[str]:
    names = [a.arg for a in (*func.args.posonlyargs, *func.args.args, *func.args.kwonlyargs)]
    static = any(isinstance(d, ast.Name) and d.id == "staticmethod" for d in func.decorator_list)
    return names[1:] if method and not static and names else names


def _annotation(func: Function, name: str) -> ast.expr | None:
    if name == RETURN:
        return func.returns
    for arg in (*func.args.posonlyargs, *func.args.args, *func.args.kwonlyargs):
        if arg.arg == name:
            return arg.annotation
    return None


def infer(tree: ast.Module, model: Mapping[Slot, Sequence[Candidate]] | None = None) -> ModuleTypes:
    """Candidates for every slot of `tree` that needs a type; `model` adds the type model's."""
    classes = frozenset(n.name for n in tree.body if isinstance(n, ast.ClassDef))
    defs = list(functions(tree))
    types = ModuleTypes()
    for qualname, func, params in defs:
        for name in (*params, RETURN):
            node = _annotation(func, name)
            term = of_annotation(node, classes)
            if term.complete:
                types.written[Slot(qualname, name)] = term
            elif node is not None and not _bare_container(node):
                continue  # written, in terms inference cannot read (an alias, Any, a class): kept as is
            elif not (name == RETURN and node is None and not _shown_returns(func)):
                types.open[Slot(qualname, name)] = []
    if not types.open:
        return types
    best: dict[Slot, Term] = dict(types.written)
    for _ in range(ROUNDS):
        findings = usage.Findings()
        signatures = {
            q: usage.Signature(
                q,
                tuple(p),
                tuple(best.get(Slot(q, n), UNKNOWN) for n in p),
                best.get(Slot(q, RETURN), UNKNOWN),
            )
            for q, _, p in defs
            if "." not in q
        }
        for qualname, func, params in defs:
            env = {n: best.get(Slot(qualname, n), UNKNOWN) for n in params}
            usage.collect(func, qualname, env, signatures, findings)
            _docstring(func, qualname, params, findings)
            for name, default in _defaults(func).items():
                if name in params:
                    findings.add(Slot(qualname, name), default, DEFAULT_VALUE, "usage")
            for name in params:
                prior = name_prior(name)
                if prior is not None:
                    findings.add(Slot(qualname, name), prior, NAME_WEIGHT, "name")
        for slot in types.open:
            written = of_annotation(_annotation(_def(defs, slot.function), slot.name), classes)
            evidence = list(findings.evidence.get(slot, []))
            if written.kind != "unknown":
                evidence.append(Evidence(written, 100.0, "annotation"))
            types.open[slot] = _candidates(slot, evidence, model.get(slot, ()) if model else ())
            chosen = types.open[slot][0].term if types.open[slot] else None
            if chosen is not None:
                best[slot] = chosen
    return types


def _candidates(slot: Slot, evidence: list[Evidence], model: Sequence[Candidate]) -> list[Candidate]:
    if slot.name != RETURN:
        return ranking.merge(ranking.slot_candidates(evidence), model)
    shown = [e for e in evidence if e.source == "docstring"]
    ranked = ranking.merge(ranking.slot_candidates(evidence), model) if shown else []
    return [*ranked[:2], Candidate(None, TRANSLATOR_RETURN, "usage")]


def _defaults(func: Function) -> dict[str, Term]:
    """The term of each parameter's literal default value (`None` says Optional)."""
    args = [*func.args.posonlyargs, *func.args.args]
    pairs = list(zip(args[len(args) - len(func.args.defaults) :], func.args.defaults, strict=True))
    pairs += [
        (a, d) for a, d in zip(func.args.kwonlyargs, func.args.kw_defaults, strict=True) if d is not None
    ]
    out = {}
    for arg, node in pairs:
        try:
            value = ast.literal_eval(node)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            continue
        term = of_value(value)
        out[arg.arg] = optional(UNKNOWN) if term.kind == "none" else term
    return out


_BARE = frozenset({"list", "List", "dict", "Dict", "set", "Set", "tuple", "Tuple", "frozenset", "FrozenSet"})


def _bare_container(node: ast.expr) -> bool:
    """`list`, `typing.Dict`: a container annotation without its element types, which inference
    completes."""
    name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else None
    return name in _BARE


def _def(defs: list[tuple[str, Function, list[str]]], qualname: str) -> Function:
    return next(f for q, f, _ in defs if q == qualname)


def _shown_returns(func: Function) -> bool:
    return any(e.result is not None for e in examples(func.name, ast.get_docstring(func)))


def _docstring(func: Function, qualname: str, params: list[str], findings: usage.Findings) -> None:
    for example in examples(func.name, ast.get_docstring(func)):
        for name, term in zip(params, example.args, strict=False):
            if term is not None and term.kind != "unknown":
                findings.add(Slot(qualname, name), term, DOCSTRING, "docstring")
        for name, term in example.kwargs:
            if name in params:
                findings.add(Slot(qualname, name), term, DOCSTRING, "docstring")
        if example.result is not None and example.result.kind != "unknown":
            findings.add(Slot(qualname, RETURN), example.result, DOCSTRING, "docstring")


def typings(source: str, limit: int, model: Mapping[Slot, Sequence[Candidate]] | None = None) -> list[Typing]:
    """Up to `limit` typed versions of `source`, best first; [] when nothing needs a type.

    Raises SyntaxError for invalid Python (as the translator would)."""
    tree = ast.parse(source)
    types = infer(tree, model)
    if not types.open:
        return []
    return [
        Typing(annotate(tree, chosen), score, chosen)
        for score, chosen in ranking.assignments(types.open, limit)
    ]


def annotate(tree: ast.Module, chosen: Mapping[Slot, Candidate]) -> str:
    """`tree`'s source with the chosen annotations written in (the tree itself is not changed)."""
    tree = copy.deepcopy(tree)
    defs = {q: f for q, f, _ in functions(tree)}
    for slot, candidate in chosen.items():
        func = defs[slot.function]
        node = None if candidate.term is None else ast.parse(candidate.term.render(), mode="eval").body
        if slot.name == RETURN:
            func.returns = node
            continue
        for arg in (*func.args.posonlyargs, *func.args.args, *func.args.kwonlyargs):
            if arg.arg == slot.name:
                arg.annotation = node
    return ast.unparse(tree) + "\n"
