"""Recovery: what to do with a job's worker pods when their node goes away or the worker fails.

Pure policy with the clock passed in. Each cycle classifies every pool node once (`classify_node`, in
snapshot.py) and the job state machine (jobs.py) calls `plan_pods` per admitted job, then applies the
actions: delete pods (with the given grace period), create replacements (placed with the returned spot
mode), persist the new counters into status.recoveries, and fail the job when a budget is spent.

Two budgets, counted apart: reclaims (node deleted, lost, or carrying an interruption taint: not the
job's fault) and error retries (the worker failed on a healthy node). Reclaims never spend the error
budget. The rules, with examples, are in docs/recovery.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from portalis_operator import api
from portalis_operator.placement import effective_spot_mode
from portalis_operator.workload import Priority, SpotMode
from portalis_worker.protocol import WorkerExit


class NodeTrouble(StrEnum):
    """What is wrong with a node, as far as its workers are concerned."""

    NONE = "none"
    NOT_READY = "not-ready"  # NotReady within the grace period: wait, it may come back
    NOTICE = "notice"  # interruption taint: going away soon, there is time to checkpoint
    LOST = "lost"  # NotReady beyond the grace period: treat as gone
    DELETED = "deleted"  # the Node object is gone (or being deleted)


class Signal(StrEnum):
    """Label values of metrics.RECLAIMS."""

    DELETED = "deleted"
    NOT_READY = "notready"
    TAINT = "taint"
    STOPPED = "stopped"  # the worker exited "resume me" on a node still there (shutdown, eviction)


class ShardState(StrEnum):
    """What a shard's worker pod says about the shard (`shard_state`)."""

    ACTIVE = "active"  # pending or running, not being deleted
    FINISHED = "finished"  # the worker exited 0 and nobody is deleting the pod: the shard is done
    DISPLACED = "displaced"  # being deleted, or the worker stopped to be resumed: recreate, resume
    FAILED = "failed"  # the worker failed: an error retry
    INVALID = "invalid"  # the worker refused its assignment (exit 2): retrying cannot help


def shard_state(phase: str, terminating: bool, exit_code: int | None) -> ShardState:
    """The one place that decides whether a shard is finished or displaced.

    A pod being deleted is never a finished shard, whatever its phase: on SIGTERM (a notice, a drain, a
    preemption) the worker flushes and stops, and Kubernetes calls a deleted pod whose containers exited
    0 Succeeded. A worker that exited WorkerExit.RESUME stopped without a deletion (node shutdown, kubelet
    eviction) and wants to be resumed. Only Succeeded without either is finished. A worker that exited
    WorkerExit.CONFIG refused its assignment, one that exited WorkerExit.OUTPUT could not write its
    ConfigMap output (a crate over 1 MiB, a ConfigMap that is not the job's), and one that exited
    WorkerExit.MODEL_NOT_SERVED found a model server without the job's model: the same pod would fail the
    same way.
    """
    if terminating or exit_code == WorkerExit.RESUME:
        return ShardState.DISPLACED
    if phase == "Succeeded":
        return ShardState.FINISHED
    if phase == "Failed":
        return ShardState.INVALID if exit_code in _PERMANENT else ShardState.FAILED
    return ShardState.ACTIVE


_PERMANENT = (WorkerExit.CONFIG, WorkerExit.OUTPUT, WorkerExit.MODEL_NOT_SERVED)

_EXIT_MEANINGS = {
    WorkerExit.OK: "finished",
    WorkerExit.ERROR: "unexpected error",
    WorkerExit.CONFIG: "invalid configuration",
    WorkerExit.TRANSIENT: "transient failure of the source fetch or model server",
    WorkerExit.NO_SPACE: "no space left on device",
    WorkerExit.OUTPUT: "the output ConfigMap cannot take the crate (over 1 MiB, or not this job's)",
    WorkerExit.MODEL_UNAVAILABLE: (
        "the model server (the pod's Triton sidecar) did not answer; spec.model.fallback: rules lets the job"
        " go on without it"
    ),
    WorkerExit.MODEL_NOT_SERVED: (
        "the model server does not serve the model the job needs (auto: typer; model: spec.model.name);"
        " spec.model.fallback: rules lets the job go on without it"
    ),
    WorkerExit.RESUME: "stopped to be resumed",
}


