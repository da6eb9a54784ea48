"""The per-job plan of one cycle (jobs.plan_job) and the status merge patches, without a cluster."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portalis_operator.admission import Admitted, Waiting, WaitReason, admit
from portalis_operator.api import TranslationJob
from portalis_operator.cycle import plan_each
from portalis_operator.jobs import Context, JobPlan, plan_job
from portalis_operator.occupancy import (
    displaced_shards,
    output_claim,
    replace_displaced,
    request_of,
    running_of,
)
from portalis_operator.output_paths import waiting_for_output
from portalis_operator.packing import Node
from portalis_operator.patches import merge_diff
from portalis_operator.recovery import NodeTrouble
from portalis_operator.snapshot import JobView, NodeView, PodView
from portalis_operator.workload import CapacityType, Priority, ShardPlacement

pytestmark = pytest.mark.unit

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def make_job(
    name: str = "j", shards: int = 2, status: dict[str, Any] | None = None, **spec: Any
) -> TranslationJob:
    return TranslationJob.model_validate(
        {
            "metadata": {
                "name": name,
                "namespace": "ns",
                "uid": f"uid-{name}",
                "generation": 1,
                "resourceVersion": "1",
                "creationTimestamp": T0.isoformat(),
            },
            "spec": {
                "source": {"configMap": {"name": "src"}},
                "output": {"configMap": {"name": "out"}},
                "target": {"crateName": "c"},
                "parallelism": shards,
                "gpusPerWorker": 4,
                **spec,
            },
            "status": status or {},
        }
    )


def cond(type_: str, status: str = "True", reason: str = "R", at: datetime = T0) -> dict[str, Any]:
    return {
        "type": type_,
        "status": status,
        "reason": reason,
        "message": "",
        "lastTransitionTime": at.isoformat(),
    }


def admitted_status(nodes: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "conditions": [cond("Admitted"), cond("Running")],
        "admittedAt": T0.isoformat(),
        "startTime": T0.isoformat(),
        "workers": [{"shard": i, "pod": f"j-w{i}", "node": n} for i, n in enumerate(nodes)],
        **extra,
    }


def node(
    name: str, ct: CapacityType = CapacityType.ON_DEMAND, trouble: NodeTrouble = NodeTrouble.NONE
) -> NodeView:
    return NodeView(Node(name, ct, 8, schedulable=trouble is NodeTrouble.NONE), trouble)


def pod(shard: int, phase: str = "Running", node_name: str = "n1", **kw: Any) -> PodView:
    kw.setdefault("uid", f"uid-j-w{shard}")
    return PodView(name=f"j-w{shard}", shard=shard, phase=phase, node=node_name, **kw)


def deletes(plan: JobPlan) -> list[tuple[str, int | None]]:
    """(pod, grace) of each delete; every one carries the UID of the pod it was planned for."""
    for d in plan.deletes:
        assert d.uid == f"uid-{d.name}", "a delete without the pod's UID could hit a pod recreated since"
    return [(d.name, d.grace_seconds) for d in plan.deletes]


def ctx(*views: NodeView, now: datetime = T0 + timedelta(minutes=5), **kw: Any) -> Context:
    return Context(nodes={v.node.name: v for v in views}, now=now, **kw)


def test_admission_records_placements_before_any_pod_exists() -> None:
    job = make_job()
    view = JobView(job)
    decision = Admitted(
        job=running_of(JobView(make_job(status=admitted_status(["n1", "n1"]))), {}).job,
        placements=(ShardPlacement(0, "n1", 4), ShardPlacement(1, "n2", 4)),
    )
    plan = plan_job(view, decision, None, ctx(node("n1"), node("n2")))
    assert plan.status is not None
    assert plan.status.phase == "Admitted"
    assert [(w.shard, w.node) for w in plan.status.workers or []] == [(0, "n1"), (1, "n2")]
    assert plan.create == [0, 1]
    assert [e.reason for e in plan.events] == ["Admitted"]
    assert plan.admission_wait == pytest.approx(300)


def test_a_waiting_job_gets_its_position_and_reason() -> None:
    job = make_job()
    req = running_of(JobView(make_job(status=admitted_status(["n1", "n1"]))), {}).job
    plan = plan_job(
        JobView(job), Waiting(req, WaitReason.INSUFFICIENT_CAPACITY, 3, Priority.NORMAL), None, ctx()
    )
    assert plan.status is not None
    assert plan.status.phase == "Queued"
    assert plan.status.queue is not None
    assert (plan.status.queue.position, plan.status.queue.reason) == (3, "InsufficientCapacity")
    assert plan.create == []


def test_a_lost_node_counts_a_reclaim_and_moves_the_shard() -> None:
    job = make_job(status=admitted_status(["gone", "n1"]))
    view = JobView(job, {0: pod(0, node_name="gone"), 1: pod(1)})
    nodes = {"n1": node("n1"), "n2": node("n2")}
    assert displaced_shards(view, nodes) == [0]
    plan = plan_job(view, None, None, ctx(node("n1"), node("n2"), replacements={0: "n2"}))
    assert plan.status is not None
    assert plan.status.recoveries is not None
    assert plan.status.recoveries.reclaims == 1
    assert plan.status.recoveries.error_retries in (None, 0)
    assert ("j-w0", 0) in deletes(plan)  # hard loss: finish the deletion at once
    assert plan.create == []  # the old pod must be gone before its replacement starts
    workers = {w.shard: w.node for w in plan.status.workers or []}
    assert workers == {0: "n2", 1: "n1"}
    assert "Reclaimed" in [e.reason for e in plan.events]


def test_an_interruption_notice_drains_gracefully() -> None:
    job = make_job(status=admitted_status(["n1", "n1"]))
    view = JobView(job, {0: pod(0), 1: pod(1)})
    plan = plan_job(view, None, None, ctx(node("n1", trouble=NodeTrouble.NOTICE), node("n2")))
    # recovery.py's rules: the notice grace (25 s) and one reclaim per node lost, not per shard on it
    assert set(deletes(plan)) == {("j-w0", 25), ("j-w1", 25)}
    assert plan.reclaims == 1
    assert plan.status is not None
    assert plan.status.recoveries is not None
    assert plan.status.recoveries.reclaims == 1


def test_replacements_prefer_nothing_over_capacity() -> None:
    job = make_job(status=admitted_status(["gone", "gone"]))
    view = JobView(job, {})
    nodes = {"n1": node("n1")}
    # one node of 8 GPUs fits both 4-GPU shards; a second job's shards would not fit
    out = replace_displaced([view], nodes, [])
    assert out == {"ns/j": {0: "n1", 1: "n1"}}


def test_failed_worker_is_retried_with_backoff_then_fails_the_job() -> None:
    job = make_job(shards=1, status=admitted_status(["n1"]), recovery={"maxErrorRetries": 1})
    failed = {0: pod(0, phase="Failed", exit_code=3, failed_at=T0)}
    plan = plan_job(JobView(job, failed), None, None, ctx(node("n1")))
    assert plan.status is not None
    assert plan.status.recoveries is not None
    assert plan.status.recoveries.error_retries == 1
    assert ("j-w0", 0) in deletes(plan)
    retried = make_job(shards=1, status=plan.status.to_wire(), recovery={"maxErrorRetries": 1})
    again = plan_job(JobView(retried, failed), None, None, ctx(node("n1")))
    assert again.status is not None
    assert again.status.phase == "Failed"
    assert again.finished == "failed"


def test_backoff_delays_the_retry_of_a_failed_worker() -> None:
    # recovery.py's rule: the failed pod is retried (deleted, then recreated) once
    # failedAt + backoffSeconds * 2^n has passed, n = retries already spent.
    status = admitted_status(["n1"], recoveries={"errorRetries": 1})
    job = make_job(shards=1, status=status, recovery={"backoffSeconds": 60})
    failed = {0: pod(0, phase="Failed", exit_code=1, failed_at=T0)}
    early = plan_job(JobView(job, failed), None, None, ctx(node("n1"), now=T0 + timedelta(seconds=90)))
    late = plan_job(JobView(job, failed), None, None, ctx(node("n1"), now=T0 + timedelta(seconds=121)))
    assert deletes(early) == []
    assert early.error_retries == 0
    assert deletes(late) == [("j-w0", 0)]
    assert late.error_retries == 1
    gone = plan_job(JobView(job, {}), None, None, ctx(node("n1"), now=T0 + timedelta(seconds=122)))
    assert gone.create == [0]


def test_all_shards_succeeded_finishes_the_job() -> None:
    job = make_job(status=admitted_status(["n1", "n1"]))
    plan = plan_job(
        JobView(job, {0: pod(0, "Succeeded"), 1: pod(1, "Succeeded")}), None, None, ctx(node("n1"))
    )
    assert plan.status is not None
    assert plan.status.phase == "Succeeded"
    assert plan.status.completion_time is not None
    assert plan.finished == "succeeded"


def test_deadline_fails_a_running_job_and_stops_its_workers() -> None:
    job = make_job(status=admitted_status(["n1", "n1"]), deadlineSeconds=60)
    plan = plan_job(JobView(job, {0: pod(0), 1: pod(1)}), None, None, ctx(node("n1")))
    assert plan.status is not None
    assert plan.status.phase == "Failed"
    assert {d[0] for d in deletes(plan)} == {"j-w0", "j-w1"}


def test_ttl_deletes_a_finished_job_only_after_it_expires() -> None:
    done = {"conditions": [cond("Succeeded")], "completionTime": T0.isoformat()}
    job = make_job(status=done, ttlSecondsAfterFinished=600)
    assert not plan_job(JobView(job), None, None, ctx(now=T0 + timedelta(seconds=599))).delete_job
    assert plan_job(JobView(job), None, None, ctx(now=T0 + timedelta(seconds=600))).delete_job


def test_a_victim_is_marked_preempted_and_requeued_once_its_pods_are_gone() -> None:
    job = make_job(status=admitted_status(["n1", "n1"]))
    plan = plan_job(JobView(job, {0: pod(0), 1: pod(1)}), None, "ns/urgent", ctx(node("n1")))
    assert plan.status is not None
    assert plan.status.phase == "Preempted"
    assert plan.preempted
    assert len(deletes(plan)) == 2
    gone = plan_job(JobView(make_job(status=plan.status.to_wire())), None, None, ctx(node("n1")))
    assert gone.status is not None
    assert gone.status.phase == "Queued"
    assert gone.status.workers is None


def test_an_unchanged_job_writes_nothing() -> None:
    job = make_job(status=admitted_status(["n1", "n1"]))
    first = plan_job(JobView(job, {0: pod(0), 1: pod(1)}), None, None, ctx(node("n1")))
    assert first.status is not None
    settled = make_job(status=first.status.to_wire())
    again = plan_job(JobView(settled, {0: pod(0), 1: pod(1)}), None, None, ctx(node("n1")))
    assert again.status is None
    assert again.create == []
    assert deletes(again) == []


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=2), inner, max_size=3),
    max_leaves=10,
)
docs = st.dictionaries(st.text(max_size=2), json_values.filter(lambda v: v is not None), max_size=4)


def apply_merge(doc: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """RFC 7386 applied, as the API server does: the oracle for merge_diff."""
    out = dict(doc)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = apply_merge(out[key], value)
        else:
            out[key] = value
    return out


@given(old=docs, new=docs)
def test_merge_diff_turns_old_into_new(old: dict[str, Any], new: dict[str, Any]) -> None:
    def strip_nones(d: Any) -> Any:  # merge patch cannot store null values; neither do we
        if isinstance(d, dict):
            return {k: strip_nones(v) for k, v in d.items() if v is not None}
        return d

    old, new = strip_nones(old), strip_nones(new)
    assert apply_merge(old, merge_diff(old, new)) == new


def test_progress_does_not_go_backwards_while_a_replacement_pod_has_not_reported() -> None:
    from portalis_operator.progress import ShardProgress

    reported = {s: pod(s, progress=ShardProgress(units_total=10, units_done=6)) for s in (0, 1)}
    job = make_job(status=admitted_status(["n1", "n1"]))
    first = plan_job(JobView(job, reported), None, None, ctx(node("n1")))
    assert first.status is not None
    assert first.status.progress is not None
    assert (first.status.progress.units_total, first.status.progress.units_done) == (20, 12)
    settled = make_job(status=first.status.to_wire())
    replaced = {0: reported[0], 1: pod(1)}  # shard 1's new pod has no report yet
    again = plan_job(JobView(settled, replaced), None, None, ctx(node("n1")))
    progress = (again.status or settled.status).progress
    assert progress is not None
    assert (progress.units_total, progress.units_done) == (20, 12)


# ---- one job cannot stop the cycle (issue 13, item 1) --------------------------------------------------


def test_a_report_out_of_any_range_does_not_break_the_plan() -> None:
    from portalis_operator.progress import ShardProgress

    # What a pod annotated {"unitsTotal": 1e12, "unitsDone": 1} used to become: the ETA overflowed.
    huge = {0: pod(0, progress=ShardProgress(units_total=10**12, units_done=1))}
    job = make_job(shards=1, status=admitted_status(["n1"]))
    plan = plan_job(JobView(job, huge), None, None, ctx(node("n1")))
    assert plan.status is not None
    assert plan.status.progress is not None
    assert plan.status.progress.eta is None


@pytest.mark.parametrize(
    ("status", "spec"),
    [
        (admitted_status(["n1"]), {"deadlineSeconds": 2**62}),
        (
            {"conditions": [cond("Succeeded")], "completionTime": T0.isoformat()},
            {"ttlSecondsAfterFinished": 2**62},
        ),
        (
            {"conditions": [cond("Succeeded")], "completionTime": "9999-12-31T23:59:59Z"},
            {"ttlSecondsAfterFinished": 60},
        ),
    ],
)
def test_time_arithmetic_on_spec_and_status_values_cannot_overflow(
    status: dict[str, Any], spec: dict[str, Any]
) -> None:
    job = make_job(shards=1, status=status, **spec)
    plan = plan_job(JobView(job, {0: pod(0)}), None, None, ctx(node("n1")))
    assert not plan.delete_job
    assert plan.finished is None


def test_a_failed_at_near_the_end_of_time_cannot_overflow_the_backoff() -> None:
    job = make_job(shards=1, status=admitted_status(["n1"]))
    late = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
    plan = plan_job(JobView(job, {0: pod(0, phase="Failed", failed_at=late)}), None, None, ctx(node("n1")))
    assert deletes(plan) == []  # its backoff has not passed (it never will)


def boom(view: JobView) -> JobPlan:
    if view.job.metadata.name == "bad":
        raise OverflowError("Python int too large to convert to C int")
    return plan_job(view, None, None, ctx(node("n1")))


def test_one_job_whose_planning_raises_does_not_stop_the_others() -> None:
    good, bad = make_job("good"), make_job("bad")
    plans, failures = plan_each([JobView(bad), JobView(good)], boom, T0)
    assert [v.job.metadata.name for v, _ in plans] == ["bad", "good"]
    assert [v.job.metadata.name for v, _ in failures] == ["bad"]
    bad_plan, good_plan = plans[0][1], plans[1][1]
    assert good_plan.status is not None
    assert good_plan.status.phase == "Queued"
    assert bad_plan.status is not None
    stalled = next(cd for cd in bad_plan.status.conditions or [] if cd.type == "Stalled")
    assert (stalled.status, stalled.reason) == ("True", "PlanningFailed")
    assert "OverflowError" in stalled.message
    assert bad_plan.status.phase == bad.status.phase  # nothing else changes
    assert (bad_plan.create, deletes(bad_plan)) == ([], [])
    assert [(e.type, e.reason) for e in bad_plan.events] == [("Warning", "PlanningFailed")]

    # Failing again writes nothing new and posts no second Event; planning again clears the condition.
    again = make_job("bad", status=bad_plan.status.to_wire())
    (_, repeat), *_ = plan_each([JobView(again)], boom, T0)[0]
    assert repeat.status is None
    assert repeat.events == []
    fixed = make_job("fixed", status=bad_plan.status.to_wire())
    (_, recovered), *_ = plan_each([JobView(fixed)], boom, T0)[0]
    assert recovered.status is not None
    stalled = next(cd for cd in recovered.status.conditions or [] if cd.type == "Stalled")
    assert (stalled.status, stalled.reason) == ("False", "Planned")


# ---- a stopped worker never finishes a job (issue 13, item 2) ----------------------------------------


def test_a_succeeded_pod_that_is_being_deleted_is_not_a_finished_shard() -> None:
    # A spot notice or a drain deletes the pod; the worker flushes and exits; Kubernetes reports the
    # pod Succeeded while it is still being deleted. The crate is not there: the job must not succeed.
    job = make_job(status=admitted_status(["n1", "n1"]))
    pods = {0: pod(0, "Succeeded"), 1: pod(1, "Succeeded", terminating=True, exit_code=0)}
    plan = plan_job(JobView(job, pods), None, None, ctx(node("n1")))
    assert plan.finished is None
    assert plan.status is not None
    assert plan.status.phase == "Recovering"
    assert {w.shard: w.phase for w in plan.status.workers or []}[1] != "Succeeded"
    # once it is gone, the shard gets a new pod that resumes from the ledger
    settled = make_job(status=plan.status.to_wire())
    again = plan_job(JobView(settled, {0: pod(0, "Succeeded")}), None, None, ctx(node("n1")))
    assert again.create == [1]
    assert again.finished is None


def test_a_worker_that_exited_resume_me_is_recreated_without_spending_the_error_budget() -> None:
    job = make_job(shards=1, status=admitted_status(["n1"]), recovery={"maxErrorRetries": 0})
    stopped = {0: pod(0, "Failed", exit_code=75, failed_at=T0)}
    plan = plan_job(JobView(job, stopped), None, None, ctx(node("n1"), now=T0))
    assert plan.finished is None
    assert [d[0] for d in deletes(plan)] == ["j-w0"]  # no backoff: it is not an error
    assert plan.error_retries == 0
    assert plan.reclaims == 1
    assert plan.status is not None
    assert plan.status.phase == "Recovering"


def test_an_invalid_worker_configuration_fails_the_job_naming_the_shard_and_code() -> None:
    job = make_job(status=admitted_status(["n1", "n1"]))
    pods = {0: pod(0), 1: pod(1, "Failed", exit_code=2, failed_at=T0)}
    plan = plan_job(JobView(job, pods), None, None, ctx(node("n1")))
    assert plan.finished == "failed"
    assert plan.status is not None
    failed = next(cd for cd in plan.status.conditions or [] if cd.type == "Failed")
    assert failed.reason == "InvalidWorkerConfiguration"
    assert "shard 1" in failed.message
    assert "exit code 2" in failed.message
    assert deletes(plan) == [("j-w0", None)]  # the other workers stop
    assert plan.error_retries == 0


def test_a_retried_workers_event_says_what_its_exit_code_means() -> None:
    job = make_job(shards=1, status=admitted_status(["n1"]))
    plan = plan_job(
        JobView(job, {0: pod(0, "Failed", exit_code=3, failed_at=T0)}), None, None, ctx(node("n1"))
    )
    (event,) = [e for e in plan.events if e.reason == "WorkerFailed"]
    assert "exit code 3: transient" in event.message


def cordoned(name: str) -> NodeView:
    return NodeView(Node(name, CapacityType.ON_DEMAND, 8, schedulable=False), cordoned=True)


def test_a_shard_drained_off_a_cordoned_node_is_placed_elsewhere() -> None:
    # `kubectl drain` cordons the node and evicts the worker (which stops to be resumed). Recreating
    # its pod pinned to the cordoned node left it Pending until someone uncordoned the node.
    job = make_job(shards=1, status=admitted_status(["n1"]))
    nodes = {"n1": cordoned("n1"), "n2": node("n2")}
    view = JobView(job, {})  # the evicted pod is gone
    assert displaced_shards(view, nodes) == [0]
    assert replace_displaced([view], nodes, []) == {"ns/j": {0: "n2"}}
    plan = plan_job(view, None, None, ctx(cordoned("n1"), node("n2"), replacements={0: "n2"}))
    assert plan.status is not None
    assert [(w.shard, w.node) for w in plan.status.workers or []] == [(0, "n2")]
    assert plan.create == [0]
    assert running_of(view, nodes).placements == ()  # it holds nothing on the cordoned node


def test_a_running_worker_on_a_cordoned_node_keeps_running() -> None:
    # Cordoning alone moves nothing: a drain evicts the pod, or the node goes away.
    job = make_job(shards=1, status=admitted_status(["n1"]))
    view = JobView(job, {0: pod(0)})
    assert displaced_shards(view, {"n1": cordoned("n1")}) == []
    plan = plan_job(view, None, None, ctx(cordoned("n1"), node("n2")))
    assert deletes(plan) == []
    assert (plan.status or job.status).workers[0].node == "n1"  # type: ignore[index]


def test_a_shard_recorded_succeeded_whose_pod_is_now_being_deleted_is_not_counted_finished() -> None:
    status = admitted_status(["n1", "n1"])
    status["workers"][0]["phase"] = "Succeeded"  # from an earlier cycle
    job = make_job(status=status)
    pods = {0: pod(0, "Succeeded", terminating=True, exit_code=0), 1: pod(1, "Succeeded")}
    plan = plan_job(JobView(job, pods), None, None, ctx(node("n1")))
    assert plan.finished is None
    assert plan.status is not None
    assert plan.status.workers is not None
    assert plan.status.workers[0].phase == "Pending"


def test_a_job_on_an_output_path_in_use_is_not_admitted_and_says_why_once() -> None:
    # Issue 13, item 10: the job stays Queued with a condition naming the holder, and one Warning Event.
    def on(name: str, path: str, minute: int, status: dict[str, Any] | None = None) -> JobView:
        job = make_job(
            name, status=status, output={"persistentVolumeClaim": {"claimName": "crates", "path": path}}
        )
        job.metadata.creation_timestamp = T0 + timedelta(minutes=minute)
        return JobView(job)

    owner = on("owner", "/team", 0, admitted_status(["n1", "n1"]))
    late = on("late", "/team/app/", 1)
    elsewhere = on("elsewhere", "/other", 2)
    holding = {running_of(owner, {}).job.key}
    claims = [output_claim(v, active=v.key in holding) for v in (owner, late, elsewhere)]
    in_use = waiting_for_output(c for c in claims if c is not None)
    assert in_use == {"ns/late": "ns/owner"}
    req = request_of(late.job, in_use.get(late.key))
    result = admit([req], [Node("n1", CapacityType.ON_DEMAND, 8)], [], T0)
    (decision,) = result.waiting
    plan = plan_job(late, decision, None, ctx())
    assert plan.status is not None
    assert plan.status.queue is not None
    assert (plan.status.phase, plan.status.queue.reason) == ("Queued", "OutputPathInUse")
    assert plan.create == []
    queued = next(x for x in plan.status.conditions if x.type == "Queued")
    assert queued.reason == "OutputPathInUse"
    assert "ns/owner" in queued.message
    assert [(e.type, e.reason) for e in plan.events] == [("Normal", "Queued"), ("Warning", "OutputPathInUse")]
    again = plan_job(JobView(late.job.model_copy(update={"status": plan.status})), decision, None, ctx())
    assert [e.reason for e in again.events] == []
    # a finished owner, or a ConfigMap output, holds nothing
    done = on("owner", "/team", 0, {"conditions": [cond("Succeeded")]})
    assert output_claim(done, active=False) is None
    assert output_claim(JobView(make_job("cm")), active=False) is None


def test_a_job_out_of_error_retries_names_the_last_exit_codes_in_its_failed_condition() -> None:
    # A full disk (exit 4) retried until the budget ran out used to end with "1 error retries exceed
    # recovery.maxErrorRetries=0" alone: the reason (and so the fix) was only in an earlier Event.
    job = make_job(shards=2, status=admitted_status(["n1", "n1"]), recovery={"maxErrorRetries": 0})
    pods = {0: pod(0), 1: pod(1, "Failed", exit_code=4, failed_at=T0)}
    plan = plan_job(JobView(job, pods), None, None, ctx(node("n1")))
    assert plan.finished == "failed"
    assert plan.status is not None
    failed = next(cd for cd in plan.status.conditions or [] if cd.type == "Failed")
    assert "maxErrorRetries=0" in failed.message
    assert "shard 1 (exit code 4: no space left on device)" in failed.message
