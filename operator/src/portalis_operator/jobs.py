"""What one scheduling cycle does to one TranslationJob: its state machine, pure, from views to a plan.

The cycle gathers the views (snapshot.py), asks admission for admissions and preemptions and
occupancy.py for replacement nodes, then calls `plan_job` for every job. The plan says which status to
write, which pods to create or delete and which events to post; the controller applies it and counts
metrics from what it wrote. All state lives in the API server (conditions, status.workers, the pods), so
an operator killed at any point rebuilds the same views and neither duplicates pods nor forgets work.

Per-shard state machine (status.workers[shard]): a `node` is where the shard is placed; the pod is
`<job>-w<shard>`, pinned there. When occupancy.needs_node says the shard needs a new node, its node is
cleared (displaced). What happens to its pod, what counts as a reclaim or an error retry, grace periods
and backoff are recovery.py's rules (`plan_pods`); this module only applies them to the job's status. A
displaced shard gets a new node as soon as one fits (occupancy.replace_displaced, before admissions);
its new pod is created once the old one is gone, and the worker resumes from its ledger. The words in
conditions and events are job_messages.py's; cost and progress figures are accounting.py's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from portalis_operator import conditions as c
from portalis_operator.accounting import cost_of, update_progress
from portalis_operator.admission import Admitted, Waiting, WaitReason
from portalis_operator.api import (
    CapacityTypeName,
    Pricing,
    QueueStatus,
    RecoveriesStatus,
    TranslationJob,
    TranslationJobStatus,
    WorkerStatus,
)
from portalis_operator.cost import GPUSeconds
from portalis_operator.job_messages import exit_words, start_wait, trouble_words, waiting_words
from portalis_operator.manifests import worker_pod_name
from portalis_operator.occupancy import ACTIVE_PHASES, finished, needs_node, queued_since
from portalis_operator.placement import eligible_capacity_types
from portalis_operator.recovery import (
    DEFAULT_RECOVERY,
    ActionKind,
    FailureReason,
    JobRecoveryState,
    RecoveryPlan,
    RecoveryPolicy,
    ShardState,
    Signal,
    WorkerPod,
    plan_pods,
)
from portalis_operator.results import job_result
from portalis_operator.snapshot import JobView, NodeView, PodView
from portalis_operator.startup import StartPolicy, not_started_message, start_overdue
from portalis_operator.workload import (
    CapacityType,
    SpotMode,
)


@dataclass(frozen=True)
class Event:
    type: str  # Normal | Warning
    reason: str
    message: str


@dataclass(frozen=True)
class PodDelete:
    """Delete pod `name` only while it is still the pod `uid` (sent as a UID precondition, so a pod
    recreated under the same name since the snapshot is never hit); grace None: the pod's own."""

    name: str
    uid: str | None
    grace_seconds: int | None = None


@dataclass
class JobPlan:
    status: TranslationJobStatus | None = None  # None: unchanged
    create: list[int] = field(default_factory=list)  # shards whose pod to create (at status.workers node)
    deletes: list[PodDelete] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    delete_job: bool = False
    admission_wait: float | None = None  # seconds, when admitted this cycle
    preempted: bool = False
    finished: str | None = None  # "succeeded" | "failed", when it happened this cycle
    cost_closed: GPUSeconds = field(default_factory=GPUSeconds)  # GPU-seconds closed this cycle
    reclaim_signals: tuple[Signal, ...] = ()  # reclaims counted this cycle (one per node lost), by signal
    error_retries: int = 0

    @property
    def reclaims(self) -> int:
        return len(self.reclaim_signals)


@dataclass(frozen=True)
class Context:
    nodes: Mapping[str, NodeView]
    now: datetime
    replacements: Mapping[int, str] = field(default_factory=dict)  # shard -> node, from replace_displaced
    recovery: RecoveryPolicy = DEFAULT_RECOVERY
    pricing: Pricing | None = None
    start: StartPolicy = field(default_factory=StartPolicy)
    create_refusals: Mapping[int, str] = field(default_factory=dict)  # shard -> the API server's answer