def describe_exit(exit_code: int) -> str:
    """`exit code N: meaning` for the worker's own codes (protocol.WorkerExit) and the runtime's."""
    if exit_code in _EXIT_MEANINGS:
        return f"exit code {exit_code}: {_EXIT_MEANINGS[WorkerExit(exit_code)]}"
    if exit_code > 128:
        return f"exit code {exit_code}: killed by signal {exit_code - 128}"
    return f"exit code {exit_code}"


class ActionKind(StrEnum):
    EVICT = "Evict"  # delete with a grace period (the worker checkpoints on SIGTERM), then recreate
    RECREATE = "Recreate"  # delete now (grace 0: the kubelet is gone) and recreate at once
    RETRY = "Retry"  # the worker failed: delete and recreate (the backoff has passed)


class FailureReason(StrEnum):
    RECLAIM_LIMIT = "ReclaimLimitExceeded"
    ERROR_RETRY_LIMIT = "ErrorRetryLimitExceeded"
    INVALID_CONFIGURATION = "InvalidWorkerConfiguration"  # a worker exited 2: no retry can help


@dataclass(frozen=True)
class RecoveryPolicy:
    """Pool and operator knobs; the job's own budgets come with each job (`JobRecoveryState`).

    `notice_grace_seconds`: termination grace given to workers on an interruption notice (they flush
    their checkpoint on SIGTERM); cloud notices give 30 s (GCP) to 2 min (AWS), so stay under the
    shortest. `max_backoff_seconds` caps the exponential error backoff.
    """

    interruption_taints: frozenset[str]  # spec.interruption.taints
    not_ready_grace_seconds: int  # spec.interruption.notReadyGraceSeconds
    notice_grace_seconds: int = 25
    max_backoff_seconds: int = 3600

    @classmethod
    def from_spec(cls, spec: api.GPUPoolSpec, **overrides: int) -> RecoveryPolicy:
        return cls(
            interruption_taints=frozenset(spec.interruption.taints),
            not_ready_grace_seconds=spec.interruption.not_ready_grace_seconds,
            **overrides,
        )


DEFAULT_RECOVERY = RecoveryPolicy.from_spec(api.GPUPoolSpec.model_validate({"provider": {"type": "static"}}))
"""The recovery policy of a GPUPool whose spec sets nothing (and of a pool with no GPUPool object)."""


@dataclass(frozen=True)
class NodeHealth:
    """The parts of a Node that recovery reads.

    `ready`: the Ready condition is True; `not_ready_since`: its lastTransitionTime when not True.
    `taints`: taint keys. `deleting`: metadata.deletionTimestamp is set.
    """

    name: str
    ready: bool = True
    not_ready_since: datetime | None = None
    taints: frozenset[str] = frozenset()
    deleting: bool = False


@dataclass(frozen=True)
class WorkerPod:
    """A worker pod of the job. `node` is None while unbound; `terminating`: deletionTimestamp set;
    `failed_at`: when the worker container terminated with an error (phase Failed); `exit_code`: the
    worker container's, once it terminated."""

    name: str
    shard: int
    node: str | None
    phase: str = "Running"
    terminating: bool = False
    failed_at: datetime | None = None
    exit_code: int | None = None

    @property
    def state(self) -> ShardState:
        return shard_state(self.phase, self.terminating, self.exit_code)


