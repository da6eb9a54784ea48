"""Backend chains and fallback: cache -> model -> rules, rustc failures, an unavailable model."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import pytest
from worker_builders import FakeBackend, supported_function

from portalis_worker.assignment import BackendMode
from portalis_worker.backends import (
    Backend,
    BackendUnavailable,
    CacheBackend,
    ModelBackend,
    RulesBackend,
    build_chain,
)
from portalis_worker.pipeline import Stopped, translate_file
from portalis_worker.rustcheck import RustcChecker
from portalis_worker.units import Failure, Unit, split_source

pytestmark = pytest.mark.unit

needs_rustc = pytest.mark.skipif(shutil.which("rustc") is None, reason="rustc not installed")


def units(*names: str) -> list[Unit]:
    return split_source("m.py", "\n\n".join(supported_function(n) for n in names))


class FakeModel:
    def __init__(self, answers: dict[str, str] | None = None, fail: bool = False) -> None:
        self.answers = answers or {}
        self.fail = fail
        self.calls: list[list[str]] = []

    def translate_batch(self, sources: list[str]) -> list[str]:
        self.calls.append(sources)
        if self.fail:
            raise ConnectionError("triton down")
        return [next((v for k, v in self.answers.items() if f"def {k}(" in s), "") for s in sources]


def test_chains_per_mode() -> None:
    cache = CacheBackend()
    model = FakeModel()
    assert [b.name for b in build_chain(BackendMode.AUTO, cache, model)] == ["cache", "model", "rules"]
    assert [b.name for b in build_chain(BackendMode.MODEL, cache, model)] == ["cache", "model"]
    assert [b.name for b in build_chain(BackendMode.RULES, cache, model)] == ["cache", "rules"]
    assert [b.name for b in build_chain(BackendMode.AUTO, cache, None)] == ["cache", "rules"]
    with pytest.raises(ValueError, match="model"):
        build_chain(BackendMode.MODEL, cache, None)


def test_cache_hit_answers_without_the_backend() -> None:
    us = units("f", "g")
    cache = CacheBackend({us[0].key: "fn f() {}\n"})
    rules = FakeBackend("rules", default="fn other() {}\n")
    results = translate_file(us, [cache, rules], None)
    assert [(r.backend, r.translated) for r in results] == [("cache", True), ("rules", True)]
    assert rules.batches == [["g"]]


def test_failure_reason_is_the_last_backends() -> None:
    us = units("f")
    rules = FakeBackend("rules", default=Failure("unsupported", "unsupported: x at line 1"))
    (result,) = translate_file(us, [CacheBackend(), rules], None)
    assert result.failure == Failure("unsupported", "unsupported: x at line 1")


@needs_rustc
def test_model_candidate_that_does_not_compile_falls_back_to_rules(tmp_path: Path) -> None:
    us = units("f", "g")
    model = FakeModel({"f": "fn f(a: isize, b: isize) -> isize { a * 1 + b }\n", "g": "fn g( -> {\n"})
    chain: Sequence[Backend] = [CacheBackend(), ModelBackend(model), RulesBackend()]
    results = translate_file(us, chain, RustcChecker("rustc", "2021", tmp_path))
    assert [(r.unit.name, r.backend) for r in results] == [("f", "model"), ("g", "rules")]
    assert all(r.translated for r in results)


@needs_rustc
def test_rules_candidate_that_does_not_compile_fails_with_rustc_reason(tmp_path: Path) -> None:
    us = units("f", "g")
    rules = FakeBackend("rules", {"f": "fn f() -> i64 { 1 }\n", "g": 'fn g() -> i64 { "x" }\n'})
    results = translate_file(us, [CacheBackend(), rules], RustcChecker("rustc", "2021", tmp_path))
    assert results[0].translated
    assert results[1].failure is not None
    assert results[1].failure.reason == "rustc"
    assert "E0308" in results[1].failure.message


@needs_rustc
def test_a_unit_breaking_because_another_failed_fails_too(tmp_path: Path) -> None:
    us = units("f", "g")
    rules = FakeBackend("rules", {"f": 'fn f() -> i64 { "x" }\n', "g": "fn g() -> i64 { f() }\n"})
    results = translate_file(us, [CacheBackend(), rules], RustcChecker("rustc", "2021", tmp_path))
    assert [r.translated for r in results] == [False, False]


def test_unavailable_model_falls_back_in_auto_and_raises_in_model_mode() -> None:
    us = units("f")
    model = ModelBackend(FakeModel(fail=True))
    rules = FakeBackend("rules", default="fn f() {}\n")
    (result,) = translate_file(us, [CacheBackend(), model, rules], None)
    assert result.backend == "rules"
    with pytest.raises(BackendUnavailable):
        translate_file(us, [CacheBackend(), model], None)


def test_empty_model_answer_is_a_model_error_then_rules() -> None:
    us = units("f")
    rules = FakeBackend("rules", default=Failure("unsupported", "nope"))
    (result,) = translate_file(us, [CacheBackend(), ModelBackend(FakeModel()), rules], None)
    assert result.failure == Failure("unsupported", "nope")
    (only_model,) = translate_file(us, [CacheBackend(), ModelBackend(FakeModel())], None)
    assert only_model.failure is not None
    assert only_model.failure.reason == "model-error"


def test_stop_abandons_the_file() -> None:
    with pytest.raises(Stopped):
        translate_file(units("f"), [CacheBackend(), FakeBackend("rules")], None, should_stop=lambda: True)


def test_real_rules_translator_on_a_supported_function() -> None:
    (result,) = translate_file(units("add"), [CacheBackend(), RulesBackend()], None)
    assert result.translated, result.failure
    assert result.rust is not None
    assert "fn add(" in result.rust


def test_translator_crash_fails_the_unit_only() -> None:
    (u,) = split_source("m.py", "def f(*args):\n    pass\n")
    (result,) = translate_file([u], [CacheBackend(), RulesBackend()], None)
    assert result.failure is not None
    assert result.failure.reason in {"unsupported", "translate-error"}
