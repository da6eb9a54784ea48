"""Starting admitted workers (startup.py; issue 13, item 7): the admission-to-Running timeout that names
what the pods wait for, and the backoff on refused pod creates."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_lifecycle import T0, cond, ctx, deletes, make_job, node, pod

from portalis_operator.jobs import plan_job
from portalis_operator.snapshot import JobView, parse_pod
from portalis_operator.startup import (
    MAX_MESSAGE_CHARS,
    StartPolicy,
    create_backoff,
    not_started_message,
    refused,
    start_overdue,
    waiting_reason,
)

pytestmark = pytest.mark.unit

POLICY = StartPolicy(timeout=timedelta(minutes=10))
PULL = {
    "containerStatuses": [
        {"name": "triton", "state": {"running": {}}},
        {
            "name": "worker",
            "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling x"}},
        },
    ]
}
UNSCHEDULABLE = {
    "conditions": [
        {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "0/3 nodes: pvc"}
    ]
}


def admitted_not_running(shards: int = 2) -> dict[str, Any]:
    return {
        "conditions": [cond("Admitted")],
        "admittedAt": T0.isoformat(),
        "workers": [{"shard": i, "pod": f"j-w{i}", "node": "n1"} for i in range(shards)],
    }


def test_the_timeout_counts_from_admission_while_no_worker_runs() -> None:
    assert not start_overdue(T0, False, T0 + timedelta(minutes=10), POLICY)
    assert start_overdue(T0, False, T0 + timedelta(minutes=10, seconds=1), POLICY)
    assert not start_overdue(T0, True, T0 + timedelta(hours=5), POLICY)
    assert not start_overdue(None, False, T0 + timedelta(hours=5), POLICY)


def test_backoff_doubles_up_to_its_maximum_and_never_overflows() -> None:
    assert [create_backoff(n, POLICY) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 8.0]
    assert create_backoff(9, POLICY) == 256.0
    assert create_backoff(10, POLICY) == 300.0
    assert create_backoff(10**9, POLICY) == 300.0
    first = refused(None, "exceeded quota: pods=0", 100.0, POLICY)
    again = refused(first, "exceeded quota: pods=0", 101.0, POLICY)
    assert (first.attempts, first.retry_at, again.attempts, again.retry_at) == (1, 101.0, 2, 103.0)


@given(st.integers(min_value=1, max_value=10**6))
def test_backoff_is_monotonic_and_bounded(attempts: int) -> None:
    assert 1.0 <= create_backoff(attempts, POLICY) <= create_backoff(attempts + 1, POLICY) <= 300.0


def test_what_a_pod_waits_for() -> None:
    assert waiting_reason(PULL) == "ImagePullBackOff: Back-off pulling x"  # the worker's own reason
    assert waiting_reason(UNSCHEDULABLE) == "Unschedulable: 0/3 nodes: pvc"
    # the worker waits for its Triton sidecar, which crash-loops: the sidecar's reason says why
    sidecar_down = {
        "initContainerStatuses": [
            {
                "name": "triton",
                "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s triton"}},
            }
        ],
        "containerStatuses": [{"name": "worker", "state": {"waiting": {"reason": "PodInitializing"}}}],
    }
    assert waiting_reason(sidecar_down) == "CrashLoopBackOff: back-off 40s triton"
    only_generic = {
        "containerStatuses": [{"name": "worker", "state": {"waiting": {"reason": "PodInitializing"}}}]
    }
    assert waiting_reason(only_generic) == "PodInitializing"
    assert waiting_reason({"containerStatuses": [{"name": "worker", "state": {"running": {}}}]}) is None
    assert waiting_reason({}) is None
    long = {
        "containerStatuses": [
            {"name": "worker", "state": {"waiting": {"reason": "X", "message": "m" * 5000}}}
        ]
    }
    assert len(waiting_reason(long) or "") <= 200
    pending = {
        "metadata": {"name": "j-w0", "labels": {"portalis.dev/shard": "0"}},
        "status": {"phase": "Pending", **PULL},
    }
    parsed = parse_pod(pending)
    assert parsed is not None
    assert parsed.waiting == "ImagePullBackOff: Back-off pulling x"


def test_a_job_whose_workers_never_start_fails_naming_what_they_wait_for() -> None:
    # Before: an admitted job whose pods never started held its GPUs forever, with no condition.
    job = make_job(status=admitted_not_running())
    pods = {
        0: pod(0, "Pending", waiting="ImagePullBackOff: Back-off pulling x"),
        1: pod(1, "Pending", waiting="Unschedulable: 0/3 nodes: pvc"),
    }
    early = plan_job(JobView(job, pods), None, None, ctx(node("n1"), now=T0 + timedelta(minutes=9)))
    assert early.status is None or early.status.phase == "Admitted"
    assert early.deletes == []
    late = plan_job(JobView(job, pods), None, None, ctx(node("n1"), now=T0 + timedelta(minutes=11)))
    assert late.status is not None
    assert late.status.phase == "Failed"
    failed = next(x for x in late.status.conditions if x.type == "Failed")
    assert failed.reason == "StartTimeout"
    assert "shard 0: ImagePullBackOff: Back-off pulling x" in failed.message
    assert "shard 1: Unschedulable: 0/3 nodes: pvc" in failed.message
    assert sorted(deletes(late)) == [("j-w0", None), ("j-w1", None)]  # the GPUs are released
    assert late.create == []
    assert [e.reason for e in late.events] == ["StartTimeout"]


def test_a_refused_create_is_named_and_a_running_job_is_never_timed_out() -> None:
    job = make_job(status=admitted_not_running(1), parallelism=1)
    refusals = {
        0: 'pods "j-w0" is forbidden: exceeded quota: q, requested: pods=1, used: pods=0, limited: pods=0'
    }
    plan = plan_job(
        JobView(job), None, None, ctx(node("n1"), now=T0 + timedelta(minutes=11), create_refusals=refusals)
    )
    assert plan.status is not None
    failed = next(x for x in plan.status.conditions if x.type == "Failed")
    assert 'shard 0: pod not created: pods "j-w0" is forbidden: exceeded quota' in failed.message
    assert plan.create == []  # no new pod for a job that just failed
    running = make_job(
        status={**admitted_not_running(1), "conditions": [cond("Admitted"), cond("Running")]}, parallelism=1
    )
    later = plan_job(
        JobView(running, {0: pod(0, "Running")}), None, None, ctx(node("n1"), now=T0 + timedelta(hours=3))
    )
    assert later.status is None or later.status.phase == "Running"


def test_the_message_is_bounded() -> None:
    message = not_started_message({s: "R: " + "x" * 190 for s in range(64)}, POLICY)
    assert len(message) <= MAX_MESSAGE_CHARS
    assert message.startswith("no worker running 10 minute(s) after admission; shard 0: R: ")
