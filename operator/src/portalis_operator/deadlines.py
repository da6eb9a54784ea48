"""When a job must be planned again although nothing about it changed: the time-based rules. Pure.

A cycle plans only the jobs that changed (cycle.Dirty) and those whose time has come. `next_due` says,
for a job just planned, the earliest moment one of its time-based rules can change its plan:
- a finished job's TTL (spec.ttlSecondsAfterFinished);
- spec.deadlineSeconds from its start;
- the start timeout (startup.StartPolicy) of an admitted job with no worker running;
- the error backoff of a failed worker (recovery.backoff_seconds);
- the refresh of a running job's cost (cost.account's refresh_seconds).
`node_due` does the same for a NotReady node's grace period (recovery.classify_node), after which
every job on it may be displaced. Queue aging, minimum runtimes before preemption and the autoscaler's
cooldowns are the scheduler's and autoscaler's own: both look at the whole queue and pool every cycle.

`DeadlineHeap` keeps one due time per job (the latest planning's) and hands out the due ones.
`sweep_slice` spreads the safety sweep (every job planned once per period, whatever changed) over the
cycles, so that at 50,000 jobs no cycle plans them all at once.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from portalis_operator import conditions as c
from portalis_operator.api import TranslationJobStatus
from portalis_operator.occupancy import finished
from portalis_operator.recovery import RecoveryPolicy, backoff_seconds
from portalis_operator.snapshot import JobView, node_health
from portalis_operator.startup import StartPolicy

COST_REFRESH = timedelta(seconds=30)  # cost.account's refresh_seconds
STRICT = timedelta(microseconds=1)  # a rule that compares with `>` acts just after its moment


def next_due(
    view: JobView,
    status: TranslationJobStatus,
    now: datetime,
    start: StartPolicy,
    recovery: RecoveryPolicy,
) -> datetime | None:
    """The earliest future moment a time-based rule can change this job's plan; `status` is the one the
    plan writes (or the current one). None: only a change to the job, its pods or its nodes can."""
    job, spec = view.job, view.job.spec
    times: list[datetime] = []
    conditions = status.conditions
    if c.is_true(conditions, c.SUCCEEDED) or c.is_true(conditions, c.FAILED) or finished(job):
        ttl, done = spec.ttl_seconds_after_finished, status.completion_time
        if ttl is not None and done is not None:
            times.append(_after(done, ttl))
        return _earliest(times, now)
    started = status.start_time or status.admitted_at
    if spec.deadline_seconds is not None and started is not None:
        times.append(_after(started, spec.deadline_seconds) + STRICT)
    if c.is_true(conditions, c.ADMITTED):
        if not c.is_true(conditions, c.RUNNING) and status.admitted_at is not None:
            times.append(_after(status.admitted_at, start.timeout.total_seconds()) + STRICT)
        retries = (status.recoveries.error_retries or 0) if status.recoveries else 0
        delay = backoff_seconds(spec.recovery.backoff_seconds, retries, recovery.max_backoff_seconds)
        times += [_after(p.failed_at, delay) for p in view.pods.values() if p.failed_at is not None]
    if any(p.run is not None and p.run[1] is None for p in view.pods.values()):
        as_of = status.cost.as_of if status.cost is not None else None
        times.append((as_of or now) + COST_REFRESH)
    return _earliest(times, now)


def node_due(nodes: Iterable[Mapping[str, Any]], policy: RecoveryPolicy, now: datetime) -> datetime | None:
    """When the earliest NotReady node's grace period ends (its shards are displaced then)."""
    times = []
    for raw in nodes:
        health = node_health(raw)
        if not health.ready and health.not_ready_since is not None:
            times.append(_after(health.not_ready_since, policy.not_ready_grace_seconds))
    return _earliest(times, now)


def _after(moment: datetime, seconds: float) -> datetime:
    """`moment + seconds`, the instant a rule that compares with `>=` acts."""
    try:
        return moment + timedelta(seconds=seconds)
    except OverflowError:  # both come from the API: a TTL of 10^9 days is never due
        return datetime.max.replace(tzinfo=moment.tzinfo) - STRICT


def _earliest(times: list[datetime], now: datetime) -> datetime | None:
    future = [t for t in times if t > now]
    return min(future, default=None)


class DeadlineHeap:
    """Due times by key; setting a key again replaces its time (stale heap entries are skipped)."""

    def __init__(self) -> None:
        self._due: dict[str, datetime] = {}
        self._heap: list[tuple[datetime, str]] = []

    def __len__(self) -> int:
        return len(self._due)

    def schedule(self, key: str, when: datetime | None) -> None:
        if when is None:
            self._due.pop(key, None)
            return
        if self._due.get(key) == when:
            return
        self._due[key] = when
        heapq.heappush(self._heap, (when, key))
        if len(self._heap) > 4 * len(self._due) + 64:  # too many stale entries: rebuild
            self._heap = [(t, k) for k, t in self._due.items()]
            heapq.heapify(self._heap)

    def pop_due(self, now: datetime) -> set[str]:
        """Keys due at `now`, removed."""
        out: set[str] = set()
        while self._heap and self._heap[0][0] <= now:
            when, key = heapq.heappop(self._heap)
            if self._due.get(key) == when:
                del self._due[key]
                out.add(key)
        return out

    def next(self) -> datetime | None:
        """The earliest due time (skipping stale entries)."""
        while self._heap and self._due.get(self._heap[0][1]) != self._heap[0][0]:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None


def sweep_slice(keys: Sequence[str], cursor: int, elapsed: float, period: float) -> tuple[list[str], int]:
    """The next jobs of the safety sweep: `elapsed / period` of all of them, from `cursor` on (wrapping),
    so that every job is planned at least once per `period`. Returns them and the next cursor."""
    if not keys or period <= 0:
        return [], 0
    count = min(len(keys), math.ceil(len(keys) * max(0.0, elapsed) / period))
    start = cursor % len(keys)
    chosen = list(keys[start : start + count])
    chosen += keys[: count - len(chosen)]
    return chosen, (start + count) % len(keys)
