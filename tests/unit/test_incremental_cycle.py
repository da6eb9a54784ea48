"""Planning only what changed (cycle.plan_cycle with `dirty`, deadlines.DeadlineHeap) misses nothing.

A small cluster is simulated for many cycles: jobs arrive, pods start, succeed, fail and vanish, time
moves on. Each cycle is planned twice, in full and incrementally (the dirty set being exactly what the
informers would have reported, plus the heap's due jobs); every job the incremental cycle leaves out
must be one whose full plan writes nothing, and the jobs it plans get the same plan as in full.
"""

from __future__ import annotations

import gc
import random
import weakref
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from portalis_operator.api import TranslationJob
from portalis_operator.carryover import Carryover
from portalis_operator.cycle import EVERYTHING, Dirty, plan_cycle
from portalis_operator.deadlines import DeadlineHeap
from portalis_operator.jobs import JobPlan
from portalis_operator.packing import Node
from portalis_operator.recovery import NodeTrouble
from portalis_operator.scheduling import SchedulingPolicy
from portalis_operator.snapshot import JobView, NodeView, PodView, PoolConfig
from portalis_operator.startup import StartPolicy
from portalis_operator.workload import CapacityType

pytestmark = pytest.mark.unit

T0 = datetime(2026, 1, 1, tzinfo=UTC)
POOL = PoolConfig.from_spec("default", None, "portalis.dev/pool")
NODES = {
    name: NodeView(Node(name, CapacityType.ON_DEMAND, 8, schedulable=True)) for name in ("n1", "n2", "n3")
}
START = StartPolicy(timeout=timedelta(minutes=3))


def new_job(rng: random.Random, i: int, now: datetime) -> TranslationJob:
    spec: dict[str, Any] = {
        "source": {"configMap": {"name": "src"}},
        "output": {"configMap": {"name": "out"}},
        "target": {"crateName": "c"},
        "parallelism": rng.randint(1, 3),
        "gpusPerWorker": rng.choice([1, 2, 4]),
        "priority": rng.choice(["high", "normal", "low"]),
        "recovery": {"backoffSeconds": rng.choice([10, 60]), "maxErrorRetries": 2},
    }
    if rng.random() < 0.3:
        spec["deadlineSeconds"] = rng.choice([120, 600])
    if rng.random() < 0.5:
        spec["ttlSecondsAfterFinished"] = rng.choice([30, 300])
    return TranslationJob.model_validate(
        {
            "metadata": {
                "name": f"j{i}",
                "namespace": "ns",
                "uid": f"uid-{i}",
                "generation": 1,
                "resourceVersion": "1",
                "creationTimestamp": now.isoformat(),
            },
            "spec": spec,
        }
    )


class World:
    """Jobs and their pods as the API server holds them; every change is recorded as dirty."""

    def __init__(self) -> None:
        self.jobs: dict[str, TranslationJob] = {}
        self.pods: dict[str, dict[int, PodView]] = {}
        self.dirty: set[str] = set()
        self.uids = 0

    def views(self) -> list[JobView]:
        return [JobView(self.jobs[k], dict(self.pods.get(k, {}))) for k in sorted(self.jobs)]

    def add(self, job: TranslationJob) -> None:
        key = f"ns/{job.metadata.name}"
        self.jobs[key] = job
        self.dirty.add(key)

    def set_pod(self, key: str, pod: PodView | None, shard: int) -> None:
        if pod is None:
            self.pods.get(key, {}).pop(shard, None)
        else:
            self.pods.setdefault(key, {})[shard] = pod
        self.dirty.add(key)

    def apply(self, view: JobView, plan: JobPlan, now: datetime) -> None:
        """What writes.Writer does, with the API server's answers."""
        key = view.key
        job = self.jobs[key]
        if plan.status is not None:
            rv = str(int(job.metadata.resource_version or "0") + 1)
            meta = job.metadata.model_copy(update={"resource_version": rv})
            job = job.model_copy(update={"status": plan.status, "metadata": meta})
            self.jobs[key] = job
            self.dirty.add(key)
        for d in plan.deletes:
            shard = int(d.name.rsplit("-w", 1)[1])
            self.set_pod(key, None, shard)
        nodes = {w.shard: w.node for w in job.status.workers or ()}
        for shard in plan.create:
            self.uids += 1
            name = f"{job.metadata.name}-w{shard}"
            pod = PodView(name=name, shard=shard, phase="Pending", node=nodes.get(shard), uid=f"p{self.uids}")
            self.set_pod(key, pod, shard)
        if plan.delete_job:
            self.jobs.pop(key)
            self.pods.pop(key, None)

    def step(self, rng: random.Random, now: datetime) -> None:
        """The cluster moves on: pods start, finish, fail or vanish."""
        for key, pods in list(self.pods.items()):
            for shard, pod in list(pods.items()):
                roll = rng.random()
                if pod.phase == "Pending" and roll < 0.6:
                    self.set_pod(key, replace(pod, phase="Running", run=(now, None)), shard)
                elif pod.phase == "Running" and roll < 0.15:
                    run = (pod.run[0] if pod.run else now, now)
                    self.set_pod(key, replace(pod, phase="Succeeded", exit_code=0, run=run), shard)
                elif pod.phase == "Running" and roll < 0.2:
                    run = (pod.run[0] if pod.run else now, now)
                    failed = replace(pod, phase="Failed", exit_code=1, failed_at=now, run=run)
                    self.set_pod(key, failed, shard)


