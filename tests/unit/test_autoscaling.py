from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from builders import T0, job, running
from hypothesis import given, settings
from hypothesis import strategies as st

from portalis_operator import api
from portalis_operator.autoscaling import (
    DEFAULT_AUTOSCALING,
    AutoscalingPolicy,
    Demand,
    Direction,
    NodeActivity,
    NodeCounts,
    Reason,
    ScaleHistory,
    decide,
    demand,
    desired_nodes,
    fits_at_max,
    spot_share,
    track_idle,
)
from portalis_operator.workload import CapacityType, JobRequest, RunningJob

pytestmark = pytest.mark.unit

POLICY = DEFAULT_AUTOSCALING
SPOT, OD = CapacityType.SPOT, CapacityType.ON_DEMAND


def secs(n: float) -> datetime:
    return T0 + timedelta(seconds=n)


def nodes(
    spot: int = 0, od: int = 0, busy: bool = False, idle_since: datetime | None = T0
) -> list[NodeActivity]:
    out = [NodeActivity(f"spot-{i}", SPOT, busy, None if busy else idle_since) for i in range(spot)]
    out += [NodeActivity(f"od-{i}", OD, busy, None if busy else idle_since) for i in range(od)]
    return out


def waiting(name: str, shards: int, gpus: int = 8, spot: str = "preferred", since: float = 0) -> JobRequest:
    return job(name).shards(shards, gpus).spot(spot).queued_since(secs(since)).obj()


# ------------------------------------------------------------------------------------------------------
# the split, as documented in docs/autoscaling.md


@pytest.mark.parametrize(
    ("total", "spot", "od"),
    [(0, 0, 1), (1, 0, 1), (2, 1, 1), (3, 2, 1), (4, 3, 1), (5, 4, 1), (8, 6, 2), (10, 7, 3)],
)
def test_default_split(total: int, spot: int, od: int) -> None:
    assert desired_nodes(Demand(0, 0, total), replace(POLICY, min_nodes=0)) == NodeCounts(spot, od)


@pytest.mark.parametrize(
    ("total", "ratio", "expected"),
    [(1, 0.75, 1), (2, 0.75, 1), (5, 0.75, 4), (10, 0.75, 7), (10, 0.7, 7), (3, 0.5, 1), (10, 1.0, 10)],
)
def test_spot_share_rounds_to_nearest_ties_to_on_demand(total: int, ratio: float, expected: int) -> None:
    assert spot_share(total, ratio) == expected


def test_min_on_demand_beats_ratio() -> None:
    policy = replace(POLICY, min_on_demand=3)
    assert desired_nodes(Demand(0, 0, 4), policy) == NodeCounts(1, 3)
    assert desired_nodes(Demand(0, 0, 1), policy) == NodeCounts(0, 3)  # min 1, but 3 on-demand


def test_on_demand_demand_is_covered_first_then_spot_only_demand() -> None:
    # 4 on-demand-only nodes and 8 spot-only nodes asked of a 10-node pool: on-demand wins in full.
    assert desired_nodes(Demand(on_demand=4, spot=8, total=12), POLICY) == NodeCounts(6, 4)
    # 12 on-demand-only nodes: clamped to 10, all on-demand.
    assert desired_nodes(Demand(on_demand=12, spot=0, total=12), POLICY) == NodeCounts(0, 10)


def test_spot_only_demand_overrides_a_low_ratio() -> None:
    policy = replace(POLICY, spot_target_ratio=0.0, min_on_demand=0)
    assert desired_nodes(Demand(on_demand=0, spot=2, total=2), policy) == NodeCounts(2, 0)


def test_demand_packs_shards_per_node() -> None:
    jobs = [
        job("a").shards(3, 4).spot("never").obj(),  # 12 GPUs: 2 on-demand nodes, 4 free on one
        job("b").shards(2, 2).obj(),  # preferred: fits the 4 left on the on-demand node
        job("c").shards(1, 8).spot("required").obj(),  # one spot node
        job("d").shards(3, 3).obj(),  # 3-GPU shards: 2 per node -> 2 more nodes
    ]
    assert demand(jobs, POLICY) == Demand(on_demand=2, spot=1, total=5)


def test_jobs_that_cannot_fit_at_max_are_not_demand() -> None:
    assert not fits_at_max(waiting("a", 11), POLICY)
    assert fits_at_max(waiting("a", 10), POLICY)
    assert fits_at_max(waiting("a", 10, spot="never"), POLICY)
    assert not fits_at_max(waiting("a", 10, spot="required"), POLICY)  # one node stays on-demand
    assert fits_at_max(waiting("a", 9, spot="required"), POLICY)