class _Builder:
    """Accumulates condition changes and the plan for one job."""

    def __init__(self, job: TranslationJob, now: datetime) -> None:
        self.job = job
        self.now = now
        # Shallow: plans only ever replace top-level status fields (lists and sub-objects are rebuilt).
        self.status = job.status.model_copy()
        self.plan = JobPlan()

    def cond(self, type_: str, status: bool, reason: str, message: str) -> None:
        self.status.conditions = c.set_condition(
            self.status.conditions,
            type_,
            "True" if status else "False",
            reason,
            message,
            self.now,
            self.job.metadata.generation,
        )

    def clear(self, type_: str, reason: str, message: str) -> None:
        if c.find(self.status.conditions, type_) is not None:
            self.cond(type_, False, reason, message)

    def event(self, type_: str, reason: str, message: str) -> None:
        self.plan.events.append(Event(type_, reason, message))

    def delete_active(self, pods: Mapping[int, PodView], grace: int | None = None) -> None:
        for p in pods.values():
            if p.phase in ACTIVE_PHASES and not p.terminating:
                self.plan.deletes.append(PodDelete(p.name, p.uid, grace))

    def finish(self, succeeded: bool, reason: str, message: str, pods: Mapping[int, PodView]) -> None:
        self.cond(c.SUCCEEDED if succeeded else c.FAILED, True, reason, message)
        reports = [pods[s].result if s in pods else None for s in sorted(pods)]
        self.status.result = job_result(self.job, reports, self.status.progress, succeeded)
        for t in (c.RUNNING, c.ADMITTED, c.QUEUED, c.RECOVERING):
            self.clear(t, reason, message)
        self.status.completion_time = self.now
        self.status.queue = None
        self.plan.finished = "succeeded" if succeeded else "failed"
        self.event("Normal" if succeeded else "Warning", reason, message)

    def done(self) -> JobPlan:
        if c.is_true(self.status.conditions, c.STALLED):
            self.cond(c.STALLED, False, "Planned", "the operator plans this job again")
        self.status.phase = c.derive_phase(self.status.conditions)
        self.status.observed_generation = self.job.metadata.generation
        workers = self.status.workers or []
        self.status.active_workers = sum(1 for w in workers if w.phase == "Running")
        if self.status != self.job.status:
            self.plan.status = self.status
        return self.plan


def plan_job(
    view: JobView, decision: Admitted | Waiting | None, evicted_by: str | None, ctx: Context
) -> JobPlan:
    plan = _plan(view, decision, evicted_by, ctx)
    job = view.job
    acc = cost_of(view, (plan.status or job.status).workers, ctx.nodes, ctx.pricing, ctx.now)
    plan.cost_closed = acc.closed_now
    if acc.cost is not None:
        status = plan.status or job.status.model_copy()
        status.cost = acc.cost
        plan.status = status
    return plan


