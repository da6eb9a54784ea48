"""What one scheduling cycle does to one TranslationJob: pure, from a snapshot to a plan.

The controller gathers the cluster state into views (jobs with their worker pods, pool nodes), asks
scheduling.schedule for admissions and preemptions, then calls `plan_job` for every job. The plan says
which status to write, which pods to create or delete, which events to post and which metrics to move;
the controller applies it. All state lives in the API server (conditions, status.workers, the pods), so
an operator killed at any point rebuilds the same views and neither duplicates pods nor forgets work.

Per-shard state machine (status.workers[shard]): a `node` is where the shard is placed; the pod is
`<job>-w<shard>`, pinned there. When the node is no longer usable (recovery.classify_node: deleted, lost,
or an interruption notice), or the shard's pod is gone and its node is cordoned (a drain), the shard is
*displaced*: its node is cleared. Whether a pod means a finished or a displaced shard is
recovery.shard_state's decision alone (a pod being deleted is never finished). What happens to its pod, what
counts as a reclaim or an error retry, grace periods and backoff are recovery.py's rules (`plan_pods`);
this module only applies them to the job's status. A displaced shard gets a new node as soon as one fits
(recovery placements are made before admissions); its new pod is created once the old one is gone, and
the worker resumes from its ledger.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from portalis_operator import conditions as c
from portalis_operator.admission import Admitted, Waiting, WaitReason
from portalis_operator.api import (
    CapacityTypeName,
    Pricing,
    ProgressStatus,
    QueueStatus,
    RecoveriesStatus,
    TranslationJob,
    TranslationJobStatus,
    WorkerStatus,
)
from portalis_operator.cost import GPUSeconds, PodSample, account
from portalis_operator.manifests import worker_pod_name
from portalis_operator.output_paths import OutputClaim
from portalis_operator.packing import Node, fit, free_gpus, take
from portalis_operator.placement import eligible_capacity_types
from portalis_operator.progress import ShardProgress, aggregate
from portalis_operator.recovery import (
    ActionKind,
    FailureReason,
    JobRecoveryState,
    NodeTrouble,
    PodAction,
    RecoveryPlan,
    RecoveryPolicy,
    ShardState,
    Signal,
    WorkerPod,
    describe_exit,
    plan_pods,
    shard_state,
    usable,
)
from portalis_operator.results import job_result
from portalis_operator.startup import StartPolicy, not_started_message, start_overdue
from portalis_operator.workload import (
    CapacityType,
    JobRequest,
    Priority,
    RunningJob,
    ShardPlacement,
    SpotMode,
)
from portalis_worker.protocol import ResultReport

# --------------------------------------------------------------------------------------------------------
# Views: the snapshot, as plain values


@dataclass(frozen=True)
class NodeView:
    """A pool node and its trouble (recovery.classify_node, once per cycle in snapshot.parse_node).
    `cordoned`: spec.unschedulable (a drain starts so): work running there stays, a new pod pinned there
    would not start."""

    node: Node
    trouble: NodeTrouble = NodeTrouble.NONE
    cordoned: bool = False


@dataclass(frozen=True)
class PodView:
    name: str
    shard: int
    phase: str  # Pending | Running | Succeeded | Failed | Unknown
    node: str | None = None
    terminating: bool = False
    exit_code: int | None = None
    reason: str | None = None
    progress: ShardProgress | None = None
    failed_at: datetime | None = None  # the worker container's finishedAt, when it failed
    uid: str | None = None
    run: tuple[datetime, datetime | None] | None = None  # cost.run_times: (start, end); None: never ran
    result: ResultReport | None = None  # the crate it assembled (protocol.ResultReport, bounded)
    waiting: str | None = None  # what it waits for, while not running (startup.waiting_reason)

    @property
    def state(self) -> ShardState:
        """Finished, displaced, failed or active: recovery.shard_state, the one place that decides."""
        return shard_state(self.phase, self.terminating, self.exit_code)


@dataclass(frozen=True)
class JobView:
    job: TranslationJob
    pods: Mapping[int, PodView] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.job.metadata.namespace}/{self.job.metadata.name}"


# --------------------------------------------------------------------------------------------------------
# Plans: what to change


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


ACTIVE_PHASES = ("Pending", "Running", "Unknown")


def priority_of(job: TranslationJob) -> Priority:
    return Priority.parse(job.spec.priority)


def spot_mode_of(job: TranslationJob) -> SpotMode:
    return JobRecoveryState.from_job(job).spot_mode


def _queued_since(job: TranslationJob) -> datetime | None:
    cond = c.find(job.status.conditions, c.QUEUED)
    return cond.last_transition_time if cond is not None and cond.status == "True" else None


def request_of(job: TranslationJob, output_in_use_by: str | None = None) -> JobRequest:
    created = job.metadata.creation_timestamp
    assert created is not None, "objects read from the API server have a creationTimestamp"
    return JobRequest(
        key=f"{job.metadata.namespace}/{job.metadata.name}",
        priority=priority_of(job),
        created_at=created,
        shards=job.spec.parallelism,
        gpus_per_shard=job.spec.gpus_per_worker,
        spot=spot_mode_of(job),
        suspended=job.spec.suspend,
        queued_since=_queued_since(job),
        output_in_use_by=output_in_use_by,
    )


def output_claim(view: JobView, active: bool) -> OutputClaim | None:
    """Where a live job writes (output_paths.py); None for a finished job or a ConfigMap output."""
    job, created = view.job, view.job.metadata.creation_timestamp
    out = job.spec.output.persistent_volume_claim
    if out is None or created is None or _finished(job):
        return None
    namespace = job.metadata.namespace or "default"
    return OutputClaim.of(view.key, created, namespace, out.claim_name, out.path, active=active)


def _finished(job: TranslationJob) -> bool:
    return c.is_true(job.status.conditions, c.SUCCEEDED) or c.is_true(job.status.conditions, c.FAILED)


def holds_capacity(view: JobView) -> bool:
    """Admitted jobs, and jobs whose pods are still leaving (preempted, suspended), hold their GPUs."""
    if _finished(view.job):
        return any(p.phase in ACTIVE_PHASES for p in view.pods.values())
    return c.is_true(view.job.status.conditions, c.ADMITTED) or any(
        p.phase in ACTIVE_PHASES for p in view.pods.values()
    )


def _usable(nodes: Mapping[str, NodeView], name: str | None) -> bool:
    return name is not None and name in nodes and usable(nodes[name].trouble)


def _needs_node(pod: PodView | None, name: str | None, nodes: Mapping[str, NodeView]) -> bool:
    """A shard needs a (new) node: it has none, its node is no longer usable, or its pod is gone and
    its node is cordoned (a drain evicted it; a new pod pinned there would stay Pending)."""
    if not _usable(nodes, name):
        return True
    assert name is not None
    return pod is None and nodes[name].cordoned


def running_of(view: JobView, nodes: Mapping[str, NodeView]) -> RunningJob:
    """The GPUs a job holds: placements on usable nodes of shards not yet finished."""
    job = view.job
    placements = []
    for w in job.status.workers or ():
        pod = view.pods.get(w.shard)
        if pod is not None and pod.state is ShardState.FINISHED:
            continue
        if not _needs_node(pod, w.node, nodes):
            assert w.node is not None
            placements.append(ShardPlacement(w.shard, w.node, job.spec.gpus_per_worker))
        elif pod is not None and pod.phase in ACTIVE_PHASES and pod.node is not None and pod.node in nodes:
            # Still draining on a node with a notice: its GPUs are busy until the pod is gone.
            placements.append(ShardPlacement(w.shard, pod.node, job.spec.gpus_per_worker))
    started = job.status.admitted_at or job.metadata.creation_timestamp
    assert started is not None
    evicting = (c.is_true(job.status.conditions, c.PREEMPTED) or job.spec.suspend or _finished(job)) and any(
        p.phase in ACTIVE_PHASES for p in view.pods.values()
    )
    return RunningJob(
        job=request_of(job),
        placements=tuple(placements),
        started_at=started,
        last_checkpoint_at=job.status.last_checkpoint_time,
        evicting=evicting,
    )


def displaced_shards(view: JobView, nodes: Mapping[str, NodeView]) -> list[int]:
    """Shards of an admitted job that need a (new) node: never placed, or placed on a node now unusable."""
    job = view.job
    if not c.is_true(job.status.conditions, c.ADMITTED) or job.spec.suspend or _finished(job):
        return []
    if c.is_true(job.status.conditions, c.PREEMPTED):
        return []
    out = []
    for w in job.status.workers or ():
        pod = view.pods.get(w.shard)
        if pod is not None and pod.state is ShardState.FINISHED:
            continue
        if _needs_node(pod, w.node, nodes):
            out.append(w.shard)
    return out


def replace_displaced(
    views: Sequence[JobView], nodes: Mapping[str, NodeView], running: Sequence[RunningJob]
) -> dict[str, dict[int, str]]:
    """New nodes for displaced shards, highest priority first, before any new admission.

    A job keeps its own effective spot mode (so after N reclaims its shards go to on-demand nodes). Shards
    that fit nowhere stay displaced: the job is Recovering until capacity appears.
    """
    pool = [v.node for v in nodes.values()]
    free = free_gpus(pool, running)
    out: dict[str, dict[int, str]] = {}
    order = sorted(views, key=lambda v: (-priority_of(v.job), v.job.metadata.creation_timestamp or 0))
    for view in order:
        job = view.job
        for shard in displaced_shards(view, nodes):
            one = JobRequest(
                key=f"{view.key}#{shard}",
                priority=priority_of(job),
                created_at=job.metadata.creation_timestamp or datetime.min,
                shards=1,
                gpus_per_shard=job.spec.gpus_per_worker,
                spot=spot_mode_of(job),
            )
            placed = fit(one, free, [n for n in pool if n.schedulable])
            if placed is None:
                continue
            free = take(free, placed)
            out.setdefault(view.key, {})[shard] = placed[0].node
    return out


# --------------------------------------------------------------------------------------------------------
# The per-job plan


@dataclass(frozen=True)
class Context:
    nodes: Mapping[str, NodeView]
    now: datetime
    replacements: Mapping[int, str] = field(default_factory=dict)  # shard -> node, from replace_displaced
    recovery: RecoveryPolicy = field(default_factory=RecoveryPolicy)
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


def plan_job(
    view: JobView, decision: Admitted | Waiting | None, evicted_by: str | None, ctx: Context
) -> JobPlan:
    plan = _plan(view, decision, evicted_by, ctx)
    _account(plan, view, ctx)
    return plan


def _account(plan: JobPlan, view: JobView, ctx: Context) -> None:
    """status.cost from the pods' run intervals (cost.account keeps the state in status.cost)."""
    job = view.job
    types = {w.shard: w.capacity_type for w in (plan.status or job.status).workers or ()}
    samples = []
    for shard, pod in view.pods.items():
        if pod.uid is None:
            continue
        ct: CapacityType | None = None
        if pod.node is not None and pod.node in ctx.nodes:
            ct = ctx.nodes[pod.node].node.capacity_type
        elif types.get(shard) is not None:
            ct = CapacityType.SPOT if types[shard] == "spot" else CapacityType.ON_DEMAND
        start, end = pod.run if pod.run is not None else (None, None)
        samples.append(PodSample(pod.uid, ct, job.spec.gpus_per_worker, start, end))
    acc = account(job.status.cost, samples, ctx.pricing, ctx.now)
    plan.cost_closed = acc.closed_now
    if acc.cost is not None:
        status = plan.status or job.status.model_copy()
        status.cost = acc.cost
        plan.status = status