# ------------------------------------------------------------------------------------------------------
# one cycle: table


def test_steady_pool_holds() -> None:
    d = decide([], [], nodes(od=1), ScaleHistory(), secs(1000))
    assert (d.direction, d.reason, d.target) == (None, Reason.STEADY, NodeCounts(0, 1))


def test_empty_pool_is_repaired_to_minimum_at_once() -> None:
    d = decide([], [], [], ScaleHistory(last_scale_up=secs(0)), secs(1))
    assert (d.direction, d.reason, d.target) == (Direction.UP, Reason.SCALE_UP_POOL_MINIMUM, NodeCounts(0, 1))
    big = replace(POLICY, min_nodes=5)
    d = decide([], [], [], ScaleHistory(), secs(1), big)
    assert d.target == NodeCounts(4, 1)  # in full, not in steps


def test_queued_demand_waits_for_delay_then_steps_up_by_two() -> None:
    queue = [waiting("a", 5, since=0)]
    early = decide([], queue, nodes(od=1, busy=True), ScaleHistory(), secs(59))
    assert (early.direction, early.reason) == (None, Reason.WAITING_FOR_DELAY)
    d = decide([], queue, nodes(od=1, busy=True), ScaleHistory(), secs(60))
    assert d.direction is Direction.UP
    assert d.reason is Reason.SCALE_UP_QUEUED_DEMAND
    assert d.desired == NodeCounts(4, 1)
    assert d.target == NodeCounts(2, 1)


def test_scale_up_cooldown() -> None:
    queue = [waiting("a", 5, since=0)]
    pool = nodes(spot=2, od=1, busy=True)
    held = decide([], queue, pool, ScaleHistory(last_scale_up=secs(100)), secs(279))
    assert (held.direction, held.reason) == (None, Reason.SCALE_UP_COOLDOWN)
    d = decide([], queue, pool, ScaleHistory(last_scale_up=secs(100)), secs(280))
    assert d.target == NodeCounts(4, 1)


def test_on_demand_demand_is_bought_first() -> None:
    queue = [waiting("crit", 2, spot="never", since=0), waiting("cheap", 4, since=0)]
    d = decide([], queue, nodes(od=1, busy=True), ScaleHistory(), secs(60))
    assert d.desired == NodeCounts(4, 2)  # 6 nodes: ratio says 4 spot + 2 on-demand; od demand is 2
    assert d.target == NodeCounts(1, 2)  # the second on-demand node before the first spot node


def test_spot_only_job_beyond_current_pool_grows_spot() -> None:
    queue = [waiting("r", 1, spot="required", since=0)]
    d = decide([], queue, nodes(od=1), ScaleHistory(), secs(60))
    assert d.target == NodeCounts(1, 1)


def test_suspended_and_oversized_jobs_buy_nothing() -> None:
    queue = [
        job("s").shards(4, 8).suspended().obj(),
        waiting("huge", 20, since=0),
        waiting("spot-only-too-big", 10, spot="required", since=0),
    ]
    d = decide([], queue, nodes(od=1), ScaleHistory(), secs(600))
    assert (d.direction, d.desired) == (None, NodeCounts(0, 1))


def test_admitted_demand_without_queue_does_not_grow_but_recovery_pending_does() -> None:
    run = running(job("a").shards(4, 8).obj()).on("spot-0", "spot-1", "od-0", "gone").obj()
    pool = nodes(spot=2, od=1, busy=True)
    held = decide([run], [], pool, ScaleHistory(), secs(600))
    assert (held.direction, held.reason) == (None, Reason.NO_QUEUED_DEMAND)
    d = decide([run], [], pool, ScaleHistory(), secs(600), pending_since=secs(500))
    assert d.target == NodeCounts(3, 1)


def test_never_grows_past_max() -> None:
    policy = replace(POLICY, max_nodes=3)
    pool = nodes(od=3, busy=True)  # all on-demand and busy; the queue wants spot
    d = decide([], [waiting("r", 1, spot="required")], pool, ScaleHistory(), secs(600), policy)
    assert (d.direction, d.reason, d.target) == (None, Reason.AT_MAXIMUM, NodeCounts(0, 3))


