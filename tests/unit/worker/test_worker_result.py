"""The result the assembling shard reports (issue 16): digest of what it published, whether rustc builds
the crate, counts and failures from its translation report."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from worker_builders import EchoRust, assignment, crate_files, small_project, write_project

from portalis_worker.backends import CacheBackend
from portalis_worker.ledger import LocalFileStore, ledger_path
from portalis_worker.loop import Worker, assemble_if_complete
from portalis_worker.progress import KubernetesProgressReporter, NullReporter, Progress
from portalis_worker.protocol import PROGRESS_ANNOTATION, RESULT_ANNOTATION, ResultReport, tree_digest
from portalis_worker.result import crate_builds
from portalis_worker.sources import list_sources

pytestmark = pytest.mark.unit


def test_the_assembling_shard_reports_the_crate_it_published(tmp_path: Path) -> None:
    src = small_project(tmp_path / "src")
    a = assignment(tmp_path, src)
    store = LocalFileStore(ledger_path(a.ledger_dir, a.shard_index))
    cache = CacheBackend()
    reporter = NullReporter()
    worker = Worker(a, store, [cache, EchoRust()], cache, None, reporter)
    assert worker.run(list_sources(a.source_dir, a.include, a.exclude), worker.open_ledger())
    assert assemble_if_complete(a, src, publish_result=reporter.report_result)
    store.close()

    (result,) = reporter.results
    published = crate_files(a.output_dir / "demo-crate")
    assert result.digest == tree_digest(published)
    assert result.crate_files == len(published)
    assert (result.units.total, result.units.translated, result.units.failed) == (22, 21, 1)
    assert result.reasons == (("syntax-error", 1),)
    assert [(e.file, e.reason) for e in result.examples] == [("pkg/broken.py", "syntax-error")]
    assert result.builds is None  # PORTALIS_RUST_CHECK=false: nothing is claimed
    assert ResultReport.decode(result.encode()) == result


@pytest.mark.skipif(shutil.which("rustc") is None, reason="rustc not installed")
def test_crate_builds_says_whether_rustc_builds_the_library(tmp_path: Path) -> None:
    good = {
        "Cargo.toml": b'[package]\nname = "c"\n',
        "src/lib.rs": b"pub mod m;\n",
        "src/m.rs": b"pub fn f(a: i64) -> i64 { a + 1 }\n",
    }
    assert crate_builds(good, "c", "rustc", "2021", tmp_path) is True
    bad = {**good, "src/m.rs": b"pub fn f(a: i64) -> String { a }\n"}
    assert crate_builds(bad, "c", "rustc", "2021", tmp_path) is False
    assert crate_builds(good, "c", str(tmp_path / "no-rustc"), "2021", tmp_path) is None


@pytest.mark.skipif(shutil.which("rustc") is None, reason="rustc not installed")
def test_a_checked_crate_that_uses_the_support_crate_builds(tmp_path: Path) -> None:
    src = write_project(
        tmp_path / "src",
        {"pkg/re_use.py": "import re\n\ndef digits(s: str) -> str:\n    return re.sub(r'\\D', '', s)\n"},
    )
    a = assignment(tmp_path, src, PORTALIS_RUST_CHECK="true")
    from portalis_worker.backends import RulesBackend
    from portalis_worker.rustcheck import RustcChecker

    store = LocalFileStore(ledger_path(a.ledger_dir, a.shard_index))
    cache = CacheBackend()
    reporter = NullReporter()
    checker = RustcChecker("rustc", "2021", a.scratch_dir)
    worker = Worker(a, store, [cache, RulesBackend()], cache, checker, reporter)
    assert worker.run(list_sources(a.source_dir, a.include, a.exclude), worker.open_ledger())
    assert assemble_if_complete(a, src, publish_result=reporter.report_result)
    store.close()
    (result,) = reporter.results
    assert result.builds is True, result


class FlakyReporter(KubernetesProgressReporter):
    """The real reporter's retry policy over a patch that fails `failures` times (the API server down)."""

    def __init__(self, failures: int) -> None:
        self.now = 0.0
        self.failures = failures
        self.patches: list[dict[str, str]] = []
        self.sleep = self._advance
        self.clock = lambda: self.now

    def _advance(self, seconds: float) -> None:
        self.now += seconds

    def _patch(self, annotations: dict[str, str], what: str) -> bool:
        if self.failures:
            self.failures -= 1
            return False
        self.patches.append(annotations)
        return True


def test_the_result_survives_an_api_server_outage_of_a_minute() -> None:
    # Three immediate attempts used to lose the result when the API server was down as the crate was
    # assembled: the job then Succeeded with `reported: false` and no digest.
    result = ResultReport.from_translation_report(
        {"crate": "c", "units": {"translated": 1, "failed": 0}}, "sha256:" + "0" * 64, 3, True
    )
    reporter = FlakyReporter(failures=8)  # 1 + 2 + 4 + 8 + 15 + 15 + 15 + 15 s: 75 s down
    reporter.report_result(result)
    assert [p[RESULT_ANNOTATION] for p in reporter.patches] == [result.encode()]
    assert 60 <= reporter.now <= 120
    gone = FlakyReporter(failures=1000)
    gone.report_result(result)
    assert gone.patches == []
    assert gone.now <= 300  # it gives up: the pod must exit some time


def test_a_finished_shards_last_progress_report_survives_an_outage() -> None:
    # A shard that finished while the API server was down exited with its last progress report lost:
    # the job then Succeeded with the progress of minutes before (59/410 in the chaos test).
    reporter = FlakyReporter(failures=6)
    last = Progress(units_total=10, units_done=9, units_failed=1, last_checkpoint=None)
    reporter.report(Progress(units_total=10, units_done=3, units_failed=0, last_checkpoint=None))
    reporter.report(last)  # both refused: the API server is down
    assert reporter.patches == []
    reporter.flush()
    assert [p[PROGRESS_ANNOTATION] for p in reporter.patches] == [last.to_annotation()]
    reporter.flush()  # nothing left to send
    assert len(reporter.patches) == 1
