from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from builders import T0, tj
from hypothesis import given, settings
from hypothesis import strategies as st

from portalis_operator import api
from portalis_operator.recovery import (
    DEFAULT_RECOVERY,
    ActionKind,
    FailureReason,
    JobRecoveryState,
    NodeHealth,
    NodeTrouble,
    RecoveryPlan,
    RecoveryPolicy,
    ShardState,
    Signal,
    WorkerPod,
    backoff_seconds,
    classify_node,
    plan_pods,
    shard_state,
)
from portalis_operator.workload import Priority, SpotMode
from portalis_worker.protocol import WorkerExit

pytestmark = pytest.mark.unit


def plan_recovery(
    job: JobRecoveryState,
    pods: list[WorkerPod],
    nodes: dict[str, NodeHealth],
    now: datetime,
    policy: RecoveryPolicy | None = None,
) -> RecoveryPlan:
    """plan_pods from the nodes' raw health, classified as the cycle does (snapshot.py, once per node)."""
    policy = policy or DEFAULT_RECOVERY
    troubles = {name: classify_node(h, policy, now) for name, h in nodes.items()}
    return plan_pods(job, pods, troubles, now, policy)


POLICY = DEFAULT_RECOVERY
JOB = JobRecoveryState(priority=Priority.NORMAL, requested_spot=None)


def secs(n: float) -> datetime:
    return T0 + timedelta(seconds=n)


def healthy(name: str) -> NodeHealth:
    return NodeHealth(name)


def tainted(name: str, key: str = "karpenter.sh/disrupted") -> NodeHealth:
    return NodeHealth(name, taints=frozenset({key}))


def not_ready(name: str, since: float) -> NodeHealth:
    return NodeHealth(name, ready=False, not_ready_since=secs(since))


def pod(
    shard: int,
    node: str | None,
    phase: str = "Running",
    terminating: bool = False,
    failed_at: datetime | None = None,
) -> WorkerPod:
    return WorkerPod(f"job-w{shard}", shard, node, phase, terminating, failed_at)


# ------------------------------------------------------------------------------------------------------
# classification


@pytest.mark.parametrize(
    ("health", "expected"),
    [
        (None, NodeTrouble.DELETED),
        (NodeHealth("n", deleting=True), NodeTrouble.DELETED),
        (healthy("n"), NodeTrouble.NONE),
        (tainted("n"), NodeTrouble.NOTICE),
        (tainted("n", "portalis.dev/reclaim"), NodeTrouble.NOTICE),
        (tainted("n", "example.com/unrelated"), NodeTrouble.NONE),
        (not_ready("n", since=50), NodeTrouble.NOT_READY),  # 50 s of 60
        (not_ready("n", since=40), NodeTrouble.LOST),  # 60 s: lost
        (
            NodeHealth(
                "n", ready=False, not_ready_since=secs(0), taints=frozenset({"karpenter.sh/disrupted"})
            ),
            NodeTrouble.LOST,
        ),
    ],
)
def test_classify_node(health: NodeHealth | None, expected: NodeTrouble) -> None:
    assert classify_node(health, POLICY, secs(100)) is expected


def test_taint_list_is_configurable() -> None:
    spec = api.GPUPoolSpec.model_validate(
        {
            "provider": {"type": "kwok"},
            "interruption": {"taints": ["example.com/going"], "notReadyGraceSeconds": 5},
        }
    )
    policy = RecoveryPolicy.from_spec(spec)
    assert classify_node(tainted("n", "example.com/going"), policy, T0) is NodeTrouble.NOTICE
    assert classify_node(tainted("n"), policy, T0) is NodeTrouble.NONE
    assert classify_node(not_ready("n", since=0), policy, secs(5)) is NodeTrouble.LOST


# ------------------------------------------------------------------------------------------------------
# actions


def test_notice_evicts_gracefully_and_counts_one_reclaim_per_node() -> None:
    pods = [pod(0, "spot-a"), pod(1, "spot-a"), pod(2, "od")]
    plan = plan_recovery(JOB, pods, {"spot-a": tainted("spot-a"), "od": healthy("od")}, T0)
    assert [(a.kind, a.pod, a.grace_seconds) for a in plan.actions] == [
        (ActionKind.EVICT, "job-w0", POLICY.notice_grace_seconds),
        (ActionKind.EVICT, "job-w1", POLICY.notice_grace_seconds),
    ]
    assert (plan.reclaims, plan.error_retries, plan.new_reclaims) == (1, 0, (Signal.TAINT,))
    assert plan.recovering


