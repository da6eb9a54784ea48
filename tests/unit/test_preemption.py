from __future__ import annotations

from datetime import timedelta

import pytest
from builders import at, job, node, running, usage
from hypothesis import given, settings
from hypothesis import strategies as st

from portalis_operator.admission import WaitReason
from portalis_operator.packing import Node, fit, free_gpus, give
from portalis_operator.preemption import PreemptionPolicy, can_preempt, plan_preemption
from portalis_operator.scheduling import SchedulingPolicy, schedule
from portalis_operator.workload import CapacityType, JobRequest, Priority, RunningJob, SpotMode

pytestmark = pytest.mark.unit

POLICY = PreemptionPolicy(min_runtime=timedelta(minutes=5))
NOW = at(60)


def full_pool(*runs: RunningJob) -> list[Node]:
    return [node(n).obj() for n in sorted({p.node for r in runs for p in r.placements})]


def victims(plan: object) -> list[str]:
    assert plan is not None
    return sorted(v.job.key.split("/")[1] for v in plan.victims)  # type: ignore[attr-defined]


def test_evicts_lower_priority_to_fit() -> None:
    low = running(job("low").priority("low").shards(1, 8).obj()).on("n1").obj()
    plan = plan_preemption(
        job("crit").priority("critical").shards(1, 8).obj(), full_pool(low), [low], NOW, POLICY
    )
    assert victims(plan) == ["low"]
    assert plan is not None
    assert [p.node for p in plan.placements] == ["n1"]


@pytest.mark.parametrize(
    ("victim", "why"),
    [
        (running(job("same").priority("high").shards(1, 8).obj()).on("n1").started(0).obj(), "same priority"),
        (running(job("young").priority("low").shards(1, 8).obj()).on("n1").started(57).obj(), "min runtime"),
    ],
)
def test_never_evicts(victim: RunningJob, why: str) -> None:
    assert (
        plan_preemption(
            job("p").priority("high").shards(1, 8).obj(), full_pool(victim), [victim], NOW, POLICY
        )
        is None
    ), why


def test_aging_grants_no_preemption() -> None:
    """An aged background job ranks as high but preempts by its base priority."""
    low = running(job("low").priority("low").shards(1, 8).obj()).on("n1").obj()
    aged = job("aged").priority("background").created(0).shards(1, 8).obj()
    assert plan_preemption(aged, full_pool(low), [low], NOW, POLICY) is None


def test_freshest_checkpoint_first() -> None:
    stale = running(job("stale").priority("low").shards(1, 8).obj()).on("n1").checkpoint(10).obj()
    fresh = running(job("fresh").priority("low").shards(1, 8).obj()).on("n2").checkpoint(59).obj()
    never = running(job("never").priority("background").shards(1, 8).obj()).on("n3").obj()
    runs = [stale, fresh, never]
    plan = plan_preemption(job("p").priority("high").shards(1, 8).obj(), full_pool(*runs), runs, NOW, POLICY)
    assert victims(plan) == ["fresh"]


def test_already_evicting_victims_first() -> None:
    fresh = running(job("fresh").priority("low").shards(1, 8).obj()).on("n1").checkpoint(60).obj()
    going = running(job("going").priority("low").shards(1, 8).obj()).on("n2").checkpoint(0).evicting().obj()
    runs = [fresh, going]
    plan = plan_preemption(job("p").priority("high").shards(1, 8).obj(), full_pool(*runs), runs, NOW, POLICY)
    assert victims(plan) == ["going"]


def test_only_if_it_makes_the_preemptor_fit() -> None:
    """Evicting the only low job frees 4 GPUs on n1; n1 still holds a high job: no 8-GPU shard fits."""
    low = running(job("low").priority("low").shards(1, 4).obj()).on("n1").obj()
    high = running(job("high").priority("high").shards(1, 4).obj()).on("n1").obj()
    assert (
        plan_preemption(
            job("p").priority("high").shards(1, 8).obj(), full_pool(low), [low, high], NOW, POLICY
        )
        is None
    )


def test_spares_victims_it_does_not_need() -> None:
    """Greedy takes the fresh 2-GPU job first, but the 8-GPU job alone is enough: the 2-GPU job is spared."""
    small = running(job("small").priority("low").shards(1, 2).obj()).on("n1").checkpoint(60).obj()
    big = running(job("big").priority("low").shards(1, 8).obj()).on("n2").checkpoint(30).obj()
    nodes = [node("n1").other(6).obj(), node("n2").obj()]
    plan = plan_preemption(job("p").priority("high").shards(1, 8).obj(), nodes, [small, big], NOW, POLICY)
    assert victims(plan) == ["big"]


def test_victims_on_nodes_the_preemptor_refuses_are_useless() -> None:
    low = running(job("low").priority("low").shards(1, 8).obj()).on("s1").obj()
    nodes = [node("s1").spot().obj(), node("od").other(8).obj()]
    assert (
        plan_preemption(
            job("p").priority("critical").spot("never").shards(1, 8).obj(), nodes, [low], NOW, POLICY
        )
        is None
    )


def test_no_preemption_when_it_fits_or_is_suspended() -> None:
    low = running(job("low").priority("low").shards(1, 8).obj()).on("n1").obj()
    nodes = [node("n1").obj(), node("n2").obj()]
    assert (
        plan_preemption(job("p").priority("critical").shards(1, 8).obj(), nodes, [low], NOW, POLICY) is None
    )
    nodes = [node("n1").obj()]
    assert (
        plan_preemption(
            job("p").priority("critical").suspended().shards(1, 8).obj(), nodes, [low], NOW, POLICY
        )
        is None
    )