def _plan(
    view: JobView, decision: Admitted | Waiting | None, evicted_by: str | None, ctx: Context
) -> JobPlan:
    job, now = view.job, ctx.now
    b = _Builder(job, now)
    conds = job.status.conditions
    spec = job.spec
    active = {s: p for s, p in view.pods.items() if p.phase in ACTIVE_PHASES}

    if finished(job):
        ttl = spec.ttl_seconds_after_finished
        done_at = job.status.completion_time
        # Differences of two datetimes never overflow; `done_at + ttl` can (both come from the API).
        if ttl is not None and done_at is not None and (now - done_at).total_seconds() >= ttl:
            b.plan.delete_job = True
        b.delete_active(active)
        return b.done()

    started = job.status.start_time or job.status.admitted_at
    deadline = spec.deadline_seconds
    if deadline is not None and started is not None and (now - started).total_seconds() > deadline:
        update_progress(b.status, view, now)
        b.finish(False, "DeadlineExceeded", f"running longer than deadlineSeconds={deadline}", view.pods)
        b.delete_active(active)
        return b.done()

    if spec.suspend:
        if not c.is_true(conds, c.SUSPENDED):
            b.cond(c.SUSPENDED, True, "Suspended", "spec.suspend is true; workers checkpoint and stop")
            for t in (c.ADMITTED, c.RUNNING, c.RECOVERING, c.QUEUED):
                b.clear(t, "Suspended", "spec.suspend is true")
            b.status.queue = QueueStatus(reason="Suspended")
            b.event("Normal", "Suspended", "spec.suspend is true; workers checkpoint and stop")
        b.delete_active(active)
        if not active:
            b.status.workers = None
        return b.done()
    if c.is_true(conds, c.SUSPENDED):
        b.cond(c.SUSPENDED, False, "Resumed", "spec.suspend is false")
        b.cond(c.QUEUED, True, "Resumed", "waiting for admission")
        b.event("Normal", "Resumed", "spec.suspend is false; back in the queue")
        return b.done()

    if c.is_true(conds, c.PREEMPTED):
        b.delete_active(active)
        if not active and not any(p.terminating for p in view.pods.values()):
            b.cond(c.PREEMPTED, False, "Requeued", "evicted workers are gone; back in the queue")
            b.cond(c.QUEUED, True, "Requeued", "waiting for admission after preemption")
            b.status.workers = None
            b.event("Normal", "Requeued", "back in the queue; it resumes from its checkpoints")
        return b.done()

    if evicted_by is not None:
        msg = f"evicted to make room for higher-priority job {evicted_by}"
        b.cond(c.PREEMPTED, True, "PreemptedByHigherPriority", msg)
        for t in (c.ADMITTED, c.RUNNING, c.RECOVERING):
            b.clear(t, "Preempted", msg)
        b.delete_active(active)
        b.plan.preempted = True
        b.event("Warning", "Preempted", msg)
        return b.done()

    if not c.is_true(conds, c.ADMITTED):
        return _plan_queued(b, view, decision, ctx.nodes)
    return _plan_admitted(b, view, ctx)


def _plan_queued(
    b: _Builder, view: JobView, decision: Admitted | Waiting | None, pool: Mapping[str, NodeView]
) -> JobPlan:
    job = view.job
    if isinstance(decision, Admitted):
        waited_from = queued_since(job) or job.metadata.creation_timestamp or b.now
        nodes = sorted({p.node for p in decision.placements})
        msg = f"{len(decision.placements)} worker(s) placed on {', '.join(nodes)}"
        b.cond(c.QUEUED, False, "Admitted", msg)
        b.cond(c.ADMITTED, True, "Admitted", msg)
        b.status.admitted_at = b.now
        # Zero counters from the start, so `kubectl get tj` shows 0 recoveries rather than nothing.
        b.status.recoveries = b.status.recoveries or RecoveriesStatus(reclaims=0, error_retries=0)
        b.status.queue = None
        # Each worker as the next cycle sees it once its pod exists (Pending, its node's capacity type),
        # so that cycle writes nothing: it was a status write of its own for every admitted job.
        name = job.metadata.name
        b.status.workers = [
            WorkerStatus(shard=p.shard, pod=worker_pod_name(name, p.shard), node=p.node, phase="Pending")
            for p in sorted(decision.placements, key=lambda p: p.shard)
        ]
        for w in b.status.workers:
            w.capacity_type = _capacity_type(pool, w.node or "")
        b.plan.create = [p.shard for p in decision.placements]
        b.plan.admission_wait = max(0.0, (b.now - waited_from).total_seconds())
        b.event("Normal", "Admitted", msg)
        return b.done()
    if not c.is_true(job.status.conditions, c.QUEUED):
        b.event("Normal", "Queued", "waiting for admission")
    if isinstance(decision, Waiting):
        msg = waiting_words(decision)
        if decision.reason in _WARN_ONCE:  # not a capacity wait: say why once, as a Warning
            current = c.find(job.status.conditions, c.QUEUED)
            if current is None or (current.reason, current.message) != (decision.reason.value, msg):
                b.event("Warning", decision.reason.value, msg)
        b.cond(c.QUEUED, True, decision.reason.value, msg)
        b.status.queue = queue_status(decision)
    else:
        b.cond(c.QUEUED, True, "Created", "waiting for admission")
    return b.done()