def _plan(
    view: JobView, decision: Admitted | Waiting | None, evicted_by: str | None, ctx: Context
) -> JobPlan:
    job, now = view.job, ctx.now
    b = _Builder(job, now)
    conds = job.status.conditions
    spec = job.spec
    active = {s: p for s, p in view.pods.items() if p.phase in ACTIVE_PHASES}

    if _finished(job):
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
        _progress(b, view, now)
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
        return _plan_queued(b, view, decision)
    return _plan_admitted(b, view, ctx)


def _plan_queued(b: _Builder, view: JobView, decision: Admitted | Waiting | None) -> JobPlan:
    job = view.job
    if isinstance(decision, Admitted):
        queued_since = _queued_since(job) or job.metadata.creation_timestamp or b.now
        nodes = sorted({p.node for p in decision.placements})
        msg = f"{len(decision.placements)} worker(s) placed on {', '.join(nodes)}"
        b.cond(c.QUEUED, False, "Admitted", msg)
        b.cond(c.ADMITTED, True, "Admitted", msg)
        b.status.admitted_at = b.now
        # Zero counters from the start, so `kubectl get tj` shows 0 recoveries rather than nothing.
        b.status.recoveries = b.status.recoveries or RecoveriesStatus(reclaims=0, error_retries=0)
        b.status.queue = None
        b.status.workers = [
            WorkerStatus(shard=p.shard, pod=worker_pod_name(job.metadata.name, p.shard), node=p.node)
            for p in sorted(decision.placements, key=lambda p: p.shard)
        ]
        b.plan.create = [p.shard for p in decision.placements]
        b.plan.admission_wait = max(0.0, (b.now - queued_since).total_seconds())
        b.event("Normal", "Admitted", msg)
        return b.done()
    if not c.is_true(job.status.conditions, c.QUEUED):
        b.event("Normal", "Queued", "waiting for admission")
    if isinstance(decision, Waiting):
        msg = decision.message or _wait_message(decision)
        if decision.reason is WaitReason.OUTPUT_PATH_IN_USE:
            msg = (
                f"spec.output: the path overlaps that of job {decision.blocked_by}, which holds it; "
                "waiting until it finishes or is deleted"
            )
        if decision.reason in _WARN_ONCE:  # not a capacity wait: say why once, as a Warning
            current = c.find(job.status.conditions, c.QUEUED)
            if current is None or (current.reason, current.message) != (decision.reason.value, msg):
                b.event("Warning", decision.reason.value, msg)
        b.cond(c.QUEUED, True, decision.reason.value, msg)
        b.status.queue = QueueStatus(
            position=decision.position,
            reason=decision.reason.value,
            effective_priority=decision.effective_priority.wire,  # type: ignore[arg-type]
        )
    else:
        b.cond(c.QUEUED, True, "Created", "waiting for admission")
    return b.done()


