"""humaneval-rs: the rule-based translator on HumanEval's Python, judged by MultiPL-E's Rust tests.

Run from the repository root:

    .venv/bin/python benchmarks/humaneval_rs.py [--no-hints] [--data PATH] [--jobs 2]
    .venv/bin/python benchmarks/humaneval_rs.py --smoke [--no-hints] [--data PATH] [--out FILE]

For each problem the Python reference solution is translated with ``translate_module``, MultiPL-E's
``rust_tests`` are appended, the program is compiled with ``rustc --edition 2021`` (and, recorded
separately, with MultiPL-E's own default-edition invocation) and run with a 10 s timeout; exit 0 is
a pass. Many HumanEval functions carry no type hints; where a parameter or return annotation is
missing (or is a bare ``list``/``dict``), it is filled in from the Rust signature line of the
problem's ``rust_prompt``, i.e. the interface the tests require. Nothing else about a problem
is used.

``--no-hints`` translates the Python exactly as HumanEval ships it: nothing from the Rust side. The
missing types come from the worker's type inference (``portalis_worker.typeinfer``: docstring
examples, usage in the body, call sites); its typed versions of the module are translated in score
order and the first whose translation ``rustc`` accepts on its own (a library check, without the
tests) is judged, at most ``MAX_TRIES`` per problem. Results go to ``results/humaneval_rs_nohints.json``.
``--no-hints --no-inference`` is the baseline: the shipped Python straight to the translator
(``results/humaneval_rs_noinference.json``). ``--no-hints --no-docstrings`` removes every docstring
first, so types come from usage, call sites and names alone (``results/humaneval_rs_nodocstrings.json``):
how inference does on code without examples.

HumanEval/92 has contradictory tests, so it is reported separately and left out of rates.
``--smoke`` judges only the first two problems of ``--data``, in one process, and writes only to
``--out``.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import subprocess
import sys
import tempfile
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from reporting import add_arguments, write

REPO = Path(__file__).resolve().parent.parent
NAME = "humaneval_rs"
NAME_NO_HINTS = "humaneval_rs_nohints"
NAME_NO_INFERENCE = "humaneval_rs_noinference"
NAME_NO_DOCSTRINGS = "humaneval_rs_nodocstrings"
DEFAULT_DATA = REPO.parent / "shared" / "benchmarks" / "humaneval-rs" / "humaneval-rs-even.jsonl"
SMOKE_PROBLEMS = 2
IMPOSSIBLE = frozenset({"HumanEval/92"})
RUN_TIMEOUT_S = 10
COMPILE_TIMEOUT_S = 120
TYPER_CHECKPOINT = REPO / "model_repo" / "typer" / "1" / "typer.nemo"
PY2MANY = (38, 57)
LLM_PASS_PCT = 74.0


@dataclass
class Outcome:
    """What happened to one problem."""

    task_id: str
    translated: bool
    compiled: bool
    passed: bool
    compiled_default_edition: bool
    passed_default_edition: bool
    category: str
    detail: str
    hinted: bool = False
    inferred: dict[str, str] = field(default_factory=dict)
    """--no-hints: `function.param` -> `type (how it was found)` for each type inference wrote in."""
    tries: int = 0


def rust_to_python(rust: str) -> str:
    """A Python annotation for a MultiPL-E Rust type (the inverse of the translator's mapping)."""
    rust = rust.strip()
    simple = {"isize": "int", "i64": "int", "f64": "float", "bool": "bool", "String": "str", "&str": "str"}
    if rust in simple:
        return simple[rust]
    if rust.startswith("(") and rust.endswith(")"):
        inner = _split_top(rust[1:-1])
        return f"Tuple[{', '.join(rust_to_python(p) for p in inner if p.strip())}]"
    match = re.fullmatch(r"(\w+)<(.*)>", rust)
    if match is None:
        raise ValueError(f"unknown Rust type {rust}")
    base, args = match.group(1), [rust_to_python(a) for a in _split_top(match.group(2))]
    generic = {"Vec": "List", "HashMap": "Dict", "HashSet": "Set", "Option": "Optional"}
    return f"{generic[base]}[{', '.join(args)}]"


def _split_top(text: str) -> list[str]:
    """Split on commas that are not nested in <> or ()."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch in "<(":
            depth += 1
        elif ch in ">)":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur)
    return parts


def signature_types(rust_prompt: str) -> tuple[list[str], str | None]:
    """Parameter and return Python annotations from the last ``fn`` line of the prompt."""
    line = [x for x in rust_prompt.splitlines() if x.startswith("fn ")][-1]
    start = line.index("(")
    depth, end = 0, start
    for i in range(start, len(line)):
        depth += {"(": 1, ")": -1}.get(line[i], 0)
        if depth == 0:
            end = i
            break
    params = [p.split(":", 1)[1] for p in _split_top(line[start + 1 : end])]
    rest = line[end + 1 :].strip().rstrip("{").strip()
    ret = rest[2:].strip() if rest.startswith("->") else None
    return [rust_to_python(p) for p in params], (rust_to_python(ret) if ret else None)


def add_missing_hints(python: str, entry_point: str, rust_prompt: str) -> str:
    """Fill in missing or bare-container annotations of the entry point from the Rust signature."""
    tree = ast.parse(python)
    params, ret = signature_types(rust_prompt)
    bare = {"list", "dict", "set", "tuple", "List", "Dict"}
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef) or node.name != entry_point:
            continue
        for arg, hint in zip(node.args.args, params, strict=False):
            if arg.annotation is None or (isinstance(arg.annotation, ast.Name) and arg.annotation.id in bare):
                arg.annotation = ast.parse(hint, mode="eval").body
        if ret is not None and node.returns is None:
            node.returns = ast.parse(ret, mode="eval").body
    header = "from typing import Dict, List, Optional, Set, Tuple\n"
    return header + ast.unparse(tree) + "\n"


def _compile_and_run(source: str, workdir: Path, edition: str | None) -> tuple[bool, bool, str]:
    """(compiled, passed, detail) for one program under one rustc invocation."""
    tag = edition or "default"
    src = workdir / f"prog_{tag}.rs"
    binary = workdir / f"prog_{tag}"
    src.write_text(source)
    cmd = (
        ["rustc", "--edition", edition, "-o", str(binary), str(src)]
        if edition
        else ["rustc", str(src), "-o", str(binary)]
    )
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=COMPILE_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        return False, False, "compile timeout"
    if done.returncode != 0:
        first = next((ln for ln in done.stderr.splitlines() if ln.startswith("error")), done.stderr[:200])
        return False, False, first
    try:
        run = subprocess.run(
            [str(binary)], capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        return True, False, "timeout"
    if run.returncode == 0:
        return True, True, ""
    last = [ln for ln in run.stderr.splitlines() if ln.strip()]
    return True, False, last[0][:200] if last else f"exit {run.returncode}"


def judge(
    record: dict[str, str],
    hints: bool = True,
    infer: bool = True,
    docstrings: bool = True,
    model: bool = False,
) -> Outcome:
    """Translate, build and run one problem."""
    sys.path.insert(0, str(REPO / "workers" / "src"))
    from portalis_worker.rules import Unsupported, translate_module

    task = record["task_id"]
    hinted = False
    inferred: dict[str, str] = {}
    tries = 1
    try:
        if hints:
            python = add_missing_hints(record["python"], record["entry_point"], record["rust_prompt"])
            before = [ast.dump(a) for a in _entry(record["python"], record["entry_point"])]
            hinted = before != [ast.dump(a) for a in _entry(python, record["entry_point"])]
            rust = translate_module(python)
        elif infer:
            python = record["python"] if docstrings else without_docstrings(record["python"])
            rust, inferred, tries = _inferred_translation(python, model)
        else:
            rust = translate_module(record["python"])
    except Unsupported as exc:
        return Outcome(task, False, False, False, False, False, f"unsupported: {exc.construct}", str(exc))
    except SyntaxError as exc:
        return Outcome(task, False, False, False, False, False, "syntax error", str(exc))
    except Exception as exc:  # a translator bug must show up in the table, not abort the run
        return Outcome(
            task, False, False, False, False, False, f"translator crash: {type(exc).__name__}", repr(exc)
        )
    program = rust + "\n" + record["rust_tests"]
    with tempfile.TemporaryDirectory(prefix="herss-") as tmp:
        workdir = Path(tmp)
        compiled, passed, detail = _compile_and_run(program, workdir, "2021")
        compiled_d, passed_d, _ = _compile_and_run(program, workdir, None)
    if not compiled:
        category = "compile error"
    elif not passed:
        category = "timeout" if detail == "timeout" else "wrong answer/panic"
    else:
        category = "pass"
    return Outcome(
        task, True, compiled, passed, compiled_d, passed_d, category, detail, hinted, inferred, tries
    )


def without_docstrings(python: str) -> str:
    """`python` with the docstring of every function, class and the module removed."""
    tree = ast.parse(python)
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            first = body[0].value if body and isinstance(body[0], ast.Expr) else None
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                node.body = body[1:] or [ast.Pass()]
    return ast.unparse(tree) + "\n"


_TYPE_MODEL: list[Any] = []


def _model_candidates(python: str) -> dict[Any, Any]:
    """The committed type model's candidates for the open slots of `python` (the checkpoint Triton
    serves, run in this process; loaded once per worker process)."""
    import torch

    from portalis_worker.model.typer import TypeModel
    from portalis_worker.typed_rules import model_candidates, open_slot_texts

    if not _TYPE_MODEL:
        torch.set_num_threads(1)
        _TYPE_MODEL.append(TypeModel.restore_from(str(TYPER_CHECKPOINT), map_location=torch.device("cpu")))
    slots = open_slot_texts(ast.parse(python))
    answers = _TYPE_MODEL[0].predict([text for _, text in slots], 4)
    return {slot: model_candidates(answer) for (slot, _), answer in zip(slots, answers, strict=True)}


def _inferred_translation(python: str, model: bool = False) -> tuple[str, dict[str, str], int]:
    """The first typed version of `python` whose translation rustc accepts alone (no tests).

    Raises the translator's `Unsupported` for the best-ranked typing when none is accepted by the
    translator, so the failure table names the construct as in the hinted mode."""
    from portalis_worker.rules import Unsupported, translate_module
    from portalis_worker.typeinfer import trials, typings

    first: list[Exception] = []

    def translate(source: str) -> str:
        try:
            return translate_module(source)
        except Unsupported as exc:
            first.append(exc)
            raise trials.Rejected(str(exc)) from exc

    with tempfile.TemporaryDirectory(prefix="herss-check-") as tmp:
        candidates = _model_candidates(python) if model else None
        trial = trials.first_accepted(python, translate, partial(_check_alone, Path(tmp)), model=candidates)
    inferred = {
        f"{slot.function}.{slot.name}": f"{cand.text} ({cand.source})" for slot, cand in trial.chosen.items()
    }
    if trial.rust is not None:
        return trial.rust, inferred, trial.tries
    if first:
        raise first[0]
    # Translated but never accepted: judge the best-ranked translation, so the table says why.
    best = typings(python, 1)
    return translate_module(best[0].source if best else python), inferred, trial.tries


def _check_alone(workdir: Path, rust: str) -> str | None:
    """rustc's first error for `rust` as a library on its own, or None when it compiles."""
    src = workdir / "check.rs"
    src.write_text(rust)
    cmd = [
        "rustc",
        "--edition",
        "2021",
        "--crate-type",
        "lib",
        "--emit=metadata",
        "-o",
        str(workdir / "check.rmeta"),
    ]
    try:
        done = subprocess.run(
            [*cmd, str(src)], capture_output=True, text=True, timeout=COMPILE_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        return "compile timeout"
    if done.returncode == 0:
        return None
    return next((ln for ln in done.stderr.splitlines() if ln.startswith("error")), done.stderr[:200])


def _entry(python: str, name: str) -> list[ast.AST]:
    """The annotations of function ``name`` (to tell whether hints were added)."""
    for node in ast.parse(python).body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            anns: list[ast.AST] = [a.annotation or ast.Constant(None) for a in node.args.args]
            return [*anns, node.returns or ast.Constant(None)]
    return []


def mean_tries(outcomes: list[Outcome]) -> str:
    """Mean and largest number of typed versions tried per problem (--no-hints)."""
    tries = [o.tries for o in outcomes if o.translated]
    return f"{sum(tries) / len(tries):.2f}, {max(tries)}" if tries else "0, 0"


def pct(n: int, d: int) -> float:
    """Percentage rounded to one decimal."""
    return round(100.0 * n / d, 1) if d else 0.0


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print a markdown summary, write the JSON results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="humaneval-rs JSONL file")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes")
    parser.add_argument("--only", nargs="*", default=None, help="task ids to run (for debugging)")
    parser.add_argument("--verbose", action="store_true", help="print each failure's detail")
    parser.add_argument(
        "--no-hints", action="store_true", help="the Python as shipped; types from the worker's inference"
    )
    parser.add_argument(
        "--no-inference",
        action="store_true",
        help="with --no-hints: no type inference either (the translator alone, the baseline)",
    )
    parser.add_argument(
        "--type-model",
        action="store_true",
        help="with --no-hints: the committed type model's candidates too (ranked with the rules')",
    )
    parser.add_argument(
        "--no-docstrings",
        action="store_true",
        help="with --no-hints: remove docstrings first (types from usage, call sites and names alone)",
    )
    add_arguments(parser, NAME)
    args = parser.parse_args(argv)
    if (args.no_inference or args.no_docstrings or args.type_model) and not args.no_hints:
        parser.error("--no-inference, --no-docstrings and --type-model need --no-hints")
    name = NAME
    if args.no_hints:
        name = (
            NAME_NO_INFERENCE
            if args.no_inference
            else NAME_NO_DOCSTRINGS
            if args.no_docstrings
            else NAME_NO_HINTS
        )
    base = name
    if args.type_model:
        name += "_model"
    records = [json.loads(line) for line in args.data.read_text().splitlines() if line.strip()]
    if args.only:
        records = [r for r in records if r["task_id"] in args.only or r["task_id"].split("/")[1] in args.only]
    if args.smoke:
        records, args.jobs = records[:SMOKE_PROBLEMS], 1
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        outcomes = list(
            pool.map(
                partial(
                    judge,
                    hints=not args.no_hints,
                    infer=not args.no_inference,
                    model=args.type_model,
                    docstrings=not args.no_docstrings,
                ),
                records,
            )
        )
    scored = [o for o in outcomes if o.task_id not in IMPOSSIBLE]
    excluded = [o for o in outcomes if o.task_id in IMPOSSIBLE]
    n = len(scored)
    translated = sum(o.translated for o in scored)
    compiled = sum(o.compiled for o in scored)
    passed = sum(o.passed for o in scored)
    passed_default = sum(o.passed_default_edition for o in scored)
    failures = Counter(o.category for o in scored if not o.passed)
    hinted = [o for o in scored if o.hinted]
    hinted_passed = sum(o.passed for o in hinted)

    mode = {
        NAME: "with hints from the Rust signature",
        NAME_NO_HINTS: "without hints: types inferred",
        NAME_NO_INFERENCE: "without hints or type inference",
        NAME_NO_DOCSTRINGS: "without hints or docstrings: types inferred from usage, call sites, names",
    }[base] + (", with the type model" if args.type_model else "")
    print(f"## humaneval-rs, {mode} ({n} scored problems; {len(excluded)} reported separately)\n")
    print("| measure | value |")
    print("| --- | --- |")
    print(f"| translated | {translated}/{n} ({pct(translated, n)}%) |")
    print(f"| compiled (rustc --edition 2021) | {compiled}/{n} ({pct(compiled, n)}%) |")
    print(f"| passed (rustc --edition 2021) | {passed}/{n} ({pct(passed, n)}%) |")
    print(
        f"| passed (MultiPL-E: rustc, default edition) | {passed_default}/{n} ({pct(passed_default, n)}%) |"
    )
    inferred = [o for o in scored if o.inferred]
    inferred_passed = sum(o.passed for o in inferred)
    sources = Counter(v.rsplit(" (", 1)[1].rstrip(")") for o in scored for v in o.inferred.values())
    if args.no_hints:
        print(
            f"| problems with types written in by inference | {len(inferred)}/{n} ({inferred_passed} pass) |"
        )
        print(f"| passed, fully annotated Python only | {passed - inferred_passed}/{n - len(inferred)} |")
        print(f"| typed versions tried (mean, max) | {mean_tries(scored)} |")
        for source, count in sorted(sources.items()):
            print(f"| types inferred from {source} | {count} |")
    else:
        print(
            f"| entry points given hints from the Rust signature | {len(hinted)}/{n}"
            f" ({hinted_passed} of them pass) |"
        )
        print(f"| passed, fully annotated Python only | {passed - hinted_passed}/{n - len(hinted)} |")
    print(f"| py2many (reference) | {PY2MANY[0]}/{PY2MANY[1]} ({pct(*PY2MANY)}%) |")
    print(f"| LLM translation (reference) | ~{LLM_PASS_PCT}% |")
    for o in excluded:
        print(f"| {o.task_id} (cannot pass: contradictory tests) | {o.category} |")
    print("\n| failure category | count |")
    print("| --- | --- |")
    for category, count in sorted(failures.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"| {category} | {count} |")
    if args.verbose:
        print()
        for o in outcomes:
            if not o.passed:
                print(f"- {o.task_id}: {o.category}: {o.detail} {o.inferred or ''}")

    compared = f"py2many {PY2MANY[0]}/{PY2MANY[1]} = {pct(*PY2MANY)}%; LLM ~{LLM_PASS_PCT}%"
    records_out = [
        {
            "metric": "humaneval_rs_translate_rate",
            "value": pct(translated, n),
            "unit": "%",
            "compared_with": f"{n} scored problems; {pct(passed, n)}% pass in the same run",
        },
        {
            "metric": "humaneval_rs_compile_rate",
            "value": pct(compiled, n),
            "unit": "%",
            "compared_with": f"rustc --edition 2021; {pct(translated, n)}% translated in the same run",
        },
        {"metric": "humaneval_rs_pass_rate", "value": pct(passed, n), "unit": "%", "compared_with": compared},
        {
            "metric": "humaneval_rs_passed",
            "value": passed,
            "unit": f"problems of {n}",
            "compared_with": compared,
        },
        {
            "metric": "humaneval_rs_pass_rate_default_edition",
            "value": pct(passed_default, n),
            "unit": "%",
            "compared_with": "same programs, MultiPL-E's plain `rustc FILE.rs` invocation",
        },
    ]
    if args.no_hints:
        records_out.append(
            {
                "metric": "humaneval_rs_inferred_problems",
                "value": len(inferred),
                "unit": f"problems of {n}",
                "compared_with": f"{inferred_passed} of them pass; no hints from the Rust side",
            }
        )
        for source, count in sorted(sources.items()):
            records_out.append(
                {
                    "metric": f"humaneval_rs_inferred_types[{source}]",
                    "value": count,
                    "unit": "parameter and return types",
                    "compared_with": f"{sum(sources.values())} types written in by inference",
                }
            )
    else:
        records_out.append(
            {
                "metric": "humaneval_rs_hinted_entry_points",
                "value": len(hinted),
                "unit": f"problems of {n}",
                "compared_with": "annotations filled in from the rust_prompt signature",
            }
        )
    for category, count in sorted(failures.items()):
        records_out.append(
            {
                "metric": f"humaneval_rs_failures[{category}]",
                "value": count,
                "unit": "problems",
                "compared_with": f"{n - passed} failures of {n} scored problems",
            }
        )
    for o in excluded:
        records_out.append(
            {
                "metric": f"humaneval_rs_excluded[{o.task_id}]",
                "value": o.category,
                "unit": "outcome",
                "compared_with": "contradictory tests, cannot pass: left out of the rates",
            }
        )
    if name != NAME:  # the figures of the other modes are named after them
        records_out = [{**r, "metric": str(r["metric"]).replace(NAME, name, 1)} for r in records_out]
    write(name, records_out, args.out, args.smoke)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("RUST_BACKTRACE", "0")
    sys.exit(main())
