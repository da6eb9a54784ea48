"""Cost: GPU-seconds by capacity type from worker run intervals, and USD from the pool's prices.

Pure. Pods are recreated (same name) on recovery, so the cycle cannot recompute a job's cost from the
pods that exist now: it keeps the total of closed intervals (`closed`, apart from status.cost, which
includes running pods) and adds each interval once its pod is gone (`close`), then reports closed +
open intervals (`job_cost`). No price
configured means no estimate: the operator never makes up prices.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from portalis_operator import api
from portalis_operator.workload import CapacityType


@dataclass(frozen=True)
class RunInterval:
    """A worker pod held `gpus` GPUs on a node of `capacity_type` from `start` until `end` (None: still)."""

    capacity_type: CapacityType
    gpus: int
    start: datetime
    end: datetime | None = None

    def gpu_seconds(self, now: datetime) -> float:
        end = self.end or now
        return max(0.0, (end - self.start).total_seconds()) * self.gpus


@dataclass(frozen=True)
class GPUSeconds:
    spot: float = 0.0
    on_demand: float = 0.0

    def __add__(self, other: GPUSeconds) -> GPUSeconds:
        return GPUSeconds(self.spot + other.spot, self.on_demand + other.on_demand)

    def of(self, capacity_type: CapacityType) -> float:
        return self.spot if capacity_type is CapacityType.SPOT else self.on_demand

    @classmethod
    def from_status(cls, cost: api.CostStatus | None) -> GPUSeconds:
        if cost is None:
            return cls()
        return cls(cost.gpu_seconds_spot or 0.0, cost.gpu_seconds_on_demand or 0.0)


def gpu_seconds(intervals: Iterable[RunInterval], now: datetime) -> GPUSeconds:
    """GPU-seconds by capacity type; open intervals count up to `now`."""
    spot = od = 0.0
    for i in intervals:
        if i.capacity_type is CapacityType.SPOT:
            spot += i.gpu_seconds(now)
        else:
            od += i.gpu_seconds(now)
    return GPUSeconds(spot, od)


def estimate_usd(usage: GPUSeconds, pricing: api.Pricing | None) -> float | None:
    """USD for `usage` at the pool's per-GPU-hour prices; None when a used capacity type has no price."""
    if pricing is None:
        return None
    total = 0.0
    for ct, price in (
        (CapacityType.SPOT, pricing.spot_per_gpu_hour),
        (CapacityType.ON_DEMAND, pricing.on_demand_per_gpu_hour),
    ):
        used = usage.of(ct)
        if used == 0:
            continue
        if price is None:
            return None
        total += used / 3600.0 * price
    return round(total, 6)


def close(closed: GPUSeconds, finished: Iterable[RunInterval], now: datetime) -> GPUSeconds:
    """The new closed total after `finished` intervals (pods gone) are added; call once per pod."""
    return closed + gpu_seconds(finished, now)


def job_cost(
    closed: GPUSeconds, running: Iterable[RunInterval], pricing: api.Pricing | None, now: datetime
) -> api.CostStatus:
    """status.cost: closed intervals plus the running pods' intervals up to `now`."""
    usage = closed + gpu_seconds(running, now)
    return api.CostStatus(
        gpu_seconds_spot=round(usage.spot, 3),
        gpu_seconds_on_demand=round(usage.on_demand, 3),
        estimatedUSD=estimate_usd(usage, pricing),
    )


def _time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return None


def run_interval(pod: Mapping[str, Any], capacity_type: CapacityType, gpus: int) -> RunInterval | None:
    """The interval a worker pod (a manifest dict as the API returns it) ran, or None if it never ran.

    Start: the earliest container `running.startedAt` (or `terminated.startedAt`), else
    `status.startTime` once the pod is Running. End: the latest container `terminated.finishedAt`, when
    every container has terminated; otherwise the interval is open.
    """
    times = run_times(pod)
    if times is None:
        return None
    return RunInterval(capacity_type, gpus, times[0], times[1])