# ------------------------------------------------------------------------------------------------------
# the scheduling cycle


def test_cycle_preempts_and_holds_the_freed_gpus() -> None:
    low = running(job("low").priority("low").shards(1, 8).obj()).on("n1").obj()
    nodes = [node("n1").obj()]
    queue = [job("crit").priority("critical").shards(1, 8).obj(), job("tiny").priority("high").obj()]
    decision = schedule(queue, nodes, [low], NOW, SchedulingPolicy(preemption=POLICY))
    assert victims(decision.preemption) == ["low"]
    crit = decision.waiting_for("ns/crit")
    assert crit is not None
    assert crit.reason is WaitReason.PREEMPTING
    # the victim's GPUs are promised to the preemptor, not to the job behind it
    assert decision.admitted == ()


def test_cycle_admits_what_fits_before_preempting() -> None:
    low = running(job("low").priority("low").shards(1, 8).obj()).on("n1").obj()
    nodes = [node("n1").obj(), node("n2").other(4).obj()]
    queue = [
        job("crit").priority("critical").shards(1, 8).obj(),
        job("small").priority("normal").shards(1, 4).obj(),
    ]
    decision = schedule(queue, nodes, [low], NOW, SchedulingPolicy(preemption=POLICY))
    assert decision.admitted_keys() == ["ns/small"]
    assert victims(decision.preemption) == ["low"]


# ------------------------------------------------------------------------------------------------------
# invariants


@st.composite
def preemption_cases(draw: st.DrawFn) -> tuple[list[Node], list[RunningJob], JobRequest]:
    nodes = [
        Node(f"n{i}", draw(st.sampled_from(list(CapacityType))), 8, draw(st.sampled_from([0, 0, 2, 4])))
        for i in range(draw(st.integers(1, 4)))
    ]
    runs: list[RunningJob] = []
    free = free_gpus(nodes, [])
    for i in range(draw(st.integers(0, 6))):
        r = (
            job(f"r{i}")
            .priority(draw(st.sampled_from(list(Priority))))
            .shards(draw(st.integers(1, 3)), gpus=draw(st.sampled_from([1, 2, 4, 8])))
            .obj()
        )
        placed = fit(r, free, nodes)
        if placed is None:
            continue
        checkpoint = draw(st.one_of(st.none(), st.integers(0, 60)))
        b = running(r).on(*[p.node for p in placed]).started(draw(st.integers(0, 60)))
        if checkpoint is not None:
            b = b.checkpoint(checkpoint)
        runs.append(b.obj())
        free = {n: free[n] - usage(placed).get(n, 0) for n in free}
    preemptor = (
        job("p")
        .priority(draw(st.sampled_from(list(Priority))))
        .shards(draw(st.integers(1, 3)), gpus=draw(st.sampled_from([1, 2, 4, 8])))
        .spot(draw(st.sampled_from(list(SpotMode))))
        .obj()
    )
    return nodes, runs, preemptor


@settings(max_examples=300, deadline=None)
@given(case=preemption_cases())
def test_preemption_invariants(case: tuple[list[Node], list[RunningJob], JobRequest]) -> None:
    nodes, runs, preemptor = case
    free = free_gpus(nodes, runs)
    plan = plan_preemption(preemptor, nodes, runs, NOW, POLICY)
    allowed = [r for r in runs if can_preempt(preemptor, r, NOW, POLICY)]
    if plan is None:
        # either it fits already, or even evicting every allowed victim would not make it fit
        everything = give(free, [p for r in allowed for p in r.placements])
        assert fit(preemptor, free, nodes) is not None or fit(preemptor, everything, nodes) is None
        return
    assert fit(preemptor, free, nodes) is None
    for v in plan.victims:
        assert v.job.priority < preemptor.priority
        assert NOW - v.started_at >= POLICY.min_runtime
    after = give(free, [p for v in plan.victims for p in v.placements])
    assert fit(preemptor, after, nodes) is not None
    # the placements are real: within the freed capacity
    for name, gpus in usage(plan.placements).items():
        assert gpus <= after[name]
    # minimal: sparing any one victim breaks the fit
    for spared in plan.victims:
        rest = [p for v in plan.victims if v is not spared for p in v.placements]
        assert fit(preemptor, give(free, rest), nodes) is None


@settings(max_examples=200, deadline=None)
@given(
    case=preemption_cases(),
    others=st.lists(st.tuples(st.sampled_from(list(Priority)), st.sampled_from([1, 2, 4, 8])), max_size=4),
)
def test_cycle_never_overcommits(
    case: tuple[list[Node], list[RunningJob], JobRequest], others: list[tuple[Priority, int]]
) -> None:
    """Admissions and the preemptor's placements fit; the victims' GPUs go to the preemptor only."""
    nodes, runs, preemptor = case
    queue = [
        preemptor,
        *(job(f"q{i}").priority(p).shards(1, g).created(1).obj() for i, (p, g) in enumerate(others)),
    ]
    decision = schedule(queue, nodes, runs, NOW, SchedulingPolicy(preemption=POLICY))
    start = free_gpus(nodes, runs)
    admitted = usage([p for a in decision.admitted for p in a.placements])
    held = dict.fromkeys(start, 0)
    if decision.preemption is not None:
        freed = usage([p for v in decision.preemption.victims for p in v.placements])
        for name, gpus in usage(decision.preemption.placements).items():
            assert gpus <= start[name] + freed.get(name, 0)
            held[name] = max(0, gpus - freed.get(name, 0))
        assert decision.preemption.preemptor.key not in decision.admitted_keys()
    for name in start:
        assert admitted.get(name, 0) + held[name] <= start[name]