def test_scale_down_removes_one_idle_node_after_idle_time_and_cooldown() -> None:
    pool = [
        NodeActivity("od-0", OD, busy=True),
        NodeActivity("spot-0", SPOT, idle_since=secs(0)),
        NodeActivity("spot-1", SPOT, idle_since=secs(100)),
        NodeActivity("spot-2", SPOT, busy=True),
    ]
    run = running(job("a").shards(2, 8).obj()).on("od-0", "spot-2").obj()
    desired = NodeCounts(1, 1)
    early = decide([run], [], pool, ScaleHistory(), secs(299))
    assert (early.direction, early.reason, early.desired) == (None, Reason.WAITING_FOR_IDLE_NODES, desired)
    cooling = decide([run], [], pool, ScaleHistory(last_scale_up=secs(100)), secs(399))
    assert cooling.reason is Reason.SCALE_DOWN_COOLDOWN
    d = decide([run], [], pool, ScaleHistory(last_scale_down=secs(0)), secs(300))
    assert (d.direction, d.remove, d.target) == (Direction.DOWN, ("spot-0",), NodeCounts(2, 1))
    later = decide([run], [], pool[:1] + pool[2:], ScaleHistory(last_scale_down=secs(300)), secs(600))
    assert later.remove == ("spot-1",)


def test_leaving_nodes_are_not_capacity_nor_removed() -> None:
    pool = [NodeActivity("od-0", OD, idle_since=T0), NodeActivity("od-1", OD, idle_since=T0, leaving=True)]
    d = decide([], [], pool, ScaleHistory(), secs(10_000))
    assert (d.current, d.direction) == (NodeCounts(0, 1), None)


def test_track_idle() -> None:
    first = track_idle({}, ["a", "b"], ["b"], secs(0))
    assert first == {"a": secs(0)}
    second = track_idle(first, ["a", "b"], ["a"], secs(10))
    assert second == {"b": secs(10)}
    assert track_idle(second, ["a", "b"], [], secs(20)) == {"a": secs(20), "b": secs(10)}


def test_policy_from_spec_uses_crd_defaults() -> None:
    spec = api.GPUPoolSpec.model_validate({"provider": {"type": "kwok"}})
    # Portalis' own policy (DESIGN.md), which only the CRD states: [1, 10] nodes, 75 % spot, one
    # on-demand; up +2 after 60 s of queue (cooldown 180 s), down -1 after 300 s idle (cooldown 300 s).
    assert AutoscalingPolicy.from_spec(spec) == DEFAULT_AUTOSCALING
    p = DEFAULT_AUTOSCALING
    assert (p.min_nodes, p.max_nodes, p.gpus_per_node) == (1, 10, 8)
    assert (p.spot_target_ratio, p.min_on_demand) == (0.75, 1)
    assert (p.up_step, p.up_delay_seconds, p.up_cooldown_seconds) == (2, 60, 180)
    assert (p.down_step, p.down_idle_seconds, p.down_cooldown_seconds) == (1, 300, 300)


# ------------------------------------------------------------------------------------------------------
# invariants

policies = st.builds(
    lambda mn, extra, ratio, mod, up, down: replace(
        POLICY,
        min_nodes=mn,
        max_nodes=mn + extra,
        spot_target_ratio=ratio,
        min_on_demand=min(mod, mn + extra),
        up_step=up,
        down_step=down,
    ),
    st.integers(0, 5),
    st.integers(0, 8).map(lambda e: max(e, 1)),
    st.sampled_from([0.0, 0.25, 0.5, 0.7, 0.75, 0.9, 1.0]),
    st.integers(0, 4),
    st.integers(1, 3),
    st.integers(1, 2),
)
requests = st.builds(
    lambda i, shards, gpus, mode, suspended, since: (
        waiting(f"j{i}", shards, gpus, mode, since)
        if not suspended
        else job(f"s{i}").shards(shards, gpus).spot(mode).suspended().obj()
    ),
    st.integers(0, 10_000),
    st.integers(1, 6),
    st.sampled_from([1, 2, 4, 8]),
    st.sampled_from(["preferred", "required", "never"]),
    st.booleans(),
    st.integers(0, 600),
)
pools = st.lists(
    st.builds(
        lambda i, ct, busy, idle, leaving: NodeActivity(
            f"n{i}", ct, busy, None if busy else secs(idle), leaving
        ),
        st.integers(0, 10_000),
        st.sampled_from([SPOT, OD]),
        st.booleans(),
        st.integers(0, 900),
        st.booleans(),
    ),
    max_size=14,
    unique_by=lambda n: n.name,
)
histories = st.builds(
    ScaleHistory,
    st.none() | st.integers(0, 900).map(secs),
    st.none() | st.integers(0, 900).map(secs),
)