def run_times(pod: Mapping[str, Any]) -> tuple[datetime, datetime | None] | None:
    """(start, end) of `run_interval`, before the node's capacity type is known."""
    status = pod.get("status") or {}
    states = [(c.get("state") or {}) for c in status.get("containerStatuses") or []]
    starts: list[datetime] = []
    ends: list[datetime] = []
    for s in states:
        running, terminated = s.get("running") or {}, s.get("terminated") or {}
        started = _time(running.get("startedAt")) or _time(terminated.get("startedAt"))
        if started is not None:
            starts.append(started)
        finished = _time(terminated.get("finishedAt"))
        if finished is not None:
            ends.append(finished)
    start = min(starts) if starts else None
    if start is None and status.get("phase") == "Running":
        start = _time(status.get("startTime"))
    if start is None:
        return None
    end = max(ends) if states and len(ends) == len(states) else None
    return start, end


# ------------------------------------------------------------------------------------------------------
# Accounting across pod lifetimes: the state lives in status.cost (closed totals + tracked pods)


@dataclass(frozen=True)
class PodSample:
    """A worker pod seen this cycle: `start`/`end` from `run_times` (start None: it never ran);
    `capacity_type` of its node (None when unknown: the node is gone and was never recorded)."""

    uid: str
    capacity_type: CapacityType | None
    gpus: int
    start: datetime | None
    end: datetime | None = None


@dataclass(frozen=True)
class Accounting:
    """The new status.cost (None: leave it as it is) and what was closed this cycle (for metrics)."""

    cost: api.CostStatus | None
    closed_now: GPUSeconds


def _wire_type(ct: CapacityType) -> api.CapacityTypeName:
    return "spot" if ct is CapacityType.SPOT else "on-demand"


def _interval(run: api.PodRun, end: datetime | None = None) -> RunInterval:
    ct = CapacityType.SPOT if run.capacity_type == "spot" else CapacityType.ON_DEMAND
    return RunInterval(ct, run.gpus, run.start, end or run.end)


def account(
    previous: api.CostStatus | None,
    pods: Sequence[PodSample],
    pricing: api.Pricing | None,
    now: datetime,
    refresh_seconds: float = 30.0,
) -> Accounting:
    """One cycle of cost accounting for a job.

    Each pod's interval is added to the closed totals exactly once: when it ends (all containers
    terminated) or, if the pod vanished while running, up to `now` (errs high by at most one cycle).
    A tracked pod stays listed until it is gone, so a finished pod still present is never added twice.
    The running pods' GPU-seconds are refreshed at most every `refresh_seconds` unless pods changed, so
    a running job does not write its status every cycle.
    """
    tracked = {p.uid: p for p in (previous.pods if previous and previous.pods else [])}
    closed_before = GPUSeconds(
        (previous.closed_gpu_seconds_spot or 0.0) if previous else 0.0,
        (previous.closed_gpu_seconds_on_demand or 0.0) if previous else 0.0,
    )
    closing: list[RunInterval] = []
    out: dict[str, api.PodRun] = {}
    for pod in pods:
        known = tracked.get(pod.uid)
        if known is not None and known.end is not None:
            out[pod.uid] = known  # closed already
            continue
        ct_name = known.capacity_type if known else None
        if ct_name is None and pod.capacity_type is not None:
            ct_name = _wire_type(pod.capacity_type)
        start = known.start if known else pod.start
        if ct_name is None or start is None:
            continue  # never ran, or ran on a node we know nothing about
        run = api.PodRun(uid=pod.uid, capacity_type=ct_name, gpus=pod.gpus, start=start, end=pod.end)
        if pod.end is not None:
            closing.append(_interval(run))
        out[pod.uid] = run
    seen = {p.uid for p in pods}
    for uid, run in tracked.items():
        if uid not in seen and run.end is None:
            closing.append(_interval(run, now))  # vanished while running
    closed_now = gpu_seconds(closing, now)
    changed = set(out) != set(tracked) or bool(closing)
    fresh = (
        previous is not None
        and previous.as_of is not None
        and now - previous.as_of < timedelta(seconds=refresh_seconds)
    )
    if not changed and (fresh or not out or all(r.end is not None for r in out.values())):
        return Accounting(None, closed_now)
    if previous is None and not out and not closing:
        return Accounting(None, closed_now)
    closed = closed_before + closed_now
    running = [_interval(r) for r in out.values() if r.end is None]
    total = job_cost(closed, running, pricing, now)
    total.closed_gpu_seconds_spot = round(closed.spot, 3)
    total.closed_gpu_seconds_on_demand = round(closed.on_demand, 3)
    total.as_of = now
    total.pods = sorted(out.values(), key=lambda r: r.uid) or None
    return Accounting(total, closed_now)
