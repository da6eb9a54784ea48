from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from builders import T0, at, job, node, running, usage
from hypothesis import given, settings
from hypothesis import strategies as st

from portalis_operator.admission import WaitReason, admit
from portalis_operator.packing import Node, capacity, fit, free_gpus, give
from portalis_operator.placement import eligible_capacity_types
from portalis_operator.queueing import AgingPolicy, effective_priority, queue_order
from portalis_operator.workload import CapacityType, JobRequest, Priority, RunningJob, SpotMode

pytestmark = pytest.mark.unit

AGING = AgingPolicy(interval=timedelta(minutes=10))


def names(keys: list[str]) -> list[str]:
    return [k.split("/")[1] for k in keys]


# ------------------------------------------------------------------------------------------------------
# packing


def test_fit_is_per_shard_not_a_sum() -> None:
    """16 free GPUs in total, but no node has 8 free: an 8-GPU shard does not fit."""
    nodes = [node(f"n{i}").gpus(8).other(4).obj() for i in range(4)]
    assert fit(job("a").shards(1, gpus=8).obj(), free_gpus(nodes, []), nodes) is None
    assert fit(job("b").shards(4, gpus=4).obj(), free_gpus(nodes, []), nodes) is not None


def test_fit_prefers_spot_then_best_fit() -> None:
    nodes = [
        node("od").gpus(8).obj(),
        node("s-big").spot().gpus(8).obj(),
        node("s-small").spot().gpus(8).other(6).obj(),
    ]
    placed = fit(job("a").shards(2, gpus=2).obj(), free_gpus(nodes, []), nodes)
    assert placed is not None
    assert [p.node for p in placed] == ["s-small", "s-big"]


# ------------------------------------------------------------------------------------------------------
# admission: table


def test_admits_in_priority_order_when_room_for_one() -> None:
    nodes = [node("n1").gpus(8).obj()]
    queue = [
        job("low").priority("low").shards(1, 8).obj(),
        job("high").priority("high").shards(1, 8).created(5).obj(),
    ]
    result = admit(queue, nodes, [], at(5), AGING)
    assert names(result.admitted_keys()) == ["high"]
    low = result.waiting_for("ns/low")
    assert low is not None
    assert low.reason is WaitReason.INSUFFICIENT_CAPACITY
    assert low.position == 1


@pytest.mark.parametrize(
    ("mode", "nodes", "expected_nodes"),
    [
        ("never", [node("s").spot().obj(), node("od").obj()], ["od"]),
        ("required", [node("s").spot().obj(), node("od").obj()], ["s"]),
        ("preferred", [node("s").spot().obj(), node("od").obj()], ["s"]),
        ("preferred", [node("s").spot().other(8).obj(), node("od").obj()], ["od"]),
    ],
)
def test_spot_mode_decides_nodes(mode: str, nodes: list[Node], expected_nodes: list[str]) -> None:
    result = admit([job("a").spot(mode).shards(1, 4).obj()], nodes, [], T0, AGING)
    assert [p.node for p in result.admitted[0].placements] == expected_nodes


@pytest.mark.parametrize(
    ("queue", "nodes", "reason"),
    [
        ([job("a").spot("required").obj()], [node("od").obj()], WaitReason.EXCEEDS_POOL_CAPACITY),
        (
            [job("a").shards(3, 8).obj()],
            [node("n1").obj(), node("n2").obj()],
            WaitReason.EXCEEDS_POOL_CAPACITY,
        ),
        ([job("a").suspended().obj()], [node("n1").obj()], WaitReason.SUSPENDED),
        ([job("a").shards(1, 8).obj()], [node("n1").other(1).obj()], WaitReason.EXCEEDS_POOL_CAPACITY),
        ([job("a").obj()], [node("n1").unschedulable().obj()], WaitReason.EXCEEDS_POOL_CAPACITY),
    ],
)
def test_wait_reasons(queue: list[JobRequest], nodes: list[Node], reason: WaitReason) -> None:
    result = admit(queue, nodes, [], T0, AGING)
    assert result.admitted == ()
    assert result.waiting[0].reason is reason


def test_suspended_and_oversized_jobs_do_not_block() -> None:
    nodes = [node("n1").obj()]
    queue = [
        job("susp").priority("critical").suspended().obj(),
        job("huge").priority("critical").shards(2, 8).obj(),
        job("small").priority("low").shards(1, 8).obj(),
    ]
    result = admit(queue, nodes, [], T0, AGING)
    assert names(result.admitted_keys()) == ["small"]
    susp = result.waiting_for("ns/susp")
    assert susp is not None
    assert susp.position is None


