"""Job progress from the workers' reports.

Protocol: each worker pod carries the annotation `portalis.dev/progress`, JSON
`{"unitsTotal": int, "unitsDone": int, "unitsFailed": int, "lastCheckpointTime": RFC 3339 | null}`,
patched by the worker after each checkpoint. unitsTotal is the shard's unit count (known once the
shard has listed its units). A missing or malformed annotation counts as "not reported yet".
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

PROGRESS_ANNOTATION = "portalis.dev/progress"


class _Report(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")
    units_total: int = Field(ge=0)
    units_done: int = Field(ge=0)
    units_failed: int = Field(default=0, ge=0)
    last_checkpoint_time: datetime | None = None


@dataclass(frozen=True)
class ShardProgress:
    units_total: int
    units_done: int
    units_failed: int = 0
    last_checkpoint_time: datetime | None = None

    @property
    def processed(self) -> int:
        return min(self.units_total, self.units_done + self.units_failed)


@dataclass(frozen=True)
class JobProgress:
    units_total: int
    units_done: int
    units_failed: int
    percent: int | None
    eta: datetime | None
    last_checkpoint_time: datetime | None


def parse_report(annotations: Mapping[str, str] | None) -> ShardProgress | None:
    raw = (annotations or {}).get(PROGRESS_ANNOTATION)
    if raw is None:
        return None
    try:
        report = _Report.model_validate(json.loads(raw))
    except (ValueError, ValidationError):
        return None
    if report.last_checkpoint_time is not None and report.last_checkpoint_time.tzinfo is None:
        return None
    return ShardProgress(
        report.units_total, report.units_done, report.units_failed, report.last_checkpoint_time
    )


def report_annotation(progress: ShardProgress) -> dict[str, str]:
    """The annotation a worker writes (the inverse of parse_report)."""
    body = {
        "unitsTotal": progress.units_total,
        "unitsDone": progress.units_done,
        "unitsFailed": progress.units_failed,
        "lastCheckpointTime": progress.last_checkpoint_time.isoformat()
        if progress.last_checkpoint_time
        else None,
    }
    return {PROGRESS_ANNOTATION: json.dumps(body, separators=(",", ":"))}


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
    """
    reports = [s for s in shards if s is not None]
    total = sum(s.units_total for s in reports)
    done = sum(min(s.units_done, s.units_total) for s in reports)
    failed = sum(s.units_failed for s in reports)
    processed = sum(s.processed for s in reports)
    complete = len(reports) == shard_count and shard_count > 0

    percent: int | None = None
    if complete:
        percent = 100 if total == 0 else min(100, processed * 100 // total)
        if percent == 100 and processed < total:
            percent = 99

    eta: datetime | None = None
    if complete and started_at is not None and processed > 0:
        elapsed = max((now - started_at).total_seconds(), 0.0)
        remaining = total - processed
        eta = now + timedelta(seconds=elapsed * remaining / processed)

    checkpoints = [s.last_checkpoint_time for s in reports]
    last_checkpoint = None
    if complete and all(c is not None for c in checkpoints):
        last_checkpoint = min(c for c in checkpoints if c is not None)
    return JobProgress(total, done, failed, percent, eta, last_checkpoint)
