"""deadlines.py: when a job's time-based rules fall due, and the heap that hands them out; and the
informer's handling of watch events (informer.Informer.apply), the pure part of the watch-fed cache."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from test_lifecycle import admitted_status, cond, ctx, make_job, node, pod

from portalis_operator.deadlines import DeadlineHeap, next_due, node_due, sweep_slice
from portalis_operator.informer import Expired, Informer
from portalis_operator.jobs import JobPlan, plan_job
from portalis_operator.recovery import DEFAULT_RECOVERY
from portalis_operator.snapshot import JobView
from portalis_operator.startup import StartPolicy

pytestmark = pytest.mark.unit

T0 = datetime(2026, 1, 1, tzinfo=UTC)
START = StartPolicy(timeout=timedelta(minutes=10))


def due(view: JobView, now: datetime) -> datetime | None:
    return next_due(view, view.job.status, now, START, DEFAULT_RECOVERY)


def planned(view: JobView, at: datetime) -> JobPlan:
    return plan_job(view, None, None, ctx(node("n1"), now=at))


def test_a_finished_jobs_ttl_is_due_exactly_when_it_deletes_the_job() -> None:
    done = {"conditions": [cond("Succeeded")], "completionTime": T0.isoformat()}
    view = JobView(make_job(status=done, ttlSecondsAfterFinished=600))
    when = due(view, T0)
    assert when == T0 + timedelta(seconds=600)
    assert not planned(view, when - timedelta(microseconds=1)).delete_job
    assert planned(view, when).delete_job


def test_the_deadline_is_due_just_after_it_passes() -> None:
    view = JobView(make_job(status=admitted_status(["n1", "n1"]), deadlineSeconds=60), {0: pod(0), 1: pod(1)})
    when = due(view, T0 + timedelta(seconds=1))
    assert when is not None
    assert planned(view, T0 + timedelta(seconds=60)).finished is None
    assert planned(view, when).finished == "failed"


def test_the_start_timeout_is_due_for_an_admitted_job_with_nothing_running() -> None:
    status = admitted_status(["n1"])
    status["conditions"] = [cond("Admitted")]
    view = JobView(make_job(shards=1, status=status), {0: pod(0, phase="Pending")})
    when = due(view, T0 + timedelta(seconds=1))
    assert when is not None
    assert when - T0 - START.timeout < timedelta(milliseconds=1)
    assert planned(view, when - timedelta(microseconds=1)).finished is None
    assert planned(view, when).finished == "failed"


def test_a_failed_workers_backoff_is_due_when_it_is_retried() -> None:
    status = admitted_status(["n1"], recoveries={"errorRetries": 1})
    view = JobView(
        make_job(shards=1, status=status, recovery={"backoffSeconds": 60}),
        {0: pod(0, phase="Failed", exit_code=1, failed_at=T0)},
    )
    when = due(view, T0 + timedelta(seconds=1))
    assert when == T0 + timedelta(seconds=120)  # 60 * 2^1
    assert planned(view, when - timedelta(microseconds=1)).error_retries == 0
    assert planned(view, when).error_retries == 1


def test_a_running_jobs_cost_refresh_is_due() -> None:
    status = admitted_status(["n1"], cost={"asOf": T0.isoformat()})
    view = JobView(make_job(shards=1, status=status), {0: pod(0, run=(T0, None))})
    assert due(view, T0 + timedelta(seconds=1)) == T0 + timedelta(seconds=30)


def test_a_settled_queued_job_has_no_deadline() -> None:
    view = JobView(make_job(status={"conditions": [cond("Queued")]}))
    assert due(view, T0) is None


def test_past_moments_are_not_due_again() -> None:
    done = {"conditions": [cond("Succeeded")], "completionTime": T0.isoformat()}
    view = JobView(make_job(status=done, ttlSecondsAfterFinished=60))
    assert due(view, T0 + timedelta(hours=1)) is None


def test_a_not_ready_nodes_grace_period_is_due() -> None:
    since = T0.isoformat()
    raw = {
        "metadata": {"name": "n1"},
        "status": {"conditions": [{"type": "Ready", "status": "False", "lastTransitionTime": since}]},
    }
    grace = DEFAULT_RECOVERY.not_ready_grace_seconds
    assert node_due([raw], DEFAULT_RECOVERY, T0) == T0 + timedelta(seconds=grace)
    ready = {"metadata": {"name": "n2"}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    assert node_due([ready], DEFAULT_RECOVERY, T0) is None


def test_the_heap_hands_out_due_keys_once_and_follows_rescheduling() -> None:
    heap = DeadlineHeap()
    heap.schedule("a", T0 + timedelta(seconds=10))
    heap.schedule("b", T0 + timedelta(seconds=5))
    heap.schedule("a", T0 + timedelta(seconds=1))  # moved earlier
    heap.schedule("c", T0 + timedelta(seconds=1))
    heap.schedule("c", None)  # no longer due at all
    assert heap.next() == T0 + timedelta(seconds=1)
    assert heap.pop_due(T0) == set()
    assert heap.pop_due(T0 + timedelta(seconds=1)) == {"a"}
    assert heap.pop_due(T0 + timedelta(seconds=10)) == {"b"}  # "a"'s stale entry at 10 s is skipped
    assert heap.pop_due(T0 + timedelta(days=1)) == set()
    assert len(heap) == 0
    assert heap.next() is None


def test_the_heap_stays_bounded_under_rescheduling() -> None:
    heap = DeadlineHeap()
    for i in range(10_000):
        heap.schedule("a", T0 + timedelta(seconds=i))
    assert len(heap._heap) < 100


def informer(changes: list[Any]) -> Informer[str]:
    async def never(**_: Any) -> None:
        raise AssertionError("no request in this test")

    def reduce(raw: Any) -> str | None:
        return (raw.get("metadata") or {}).get("labels", {}).get("keep")

    return Informer("t", never, reduce, lambda *c: changes.append(c))


def obj(name: str, rv: str, keep: str | None) -> dict[str, Any]:
    labels = {"keep": keep} if keep else {}
    return {"metadata": {"namespace": "ns", "name": name, "resourceVersion": rv, "labels": labels}}


def test_watch_events_update_the_store_and_report_only_real_changes() -> None:
    changes: list[Any] = []
    inf = informer(changes)
    inf.apply({"type": "ADDED", "object": obj("a", "2", "x")})
    inf.apply({"type": "MODIFIED", "object": obj("a", "3", "x")})  # same reduced value: no change
    inf.apply({"type": "ADDED", "object": obj("b", "4", None)})  # reduced to None: not kept
    inf.apply({"type": "MODIFIED", "object": obj("a", "5", None)})  # no longer kept: gone
    inf.apply({"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "9"}}})
    assert inf.items == {}
    assert changes == [(("ns", "a"), None, "x"), (("ns", "a"), "x", None)]
    assert inf.resource_version == "9"


def test_an_expired_version_in_the_stream_asks_for_a_relist() -> None:
    inf = informer([])
    with pytest.raises(Expired):
        inf.apply({"type": "ERROR", "object": {"kind": "Status", "code": 410, "message": "too old"}})


def test_our_own_write_is_held_until_the_watch_catches_up() -> None:
    """An admission written at version 7 must not be undone by the watch's older events of the same
    job (the next cycle would give its GPUs away again)."""
    changes: list[Any] = []
    inf = informer(changes)
    inf.apply({"type": "ADDED", "object": obj("a", "5", "queued")})
    inf.assume(obj("a", "7", "admitted"))
    inf.apply({"type": "MODIFIED", "object": obj("a", "6", "queued")})  # older: skipped
    assert inf.items == {("ns", "a"): "admitted"}
    inf.apply({"type": "MODIFIED", "object": obj("a", "7", "admitted")})  # caught up: no change
    inf.apply({"type": "MODIFIED", "object": obj("a", "8", "running")})
    assert inf.items == {("ns", "a"): "running"}
    assert [c[2] for c in changes] == ["queued", "admitted", "running"]
    inf.assume(obj("a", "3", "stale"))  # an answer older than what the store holds is not assumed
    assert inf.items == {("ns", "a"): "running"}
    inf.apply({"type": "DELETED", "object": obj("a", "9", "running")})
    assert inf.items == {}


def test_the_safety_sweep_covers_every_job_once_per_period_in_slices() -> None:
    keys = [f"ns/j{i}" for i in range(1000)]
    seen: list[str] = []
    cursor = 0
    for _ in range(60):  # cycles 5 s apart over a 300 s period
        chosen, cursor = sweep_slice(keys, cursor, 5.0, 300.0)
        assert len(chosen) <= 17  # a sixtieth of the jobs, rounded up: no cycle plans them all
        seen += chosen
    assert set(seen) == set(keys)
    assert sweep_slice(keys, 0, 900.0, 300.0)[0] == keys  # a long pause: everything, once
    assert sweep_slice([], 5, 1.0, 300.0) == ([], 0)


def test_the_echo_of_our_own_write_is_not_reduced_again() -> None:
    """The watch event of the version our write answered with is the object the store holds already:
    it is neither parsed again (a job's model costs more than its plan) nor reported as a change."""
    reduced: list[str] = []
    changes: list[Any] = []

    async def never(**_: Any) -> Any:
        raise AssertionError("no request in this test")

    def reduce(raw: Mapping[str, Any]) -> str | None:
        reduced.append(raw["metadata"]["resourceVersion"])
        return (raw.get("metadata") or {}).get("labels", {}).get("keep")

    inf = Informer("t", never, reduce, lambda *c: changes.append(c))
    inf.apply({"type": "ADDED", "object": obj("a", "5", "queued")})
    inf.assume(obj("a", "7", "admitted"))
    inf.apply({"type": "MODIFIED", "object": obj("a", "7", "admitted")})  # the echo
    inf.apply({"type": "MODIFIED", "object": obj("a", "8", "running")})
    assert reduced == ["5", "7", "8"]  # version 7 reduced once, from our write's answer
    assert [c[2] for c in changes] == ["queued", "admitted", "running"]
