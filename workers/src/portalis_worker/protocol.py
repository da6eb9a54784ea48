"""What a worker tells the operator: its progress annotation and its exit code. One definition, imported by
both sides (the worker writes, the operator reads; docs/worker.md and docs/api.md describe them).

Standard library only, so that the operator can import it without the worker's dependencies.

The progress annotation is written by the worker but can be written by anyone allowed to patch the pod
(the namespace's `edit` role, any worker token), so the reader trusts nothing in it: `decode` returns a
report within fixed bounds, or None ("not reported yet") for anything else. A bad report can then at
worst misstate its own job's progress; it cannot overflow the operator's arithmetic or a status field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum

PROGRESS_ANNOTATION = "portalis.dev/progress"

MAX_REPORT_CHARS = 1024
"""A real report is under 150 characters; anything longer is refused before it is parsed."""
MAX_UNITS = 10_000_000
"""Units in one shard (a unit is a top-level function, class or module body): far more than any real
codebase, and small enough that 64 shards' sums stay far inside the CRD's int64 fields."""
EARLIEST_CHECKPOINT = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_CHECKPOINT = datetime(3000, 1, 1, tzinfo=UTC)
"""Checkpoint times outside these are refused: far from any clock, and near datetime's limits."""


class WorkerExit(IntEnum):
    """The worker's exit codes, and what the operator does with each (docs/worker.md).

    RESUME is a stop, not a failure: the worker received SIGTERM (pod deleted, node draining or shutting
    down, kubelet eviction), flushed its ledger and wants to be recreated to resume from it. It must not
    be 0, because Kubernetes marks a pod whose containers all exited 0 as Succeeded, which would read as
    a finished shard. 75 is sysexits' EX_TEMPFAIL ("try again later").
    """

    OK = 0  # the shard finished (every unit translated or failed on its own)
    ERROR = 1  # unexpected error: retried with backoff, spends the error budget
    CONFIG = 2  # invalid configuration or input: retrying cannot help
    TRANSIENT = 3  # source fetch failed, model server unavailable: retried with backoff
    NO_SPACE = 4  # no space left on device (scratch, ledger or output): retried with backoff, and said so
    RESUME = 75  # stopped by SIGTERM after flushing: recreate and resume, spends no error budget


@dataclass(frozen=True)
class ProgressReport:
    """One shard's progress. `units_done + units_failed <= units_total <= MAX_UNITS` once decoded."""

    units_total: int
    units_done: int
    units_failed: int = 0
    last_checkpoint_time: datetime | None = None

    @property
    def processed(self) -> int:
        return min(self.units_total, self.units_done + self.units_failed)

    def encode(self) -> str:
        """The annotation value (JSON); the inverse of `decode` for any report within bounds."""
        when = self.last_checkpoint_time
        return json.dumps(
            {
                "unitsTotal": self.units_total,
                "unitsDone": self.units_done,
                "unitsFailed": self.units_failed,
                "lastCheckpointTime": None
                if when is None
                else when.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            },
            separators=(",", ":"),
        )

    @classmethod
    def decode(cls, raw: object) -> ProgressReport | None:
        """The report in `raw`, or None when it is not one within bounds.

        Refused: anything but a JSON object of at most MAX_REPORT_CHARS; counts that are not plain
        integers (floats, NaN, Infinity, booleans, strings), negative or above MAX_UNITS; a checkpoint
        time that is not an RFC 3339 string with a zone, or outside [EARLIEST, LATEST). Clamped: done to
        the total, failed to what is left of it (a worker whose source changed may count past its total).
        """
        if not isinstance(raw, str) or len(raw) > MAX_REPORT_CHARS:
            return None
        try:
            body = json.loads(raw, parse_constant=_refuse)
        except (ValueError, RecursionError):
            return None
        if not isinstance(body, dict):
            return None
        total = _count(body.get("unitsTotal"))
        done = _count(body.get("unitsDone"))
        failed = _count(body.get("unitsFailed", 0))
        if total is None or done is None or failed is None:
            return None
        when = body.get("lastCheckpointTime")
        checkpoint = None if when is None else _time(when)
        if when is not None and checkpoint is None:
            return None
        done = min(done, total)
        return cls(total, done, min(failed, total - done), checkpoint)


def _refuse(constant: str) -> object:
    raise ValueError(f"{constant} is not a count")


def _count(value: object) -> int | None:
    if type(value) is not int or not 0 <= value <= MAX_UNITS:  # `type`: a bool is an int too
        return None
    return value


def _time(value: object) -> datetime | None:
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None or not EARLIEST_CHECKPOINT <= parsed < LATEST_CHECKPOINT:
        return None
    return parsed