_WARN_ONCE = (WaitReason.OUTPUT_PATH_IN_USE, WaitReason.NAMESPACE_QUOTA_EXCEEDED)


def queue_status(decision: Waiting) -> QueueStatus:
    return QueueStatus(
        position=decision.position,
        reason=decision.reason.value,
        effective_priority=decision.effective_priority.wire,  # type: ignore[arg-type]
    )


def waiting_unchanged(job: TranslationJob, decision: Waiting) -> bool:
    """The job already shows this wait (Queued condition and status.queue): planning it would write
    nothing. Lets a cycle skip the queued jobs whose place in the queue did not move."""
    current = c.find(job.status.conditions, c.QUEUED)
    return (
        current is not None
        and current.status == "True"
        and (current.reason, current.message) == (decision.reason.value, waiting_words(decision))
        and job.status.queue == queue_status(decision)
        and job.status.observed_generation == job.metadata.generation
    )


def _recover(b: _Builder, view: JobView, ctx: Context) -> RecoveryPlan:
    """recovery.plan_pods on this job's pods (each at its bound node, else the node it is pinned to), and
    the new totals written into status.recoveries (with the deletes, so a crash cannot count twice)."""
    placed = {w.shard: w.node for w in view.job.status.workers or ()}
    pods = [
        WorkerPod(p.name, s, p.node or placed.get(s), p.phase, p.terminating, p.failed_at, p.exit_code)
        for s, p in view.pods.items()
    ]
    state = JobRecoveryState.from_job(view.job)
    # Only the nodes this job's pods are on (a pod whose node is gone is DELETED by its absence): a dict
    # of every node per job made a full sweep quadratic (jobs x nodes).
    troubles = {p.node: ctx.nodes[p.node].trouble for p in pods if p.node is not None and p.node in ctx.nodes}
    rp = plan_pods(state, pods, troubles, ctx.now, ctx.recovery)
    if (rp.reclaims, rp.error_retries) != (state.reclaims, state.error_retries):
        b.status.recoveries = RecoveriesStatus(reclaims=rp.reclaims, error_retries=rp.error_retries)
    b.plan.reclaim_signals = rp.new_reclaims
    b.plan.error_retries = rp.error_retries - state.error_retries
    for a in rp.actions:
        pod = view.pods.get(a.shard)
        b.plan.deletes.append(PodDelete(a.pod, pod.uid if pod is not None else None, a.grace_seconds))
        if a.kind is ActionKind.RETRY:
            b.event("Warning", "WorkerFailed", f"shard {a.shard} failed ({exit_words(pod)}); retrying")
        elif pod is not None and not pod.terminating:
            b.event("Warning", "Reclaimed", f"shard {a.shard}: {trouble_words(a)}")
    return rp