def _running(pool: list[NodeActivity], data: st.DataObject) -> list[RunningJob]:
    """Admitted jobs on the busy nodes (one 8-GPU shard each), with random spot modes."""
    busy = [n for n in pool if n.busy and not n.leaving]
    out = []
    for n in busy:
        mode = data.draw(st.sampled_from(["preferred", "required", "never"]))
        req = job(f"run-{n.name}").shards(1, 8).spot(mode).obj()
        out.append(running(req).on(n.name).obj())
    return out


@settings(max_examples=400, deadline=None)
@given(policies, st.lists(requests, max_size=8, unique_by=lambda j: j.key), pools, histories, st.data())
def test_invariants(
    policy: AutoscalingPolicy,
    queue: list[JobRequest],
    pool: list[NodeActivity],
    history: ScaleHistory,
    data: st.DataObject,
) -> None:
    now = secs(data.draw(st.integers(0, 1500)))
    run = _running(pool, data)
    d = decide(run, queue, pool, history, now, policy)

    # never outside [min, max]
    assert policy.min_nodes <= d.desired.total <= policy.max_nodes
    assert d.target.total <= max(policy.max_nodes, d.current.total)
    if d.current.total <= policy.max_nodes:
        assert d.target.total <= policy.max_nodes
    if d.direction is Direction.UP:
        assert d.target.total >= min(policy.min_nodes, policy.max_nodes)
        assert d.target.spot >= d.current.spot
        assert d.target.on_demand >= d.current.on_demand

    # on-demand demand always covered (as far as max allows), minOnDemand kept
    counted = [r.job for r in run] + [j for j in queue if not j.suspended and fits_at_max(j, policy)]
    need = demand(counted, policy)
    assert d.desired.on_demand >= min(max(need.on_demand, policy.min_on_demand), policy.max_nodes)

    # spot share within one node of target unless a floor forces it
    exact = d.desired.total * policy.spot_target_ratio
    od_floor = min(max(need.on_demand, policy.min_on_demand), policy.max_nodes)
    assert d.desired.spot <= max(exact + 1, need.spot)
    assert d.desired.spot >= min(exact - 1, d.desired.total - od_floor)

    # no scale-down of busy (or leaving, or not long enough idle) nodes; never below desired
    by_name = {n.name: n for n in pool}
    for name in d.remove:
        n = by_name[name]
        assert not n.busy
        assert not n.leaving
        assert n.idle_since is not None
        assert (now - n.idle_since).total_seconds() >= policy.down_idle_seconds
    assert len(d.remove) <= policy.down_step
    if d.direction is Direction.DOWN:
        for t in CapacityType:
            assert d.target.of(t) >= min(d.current.of(t), d.desired.of(t))
        assert d.target.total >= policy.min_nodes

    # cooldowns, with the injected clock
    if d.reason is Reason.SCALE_UP_QUEUED_DEMAND:
        assert d.target.total - d.current.total <= policy.up_step
        if history.last_scale_up is not None:
            assert (now - history.last_scale_up).total_seconds() >= policy.up_cooldown_seconds
    if d.direction is Direction.DOWN:
        for t in (history.last_scale_up, history.last_scale_down):
            if t is not None:
                assert (now - t).total_seconds() >= policy.down_cooldown_seconds


@settings(max_examples=200, deadline=None)
@given(policies, st.lists(requests, max_size=8, unique_by=lambda j: j.key))
def test_growing_pool_converges_to_desired(policy: AutoscalingPolicy, queue: list[JobRequest]) -> None:
    """Applying decisions (nodes appear at once, demand stays queued) reaches `desired` without overshoot."""
    pool: list[NodeActivity] = []
    history = ScaleHistory()
    now = secs(0)
    for i in range(40):
        now += timedelta(seconds=200)
        d = decide([], queue, pool, history, now, policy)
        if d.reason in (Reason.WAITING_FOR_DELAY, Reason.SCALE_UP_COOLDOWN):
            continue
        if d.direction is not Direction.UP:
            break
        for t in CapacityType:
            for k in range(d.target.of(t) - d.current.of(t)):
                pool.append(NodeActivity(f"{t}-{i}-{k}", t, busy=True))
        history = ScaleHistory(last_scale_up=now)
    assert d.current == d.desired
    assert d.current.total <= policy.max_nodes