def writes_something(plan: JobPlan) -> bool:
    return bool(plan.status or plan.create or plan.deletes or plan.events or plan.delete_job)


def plan(world: World, now: datetime, dirty: Dirty) -> dict[str, JobPlan]:
    planned = plan_cycle(world.views(), NODES, POOL, now, SchedulingPolicy(), START, lambda _: {}, dirty)
    assert not planned.failures
    return {v.key: p for v, p in planned.plans}


@pytest.mark.parametrize("seed", range(12))
def test_incremental_cycles_leave_out_only_jobs_whose_plan_writes_nothing(seed: int) -> None:
    rng = random.Random(seed)
    world, heap = World(), DeadlineHeap()
    now, created, skipped = T0, 0, 0
    for _cycle in range(120):
        now += timedelta(seconds=rng.choice([0.5, 1, 5, 20, 45, 90]))
        if created < 14 and rng.random() < 0.3:
            world.add(new_job(rng, created, now))
            created += 1
        world.step(rng, now)
        dirty = Dirty(frozenset(world.dirty | heap.pop_due(now)))
        world.dirty = set()
        full = plan(world, now, EVERYTHING)
        views = {v.key: v for v in world.views()}
        incremental = plan_cycle(
            list(views.values()), NODES, POOL, now, SchedulingPolicy(), START, lambda _: {}, dirty
        )
        planned = {v.key: p for v, p in incremental.plans}
        for key, p in full.items():
            if key in planned:
                assert planned[key] == p, key
            else:
                skipped += 1
                assert not writes_something(p), (key, now - T0, p)
        for key, when in incremental.due.items():
            heap.schedule(key, when)
        for v, p in incremental.plans:
            world.apply(v, p, now)
    assert skipped > 0, "the incremental cycles never left a job out: nothing was tested"


def test_a_settled_queue_is_not_planned_again() -> None:
    rng = random.Random(1)
    world = World()
    for i in range(30):  # more than three nodes hold: most stay queued
        world.add(new_job(rng, i, T0))
    first = plan(world, T0, EVERYTHING)
    for v in world.views():
        world.apply(v, first[v.key], T0)
    world.dirty = set()
    # the workers' pods, created by the first cycle's writes, have not changed; nothing else has
    again = plan(world, T0 + timedelta(seconds=1), Dirty())
    assert again == {}


def test_every_job_is_planned_when_everything_changed() -> None:
    rng = random.Random(2)
    world = World()
    for i in range(5):
        world.add(new_job(rng, i, T0))
    assert set(plan(world, T0, EVERYTHING)) == set(world.jobs)


@pytest.mark.parametrize("seed", range(8))
def test_what_a_cycle_carries_over_changes_no_plan(seed: int) -> None:
    """plan_cycle with a Carryover kept across cycles (as the controller keeps it) plans exactly what a
    cycle without one plans, while jobs, pods and nodes change (a node now and then lost or back)."""
    rng = random.Random(seed)
    world, carry = World(), Carryover()
    nodes = dict(NODES)
    now, created, reused = T0, 0, 0
    for _cycle in range(100):
        now += timedelta(seconds=rng.choice([0.5, 1, 5, 20, 45, 90]))
        if created < 14 and rng.random() < 0.3:
            world.add(new_job(rng, created, now))
            created += 1
        world.step(rng, now)
        if rng.random() < 0.1:
            trouble = rng.choice([NodeTrouble.NONE, NodeTrouble.LOST, NodeTrouble.NOTICE])
            n3 = nodes["n3"].node
            nodes["n3"] = NodeView(replace(n3, schedulable=trouble is NodeTrouble.NONE), trouble=trouble)
        dirty = Dirty(frozenset(world.dirty))
        world.dirty = set()
        views = world.views()
        fresh = plan_cycle(views, nodes, POOL, now, SchedulingPolicy(), START, lambda _: {}, dirty)
        before = {k for k, (job, _pods, _o) in carry._occupancy.items() if job is world.jobs.get(k)}
        carried = plan_cycle(views, nodes, POOL, now, SchedulingPolicy(), START, lambda _: {}, dirty, carry)
        reused += len(before)
        assert [(v.key, p) for v, p in carried.plans] == [(v.key, p) for v, p in fresh.plans]
        assert carried.waiting == fresh.waiting
        assert carried.pool == fresh.pool
        for v, p in carried.plans:
            world.apply(v, p, now)
    assert reused > 0, "no job's occupancy was ever carried over: nothing was tested"


def test_a_running_job_keeps_no_old_model_alive() -> None:
    """Once a queued job is admitted, the carryover no longer holds the model its queue request was made
    from: only the cache's current model of a running job stays alive (at 5,000 running jobs the old
    one doubled the operator's memory per job)."""
    world, carry = World(), Carryover()
    world.add(new_job(random.Random(1), 0, T0))
    queued = world.jobs["ns/j0"]
    old = weakref.ref(queued)
    del queued
    now = T0
    for _cycle in range(4):  # admit, pods start, then quiet cycles
        planned = plan_cycle(world.views(), NODES, POOL, now, SchedulingPolicy(), START, carry=carry)
        for v, p in planned.plans:
            world.apply(v, p, now)
        world.step(random.Random(0), now)
        now += timedelta(seconds=1)
    assert world.jobs["ns/j0"].status.phase in ("Admitted", "Running")
    del planned
    gc.collect()
    assert old() is None, "the queued model is still referenced after the job was admitted"