def test_hard_loss_recreates_at_once() -> None:
    pods = [pod(0, "gone"), pod(1, "dead")]
    plan = plan_recovery(JOB, pods, {"dead": not_ready("dead", since=0)}, secs(60))
    assert [(a.kind, a.grace_seconds, a.signal) for a in plan.actions] == [
        (ActionKind.RECREATE, 0, Signal.DELETED),
        (ActionKind.RECREATE, 0, Signal.NOT_READY),
    ]
    assert plan.reclaims == 2


def test_idempotent_terminating_pods_are_not_counted_again() -> None:
    after_notice = [pod(0, "spot-a", terminating=True)]
    plan = plan_recovery(JOB, after_notice, {"spot-a": tainted("spot-a")}, T0)
    assert (plan.actions, plan.reclaims) == ((), 0)
    # the node then dies: the stuck terminating pod is force-deleted, still not counted twice
    plan = plan_recovery(JOB, after_notice, {}, secs(10))
    assert [a.kind for a in plan.actions] == [ActionKind.RECREATE]
    assert plan.reclaims == 0


def test_not_ready_within_grace_waits() -> None:
    plan = plan_recovery(JOB, [pod(0, "n")], {"n": not_ready("n", since=0)}, secs(45))
    assert plan.actions == ()


def test_reclaims_never_spend_the_error_budget() -> None:
    job = JobRecoveryState(Priority.NORMAL, None, reclaims=5, error_retries=3, max_error_retries=3)
    plan = plan_recovery(job, [pod(0, "gone", phase="Failed", failed_at=T0)], {}, T0)
    assert (plan.reclaims, plan.error_retries, plan.failed) == (6, 3, None)


def test_error_retry_backs_off_exponentially() -> None:
    nodes = {"n": healthy("n")}
    failed = [pod(0, "n", phase="Failed", failed_at=T0)]
    for done, delay in [(0, 30), (1, 60), (2, 120)]:
        job = JobRecoveryState(Priority.NORMAL, None, error_retries=done, max_error_retries=5)
        early = plan_recovery(job, failed, nodes, secs(delay - 1))
        assert (early.actions, early.error_retries) == ((), done)
        due = plan_recovery(job, failed, nodes, secs(delay))
        assert [a.kind for a in due.actions] == [ActionKind.RETRY]
        assert due.error_retries == done + 1
        assert due.new_reclaims == ()


def test_backoff_is_capped() -> None:
    assert backoff_seconds(30, 0, 3600) == 30
    assert backoff_seconds(30, 6, 3600) == 1920
    assert backoff_seconds(30, 7, 3600) == 3600
    assert backoff_seconds(3600, 100, 3600) == 3600


def test_budgets_fail_the_job() -> None:
    nodes = {"n": healthy("n")}
    job = JobRecoveryState(Priority.NORMAL, None, error_retries=3, max_error_retries=3)
    plan = plan_recovery(job, [pod(0, "n", phase="Failed", failed_at=T0)], nodes, secs(10_000))
    assert plan.failed is FailureReason.ERROR_RETRY_LIMIT
    assert not plan.recovering
    job = JobRecoveryState(Priority.NORMAL, None, reclaims=10, max_reclaims=10)
    assert plan_recovery(job, [pod(0, "gone")], {}, T0).failed is FailureReason.RECLAIM_LIMIT
    job = JobRecoveryState(Priority.NORMAL, None, reclaims=9, max_reclaims=10)
    assert plan_recovery(job, [pod(0, "gone")], {}, T0).failed is None


def test_on_demand_after_n_reclaims() -> None:
    job = JobRecoveryState(Priority.NORMAL, None, reclaims=2, on_demand_after_reclaims=3)
    assert plan_recovery(job, [], {}, T0).spot_mode is SpotMode.PREFERRED
    assert plan_recovery(job, [pod(0, "gone")], {}, T0).spot_mode is SpotMode.NEVER
    # `required` stays on spot (bounded by maxReclaims), as docs/api.md says
    req = JobRecoveryState(Priority.NORMAL, SpotMode.REQUIRED, reclaims=5, on_demand_after_reclaims=3)
    assert plan_recovery(req, [], {}, T0).spot_mode is SpotMode.REQUIRED


def test_unbound_succeeded_and_healthy_pods_are_left_alone() -> None:
    pods = [pod(0, None, phase="Pending"), pod(1, "gone", phase="Succeeded"), pod(2, "n")]
    plan = plan_recovery(JOB, pods, {"n": healthy("n")}, T0)
    assert (plan.actions, plan.reclaims) == ((), 0)


