"""Untyped units through the worker: typed versions tried in score order through rustc, recorded."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path

import pytest
from worker_builders import assignment, write_project

from portalis_worker.assignment import BackendMode
from portalis_worker.backends import CacheBackend, build_chain
from portalis_worker.ledger import LocalFileStore, ledger_path
from portalis_worker.loop import Worker, assemble_if_complete
from portalis_worker.pipeline import translate_file
from portalis_worker.progress import NullReporter
from portalis_worker.rustcheck import RustcChecker
from portalis_worker.sources import list_sources
from portalis_worker.typed_rules import NAME, InferredTypes, ranked_backends
from portalis_worker.units import split_source

pytestmark = [
    pytest.mark.unit,
    pytest.mark.skipif(shutil.which("rustc") is None, reason="rustc not installed"),
]

UNTYPED = '''
def shout(word, times):
    """Repeat loudly.

    >>> shout("hey", 2)
    'HEY!HEY!'
    """
    return (word.upper() + "!") * times


def twice(x: int) -> int:
    return 2 * x
'''


def test_an_untyped_unit_is_translated_with_inferred_types_and_a_typed_one_as_written(tmp_path: Path) -> None:
    inferred = InferredTypes()
    chain = build_chain(BackendMode.RULES, CacheBackend(), None, typed=ranked_backends(inferred))
    assert [b.name for b in chain][:3] == ["cache", "rules", NAME]
    units = split_source("loud.py", UNTYPED)
    results = {r.unit.name: r for r in translate_file(units, chain, RustcChecker("rustc", "2021", tmp_path))}
    assert results["twice"].backend == "rules"
    assert results["shout"].backend == NAME
    assert results["shout"].rust is not None
    assert "pub fn shout(word: String, times: isize) -> String" in results["shout"].rust
    types = inferred.take(results["shout"].unit.id)
    assert types is not None
    assert types["shout.word"]["type"] == "str"
    assert types["shout.word"]["source"] == "docstring"
    assert types["shout.times"]["type"] == "int"
    assert inferred.take(results["twice"].unit.id) is None


class RejectsIsize:
    """A checker that refuses any candidate using `isize` (the first typing of an untyped `x`)."""

    def __init__(self) -> None:
        self.checked = 0

    def check(self, parts: Sequence[tuple[str, str]], path: str) -> dict[str, str]:
        self.checked += 1
        return {owner: "error[E0308]: isize refused" for owner, rust in parts if owner and "isize" in rust}


def test_a_typing_rustc_rejects_moves_the_unit_to_the_next_rank() -> None:
    inferred = InferredTypes(limit=3)
    chain = build_chain(BackendMode.RULES, CacheBackend(), None, typed=ranked_backends(inferred))
    (unit,) = split_source("m.py", "def ident(x):\n    return x\n")
    checker = RejectsIsize()
    (result,) = translate_file([unit], chain, checker)
    assert result.backend == NAME
    assert result.rust is not None
    assert "isize" not in result.rust
    assert checker.checked == 2
    types = inferred.take(unit.id)
    assert types is not None
    assert types["ident.x"]["type"] != "int"


def test_bounded_tries_then_the_rustc_reason(tmp_path: Path) -> None:
    inferred = InferredTypes(limit=2)
    chain = build_chain(BackendMode.RULES, CacheBackend(), None, typed=ranked_backends(inferred))
    (unit,) = split_source("m.py", "def ident(x):\n    return x\n")

    class RejectsAll(RejectsIsize):
        def check(self, parts: Sequence[tuple[str, str]], path: str) -> dict[str, str]:
            self.checked += 1
            return {owner: "error: refused" for owner, _ in parts if owner}

    checker = RejectsAll()
    (result,) = translate_file([unit], chain, checker)
    assert result.failure is not None
    assert result.failure.reason == "rustc"
    assert checker.checked == 2


def test_the_ledger_and_the_report_say_which_types_were_inferred_and_how(tmp_path: Path) -> None:
    src = write_project(tmp_path / "src", {"loud.py": UNTYPED})
    a = assignment(tmp_path, src)
    inferred = InferredTypes()
    cache = CacheBackend()
    chain = build_chain(BackendMode.RULES, cache, None, typed=ranked_backends(inferred))
    store = LocalFileStore(ledger_path(a.ledger_dir, a.shard_index))
    checker = RustcChecker("rustc", "2021", tmp_path / "scratch")
    worker = Worker(a, store, chain, cache, checker, NullReporter(), inferred=inferred)
    assert worker.run(list_sources(a.source_dir, a.include, a.exclude), worker.open_ledger())
    assemble_if_complete(a)
    store.close()
    records = [r for r in store.read() if r.get("kind") == "unit"]
    shout = next(r for r in records if r["name"] == "shout")
    assert shout["backend"] == NAME
    assert shout["types"]["shout.word"] == {"type": "str", "source": "docstring", "score": pytest.approx(1.0)}
    assert "types" not in next(r for r in records if r["name"] == "twice")
    report = json.loads((a.output_dir / "demo-crate" / "translation_report.json").read_text())
    typed = [u for u in report["unit_states"] if "types" in u]
    assert [u["unit"] for u in typed] == ["shout"]
    md = (a.output_dir / "demo-crate" / "TRANSLATION_REPORT.md").read_text()
    assert "## Inferred types" in md
    assert "`shout.word`: `str` (docstring)" in md


class FakeTypeModel:
    """Answers every slot with the same ranking; or fails like an unreachable server."""

    def __init__(self, answer: list[tuple[str, float]], fail: bool = False) -> None:
        self.answer = answer
        self.fail = fail
        self.requests: list[list[str]] = []

    def infer_types(
        self, slots: Sequence[str], timeout_s: float | None = None
    ) -> list[list[tuple[str, float]]]:
        self.requests.append(list(slots))
        if self.fail:
            raise ConnectionError("typer down")
        return [self.answer for _ in slots]


def test_the_model_settles_what_the_rules_leave_open_in_one_request_per_batch() -> None:
    units = split_source("m.py", "def f(a):\n    return a\n\n\ndef g(b: int, c):\n    return c\n")
    model = FakeTypeModel([("bytes", 0.9), ("not a type(", 0.05), ("int", 0.05)])
    inferred = InferredTypes(model=model)
    inferred.prepare(units)
    assert len(model.requests) == 1
    assert len(model.requests[0]) == 2  # f.a and g.c: g.b is annotated, returns are left to the translator
    (f,) = [u for u in units if u.name == "f"]
    best = inferred.options(f)[0].chosen
    assert {f"{s.function}.{s.name}": (c.text, c.source) for s, c in best.items()} == {
        "f.a": ("bytes", "model")
    }


def test_an_unreachable_model_leaves_the_rules_candidates() -> None:
    units = split_source("m.py", "def f(word):\n    return word.upper()\n")
    inferred = InferredTypes(model=FakeTypeModel([], fail=True))
    inferred.prepare(units)
    assert inferred.model_failures == 1
    chosen = inferred.options(units[0])[0].chosen
    assert [(c.text, c.source) for c in chosen.values()] == [("str", "usage")]


def test_a_typed_caller_of_an_untyped_function_in_another_module_translates(tmp_path: Path) -> None:
    """The package index carries the inferred types, so the caller's dependency translates too."""
    src = write_project(
        tmp_path / "src",
        {
            "pkg/__init__.py": "",
            "pkg/text.py": "def count_vowels(s):\n    return sum(1 for ch in s if ch in 'aeiou')\n",
            "pkg/use.py": (
                "from pkg.text import count_vowels\n\n\n"
                "def vowels_in(name: str) -> int:\n    return count_vowels(name)\n"
            ),
        },
    )
    a = assignment(tmp_path, src)
    inferred = InferredTypes()
    cache = CacheBackend()
    chain = build_chain(BackendMode.RULES, cache, None, typed=ranked_backends(inferred))
    store = LocalFileStore(ledger_path(a.ledger_dir, a.shard_index))
    checker = RustcChecker("rustc", "2021", tmp_path / "scratch")
    worker = Worker(a, store, chain, cache, checker, NullReporter(), inferred=inferred)
    assert worker.run(list_sources(a.source_dir, a.include, a.exclude), worker.open_ledger())
    store.close()
    records = {r["name"]: r for r in store.read() if r.get("kind") == "unit"}
    assert records["count_vowels"]["status"] == "translated"
    assert records["count_vowels"]["types"]["count_vowels.s"]["type"] == "str"
    # Typed as written: the plain rules backend, reading its dependency's types from the index.
    assert records["vowels_in"]["status"] == "translated", records["vowels_in"].get("message")
    assert records["vowels_in"]["backend"] == "rules"


def test_a_unit_blocked_by_something_types_do_not_change_stops_after_two_typings() -> None:
    inferred = InferredTypes()
    (unit,) = split_source("m.py", "G = 0\n\n\ndef f(x):\n    global G\n    G = x\n    return x\n")[-1:]
    outcomes = [backend.translate_batch([unit])[0] for backend in ranked_backends(inferred)]
    assert len(inferred.options(unit)) > 2
    assert [type(o).__name__ for o in outcomes] == ["Failure", "Failure"] + ["NoneType"] * (len(outcomes) - 2)
