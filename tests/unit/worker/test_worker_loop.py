"""The worker loop in-process: resume, sharding, assembly by the last shard, progress, metrics."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from worker_builders import (
    EchoRust,
    assignment,
    crate_files,
    small_project,
    supported_function,
    write_project,
)

from portalis_worker import metrics
from portalis_worker.assignment import Assignment
from portalis_worker.backends import Backend, CacheBackend, RulesBackend
from portalis_worker.ledger import LocalFileStore, ledger_path
from portalis_worker.loop import Worker, assemble_if_complete
from portalis_worker.progress import NullReporter
from portalis_worker.rustcheck import RustcChecker
from portalis_worker.sources import list_sources

pytestmark = pytest.mark.unit


def run_shard(a: Assignment, rules: Backend | None = None, checker: RustcChecker | None = None) -> Worker:
    cache = CacheBackend()
    store = LocalFileStore(ledger_path(a.ledger_dir, a.shard_index))
    worker = Worker(a, store, [cache, rules or EchoRust()], cache, checker, NullReporter())
    existing = worker.open_ledger()
    if worker.run(list_sources(a.source_dir, a.include, a.exclude), existing):
        assemble_if_complete(a)
    store.close()
    return worker


def test_end_to_end_with_fake_backend_and_resume(tmp_path: Path) -> None:
    src = small_project(tmp_path / "src")
    a = assignment(tmp_path, src)
    first = run_shard(a)
    reporter = first.reporter
    assert isinstance(reporter, NullReporter)
    last = reporter.reports[-1]
    # 4 modules x 5 + root_fn + ok/nope file (a syntax error fails the whole file: one unit)
    assert (last.units_total, last.units_done, last.units_failed) == (22, 21, 1)
    assert last.last_checkpoint is not None
    crate = crate_files(a.output_dir / "demo-crate")
    assert "src/pkg/m0.rs" in crate
    assert b"syntax-error" in crate["TRANSLATION_REPORT.md"]
    second = run_shard(a)
    assert second.redone == [], "a finished shard redoes nothing"
    assert crate_files(a.output_dir / "demo-crate") == crate


def test_real_rules_translator_end_to_end(tmp_path: Path) -> None:
    src = write_project(
        tmp_path / "src", {"calc.py": supported_function("add") + "\n" + supported_function("mul", 3)}
    )
    a = assignment(tmp_path, src)
    before = (
        metrics.REGISTRY.get_sample_value(
            "portalis_worker_units_total", {"result": "translated", "backend": "rules"}
        )
        or 0.0
    )
    run_shard(a, RulesBackend())
    rs = (a.output_dir / "demo-crate" / "src" / "calc.rs").read_text()
    assert "fn add(" in rs
    assert "fn mul(" in rs
    after = metrics.REGISTRY.get_sample_value(
        "portalis_worker_units_total", {"result": "translated", "backend": "rules"}
    )
    assert after == before + 2


def test_identical_units_are_translated_once(tmp_path: Path) -> None:
    body = supported_function("same")
    src = write_project(tmp_path / "src", {f"m{i}.py": f"# copy {i}\n{body}" for i in range(4)})
    a = assignment(tmp_path, src)
    rules = EchoRust()
    worker = run_shard(a, rules)
    ledger = LocalFileStore(ledger_path(a.ledger_dir, 0)).read()
    backends = [r["backend"] for r in ledger if r.get("kind") == "unit"]
    assert backends.count("rules") == 1
    assert backends.count("cache") == 3
    assert len(worker.redone) == 4


def test_shards_split_files_and_the_last_one_assembles_the_same_crate(tmp_path: Path) -> None:
    src = small_project(tmp_path / "src", modules=8)
    single = assignment(tmp_path / "one", src)
    run_shard(single)
    expected = crate_files(single.output_dir / "demo-crate")

    sharded = [
        assignment(tmp_path / "three", src, PORTALIS_SHARD_COUNT="3", PORTALIS_SHARD_INDEX=str(i))
        for i in range(3)
    ]
    totals = []
    for i, a in enumerate(sharded):
        worker = run_shard(a)
        reporter = worker.reporter
        assert isinstance(reporter, NullReporter)
        totals.append(reporter.reports[-1].units_total)
        assert (a.output_dir / "demo-crate").exists() is (i == 2), "only the last shard to finish assembles"
    assert sum(totals) == 42
    assert crate_files(sharded[0].output_dir / "demo-crate") == expected


def test_ledger_of_another_job_is_moved_aside(tmp_path: Path) -> None:
    src = small_project(tmp_path / "src", modules=1)
    run_shard(assignment(tmp_path, src, PORTALIS_JOB_UID="old"))
    worker = run_shard(assignment(tmp_path, src, PORTALIS_JOB_UID="new"))
    assert len(worker.redone) == 7
    assert len(list((tmp_path / "ledger").glob("shard-0.ledger.stale.*"))) == 1


@pytest.mark.skipif(shutil.which("cargo") is None, reason="cargo not installed")
def test_checked_real_translation_builds_with_cargo(tmp_path: Path) -> None:
    src = write_project(
        tmp_path / "src",
        {
            "pkg/__init__.py": supported_function("top"),
            "pkg/ops.py": supported_function("a") + "\n" + supported_function("b", 2),
            "util.py": "import math\n\ndef hyp(x: float, y: float) -> float:\n"
            "    return math.sqrt(x * x + y * y)\n",
        },
    )
    a = assignment(tmp_path, src, PORTALIS_RUST_CHECK="true")
    run_shard(a, RulesBackend(), RustcChecker("rustc", "2021", a.scratch_dir))
    crate = a.output_dir / "demo-crate"
    assert b"0 failed" in (crate / "TRANSLATION_REPORT.md").read_bytes()
    proc = subprocess.run(
        ["cargo", "build", "--offline", "--quiet"],
        cwd=crate,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    shutil.rmtree(crate / "target")