def test_state_from_job() -> None:
    job = tj("a").spec(priority="critical", recovery={"maxReclaims": 4, "backoffSeconds": 10}).obj()
    job.status.recoveries = api.RecoveriesStatus(reclaims=2, error_retries=1)
    state = JobRecoveryState.from_job(job)
    assert (state.priority, state.requested_spot, state.reclaims, state.error_retries) == (
        Priority.CRITICAL,
        None,
        2,
        1,
    )
    assert (state.max_reclaims, state.backoff_seconds) == (4, 10)


# ------------------------------------------------------------------------------------------------------
# invariants

healths = st.one_of(
    st.none(),
    st.builds(
        NodeHealth,
        st.just("x"),
        st.booleans(),
        st.none() | st.integers(0, 200).map(secs),
        st.sets(st.sampled_from(["karpenter.sh/disrupted", "other/taint"])).map(frozenset),
        st.booleans(),
    ),
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), healths), max_size=3),
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "c", None]),
            st.sampled_from(["Running", "Failed", "Succeeded", "Pending"]),
            st.booleans(),
            st.sampled_from([None, 0, 1, int(WorkerExit.RESUME)]),
        ),
        max_size=6,
    ),
    st.integers(0, 12),
    st.integers(0, 4),
    st.integers(0, 400),
)
def test_invariants(
    node_list: list[tuple[str, NodeHealth | None]],
    pod_list: list[tuple[str | None, str, bool, int | None]],
    reclaims: int,
    retries: int,
    t: int,
) -> None:
    nodes = {
        name: NodeHealth(name, h.ready, h.not_ready_since, h.taints, h.deleting) for name, h in node_list if h
    }
    pods = [
        WorkerPod(f"w{i}", i, node, phase, terminating, T0 if phase == "Failed" else None, code)
        for i, (node, phase, terminating, code) in enumerate(pod_list)
    ]
    job = JobRecoveryState(Priority.NORMAL, None, reclaims=reclaims, error_retries=retries)
    plan = plan_recovery(job, pods, nodes, secs(t))
    troubled = {
        p.node
        for p in pods
        if p.node
        and classify_node(nodes.get(p.node), POLICY, secs(t))
        in (NodeTrouble.DELETED, NodeTrouble.LOST, NodeTrouble.NOTICE)
    }
    stopped = {p.node for p in pods if p.node and p.state is ShardState.DISPLACED and not p.terminating}
    # reclaims count lost nodes (and nodes that stopped workers), never more; retries only on healthy nodes
    assert 0 <= plan.reclaims - reclaims <= len(troubled | stopped)
    assert len(plan.new_reclaims) == plan.reclaims - reclaims
    by_name = {p.name: p for p in pods}
    retried = [a for a in plan.actions if a.kind is ActionKind.RETRY]
    assert plan.error_retries - retries == len(retried)
    for a in retried:
        assert by_name[a.pod].node not in troubled
        assert by_name[a.pod].state is ShardState.FAILED
    # each pod at most once; never a finished shard's pod or an unbound pod
    assert len({a.pod for a in plan.actions}) == len(plan.actions)
    for a in plan.actions:
        assert by_name[a.pod].state is not ShardState.FINISHED
        assert by_name[a.pod].node is not None
    # a second look after applying the deletes (pods now terminating) counts nothing new
    after = [replace(p, terminating=True) if p.name in {a.pod for a in plan.actions} else p for p in pods]
    again = plan_recovery(
        JobRecoveryState(Priority.NORMAL, None, reclaims=plan.reclaims, error_retries=plan.error_retries),
        after,
        nodes,
        secs(t),
    )
    assert (again.reclaims, again.error_retries) == (plan.reclaims, plan.error_retries)


# ------------------------------------------------------------------------------------------------------
# finished or displaced (issue 13, item 2): a stopped worker is never a finished shard

RESUME = int(WorkerExit.RESUME)