_WARN_ONCE = (WaitReason.OUTPUT_PATH_IN_USE, WaitReason.NAMESPACE_QUOTA_EXCEEDED)


def _wait_message(w: Waiting) -> str:
    where = f"position {w.position} in the queue" if w.position is not None else "in the queue"
    extra = f"; blocked by {w.blocked_by}" if w.blocked_by else ""
    return f"{where}: {w.reason.value}{extra}"


def _recover(b: _Builder, view: JobView, ctx: Context) -> RecoveryPlan:
    """recovery.plan_pods on this job's pods (each at its bound node, else the node it is pinned to), and
    the new totals written into status.recoveries (with the deletes, so a crash cannot count twice)."""
    placed = {w.shard: w.node for w in view.job.status.workers or ()}
    pods = [
        WorkerPod(p.name, s, p.node or placed.get(s), p.phase, p.terminating, p.failed_at, p.exit_code)
        for s, p in view.pods.items()
    ]
    state = JobRecoveryState.from_job(view.job)
    troubles = {name: v.trouble for name, v in ctx.nodes.items()}
    rp = plan_pods(state, pods, troubles, ctx.now, ctx.recovery)
    if (rp.reclaims, rp.error_retries) != (state.reclaims, state.error_retries):
        b.status.recoveries = RecoveriesStatus(reclaims=rp.reclaims, error_retries=rp.error_retries)
    b.plan.reclaim_signals = rp.new_reclaims
    b.plan.error_retries = rp.error_retries - state.error_retries
    for a in rp.actions:
        pod = view.pods.get(a.shard)
        b.plan.deletes.append(PodDelete(a.pod, pod.uid if pod is not None else None, a.grace_seconds))
        if a.kind is ActionKind.RETRY:
            b.event("Warning", "WorkerFailed", f"shard {a.shard} failed ({_exit(pod)}); retrying")
        elif pod is not None and not pod.terminating:
            b.event("Warning", "Reclaimed", f"shard {a.shard}: {_trouble_words(a)}")
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
                f"shard {s} ({_exit(p)})"
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
            failing = [f"shard {s} ({_exit(p)})" for s, p in sorted(view.pods.items()) if p.phase == "Failed"]
            if failing:  # the reason to fix (a full disk, a transient source): say it where the job ends
                what += f"; last failures: {', '.join(failing)}"
        _progress(b, view, now)  # the last reports, which status.result's counts come from
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
        if w.node is not None and _needs_node(pod, w.node, ctx.nodes):
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
            b.cond(c.RECOVERING, True, "ErrorRetry", f"shard {shard} failed ({_exit(pod)}); retrying")
            w.phase = "Failed"
        elif pod.terminating or action is not None:
            recovering.append(f"shard {shard} waits for its old pod to stop")
            w.phase = "Pending"  # never a phase "Succeeded" kept from an earlier cycle: not finished
        elif pod.state is ShardState.DISPLACED:
            recovering.append(f"shard {shard} stopped ({_exit(pod)}); it resumes from its checkpoint")
            w.phase = "Pending"
        elif pod.phase == "Failed":
            recovering.append(f"shard {shard} failed ({_exit(pod)}); retry after backoff")
            w.phase = "Failed"
        else:
            w.phase = "Running" if pod.phase == "Running" else "Pending"
            w.node = pod.node or w.node
    b.status.workers = sorted(workers.values(), key=lambda w: w.shard)

    if all(w.phase == "Succeeded" for w in b.status.workers):
        _progress(b, view, now)
        b.finish(True, "Succeeded", f"all {spec.parallelism} worker(s) succeeded", view.pods)
        return b.done()
    if any(w.phase == "Running" for w in b.status.workers):
        if not c.is_true(b.status.conditions, c.RUNNING):
            b.cond(c.RUNNING, True, "WorkersRunning", "workers are translating")
            b.event("Normal", "Running", "workers are translating")
        b.status.start_time = b.status.start_time or now
    running = c.is_true(b.status.conditions, c.RUNNING)
    if start_overdue(job.status.admitted_at, running, now, ctx.start):
        waits = {s: _start_wait(view.pods.get(s), ctx.create_refusals.get(s)) for s in workers}
        b.finish(False, "StartTimeout", not_started_message(waits, ctx.start), view.pods)
        b.plan.create = []
        b.delete_active(view.pods)
        return b.done()
    if recovering:
        b.cond(c.RECOVERING, True, "Recovering", "; ".join(recovering))
    elif c.is_true(b.status.conditions, c.RECOVERING) and not b.plan.error_retries:
        b.cond(c.RECOVERING, False, "Recovered", "every shard has a node")
    _progress(b, view, now)
    return b.done()


