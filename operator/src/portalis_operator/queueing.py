"""Queue order: effective priority (base priority plus aging), then creation time.

Aging: a waiting job gains one priority level per `AgingPolicy.interval` waited, counted from when it
last entered the queue, but never above `AgingPolicy.ceiling` (high). So a background job waits at most
3 intervals before it ranks with high jobs, and then only critical jobs and older high jobs come first;
it can never overtake a critical job, and aging never gives it the right to preempt (preemption compares
base priorities).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from portalis_operator.workload import JobRequest, Priority


@dataclass(frozen=True)
class AgingPolicy:
    interval: timedelta = timedelta(minutes=15)
    ceiling: Priority = Priority.HIGH

    def __post_init__(self) -> None:
        if self.interval <= timedelta(0):
            raise ValueError("aging interval must be positive")


DEFAULT_AGING = AgingPolicy()


def effective_priority(job: JobRequest, now: datetime, aging: AgingPolicy = DEFAULT_AGING) -> Priority:
    if job.priority >= aging.ceiling:
        return job.priority
    waited = max(now - job.waiting_since, timedelta(0))
    steps = waited // aging.interval
    return Priority(min(int(job.priority) + steps, int(aging.ceiling)))


def queue_order(
    jobs: Iterable[JobRequest], now: datetime, aging: AgingPolicy = DEFAULT_AGING
) -> list[JobRequest]:
    """Jobs most urgent first; ties by creation time (oldest first), then key."""
    return sorted(jobs, key=lambda j: (-effective_priority(j, now, aging), j.created_at, j.key))