def _plan_admitted(b: _Builder, view: JobView, ctx: Context) -> JobPlan:
    job, now = view.job, ctx.now
    spec = job.spec
    rp = _recover(b, view, ctx)
    acting = {a.shard: a for a in rp.actions}
    if rp.failed is not None:
        b.status.workers = job.status.workers
        if rp.failed is FailureReason.INVALID_CONFIGURATION:
            invalid = [
                f"shard {s} ({exit_words(p)})"
                for s, p in sorted(view.pods.items())
                if p.state is ShardState.INVALID
            ]
            what = f"worker refused its assignment, retrying cannot help: {', '.join(invalid)}; see its logs"
        elif rp.reclaims > spec.recovery.max_reclaims:
            what = f"{rp.reclaims} reclaims exceed recovery.maxReclaims={spec.recovery.max_reclaims}"
        else:
            what = (
                f"{rp.error_retries} error retries exceed recovery.maxErrorRetries="
                f"{spec.recovery.max_error_retries}"
            )
            failing = [
                f"shard {s} ({exit_words(p)})" for s, p in sorted(view.pods.items()) if p.phase == "Failed"
            ]
            if failing:  # the reason to fix (a full disk, a transient source): say it where the job ends
                what += f"; last failures: {', '.join(failing)}"
        update_progress(b.status, view, now)  # the last reports, which status.result's counts come from
        b.finish(False, rp.failed.value, what, view.pods)
        b.delete_active({s: p for s, p in view.pods.items() if s not in acting})
        return b.done()

    workers = {w.shard: w.model_copy() for w in job.status.workers or ()}
    recovering: list[str] = []
    for shard in range(spec.parallelism):
        w = workers.setdefault(
            shard, WorkerStatus(shard=shard, pod=worker_pod_name(job.metadata.name, shard))
        )
        pod = view.pods.get(shard)
        if pod is not None and pod.state is ShardState.FINISHED:
            w.phase = "Succeeded"
            continue
        action = acting.get(shard)
        if w.node is not None and needs_node(pod, w.node, ctx.nodes):
            w.node = None  # displaced: its pod (if any) is being deleted by recovery's action
            w.phase = "Pending"
        if w.node is None and shard in ctx.replacements:
            candidate = ctx.replacements[shard]
            # placed with last cycle's reclaim count: refuse a node that this cycle's count rules out
            if _fits_mode(ctx.nodes, candidate, rp.spot_mode):
                w.node = candidate
        if w.node is None:
            recovering.append(f"shard {shard} waits for a node")
            continue
        w.capacity_type = _capacity_type(ctx.nodes, w.node)
        if pod is None:
            b.plan.create.append(shard)
            w.phase = "Pending"
        elif action is not None and action.kind is ActionKind.RETRY:
            b.cond(c.RECOVERING, True, "ErrorRetry", f"shard {shard} failed ({exit_words(pod)}); retrying")
            w.phase = "Failed"
        elif pod.terminating or action is not None:
            recovering.append(f"shard {shard} waits for its old pod to stop")
            w.phase = "Pending"  # never a phase "Succeeded" kept from an earlier cycle: not finished
        elif pod.state is ShardState.DISPLACED:
            recovering.append(f"shard {shard} stopped ({exit_words(pod)}); it resumes from its checkpoint")
            w.phase = "Pending"
        elif pod.phase == "Failed":
            recovering.append(f"shard {shard} failed ({exit_words(pod)}); retry after backoff")
            w.phase = "Failed"
        else:
            w.phase = "Running" if pod.phase == "Running" else "Pending"
            w.node = pod.node or w.node
    b.status.workers = sorted(workers.values(), key=lambda w: w.shard)

    if all(w.phase == "Succeeded" for w in b.status.workers):
        update_progress(b.status, view, now)
        b.finish(True, "Succeeded", f"all {spec.parallelism} worker(s) succeeded", view.pods)
        return b.done()
    if any(w.phase == "Running" for w in b.status.workers):
        if not c.is_true(b.status.conditions, c.RUNNING):
            b.cond(c.RUNNING, True, "WorkersRunning", "workers are translating")
            b.event("Normal", "Running", "workers are translating")
        b.status.start_time = b.status.start_time or now
    running = c.is_true(b.status.conditions, c.RUNNING)
    if start_overdue(job.status.admitted_at, running, now, ctx.start):
        waits = {s: start_wait(view.pods.get(s), ctx.create_refusals.get(s)) for s in workers}
        b.finish(False, "StartTimeout", not_started_message(waits, ctx.start), view.pods)
        b.plan.create = []
        b.delete_active(view.pods)
        return b.done()
    if recovering:
        b.cond(c.RECOVERING, True, "Recovering", "; ".join(recovering))
    elif c.is_true(b.status.conditions, c.RECOVERING) and not b.plan.error_retries:
        b.cond(c.RECOVERING, False, "Recovered", "every shard has a node")
    update_progress(b.status, view, now)
    return b.done()


def _capacity_type(nodes: Mapping[str, NodeView], name: str) -> CapacityTypeName | None:
    view = nodes.get(name)
    if view is None:
        return None
    return "spot" if view.node.capacity_type is CapacityType.SPOT else "on-demand"


def _fits_mode(nodes: Mapping[str, NodeView], name: str, mode: SpotMode) -> bool:
    view = nodes.get(name)
    return view is not None and view.node.capacity_type in eligible_capacity_types(mode)
