"""Preemption: which running jobs a blocked job may evict.

Rules: the preemptor must not fit as things are; victims have a strictly lower *base* priority (aging
never grants preemption) and have run at least `min_runtime` (so a job always makes some progress
between evictions); victims are taken in order of least work lost (jobs already being evicted, then
least time since their last checkpoint), then lowest priority; the set is only returned if evicting it
makes the preemptor fit, and is then pruned so that no victim could be spared.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from portalis_operator.packing import FreeGPUs, Node, eligible_nodes, fit, free_gpus, give
from portalis_operator.workload import JobRequest, RunningJob, ShardPlacement


@dataclass(frozen=True)
class PreemptionPolicy:
    min_runtime: timedelta = timedelta(minutes=5)


DEFAULT_PREEMPTION = PreemptionPolicy()


@dataclass(frozen=True)
class PreemptionPlan:
    """Evict `victims` (checkpoint, requeue); then `preemptor` fits at `placements`."""

    preemptor: JobRequest
    victims: tuple[RunningJob, ...]
    placements: tuple[ShardPlacement, ...]


def can_preempt(preemptor: JobRequest, victim: RunningJob, now: datetime, policy: PreemptionPolicy) -> bool:
    return victim.job.priority < preemptor.priority and now - victim.started_at >= policy.min_runtime


def plan_preemption(
    preemptor: JobRequest,
    nodes: Sequence[Node],
    running: Sequence[RunningJob],
    now: datetime,
    policy: PreemptionPolicy = DEFAULT_PREEMPTION,
    free: FreeGPUs | None = None,
) -> PreemptionPlan | None:
    """The victims whose eviction lets `preemptor` fit, or None (fits already, or no such set).

    `free` is the capacity open to the preemptor (default: free GPUs after `running`); the scheduling
    cycle passes less when earlier jobs hold or reserve some.
    """
    if preemptor.suspended:
        return None
    free = dict(free) if free is not None else free_gpus(nodes, running)
    if fit(preemptor, free, nodes) is not None:
        return None
    useful = {n.name for n in eligible_nodes(preemptor, nodes)}
    candidates = sorted(
        (
            r
            for r in running
            if can_preempt(preemptor, r, now, policy) and any(p.node in useful for p in r.placements)
        ),
        key=lambda r: (not r.evicting, r.work_at_risk_seconds(now), r.job.priority, -r.job.gpus, r.job.key),
    )
    chosen: list[RunningJob] = []
    freed = dict(free)
    for victim in candidates:
        chosen.append(victim)
        freed = give(freed, victim.placements)
        if fit(preemptor, freed, nodes) is not None:
            break
    else:
        return None

    # Spare every victim the preemptor does not need, most work at risk first.
    for victim in reversed(list(chosen)):
        rest = [v for v in chosen if v is not victim]
        without = free
        for v in rest:
            without = give(without, v.placements)
        if fit(preemptor, without, nodes) is not None:
            chosen = rest

    final = free
    for v in chosen:
        final = give(final, v.placements)
    placements = fit(preemptor, final, nodes)
    assert placements is not None
    return PreemptionPlan(preemptor, tuple(chosen), placements)
