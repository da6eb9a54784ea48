"""Admission: which queued jobs start now, which preempt, and why the others wait.

A job is admitted only when *all* its shards fit (packing.fit) in free GPUs; jobs are considered in
queue order. When a job that would fit an empty pool does not fit now, it blocks: the GPUs it could use
(on its eligible nodes, whole multiples of its shard size) are reserved for it, and jobs behind it
(same or lower effective priority) may only backfill into what is left: other capacity types and the
per-node remainders too small for its shards. So backfill never delays the blocked job, and the blocked
job cannot starve: the capacity it can use only grows as running jobs finish. A job too big for the
pool even when empty does not block anyone (ExceedsPoolCapacity: the autoscaler's problem).

A job that would take its namespace past its GPU quota (quotas.py) waits with NamespaceQuotaExceeded:
like a job whose output path is in use, it reserves nothing, blocks no one and never preempts.

With a PreemptionPolicy, the first blocked job for which preemption.plan_preemption finds victims (in
the capacity not held by jobs ahead of it) gets reason Preempting: its future placements are held, the
victims' GPUs stay held until they are gone, and the cycle goes on for the jobs behind it. One
preemption per cycle: evictions take a grace period and the next cycle re-plans from what happened.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from portalis_operator.packing import FreeGPUs, Node, capacity, eligible_nodes, fit, free_gpus, give, take
from portalis_operator.preemption import PreemptionPlan, PreemptionPolicy, plan_preemption
from portalis_operator.queueing import DEFAULT_AGING, AgingPolicy, effective_priority, queue_order
from portalis_operator.quotas import (
    NO_QUOTAS,
    NamespaceQuotas,
    gpus_by_namespace,
    namespace_of,
    over_quota,
    quota_message,
)
from portalis_operator.workload import JobRequest, Priority, RunningJob, ShardPlacement


class WaitReason(StrEnum):
    SUSPENDED = "Suspended"
    INSUFFICIENT_CAPACITY = "InsufficientCapacity"
    WAITING_FOR_HIGHER_PRIORITY = "WaitingForHigherPriority"
    EXCEEDS_POOL_CAPACITY = "ExceedsPoolCapacity"
    PREEMPTING = "Preempting"
    OUTPUT_PATH_IN_USE = "OutputPathInUse"
    NAMESPACE_QUOTA_EXCEEDED = "NamespaceQuotaExceeded"


@dataclass(frozen=True)
class Admitted:
    job: JobRequest
    placements: tuple[ShardPlacement, ...]


@dataclass(frozen=True)
class Waiting:
    """A job left in the queue. `position` is 1-based among non-suspended waiting jobs, else None.
    `blocked_by` names the first blocked job, whose reservation keeps this one out. `message`, when set,
    says why in words (the policy that decided knows best)."""

    job: JobRequest
    reason: WaitReason
    position: int | None
    effective_priority: Priority
    blocked_by: str | None = None
    message: str | None = None


@dataclass(frozen=True)
class AdmissionResult:
    admitted: tuple[Admitted, ...]
    waiting: tuple[Waiting, ...]
    preemption: PreemptionPlan | None = None

    def waiting_for(self, key: str) -> Waiting | None:
        return next((w for w in self.waiting if w.job.key == key), None)

    def admitted_keys(self) -> list[str]:
        return [a.job.key for a in self.admitted]


def _reserve(job: JobRequest, avail: FreeGPUs, nodes: Sequence[Node]) -> dict[str, int]:
    """The GPUs on `job`'s eligible nodes that its shards could use."""
    g = job.gpus_per_shard
    return {n.name: (avail.get(n.name, 0) // g) * g for n in eligible_nodes(job, nodes)}


Shape = tuple[str, int, int]
"""What fitting a job depends on: (spot mode, shards, GPUs per shard)."""


def shape_of(job: JobRequest) -> Shape:
    return job.spot.value, job.shards, job.gpus_per_shard


def admit(
    queued: Sequence[JobRequest],
    nodes: Sequence[Node],
    running: Sequence[RunningJob],
    now: datetime,
    aging: AgingPolicy = DEFAULT_AGING,
    preemption: PreemptionPolicy | None = None,
    quotas: NamespaceQuotas = NO_QUOTAS,
) -> AdmissionResult:
    """One pass over the queue. What is left for the next job (`avail`: free minus reserved) only ever
    shrinks during the pass, and fitting is monotone in free GPUs, so a shape that did not fit, or found
    no victims at some priority, cannot later; those answers are remembered, which keeps the pass
    about linear in the queue instead of queue x nodes (or x running jobs, for preemption)."""
    free = free_gpus(nodes, running)
    held = gpus_by_namespace(running)
    empty = capacity(nodes)
    reserved: dict[str, int] = dict.fromkeys(free, 0)
    avail: dict[str, int] = dict(free)  # free minus reserved, kept as both change
    first_blocker: str | None = None
    plan: PreemptionPlan | None = None
    admitted: list[Admitted] = []
    waiting: list[Waiting] = []
    position = 0
    fits_empty: dict[Shape, bool] = {}
    no_room: set[Shape] = set()  # did not fit `avail`: never will this pass
    no_room_free: set[Shape] = set()  # did not fit `free`: never will this pass
    room_free: dict[Shape, int] = {}  # fitted `free` as of this version of it
    free_version = 0
    reserved_for: set[tuple[str, int]] = set()  # (spot mode, shard size) whose reservation is made
    no_victims: dict[Shape, Priority] = {}  # preemption found none up to this priority

    for job in queue_order(queued, now, aging):
        level = effective_priority(job, now, aging)
        if job.suspended:
            waiting.append(Waiting(job, WaitReason.SUSPENDED, None, level))
            continue
        if job.output_in_use_by is not None:  # not a capacity wait: it reserves nothing, blocks no one
            waiting.append(Waiting(job, WaitReason.OUTPUT_PATH_IN_USE, None, level, job.output_in_use_by))
            continue
        if over_quota(job, held, quotas):  # likewise: more capacity would not let it run
            reason = WaitReason.NAMESPACE_QUOTA_EXCEEDED
            waiting.append(Waiting(job, reason, None, level, message=quota_message(job, quotas)))
            continue
        shape = shape_of(job)
        placements = None if shape in no_room else fit(job, avail, nodes)
        if placements is not None:
            admitted.append(Admitted(job, placements))
            free = take(free, placements)
            avail = take(avail, placements)
            free_version += 1
            held[namespace_of(job.key)] = held.get(namespace_of(job.key), 0) + job.gpus
            continue
        no_room.add(shape)
        position += 1
        if shape not in fits_empty:
            fits_empty[shape] = fit(job, empty, nodes) is not None
        if not fits_empty[shape]:
            waiting.append(Waiting(job, WaitReason.EXCEEDS_POOL_CAPACITY, position, level))
            continue
        if preemption is not None and plan is None and no_victims.get(shape, -1) < job.priority:
            plan = plan_preemption(job, nodes, running, now, preemption, free=avail)
            if plan is not None:
                waiting.append(Waiting(job, WaitReason.PREEMPTING, position, level))
                after = take(give(free, [p for v in plan.victims for p in v.placements]), plan.placements)
                free = {name: min(free[name], after[name]) for name in free}
                avail = {name: free[name] - reserved[name] for name in free}
                free_version += 1
                continue
            no_victims[shape] = job.priority
        if _fits_free(job, shape, free, free_version, nodes, no_room_free, room_free):
            waiting.append(
                Waiting(job, WaitReason.WAITING_FOR_HIGHER_PRIORITY, position, level, first_blocker)
            )
        else:
            waiting.append(Waiting(job, WaitReason.INSUFFICIENT_CAPACITY, position, level))
        # What a blocked job reserves leaves less than one of its shards on each node it could use, so
        # later blocked jobs of the same spot mode and shard size would reserve nothing more.
        if (job.spot.value, job.gpus_per_shard) not in reserved_for:
            for name, gpus in _reserve(job, avail, nodes).items():
                reserved[name] += gpus
                avail[name] -= gpus
            reserved_for.add((job.spot.value, job.gpus_per_shard))
        first_blocker = first_blocker or job.key

    return AdmissionResult(tuple(admitted), tuple(waiting), plan)


def _fits_free(
    job: JobRequest,
    shape: Shape,
    free: FreeGPUs,
    version: int,
    nodes: Sequence[Node],
    never: set[Shape],
    fitted: dict[Shape, int],
) -> bool:
    """fit(job, free) remembered: a failure for good (free only shrinks), a fit until free changes."""
    if shape in never:
        return False
    if fitted.get(shape) == version:
        return True
    if fit(job, free, nodes) is None:
        never.add(shape)
        return False
    fitted[shape] = version
    return True
