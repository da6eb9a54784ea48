"""The worker's side of the wire format: what it writes, the operator reads back unchanged."""

from __future__ import annotations

import errno
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from worker_builders import worker_env

from portalis_operator.progress import parse_report
from portalis_worker.progress import PROGRESS_ANNOTATION, Progress
from portalis_worker.protocol import WorkerExit

pytestmark = pytest.mark.unit


def test_the_operator_reads_what_the_worker_writes() -> None:
    written = Progress(91, 40, 2, 1_767_225_900.75).to_annotation()
    assert json.loads(written)["lastCheckpointTime"] == "2026-01-01T00:05:00Z"
    report = parse_report({PROGRESS_ANNOTATION: written})
    assert report is not None
    assert (report.units_total, report.units_done, report.units_failed) == (91, 40, 2)
    assert report.last_checkpoint_time == datetime(2026, 1, 1, 0, 5, tzinfo=UTC)
    assert parse_report({PROGRESS_ANNOTATION: Progress(0, 0, 0, None).to_annotation()}) is not None


def test_exit_codes_are_distinct_and_resume_is_not_success() -> None:
    codes = [int(c) for c in WorkerExit]
    assert len(set(codes)) == len(codes)
    assert WorkerExit.RESUME != 0  # a pod whose containers all exit 0 is Succeeded: a finished shard
    assert all(c < 126 for c in codes)  # 126+ mean "could not run" or "killed by a signal"


def test_a_full_disk_exits_with_its_own_code_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Issue 13, item 9: ENOSPC was an unexplained "unexpected error" (exit 1).
    from portalis_worker import main as worker_main

    for key, value in worker_env(tmp_path, tmp_path).items():
        monkeypatch.setenv(key, value)

    def full(*_: object, **__: object) -> int:
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "ledger" / "shard-0.ledger"))

    monkeypatch.setattr(worker_main, "run_shard", full)
    assert worker_main.main([]) == WorkerExit.NO_SPACE == 4
    assert '"message": "no space left on device"' in capsys.readouterr().err
