"""A pathological file fails its own units, not the shard (issue 13, item 9).

rustc checks one module per file with a time limit; past it, subprocess.TimeoutExpired used to escape
translate_file, the worker exited 1, and every retry hit the same file until the job failed."""

from __future__ import annotations

import stat
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from worker_builders import FakeBackend, supported_function

from portalis_worker.backends import CacheBackend
from portalis_worker.pipeline import translate_file
from portalis_worker.rustcheck import RustcChecker
from portalis_worker.units import split_source

pytestmark = pytest.mark.unit


def hanging_rustc(tmp: Path) -> str:
    path = tmp / "rustc"
    path.write_text("#!/bin/sh\nexec sleep 30\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_a_rustc_timeout_fails_the_files_units_and_nothing_else(tmp_path: Path) -> None:
    checker = RustcChecker(hanging_rustc(tmp_path), "2021", tmp_path / "scratch", timeout_seconds=0.5)
    units = split_source("slow.py", "\n\n".join(supported_function(n) for n in ("f", "g")))
    rules = FakeBackend("rules", default="fn f() {}\n")
    started = time.monotonic()
    results = translate_file(units, [CacheBackend(), rules], checker)
    assert time.monotonic() - started < 10
    assert [r.translated for r in results] == [False, False]
    for r in results:
        assert r.failure is not None
        assert r.failure.reason == "rustc-timeout"
        assert "0.5 s" in r.failure.message
    assert rules.batches == [["f", "g"]]  # no second backend round after a timeout


def crashing_rustc(tmp: Path, code: int) -> str:
    path = tmp / f"rustc-{code}"
    path.write_text(f"#!/bin/sh\necho 'thread main panicked' >&2\nexit {code}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


@pytest.mark.parametrize("code", [101, 139])
def test_a_rustc_crash_is_a_failure_not_a_pass(tmp_path: Path, code: int) -> None:
    # rustc exits 1 for compile errors; 101 is an internal compiler error, 128+n a signal. Neither says
    # the module compiles: it used to be "errors not attributable to a candidate; accepting the module".
    checker = RustcChecker(crashing_rustc(tmp_path, code), "2021", tmp_path / "scratch")
    units = split_source("ice.py", supported_function("f"))
    (result,) = translate_file(units, [CacheBackend(), FakeBackend("rules", default="fn f() {}\n")], checker)
    assert not result.translated
    assert result.failure is not None
    assert result.failure.reason == "rustc-crash"
    assert f"exit {code}" in result.failure.message


class UnmappedErrors:
    """A checker whose errors name no unit (owner ""): for `poison` alone, or for all of `together`."""

    def __init__(self, poison: frozenset[str] = frozenset(), together: frozenset[str] = frozenset()):
        self.poison = poison
        self.together = together
        self.calls = 0

    def check(self, parts: Sequence[tuple[str, str]], path: str | None = None) -> dict[str, str]:
        self.calls += 1
        owners = {owner for owner, _ in parts}
        if owners & self.poison or (self.together and self.together <= owners):
            return {"": "E0000: an error whose primary span is in no unit"}
        return {}


def test_compile_errors_that_name_no_unit_fail_the_unit_that_causes_them_not_pass_it() -> None:
    # rustc exited 1 with errors attributed to no candidate: the module was accepted as compiled.
    units = split_source("m.py", "\n\n".join(supported_function(n) for n in ("f", "g", "h")))
    by_name = {u.name: u.id for u in units}
    checker = UnmappedErrors(poison=frozenset({by_name["g"]}))
    rules = FakeBackend("rules", default="fn x() {}\n")
    results = translate_file(units, [CacheBackend(), rules], checker)
    assert {r.unit.name: r.translated for r in results} == {"f": True, "g": False, "h": True}
    (g,) = [r for r in results if r.unit.name == "g"]
    assert g.failure is not None
    assert g.failure.reason == "rustc"
    assert "E0000" in g.failure.message


def test_compile_errors_that_no_single_unit_causes_fail_the_units_checked_together() -> None:
    units = split_source("m.py", "\n\n".join(supported_function(n) for n in ("f", "g")))
    checker = UnmappedErrors(together=frozenset(u.id for u in units))
    results = translate_file(units, [CacheBackend(), FakeBackend("rules", default="fn x() {}\n")], checker)
    assert [r.translated for r in results] == [False, False]
    assert all(r.failure is not None and "E0000" in r.failure.message for r in results)