@dataclass(frozen=True)
class JobRecoveryState:
    """The job's spec knobs and the counters from status.recoveries."""

    priority: Priority
    requested_spot: SpotMode | None
    reclaims: int = 0
    error_retries: int = 0
    max_reclaims: int = 10
    max_error_retries: int = 3
    backoff_seconds: int = 30
    on_demand_after_reclaims: int = 3

    @classmethod
    def from_job(cls, job: api.TranslationJob) -> JobRecoveryState:
        rec = job.status.recoveries
        spec = job.spec
        return cls(
            priority=Priority.parse(spec.priority),
            requested_spot=SpotMode(spec.capacity.spot) if spec.capacity.spot else None,
            reclaims=(rec.reclaims or 0) if rec else 0,
            error_retries=(rec.error_retries or 0) if rec else 0,
            max_reclaims=spec.recovery.max_reclaims,
            max_error_retries=spec.recovery.max_error_retries,
            backoff_seconds=spec.recovery.backoff_seconds,
            on_demand_after_reclaims=spec.recovery.on_demand_after_reclaims,
        )

    @property
    def spot_mode(self) -> SpotMode:
        """The effective spot mode with the reclaims counted so far (`preferred` -> `never` after N)."""
        return effective_spot_mode(
            self.requested_spot, self.priority, self.reclaims, self.on_demand_after_reclaims
        )


@dataclass(frozen=True)
class PodAction:
    """Delete `pod` with `grace_seconds` and create its replacement (same shard) once it is gone."""

    kind: ActionKind
    pod: str
    shard: int
    grace_seconds: int
    signal: Signal | None
    reason: str
    node: str | None = None
    counted: bool = False  # this action's node loss counted a reclaim now (first sight of the loss)


@dataclass(frozen=True)
class RecoveryPlan:
    """The to-do list for one job (applied by jobs.py and writes.py).

    `reclaims`/`error_retries`: the new totals for status.recoveries (write them before or with the
    deletes, so a crash in between cannot count twice: the deleted pods are then terminating or gone
    and are not counted again). `new_reclaims`: signals for metrics.RECLAIMS. `spot_mode`: the effective
    mode for replacements. `failed`: set when a budget is spent; the job fails instead of recovering.
    """

    actions: tuple[PodAction, ...]
    reclaims: int
    error_retries: int
    new_reclaims: tuple[Signal, ...]
    spot_mode: SpotMode
    failed: FailureReason | None = None

    @property
    def recovering(self) -> bool:
        return bool(self.actions) and self.failed is None


def classify_node(node: NodeHealth | None, policy: RecoveryPolicy, now: datetime) -> NodeTrouble:
    """Deleted (or missing) beats lost beats notice beats not-ready: the hardest signal decides."""
    if node is None or node.deleting:
        return NodeTrouble.DELETED
    if not node.ready:
        since = node.not_ready_since or now
        if (now - since).total_seconds() >= policy.not_ready_grace_seconds:
            return NodeTrouble.LOST
    if node.taints & policy.interruption_taints:
        return NodeTrouble.NOTICE
    if not node.ready:
        return NodeTrouble.NOT_READY
    return NodeTrouble.NONE


def backoff_seconds(base: int, retries_done: int, cap: int) -> int:
    """Delay before error retry number `retries_done + 1`: base * 2^retries_done, capped."""
    return min(cap, base << min(retries_done, 40))


_SIGNALS = {NodeTrouble.DELETED: Signal.DELETED, NodeTrouble.LOST: Signal.NOT_READY}


def usable(trouble: NodeTrouble) -> bool:
    """Whether a node keeps the work placed on it: healthy, or NotReady still within its grace period."""
    return trouble in (NodeTrouble.NONE, NodeTrouble.NOT_READY)


def leaving(trouble: NodeTrouble) -> bool:
    """Going away by itself (notice, lost, deleted): neither capacity nor a scale-down candidate."""
    return trouble in (NodeTrouble.NOTICE, NodeTrouble.LOST, NodeTrouble.DELETED)


