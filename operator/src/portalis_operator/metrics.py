"""Every Prometheus metric the operator exports, in one place.

Names follow `portalis_<subsystem>_<name>_<unit>`. Labels are bounded sets (priority, phase, capacity
type, pool, reason): never job names or UIDs, which would make series unbounded.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

if TYPE_CHECKING:
    from portalis_operator.admission import Waiting
    from portalis_operator.jobs import JobPlan
    from portalis_operator.snapshot import JobView, NodeView

REGISTRY = CollectorRegistry(auto_describe=True)

# --- scheduler: queue, admission, preemption -------------------------------------------------------------
QUEUE_DEPTH = Gauge(
    "portalis_scheduler_queue_depth_jobs",
    "TranslationJobs waiting for admission, by priority.",
    ["priority"],
    registry=REGISTRY,
)
OLDEST_QUEUED = Gauge(
    "portalis_scheduler_oldest_queued_seconds",
    "Age of the longest-waiting queued TranslationJob, by priority (0 when none waits).",
    ["priority"],
    registry=REGISTRY,
)
ADMISSION_WAIT = Histogram(
    "portalis_scheduler_admission_wait_seconds",
    "Time from creation (or requeue) to admission.",
    ["priority"],
    buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200),
    registry=REGISTRY,
)
ADMISSIONS = Counter(
    "portalis_scheduler_admissions_total",
    "TranslationJobs admitted, by priority.",
    ["priority"],
    registry=REGISTRY,
)
PREEMPTIONS = Counter(
    "portalis_scheduler_preemptions_total",
    "TranslationJobs evicted to make room for higher-priority work, by the victim's priority.",
    ["priority"],
    registry=REGISTRY,
)
PLANNED_JOBS = Histogram(
    "portalis_scheduler_planned_jobs",
    "Jobs planned in one scheduling cycle (the changed ones, and every job on a full sweep).",
    buckets=(0, 1, 10, 100, 1000, 10000, 100000),
    registry=REGISTRY,
)
SCHEDULING_CYCLE = Histogram(
    "portalis_scheduler_cycle_duration_seconds",
    "Wall time of one scheduling cycle (snapshot, decide, apply).",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)

# --- jobs ----------------------------------------------------------------------------------------------
JOBS = Gauge(
    "portalis_jobs_phase_jobs",
    "TranslationJobs by phase.",
    ["phase"],
    registry=REGISTRY,
)
JOBS_FINISHED = Counter(
    "portalis_jobs_finished_total",
    "TranslationJobs that reached a final phase, by result (succeeded, failed) and priority.",
    ["result", "priority"],
    registry=REGISTRY,
)
NOT_STARTED_AGE = Gauge(
    "portalis_jobs_not_started_max_seconds",
    "Seconds since admission of the admitted TranslationJob that has waited longest with no worker running.",
    registry=REGISTRY,
)
POD_CREATE_REFUSALS = Counter(
    "portalis_operator_pod_create_refusals_total",
    "Worker pod creates the API server refused (quota, LimitRange, Pod Security, invalid spec).",
    registry=REGISTRY,
)
LAST_CHECKPOINT_AGE = Gauge(
    "portalis_jobs_checkpoint_age_max_seconds",
    "The oldest 'last checkpoint' among running TranslationJobs.",
    registry=REGISTRY,
)

# --- recovery ------------------------------------------------------------------------------------------
RECLAIMS = Counter(
    "portalis_recovery_reclaims_total",
    "Worker pods lost to spot reclaims or node loss, by signal (deleted, notready, taint, stopped).",
    ["signal"],
    registry=REGISTRY,
)
ERROR_RETRIES = Counter(
    "portalis_recovery_error_retries_total",
    "Worker pods restarted after an error (these spend the job's error budget).",
    registry=REGISTRY,
)

# --- pool and autoscaling ------------------------------------------------------------------------------
POOL_NODES = Gauge(
    "portalis_pool_nodes",
    "Nodes in the GPU pool, by capacity type.",
    ["pool", "capacity_type"],
    registry=REGISTRY,
)
POOL_DESIRED_NODES = Gauge(
    "portalis_pool_desired_nodes",
    "Nodes the autoscaler wants, by capacity type.",
    ["pool", "capacity_type"],
    registry=REGISTRY,
)
POOL_MAX_NODES = Gauge(
    "portalis_pool_max_nodes",
    "The pool's configured maximum size.",
    ["pool"],
    registry=REGISTRY,
)
POOL_SPOT_TARGET_RATIO = Gauge(
    "portalis_pool_spot_target_ratio",
    "The pool's configured spot share target (0..1).",
    ["pool"],
    registry=REGISTRY,
)
POOL_GPUS = Gauge(
    "portalis_pool_gpus",
    "GPUs in the pool: total and used.",
    ["pool", "state"],
    registry=REGISTRY,
)
SCALE_ACTIONS = Counter(
    "portalis_pool_scale_actions_total",
    "Scale actions taken, by direction (up, down) and capacity type.",
    ["pool", "direction", "capacity_type"],
    registry=REGISTRY,
)

# --- cost ----------------------------------------------------------------------------------------------
GPU_SECONDS = Counter(
    "portalis_cost_gpu_seconds_total",
    "GPU-seconds consumed by worker pods, by capacity type.",
    ["capacity_type"],
    registry=REGISTRY,
)
ESTIMATED_USD = Counter(
    "portalis_cost_estimated_usd_total",
    "Estimated spend from GPU-seconds and the pool's prices, by capacity type.",
    ["capacity_type"],
    registry=REGISTRY,
)

# --- operator health -----------------------------------------------------------------------------------
RECONCILE_ERRORS = Counter(
    "portalis_operator_reconcile_errors_total",
    "Errors while reconciling, by stage (cycle, plan, apply, status, pods, events, pool, ...).",
    ["stage"],
    registry=REGISTRY,
)
LAST_SYNC = Gauge(
    "portalis_operator_last_sync_timestamp_seconds",
    "Unix time of the last completed scheduling cycle; a stale value means the watch or loop is stuck.",
    registry=REGISTRY,
)


def observe_cycle(
    pool_name: str,
    views: Sequence[JobView],
    plans: Sequence[tuple[JobView, JobPlan]],
    waiting: Sequence[Waiting],
    nodes: Mapping[str, NodeView],
    now: datetime,
) -> None:
    """The gauges one cycle sets: queue depth and age, jobs by phase, checkpoint and start ages, nodes."""
    depth = Tally(w.job.priority.wire for w in waiting if not w.job.suspended)
    oldest: dict[str, float] = {}
    for w in waiting:
        if not w.job.suspended:
            age = (now - w.job.waiting_since).total_seconds()
            oldest[w.job.priority.wire] = max(oldest.get(w.job.priority.wire, 0.0), age)
    for prio in ("critical", "high", "normal", "low", "background"):
        QUEUE_DEPTH.labels(prio).set(depth.get(prio, 0))
        OLDEST_QUEUED.labels(prio).set(oldest.get(prio, 0.0))
    # Jobs not planned this cycle keep the phase their status shows.
    planned = {v.key: p.status for v, p in plans if p.status is not None}
    phases = Tally((planned.get(v.key) or v.job.status).phase or "Pending" for v in views)
    for phase in (
        "Pending",
        "Queued",
        "Admitted",
        "Running",
        "Preempted",
        "Recovering",
        "Suspended",
        "Succeeded",
        "Failed",
    ):
        JOBS.labels(phase).set(phases.get(phase, 0))
    checkpoints = [
        (now - v.job.status.last_checkpoint_time).total_seconds()
        for v in views
        if v.job.status.phase == "Running" and v.job.status.last_checkpoint_time is not None
    ]
    LAST_CHECKPOINT_AGE.set(max(checkpoints, default=0.0))
    not_started = [
        (now - v.job.status.admitted_at).total_seconds()
        for v in views
        if v.job.status.phase == "Admitted" and v.job.status.admitted_at is not None
    ]
    NOT_STARTED_AGE.set(max(not_started, default=0.0))
    pool = pool_name
    by_type = Tally(v.node.capacity_type.value for v in nodes.values())
    for ct in ("spot", "on-demand"):
        POOL_NODES.labels(pool, ct).set(by_type.get(ct, 0))
    total = sum(v.node.gpus for v in nodes.values())
    POOL_GPUS.labels(pool, "total").set(total)