@pytest.mark.parametrize(
    ("phase", "terminating", "exit_code", "expected"),
    [
        ("Succeeded", False, 0, ShardState.FINISHED),
        ("Succeeded", False, None, ShardState.FINISHED),
        # Deleted (drain, notice, preemption) while the worker flushed and exited 0: Kubernetes calls the
        # pod Succeeded, but the shard's units are not all done.
        ("Succeeded", True, 0, ShardState.DISPLACED),
        ("Running", True, None, ShardState.DISPLACED),
        ("Failed", True, 1, ShardState.DISPLACED),
        # SIGTERM without a deletion (node shutdown, kubelet eviction): "stopped, resume me".
        ("Failed", False, RESUME, ShardState.DISPLACED),
        ("Running", False, RESUME, ShardState.DISPLACED),
        ("Failed", False, 1, ShardState.FAILED),
        ("Failed", False, None, ShardState.FAILED),
        ("Running", False, None, ShardState.ACTIVE),
        ("Pending", False, None, ShardState.ACTIVE),
        ("Unknown", False, None, ShardState.ACTIVE),
    ],
)
def test_shard_state(phase: str, terminating: bool, exit_code: int | None, expected: ShardState) -> None:
    assert shard_state(phase, terminating, exit_code) is expected


def test_a_stopped_worker_is_recreated_as_a_reclaim_not_an_error_and_without_backoff() -> None:
    stopped = [
        WorkerPod("job-w0", 0, "n", "Failed", failed_at=T0, exit_code=RESUME),
        WorkerPod("job-w1", 1, "n", "Failed", failed_at=T0, exit_code=RESUME),
    ]
    job = JobRecoveryState(Priority.NORMAL, None, error_retries=3, max_error_retries=3)
    plan = plan_recovery(job, stopped, {"n": healthy("n")}, T0)
    assert [(a.kind, a.pod, a.grace_seconds, a.signal) for a in plan.actions] == [
        (ActionKind.RECREATE, "job-w0", 0, Signal.STOPPED),
        (ActionKind.RECREATE, "job-w1", 0, Signal.STOPPED),
    ]
    assert (plan.reclaims, plan.error_retries, plan.failed) == (1, 3, None)  # one per node, like a loss
    # once deleted (terminating), it is not counted again
    gone = [replace(p, terminating=True) for p in stopped]
    assert plan_recovery(job, gone, {"n": healthy("n")}, T0).reclaims == 0


def test_a_succeeded_pod_being_deleted_is_not_left_alone_as_finished() -> None:
    # On a node with a notice, a Succeeded pod that is not being deleted is a finished shard; one that
    # is being deleted was stopped: nothing to delete (it is going), nothing finished either.
    pods = [pod(0, "n", phase="Succeeded", terminating=True)]
    plan = plan_recovery(JOB, pods, {"n": healthy("n")}, T0)
    assert (plan.actions, plan.reclaims) == ((), 0)


# ------------------------------------------------------------------------------------------------------
# exit codes read by the operator (issue 13, item 9)


@pytest.mark.parametrize(
    ("exit_code", "expected"),
    [
        (int(WorkerExit.CONFIG), ShardState.INVALID),
        (int(WorkerExit.OUTPUT), ShardState.INVALID),  # a crate over a ConfigMap's 1 MiB stays over it
        (int(WorkerExit.ERROR), ShardState.FAILED),
        (int(WorkerExit.TRANSIENT), ShardState.FAILED),
        (137, ShardState.FAILED),  # OOMKilled
        (128, ShardState.FAILED),  # the container could not start
    ],
)
def test_exit_codes_of_failed_workers(exit_code: int, expected: ShardState) -> None:
    assert shard_state("Failed", False, exit_code) is expected
    assert shard_state("Failed", True, exit_code) is ShardState.DISPLACED  # being deleted wins


def test_an_invalid_configuration_fails_the_job_at_once_without_retries() -> None:
    # Exit 2: the worker refused its assignment (bad environment, rustc missing, `model` without a
    # client). The same pod spec fails the same way: retrying only burns backoff time.
    config = [WorkerPod("job-w0", 0, "n", "Failed", failed_at=T0, exit_code=int(WorkerExit.CONFIG))]
    plan = plan_recovery(JOB, config, {"n": healthy("n")}, T0)
    assert plan.failed is FailureReason.INVALID_CONFIGURATION
    assert (plan.actions, plan.error_retries) == ((), 0)
    # on a node that is going away, it is a reclaim first (the node may be what broke it)
    assert plan_recovery(JOB, config, {}, T0).failed is None


def test_transient_and_unexpected_failures_are_retried_with_backoff() -> None:
    for code in (WorkerExit.TRANSIENT, WorkerExit.ERROR):
        failed = [WorkerPod("job-w0", 0, "n", "Failed", failed_at=T0, exit_code=int(code))]
        early = plan_recovery(JOB, failed, {"n": healthy("n")}, secs(1))
        assert (early.actions, early.failed) == ((), None)
        due = plan_recovery(JOB, failed, {"n": healthy("n")}, secs(30))
        assert [a.kind for a in due.actions] == [ActionKind.RETRY]
