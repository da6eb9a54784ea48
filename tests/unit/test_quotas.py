"""Per-namespace GPU quotas (quotas.py) and how admission honours them (issue 13, item 6)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from builders import at, job, node, running
from hypothesis import given, settings
from hypothesis import strategies as st

from portalis_operator.admission import WaitReason, admit
from portalis_operator.preemption import PreemptionPolicy
from portalis_operator.quotas import NamespaceQuotas, gpus_by_namespace, over_quota
from portalis_operator.scheduling import SchedulingPolicy, schedule

pytestmark = pytest.mark.unit

NODES = [node(f"n{i}").gpus(8).obj() for i in range(4)]


def test_the_limit_of_a_namespace_is_its_own_else_the_default() -> None:
    q = NamespaceQuotas(default=8, limits={"team-a": 16, "team-z": 0})
    assert q.limit_of("team-a") == 16
    assert q.limit_of("team-z") == 0
    assert q.limit_of("team-b") == 8
    assert NamespaceQuotas().limit_of("team-b") is None


def test_gpus_held_count_every_admitted_job_of_the_namespace_evicting_ones_too() -> None:
    a1 = running(job("a1").namespace("team-a").shards(2, gpus=4).obj()).on("n0", "n1").obj()
    a2 = running(job("a2").namespace("team-a").shards(1, gpus=8).obj()).on("n2").evicting().obj()
    b1 = running(job("b1").namespace("team-b").shards(1, gpus=2).obj()).on("n3").obj()
    assert gpus_by_namespace([a1, a2, b1]) == {"team-a": 16, "team-b": 2}


def test_a_job_past_its_namespaces_quota_waits_and_another_namespace_goes_first() -> None:
    # Before: no quota at all, one team's jobs took the whole pool in queue order.
    quotas = NamespaceQuotas(limits={"team-a": 16})
    held = running(job("a0").namespace("team-a").shards(1, gpus=8).obj()).on("n0").obj()
    a1 = job("a1").namespace("team-a").shards(1, gpus=8).created(0).obj()  # 8 + 8 = 16: fits the quota
    a2 = job("a2").namespace("team-a").priority("high").shards(1, gpus=8).created(1).obj()
    b1 = job("b1").namespace("team-b").shards(1, gpus=8).created(2).obj()
    result = admit([a2, a1, b1], NODES, [held], at(5), quotas=quotas)
    # a2 (high, first in line) is admitted first: 16 held; a1 would make 24
    assert result.admitted_keys() == ["team-a/a2", "team-b/b1"]
    (w,) = result.waiting
    assert (w.job.key, w.reason, w.position) == ("team-a/a1", WaitReason.NAMESPACE_QUOTA_EXCEEDED, None)
    assert w.message is not None
    assert "namespace team-a may hold 16 GPUs" in w.message
    assert admit([a2, a1, b1], NODES, [held], at(5)).admitted_keys() == [
        "team-a/a2",
        "team-a/a1",
        "team-b/b1",
    ]


def test_a_job_bigger_than_its_quota_says_so() -> None:
    big = job("big").namespace("team-a").shards(3, gpus=8).obj()
    (w,) = admit([big], NODES, [], at(0), quotas=NamespaceQuotas(default=16)).waiting
    assert w.reason is WaitReason.NAMESPACE_QUOTA_EXCEEDED
    assert w.message is not None
    assert "needs 24 GPUs, more than namespace team-a may hold (16" in w.message


def test_a_job_over_its_quota_never_preempts() -> None:
    low = running(job("low").namespace("team-b").priority("low").shards(4, gpus=8).obj())
    victims = low.on("n0", "n1", "n2", "n3").started(0).obj()
    critical = job("c").namespace("team-a").priority("critical").shards(1, gpus=8).created(30).obj()
    policy = SchedulingPolicy(preemption=PreemptionPolicy(min_runtime=timedelta(0)))
    assert schedule([critical], NODES, [victims], at(60), policy).preemption is not None  # without a quota
    result = schedule([critical], NODES, [victims], at(60), policy, quotas=NamespaceQuotas(default=0))
    assert result.preemption is None
    assert result.waiting[0].reason is WaitReason.NAMESPACE_QUOTA_EXCEEDED


NAMESPACES = ["team-a", "team-b", "team-c"]


@settings(max_examples=200, deadline=None)
@given(
    sizes=st.lists(
        st.tuples(st.sampled_from(NAMESPACES), st.integers(1, 3), st.sampled_from([1, 2, 4, 8])),
        max_size=10,
    ),
    limits=st.dictionaries(st.sampled_from(NAMESPACES), st.integers(0, 32)),
    default=st.none() | st.integers(0, 32),
)
def test_no_namespace_is_admitted_past_its_quota(
    sizes: list[tuple[str, int, int]], limits: dict[str, int], default: int | None
) -> None:
    quotas = NamespaceQuotas(default=default, limits=limits)
    jobs = [
        job(f"j{i}").namespace(ns).shards(n, gpus=g).created(i).obj() for i, (ns, n, g) in enumerate(sizes)
    ]
    result = admit(jobs, NODES, [], at(60), quotas=quotas)
    held: dict[str, int] = {}
    for a in result.admitted:
        ns = a.job.key.partition("/")[0]
        held[ns] = held.get(ns, 0) + a.job.gpus
    for ns, gpus in held.items():
        limit = quotas.limit_of(ns)
        assert limit is None or gpus <= limit
    for w in result.waiting:
        if w.reason is WaitReason.NAMESPACE_QUOTA_EXCEEDED:
            assert over_quota(w.job, held, quotas)  # it would still not fit its quota now
    # jobs over quota reserve nothing: the others are admitted as if those jobs were not there
    waiting_on_quota = {w.job.key for w in result.waiting if w.reason is WaitReason.NAMESPACE_QUOTA_EXCEEDED}
    rest = [j for j in jobs if j.key not in waiting_on_quota]
    again = admit(rest, NODES, [], at(60), quotas=quotas)
    assert again.admitted_keys() == result.admitted_keys()


def test_the_gpupool_spec_gives_the_quotas() -> None:
    from portalis_operator.api import GPUPoolSpec
    from portalis_operator.snapshot import PoolConfig

    spec = GPUPoolSpec.model_validate(
        {
            "provider": {"type": "kwok"},
            "quotas": {"defaultMaxGPUs": 8, "namespaces": [{"name": "team-a", "maxGPUs": 32}]},
        }
    )
    pool = PoolConfig.from_spec("dgx", spec, "portalis.dev/pool")
    assert pool.quotas == NamespaceQuotas(default=8, limits={"team-a": 32})
    unset = PoolConfig.from_spec("dgx", GPUPoolSpec.model_validate({"provider": {"type": "kwok"}}), "x")
    assert unset.quotas.unlimited


def test_a_job_over_quota_stays_queued_and_says_why_once() -> None:
    from test_lifecycle import ctx, make_job

    from portalis_operator.jobs import plan_job
    from portalis_operator.occupancy import request_of
    from portalis_operator.snapshot import JobView

    view = JobView(make_job("j", shards=2))  # namespace ns, 2 workers of 1 GPU
    (decision,) = admit([request_of(view.job)], NODES, [], at(0), quotas=NamespaceQuotas(default=1)).waiting
    plan = plan_job(view, decision, None, ctx())
    assert plan.status is not None
    assert plan.status.queue is not None
    assert (plan.status.phase, plan.status.queue.reason) == ("Queued", "NamespaceQuotaExceeded")
    assert plan.create == []
    queued = next(x for x in plan.status.conditions if x.type == "Queued")
    assert "more than namespace ns may hold (1" in queued.message
    assert [(e.type, e.reason) for e in plan.events] == [
        ("Normal", "Queued"),
        ("Warning", "NamespaceQuotaExceeded"),
    ]
    again = plan_job(JobView(view.job.model_copy(update={"status": plan.status})), decision, None, ctx())
    assert [e.reason for e in again.events] == []


def test_a_job_over_its_quota_is_not_autoscaling_demand() -> None:
    # More nodes would not let it run: buying them for it would only cost money.
    from portalis_operator.pool import DEMAND_REASONS

    assert WaitReason.NAMESPACE_QUOTA_EXCEEDED not in DEMAND_REASONS
    assert WaitReason.INSUFFICIENT_CAPACITY in DEMAND_REASONS