def test_blocked_head_reserves_what_it_can_use() -> None:
    """head needs 2 x 8; n1 is free, n2 busy. A lower 8-GPU job would fit n1, but n1 is the head's."""
    nodes = [node("n1").obj(), node("n2").obj()]
    busy = running(job("busy").priority("critical").shards(1, 8).obj()).on("n2").obj()
    queue = [job("head").priority("high").shards(2, 8).obj(), job("next").priority("low").shards(1, 8).obj()]
    result = admit(queue, nodes, [busy], T0, AGING)
    assert result.admitted == ()
    nxt = result.waiting_for("ns/next")
    assert nxt is not None
    assert nxt.reason is WaitReason.WAITING_FOR_HIGHER_PRIORITY
    assert nxt.blocked_by == "ns/head"
    assert nxt.position == 2


def test_backfill_into_remainders_the_head_cannot_use() -> None:
    """head needs an 8-GPU shard; each node has 4 free: a 2-GPU job may take them."""
    nodes = [node("n1").obj(), node("n2").obj()]
    runs = [running(job(f"r{i}").priority("critical").shards(1, 4).obj()).on(f"n{i}").obj() for i in (1, 2)]
    queue = [job("head").priority("high").shards(1, 8).obj(), job("small").priority("low").shards(2, 2).obj()]
    result = admit(queue, nodes, runs, T0, AGING)
    assert names(result.admitted_keys()) == ["small"]


def test_backfill_onto_capacity_types_the_head_refuses() -> None:
    nodes = [node("od").obj(), node("s").spot().obj()]
    busy = running(job("busy").priority("critical").spot("never").shards(1, 8).obj()).on("od").obj()
    queue = [
        job("head").priority("critical").spot("never").shards(1, 8).obj(),
        job("cheap").priority("background").obj(),
    ]
    result = admit(queue, nodes, [busy], T0, AGING)
    assert names(result.admitted_keys()) == ["cheap"]
    assert result.admitted[0].placements[0].node == "s"


def test_aging_gets_an_old_low_job_in_first() -> None:
    nodes = [node("n1").obj()]
    queue = [
        job("old").priority("low").shards(1, 8).created(0).obj(),
        job("new").priority("normal").shards(1, 8).created(25).obj(),
    ]
    assert names(admit(queue, nodes, [], at(25), AGING).admitted_keys()) == ["old"]
    assert names(
        admit(queue, nodes, [], at(25), AgingPolicy(interval=timedelta(hours=1))).admitted_keys()
    ) == ["new"]


# ------------------------------------------------------------------------------------------------------
# admission: invariants


@st.composite
def snapshots(draw: st.DrawFn) -> tuple[list[Node], list[RunningJob], list[JobRequest]]:
    """A pool, running jobs placed consistently on it (by fit), and a queue."""
    nodes = [
        Node(
            name=f"n{i}",
            capacity_type=draw(st.sampled_from(list(CapacityType))),
            gpus=8,
            gpus_other=draw(st.sampled_from([0, 0, 0, 1, 4, 8])),
            schedulable=draw(st.integers(0, 5)) > 0,
        )
        for i in range(draw(st.integers(1, 5)))
    ]
    jobs = [
        job(f"j{i}")
        .priority(draw(st.sampled_from(list(Priority))))
        .shards(draw(st.integers(1, 4)), gpus=draw(st.sampled_from([1, 2, 4, 8])))
        .spot(draw(st.sampled_from(list(SpotMode))))
        .created(draw(st.integers(0, 60)))
        .suspended(draw(st.integers(0, 9)) == 0)
        .obj()
        for i in range(draw(st.integers(0, 10)))
    ]
    runs: list[RunningJob] = []
    free = free_gpus(nodes, [])
    for i in range(draw(st.integers(0, 4))):
        r = (
            job(f"r{i}")
            .priority(draw(st.sampled_from(list(Priority))))
            .shards(draw(st.integers(1, 3)), gpus=draw(st.sampled_from([1, 2, 4, 8])))
            .obj()
        )
        placed = fit(r, free, nodes)
        if placed is not None:
            runs.append(running(r).on(*[p.node for p in placed]).obj())
            free = {n: free[n] - usage(placed).get(n, 0) for n in free}
    return nodes, runs, jobs


