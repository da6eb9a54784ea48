"""admission.admit remembers what cannot fit (its pass stays about linear in the queue); this checks it
decides exactly as the plain pass did, which is kept here as the oracle: every job, reason, position,
placement and preemption the same, on random pools, running jobs and queues."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import builders
import pytest
from builders import at, running, usage
from hypothesis import given, settings
from hypothesis import strategies as st

from portalis_operator.admission import (
    AdmissionResult,
    Admitted,
    Waiting,
    WaitReason,
    _reserve,
    admit,
)
from portalis_operator.packing import Node, capacity, fit, free_gpus, give, take
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
from portalis_operator.workload import CapacityType, JobRequest, Priority, RunningJob, SpotMode

pytestmark = pytest.mark.unit

AGING = AgingPolicy(interval=timedelta(minutes=10))


def reference_admit(
    queued: Sequence[JobRequest],
    nodes: Sequence[Node],
    running: Sequence[RunningJob],
    now: datetime,
    aging: AgingPolicy = DEFAULT_AGING,
    preemption: PreemptionPolicy | None = None,
    quotas: NamespaceQuotas = NO_QUOTAS,
) -> AdmissionResult:
    free = free_gpus(nodes, running)
    held = gpus_by_namespace(running)
    empty = capacity(nodes)
    reserved: dict[str, int] = dict.fromkeys(free, 0)
    first_blocker: str | None = None
    plan: PreemptionPlan | None = None
    admitted: list[Admitted] = []
    waiting: list[Waiting] = []
    position = 0

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
        avail = {name: free[name] - reserved[name] for name in free}
        placements = fit(job, avail, nodes)
        if placements is not None:
            admitted.append(Admitted(job, placements))
            free = take(free, placements)
            held[namespace_of(job.key)] = held.get(namespace_of(job.key), 0) + job.gpus
            continue
        position += 1
        if fit(job, empty, nodes) is None:
            waiting.append(Waiting(job, WaitReason.EXCEEDS_POOL_CAPACITY, position, level))
            continue
        if preemption is not None and plan is None:
            plan = plan_preemption(job, nodes, running, now, preemption, free=avail)
            if plan is not None:
                waiting.append(Waiting(job, WaitReason.PREEMPTING, position, level))
                after = take(give(free, [p for v in plan.victims for p in v.placements]), plan.placements)
                free = {name: min(free[name], after[name]) for name in free}
                continue
        if fit(job, free, nodes) is not None:
            waiting.append(
                Waiting(job, WaitReason.WAITING_FOR_HIGHER_PRIORITY, position, level, first_blocker)
            )
        else:
            waiting.append(Waiting(job, WaitReason.INSUFFICIENT_CAPACITY, position, level))
        for name, gpus in _reserve(job, avail, nodes).items():
            reserved[name] += gpus
        first_blocker = first_blocker or job.key

    return AdmissionResult(tuple(admitted), tuple(waiting), plan)


@st.composite
def clusters(draw: st.DrawFn) -> tuple[list[Node], list[RunningJob], list[JobRequest]]:
    """Many jobs of few shapes on a small pool: the memory of what did not fit is what is exercised."""
    nodes = [
        Node(
            name=f"n{i}",
            capacity_type=draw(st.sampled_from(list(CapacityType))),
            gpus=8,
            gpus_other=draw(st.sampled_from([0, 0, 1, 4])),
            schedulable=draw(st.integers(0, 7)) > 0,
        )
        for i in range(draw(st.integers(1, 6)))
    ]
    runs: list[RunningJob] = []
    free = free_gpus(nodes, [])
    for i in range(draw(st.integers(0, 8))):
        r = (
            builders.job(f"r{i}")
            .priority(draw(st.sampled_from(list(Priority))))
            .shards(draw(st.integers(1, 3)), gpus=draw(st.sampled_from([1, 2, 4, 8])))
            .namespace(draw(st.sampled_from(["a", "b"])))
            .obj()
        )
        placed = fit(r, free, nodes)
        if placed is not None:
            started = draw(st.integers(-30, 0))
            runs.append(running(r).on(*[p.node for p in placed]).started(started).obj())
            free = {n: free[n] - usage(placed).get(n, 0) for n in free}
    jobs = [
        builders.job(f"j{i}")
        .priority(draw(st.sampled_from(list(Priority))))
        .shards(draw(st.integers(1, 3)), gpus=draw(st.sampled_from([1, 2, 4, 8])))
        .spot(draw(st.sampled_from(list(SpotMode))))
        .created(draw(st.integers(0, 60)))
        .suspended(draw(st.integers(0, 12)) == 0)
        .namespace(draw(st.sampled_from(["a", "b"])))
        .obj()
        for i in range(draw(st.integers(0, 30)))
    ]
    return nodes, runs, jobs


@settings(max_examples=400, deadline=None)
@given(
    cluster=clusters(),
    now=st.integers(0, 120),
    preempting=st.booleans(),
    quota=st.sampled_from([None, 4, 12]),
)
def test_admit_decides_as_the_plain_pass(
    cluster: tuple[list[Node], list[RunningJob], list[JobRequest]],
    now: int,
    preempting: bool,
    quota: int | None,
) -> None:
    nodes, runs, jobs = cluster
    policy = PreemptionPolicy(min_runtime=timedelta(minutes=10)) if preempting else None
    quotas = NO_QUOTAS if quota is None else NamespaceQuotas(default=None, limits={"a": quota})
    t = at(now)
    assert admit(jobs, nodes, runs, t, AGING, policy, quotas) == reference_admit(
        jobs, nodes, runs, t, AGING, policy, quotas
    )
