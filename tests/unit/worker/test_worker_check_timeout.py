"""A pathological file fails its own units, not the shard (issue 13, item 9).

rustc checks one module per file with a time limit; past it, subprocess.TimeoutExpired used to escape
translate_file, the worker exited 1, and every retry hit the same file until the job failed."""

from __future__ import annotations

import stat
import time
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
