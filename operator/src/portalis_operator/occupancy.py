"""What each job holds of the pool, from the views: placements on usable nodes, shards displaced from
their nodes and the new nodes they get, the nodes the autoscaler must keep. Pure.

Whether a shard needs a (new) node is decided once, by `needs_node`: its node is gone or unusable
(recovery.classify_node, once per node in snapshot.py), or its pod is gone and its node is cordoned.
Whether a pod means a finished or a displaced shard is recovery.shard_state's decision alone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from portalis_operator import conditions as c
from portalis_operator.api import TranslationJob
from portalis_operator.output_paths import OutputClaim
from portalis_operator.packing import fit, free_gpus, take
from portalis_operator.recovery import (
    JobRecoveryState,
    ShardState,
    usable,
)
from portalis_operator.snapshot import JobView, NodeView, PodView
from portalis_operator.workload import (
    JobRequest,
    Priority,
    RunningJob,
    ShardPlacement,
    SpotMode,
)

ACTIVE_PHASES = ("Pending", "Running", "Unknown")


def priority_of(job: TranslationJob) -> Priority:
    return Priority.parse(job.spec.priority)


def spot_mode_of(job: TranslationJob) -> SpotMode:
    return JobRecoveryState.from_job(job).spot_mode


def queued_since(job: TranslationJob) -> datetime | None:
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
        queued_since=queued_since(job),
        output_in_use_by=output_in_use_by,
    )


def output_claim(view: JobView, active: bool) -> OutputClaim | None:
    """Where a live job writes (output_paths.py); None for a finished job or a ConfigMap output."""
    job, created = view.job, view.job.metadata.creation_timestamp
    out = job.spec.output.persistent_volume_claim
    if out is None or created is None or finished(job):
        return None
    namespace = job.metadata.namespace or "default"
    return OutputClaim.of(view.key, created, namespace, out.claim_name, out.path, active=active)


def finished(job: TranslationJob) -> bool:
    return c.is_true(job.status.conditions, c.SUCCEEDED) or c.is_true(job.status.conditions, c.FAILED)


def holds_capacity(view: JobView) -> bool:
    """Admitted jobs, and jobs whose pods are still leaving (preempted, suspended), hold their GPUs."""
    if finished(view.job):
        return any(p.phase in ACTIVE_PHASES for p in view.pods.values())
    return c.is_true(view.job.status.conditions, c.ADMITTED) or any(
        p.phase in ACTIVE_PHASES for p in view.pods.values()
    )


def usable_node(nodes: Mapping[str, NodeView], name: str | None) -> bool:
    return name is not None and name in nodes and usable(nodes[name].trouble)


def needs_node(pod: PodView | None, name: str | None, nodes: Mapping[str, NodeView]) -> bool:
    """A shard needs a (new) node: it has none, its node is no longer usable, or its pod is gone and
    its node is cordoned (a drain evicted it; a new pod pinned there would stay Pending)."""
    if not usable_node(nodes, name):
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
        if not needs_node(pod, w.node, nodes):
            assert w.node is not None
            placements.append(ShardPlacement(w.shard, w.node, job.spec.gpus_per_worker))
        elif pod is not None and pod.phase in ACTIVE_PHASES and pod.node is not None and pod.node in nodes:
            # Still draining on a node with a notice: its GPUs are busy until the pod is gone.
            placements.append(ShardPlacement(w.shard, pod.node, job.spec.gpus_per_worker))
    started = job.status.admitted_at or job.metadata.creation_timestamp
    assert started is not None
    evicting = (c.is_true(job.status.conditions, c.PREEMPTED) or job.spec.suspend or finished(job)) and any(
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
    if not c.is_true(job.status.conditions, c.ADMITTED) or job.spec.suspend or finished(job):
        return []
    if c.is_true(job.status.conditions, c.PREEMPTED):
        return []
    out = []
    for w in job.status.workers or ():
        pod = view.pods.get(w.shard)
        if pod is not None and pod.state is ShardState.FINISHED:
            continue
        if needs_node(pod, w.node, nodes):
            out.append(w.shard)
    return out


def replace_displaced(
    views: Sequence[JobView],
    nodes: Mapping[str, NodeView],
    running: Sequence[RunningJob],
    displaced: Callable[[JobView], Sequence[int]] | None = None,
) -> dict[str, dict[int, str]]:
    """New nodes for displaced shards, highest priority first, before any new admission.

    A job keeps its own effective spot mode (so after N reclaims its shards go to on-demand nodes). Shards
    that fit nowhere stay displaced: the job is Recovering until capacity appears. `displaced(view)`:
    `displaced_shards(view, nodes)`, or the same remembered (carryover.py).
    """
    shards_of = displaced or (lambda v: displaced_shards(v, nodes))
    todo = [(v, shards) for v in views if (shards := shards_of(v))]
    if not todo:
        return {}
    pool = [v.node for v in nodes.values()]
    free = free_gpus(pool, running)
    out: dict[str, dict[int, str]] = {}
    todo.sort(key=lambda vs: (-priority_of(vs[0].job), vs[0].job.metadata.creation_timestamp or 0))
    for view, shards in todo:
        job = view.job
        for shard in shards:
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


def busy_nodes(
    views: Sequence[JobView], running: Sequence[RunningJob], nodes: Mapping[str, NodeView]
) -> set[str]:
    """Nodes the autoscaler must not remove: worker pods, placements, or GPUs held by other pods."""
    busy = {p.node for r in running for p in r.placements}
    busy |= {p.node for v in views for p in v.pods.values() if p.node and p.phase in ACTIVE_PHASES}
    busy |= {name for name, v in nodes.items() if v.node.gpus_other > 0}
    return busy


def pending_since(
    views: Sequence[JobView],
    nodes: Mapping[str, NodeView],
    replacements: Mapping[str, Mapping[int, str]],
    now: datetime,
    displaced: Callable[[JobView], Sequence[int]] | None = None,
) -> datetime | None:
    """When the longest-waiting displaced shard (recovery) started waiting for a node: it counts as
    queued demand for the scale-up delay."""
    shards_of = displaced or (lambda v: displaced_shards(v, nodes))
    out: datetime | None = None
    for v in views:
        unplaced = [s for s in shards_of(v) if s not in replacements.get(v.key, {})]
        if not unplaced:
            continue
        cond = c.find(v.job.status.conditions, c.RECOVERING)
        since = cond.last_transition_time if cond is not None and cond.status == "True" else now
        out = since if out is None else min(out, since)
    return out


def with_replacements(running: RunningJob, replacements: Mapping[int, str]) -> RunningJob:
    """A held job plus the new nodes of its displaced shards (replace_displaced), as capacity."""
    if not replacements:
        return running
    extra = tuple(ShardPlacement(s, n, running.job.gpus_per_shard) for s, n in replacements.items())
    return replace(running, placements=running.placements + extra)
