"""Job progress from the workers' reports.

Protocol: each worker pod carries the annotation `portalis.dev/progress`, JSON
`{"unitsTotal": int, "unitsDone": int, "unitsFailed": int, "lastCheckpointTime": RFC 3339 | null}`,
patched by the worker after each checkpoint. unitsTotal is the shard's unit count (known once the
shard has listed its units). The format and its bounds are defined once, in portalis_worker.protocol,
for the writer and this reader; a missing, malformed or out-of-bounds annotation counts as "not
reported yet".
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from portalis_worker.protocol import PROGRESS_ANNOTATION, ProgressReport

__all__ = ["PROGRESS_ANNOTATION", "JobProgress", "ShardProgress", "aggregate", "parse_report"]

ShardProgress = ProgressReport
"""One shard's report, as decoded (bounded: see ProgressReport.decode)."""

MAX_ETA = timedelta(days=3650)
"""An ETA further out than this is no estimate: it is left unset."""


@dataclass(frozen=True)
class JobProgress:
    units_total: int
    units_done: int
    units_failed: int
    percent: int | None
    eta: datetime | None
    last_checkpoint_time: datetime | None


def parse_report(annotations: Mapping[str, str] | None) -> ShardProgress | None:
    return ProgressReport.decode((annotations or {}).get(PROGRESS_ANNOTATION))


def aggregate(
    shards: Sequence[ShardProgress | None],
    shard_count: int,
    started_at: datetime | None,
    now: datetime,
) -> JobProgress:
    """Sum the shards' reports.

    percent is floor(100 * processed / total) and only set once every shard reported (before that the
    total is unknown and a percentage would jump backwards); it is 100 only when all units are
    processed. eta extrapolates the rate since `started_at` and is unset before any unit is processed.
    lastCheckpointTime is the oldest of the shards' latest checkpoints: the job is safe up to there.
    Never raises: the reports are bounded when decoded, and the time arithmetic here is overflow-safe.
    """
    reports = [s for s in shards if s is not None]
    total = sum(s.units_total for s in reports)
    done = sum(min(s.units_done, s.units_total) for s in reports)
    failed = sum(min(s.units_failed, s.units_total - min(s.units_done, s.units_total)) for s in reports)
    processed = done + failed
    complete = len(reports) == shard_count and shard_count > 0

    percent: int | None = None
    if complete:
        percent = 100 if total == 0 else min(100, processed * 100 // total)
        if percent == 100 and processed < total:
            percent = 99

    eta: datetime | None = None
    if complete and started_at is not None and processed > 0:
        eta = _eta(max((now - started_at).total_seconds(), 0.0), total - processed, processed, now)

    checkpoints = [s.last_checkpoint_time for s in reports]
    last_checkpoint = None
    if complete and all(c is not None for c in checkpoints):
        # A checkpoint cannot be later than now: a clock ahead (or a forged report) must not make the
        # job look safer than it is.
        last_checkpoint = min(now, *(c for c in checkpoints if c is not None))
    return JobProgress(total, done, failed, percent, eta, last_checkpoint)


def _eta(elapsed: float, remaining: int, processed: int, now: datetime) -> datetime | None:
    """now + elapsed * remaining / processed; None when that is past MAX_ETA or datetime's range."""
    seconds = elapsed * remaining / processed
    if not math.isfinite(seconds) or seconds > MAX_ETA.total_seconds():
        return None
    try:
        return now + timedelta(seconds=seconds)
    except OverflowError:
        return None