def _start_wait(pod: PodView | None, refusal: str | None) -> str | None:
    if pod is None:
        return f"pod not created: {refusal}" if refusal else "pod not created yet"
    return pod.waiting or (f"pod {pod.phase}" if pod.phase != "Pending" else None)


def _progress(b: _Builder, view: JobView, now: datetime) -> None:
    shards = [view.pods[s].progress if s in view.pods else None for s in range(view.job.spec.parallelism)]
    agg = aggregate(shards, view.job.spec.parallelism, b.status.start_time, now)
    previous = b.status.progress
    if agg.percent is None and previous is not None and previous.percent is not None:
        # A replacement pod (after a reclaim or retry) has not reported yet: a partial sum would make
        # the counts go backwards. Keep the last complete figures until every shard reports again.
        return
    if any(s is not None for s in shards):
        b.status.progress = ProgressStatus(
            units_total=agg.units_total,
            units_done=agg.units_done,
            units_failed=agg.units_failed,
            percent=agg.percent,
            eta=agg.eta,
        )
        b.status.last_checkpoint_time = agg.last_checkpoint_time or b.status.last_checkpoint_time


def _capacity_type(nodes: Mapping[str, NodeView], name: str) -> CapacityTypeName | None:
    view = nodes.get(name)
    if view is None:
        return None
    return "spot" if view.node.capacity_type is CapacityType.SPOT else "on-demand"


def _fits_mode(nodes: Mapping[str, NodeView], name: str, mode: SpotMode) -> bool:
    view = nodes.get(name)
    return view is not None and view.node.capacity_type in eligible_capacity_types(mode)


def _trouble_words(a: PodAction) -> str:
    what = {
        Signal.TAINT: "received an interruption notice",
        Signal.DELETED: "was deleted",
        Signal.NOT_READY: "was NotReady beyond its grace period",
        Signal.STOPPED: "stopped the worker (node shutdown or eviction); it resumes from its checkpoint",
    }
    return f"node {a.node} {what.get(a.signal, 'was lost') if a.signal else 'was lost'}"


def _exit(pod: PodView | None) -> str:
    if pod is None:
        return "no exit code"
    parts = []
    if pod.exit_code is not None:
        parts.append(describe_exit(pod.exit_code))
    if pod.reason:
        parts.append(pod.reason)
    return ", ".join(parts) or "no exit code"