@settings(max_examples=300, deadline=None)
@given(snap=snapshots(), now=st.integers(0, 120))
def test_admission_invariants(snap: tuple[list[Node], list[RunningJob], list[JobRequest]], now: int) -> None:
    nodes, runs, jobs = snap
    t = at(now)
    result = admit(jobs, nodes, runs, t, AGING)
    by_key = {n.name: n for n in nodes}

    # every job decided exactly once
    decided = [a.job.key for a in result.admitted] + [w.job.key for w in result.waiting]
    assert sorted(decided) == sorted(j.key for j in jobs)

    # never over capacity on any node; shards complete, on eligible schedulable nodes
    start_free = free_gpus(nodes, runs)
    used: dict[str, int] = {}
    for a in result.admitted:
        assert not a.job.suspended
        assert len(a.placements) == a.job.shards
        for p in a.placements:
            assert p.gpus == a.job.gpus_per_shard
            assert by_key[p.node].schedulable
            assert by_key[p.node].capacity_type in eligible_capacity_types(a.job.spot)
            used[p.node] = used.get(p.node, 0) + p.gpus
    for name, gpus in used.items():
        assert gpus <= start_free[name]
    final_free = {n: start_free[n] - used.get(n, 0) for n in start_free}

    order = [j.key for j in queue_order(jobs, t, AGING)]
    admitted = {a.job.key: a for a in result.admitted}
    level = {j.key: effective_priority(j, t, AGING) for j in jobs}

    def freed_if_not_admitted(after: str) -> dict[str, int]:
        """final free plus the GPUs of every job admitted behind `after` in queue order."""
        behind = order[order.index(after) + 1 :]
        return give(final_free, [p for k in behind if k in admitted for p in admitted[k].placements])

    blockers = [
        w
        for w in result.waiting
        if w.reason in (WaitReason.INSUFFICIENT_CAPACITY, WaitReason.WAITING_FOR_HIGHER_PRIORITY)
    ]
    for w in result.waiting:
        if w.reason is WaitReason.EXCEEDS_POOL_CAPACITY:
            assert fit(w.job, capacity(nodes), nodes) is None
        if w.reason is WaitReason.INSUFFICIENT_CAPACITY:
            # nothing admitted behind it took capacity it could have used
            assert fit(w.job, freed_if_not_admitted(w.job.key), nodes) is None
            # the brief's phrasing: no admitted lower job while this (higher) job could have fit instead
            for a in result.admitted:
                if level[a.job.key] < level[w.job.key]:
                    assert fit(w.job, give(final_free, a.placements), nodes) is None
        if w.reason is WaitReason.WAITING_FOR_HIGHER_PRIORITY:
            ahead = [b for b in blockers if order.index(b.job.key) < order.index(w.job.key)]
            assert ahead, "WaitingForHigherPriority without a blocked job ahead"
            assert all(level[b.job.key] >= level[w.job.key] for b in ahead)
    if blockers:
        # the first blocked job cannot starve: backfill behind it never used capacity it could use
        first = blockers[0]
        assert first.reason is WaitReason.INSUFFICIENT_CAPACITY
        assert fit(first.job, freed_if_not_admitted(first.job.key), nodes) is None

    # positions: 1..n over non-suspended waiting jobs, in queue order
    positions = [
        w.position for w in sorted(result.waiting, key=lambda w: order.index(w.job.key)) if w.position
    ]
    assert positions == list(range(1, len(positions) + 1))
    assert all((w.position is None) == w.job.suspended for w in result.waiting)


def test_a_job_whose_output_path_is_in_use_waits_and_blocks_no_one() -> None:
    # Issue 13, item 10: two live jobs on one output path clobbered each other's crate and ledger.
    nodes = [node("n1").gpus(8).obj()]
    first = dataclasses.replace(job("first").shards(1, gpus=8).created(0).obj(), output_in_use_by="ns/owner")
    behind = job("behind").shards(1, gpus=8).created(1).obj()
    result = admit([first, behind], nodes, [], at(5))
    assert names(result.admitted_keys()) == ["behind"]  # it reserves no capacity
    (waiting,) = result.waiting
    assert (waiting.job.key, waiting.reason) == (first.key, WaitReason.OUTPUT_PATH_IN_USE)
    assert (waiting.position, waiting.blocked_by) == (None, "ns/owner")
