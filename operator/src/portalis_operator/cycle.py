"""One scheduling cycle, planned: a pure function from the views to every write the cycle should make.

`plan_cycle` places displaced shards first (occupancy.replace_displaced), then asks admission for
admissions and preemptions over what is left (scheduling.schedule), then plans every job on its own
(jobs.plan_job; a job whose planning raises gets `planning_failed`'s plan and the others go on), and
gathers what the autoscaler needs (pool.PoolSnapshot). The controller reads the cluster into views,
calls it, and applies the result (writes.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from portalis_operator import conditions as c
from portalis_operator.admission import Admitted, Waiting
from portalis_operator.carryover import Carryover
from portalis_operator.deadlines import next_due
from portalis_operator.jobs import Context, Event, JobPlan, plan_job, waiting_unchanged
from portalis_operator.occupancy import (
    busy_nodes,
    output_claim,
    pending_since,
    replace_displaced,
    with_replacements,
)
from portalis_operator.output_paths import waiting_for_output
from portalis_operator.pool import PoolSnapshot
from portalis_operator.scheduling import SchedulingPolicy, schedule
from portalis_operator.snapshot import JobView, NodeView, PoolConfig, capacity
from portalis_operator.startup import StartPolicy
from portalis_operator.workload import RunningJob

FINAL = ("Succeeded", "Failed")


@dataclass(frozen=True)
class Dirty:
    """What changed since the last cycle: these jobs (keys "namespace/name": the object or its pods),
    or `everything` (a node or the GPUPool changed, a new leader, the first cycle)."""

    jobs: frozenset[str] = frozenset()
    everything: bool = False

    def __or__(self, other: Dirty) -> Dirty:
        return Dirty(self.jobs | other.jobs, self.everything or other.everything)


EVERYTHING = Dirty(everything=True)


@dataclass(frozen=True)
class CyclePlan:
    plans: list[tuple[JobView, JobPlan]]  # the planned jobs', in the views' order
    failures: list[tuple[JobView, Exception]]  # jobs whose planning raised (for the log)
    waiting: Sequence[Waiting]  # the scheduler's queue after this cycle
    pool: PoolSnapshot  # what the autoscaler needs
    due: Mapping[str, datetime | None] = field(default_factory=dict)  # planned job -> next_due


def plan_cycle(
    views: Sequence[JobView],
    nodes: Mapping[str, NodeView],
    pool: PoolConfig,
    now: datetime,
    scheduling: SchedulingPolicy,
    start: StartPolicy,
    refusals: Callable[[JobView], Mapping[int, str]] = lambda _: {},
    dirty: Dirty = EVERYTHING,
    carry: Carryover | None = None,
) -> CyclePlan:
    """`refusals(view)`: what the API server last said to each of the job's refused pod creates.

    The queue, capacity, replacements and preemption are decided over every job (the scheduler needs
    the whole queue), but `plan_job` runs only for the jobs whose plan can differ from the last one:
    the `dirty` ones, those the scheduler admits, evicts or moves in the queue, those given a
    replacement node, those with refused pod creates, and (through `dirty`, from the deadline heap)
    those whose time-based rules fall due (deadlines.next_due, returned in `due`).

    `carry`: what the previous cycle computed per job (carryover.py), so that the unchanged jobs cost
    no recomputation; the plan is the same without it."""
    carry = carry if carry is not None else Carryover()
    carry.start(views, nodes)
    occupancy = {v.key: carry.occupancy(v, nodes) for v in views}
    running = [o.running for o in occupancy.values() if o.running is not None]

    def displaced(v: JobView) -> Sequence[int]:
        return occupancy[v.key].displaced

    replacements = replace_displaced(views, nodes, running, displaced)
    running = [with_replacements(r, replacements.get(r.job.key, {})) for r in running]
    holding = {r.job.key for r in running}
    claims = (output_claim(v, active=v.key in holding) for v in views)
    output_in_use_by = waiting_for_output(claim for claim in claims if claim is not None)
    queued = [
        carry.request(v.key, v.job, output_in_use_by.get(v.key))
        for v in views
        if v.key not in holding and v.job.status.phase not in (*FINAL, "Preempted")
    ]
    result = schedule(queued, capacity(nodes), running, now, scheduling, quotas=pool.quotas)
    decisions: dict[str, Admitted | Waiting] = {a.job.key: a for a in result.admitted}
    decisions.update({w.job.key: w for w in result.waiting})
    evicted_by: dict[str, str] = {}
    if result.preemption is not None:
        for victim in result.preemption.victims:
            if not victim.evicting:
                evicted_by[victim.job.key] = result.preemption.preemptor.key

    def plan(v: JobView) -> JobPlan:
        return plan_job(
            v,
            decisions.get(v.key),
            evicted_by.get(v.key),
            Context(
                nodes=nodes,
                now=now,
                replacements=replacements.get(v.key, {}),
                recovery=pool.recovery,
                pricing=pool.pricing,
                start=start,
                create_refusals=refusals(v),
            ),
        )

    def must_plan(v: JobView) -> bool:
        if dirty.everything or v.key in dirty.jobs or v.key in replacements or v.key in evicted_by:
            return True
        decision = decisions.get(v.key)
        if isinstance(decision, Admitted):
            return True
        if isinstance(decision, Waiting) and not v.job.spec.suspend:
            return not waiting_unchanged(v.job, decision) or bool(refusals(v))
        return bool(refusals(v))

    plans, failures = plan_each([v for v in views if must_plan(v)], plan, now)
    due = {v.key: next_due(v, p.status or v.job.status, now, start, pool.recovery) for v, p in plans}
    admitted = [RunningJob(a.job, a.placements, now) for a in result.admitted]
    return CyclePlan(
        plans=plans,
        failures=failures,
        due=due,
        waiting=result.waiting,
        pool=PoolSnapshot(
            nodes=nodes,
            running=[*running, *admitted],
            waiting=result.waiting,
            busy=busy_nodes(views, [*running, *admitted], nodes),
            pending_since=pending_since(views, nodes, replacements, now, displaced),
        ),
    )


def plan_each(
    views: Sequence[JobView], plan: Callable[[JobView], JobPlan], now: datetime
) -> tuple[list[tuple[JobView, JobPlan]], list[tuple[JobView, Exception]]]:
    """`plan(view)` for every job, each on its own: a job whose planning raises gets `planning_failed`'s
    plan instead, and the others are planned as usual. Whatever one tenant's job or pods hold, the cycle
    goes on for everyone else. Returns the plans (in order) and the failures (for the log)."""
    plans: list[tuple[JobView, JobPlan]] = []
    failures: list[tuple[JobView, Exception]] = []
    for view in views:
        try:
            planned = plan(view)
        except Exception as exc:  # isolation is the point: any bug or input a job can trigger
            failures.append((view, exc))
            planned = planning_failed(view, exc, now)
        plans.append((view, planned))
    return plans, failures


def planning_failed(view: JobView, error: Exception, now: datetime) -> JobPlan:
    """Stalled=True (reason PlanningFailed, the error as message) and a Warning Event the first time; no
    other change to the job or its pods. Written again only when the message changes."""
    job = view.job
    message = f"planning this job failed: {type(error).__name__}: {error}"[:1024]
    current = c.find(job.status.conditions, c.STALLED)
    stalled = current is not None and current.status == "True"
    plan = JobPlan()
    if stalled and current is not None and (current.reason, current.message) == ("PlanningFailed", message):
        return plan
    status = job.status.model_copy()
    status.conditions = c.set_condition(
        status.conditions, c.STALLED, "True", "PlanningFailed", message, now, job.metadata.generation
    )
    plan.status = status
    if not stalled:
        plan.events.append(Event("Warning", "PlanningFailed", message))
    return plan