def plan_pods(
    job: JobRecoveryState,
    pods: Sequence[WorkerPod],
    troubles: Mapping[str, NodeTrouble],
    now: datetime,
    policy: RecoveryPolicy | None = None,
) -> RecoveryPlan:
    """Actions for one job's worker pods, from nodes already classified (`classify_node`; a node missing
    from `troubles` is deleted). The scheduling loop classifies every node once per cycle and calls this.

    - A pod on a deleted or lost node is deleted at once (grace 0) and recreated: a hard loss.
    - A pod on a node with an interruption taint is evicted with `notice_grace_seconds`, so it can
      checkpoint, and recreated once gone.
    - Each node a job loses counts one reclaim (not one per shard on it); pods already terminating were
      counted when they were deleted, so handling is idempotent across cycles. A terminating pod on a
      dead node is still force-deleted (its kubelet will never confirm), without counting.
    - A pod whose worker stopped to be resumed (`shard_state` DISPLACED, not being deleted) on a node
      that is still there is deleted at once and recreated: a reclaim (signal `stopped`), no backoff.
    - A Failed pod on a healthy node is an error: retried after `backoffSeconds * 2^n` (n = retries
      already spent), counted when it is retried. NotReady nodes within their grace period: wait.
    - A worker that exited WorkerExit.CONFIG (2) on a healthy node fails the job at once
      (`INVALID_CONFIGURATION`): the same pod spec fails the same way, retries would only add backoff.
    - Finished shards (`shard_state` FINISHED) are left alone; a pod being deleted never is one.
    - More than `max_reclaims` reclaims, or more than `max_error_retries` retries, fail the job.
    """
    policy = policy or DEFAULT_RECOVERY
    actions: list[PodAction] = []
    reclaimed_nodes: dict[str, Signal] = {}
    retries = 0
    invalid = False

    for pod in sorted(pods, key=lambda p: p.shard):
        state = pod.state
        if pod.node is None or state is ShardState.FINISHED:
            continue
        trouble = troubles.get(pod.node, NodeTrouble.DELETED)
        if trouble in (NodeTrouble.DELETED, NodeTrouble.LOST):
            signal = _SIGNALS[trouble]
            first = not pod.terminating and pod.node not in reclaimed_nodes
            actions.append(
                PodAction(
                    ActionKind.RECREATE, pod.name, pod.shard, 0, signal, f"node {trouble}", pod.node, first
                )
            )
            if not pod.terminating:
                reclaimed_nodes.setdefault(pod.node, signal)
        elif trouble is NodeTrouble.NOTICE:
            if not pod.terminating:
                grace = policy.notice_grace_seconds
                first = pod.node not in reclaimed_nodes
                actions.append(
                    PodAction(
                        ActionKind.EVICT,
                        pod.name,
                        pod.shard,
                        grace,
                        Signal.TAINT,
                        "interruption notice",
                        pod.node,
                        first,
                    )
                )
                reclaimed_nodes.setdefault(pod.node, Signal.TAINT)
        elif trouble is NodeTrouble.NOT_READY:
            continue  # within its grace period: wait
        elif state is ShardState.DISPLACED and not pod.terminating:
            # Stopped on a node that is still there (graceful node shutdown, kubelet eviction): like a
            # node loss, not the job's fault: no backoff, a reclaim, one per node.
            first = pod.node not in reclaimed_nodes
            actions.append(
                PodAction(
                    ActionKind.RECREATE,
                    pod.name,
                    pod.shard,
                    0,
                    Signal.STOPPED,
                    "worker stopped to be resumed",
                    pod.node,
                    first,
                )
            )
            reclaimed_nodes.setdefault(pod.node, Signal.STOPPED)
        elif state is ShardState.INVALID:
            invalid = True
        elif state is ShardState.FAILED:
            delay = backoff_seconds(
                job.backoff_seconds, job.error_retries + retries, policy.max_backoff_seconds
            )
            waited = (now - (pod.failed_at or now)).total_seconds()  # no `failed_at + delay`: overflow
            if waited < delay:
                continue
            actions.append(
                PodAction(ActionKind.RETRY, pod.name, pod.shard, 0, None, "worker failed", pod.node)
            )
            retries += 1

    reclaims = job.reclaims + len(reclaimed_nodes)
    error_retries = job.error_retries + retries
    failed: FailureReason | None = None
    if reclaims > job.max_reclaims:
        failed = FailureReason.RECLAIM_LIMIT
    elif error_retries > job.max_error_retries:
        failed = FailureReason.ERROR_RETRY_LIMIT
    elif invalid:
        failed = FailureReason.INVALID_CONFIGURATION
    mode = replace(job, reclaims=reclaims).spot_mode
    return RecoveryPlan(
        actions=tuple(actions),
        reclaims=reclaims,
        error_retries=error_retries,
        new_reclaims=tuple(reclaimed_nodes.values()),
        spot_mode=mode,
        failed=failed,
    )
