"""Turn raw API objects (JSON dicts) into the plain views the policies take. Pure: no I/O here.

Raw dicts rather than the client's generated models: deserialising thousands of pods into models costs
more than the scheduling itself, and the views keep only what decisions need.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import cached_property
from typing import Any

from portalis_operator.api import GROUP, GPUPoolSpec, Pricing, SpotMix, TranslationJob
from portalis_operator.cost import run_times
from portalis_operator.manifests import GPU_RESOURCE, JOB_LABEL, SHARD_LABEL, worker_pod_name
from portalis_operator.packing import Node
from portalis_operator.placement import capacity_type_from_label
from portalis_operator.progress import ShardProgress, parse_report
from portalis_operator.quantity import parse_quantity
from portalis_operator.quotas import NO_QUOTAS, NamespaceQuotas
from portalis_operator.recovery import (
    DEFAULT_RECOVERY,
    NodeHealth,
    NodeTrouble,
    RecoveryPolicy,
    ShardState,
    classify_node,
    shard_state,
)
from portalis_operator.startup import waiting_reason
from portalis_worker.protocol import RESULT_ANNOTATION, ResultReport

# ---- views: the cluster as plain values -----------------------------------------------------------------


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

    @cached_property
    def key(self) -> str:
        return f"{self.job.metadata.namespace}/{self.job.metadata.name}"


# ---- building them ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PoolConfig:
    """What the snapshot needs from the GPUPool (defaults when the pool object does not exist)."""

    name: str
    node_selector: Mapping[str, str]
    capacity_type_label: str = SpotMix().capacity_type_label
    recovery: RecoveryPolicy = DEFAULT_RECOVERY
    pricing: Pricing | None = None
    quotas: NamespaceQuotas = NO_QUOTAS

    @classmethod
    def from_spec(cls, name: str, spec: GPUPoolSpec | None, pool_label: str) -> PoolConfig:
        selector: Mapping[str, str] = {pool_label: name}
        if spec is None:
            return cls(name=name, node_selector=selector)
        if spec.provider.type == "static" and spec.provider.static is not None:
            selector = dict(spec.provider.static.node_selector)
        return cls(
            name=name,
            node_selector=selector,
            capacity_type_label=spec.spot.capacity_type_label,
            recovery=RecoveryPolicy.from_spec(spec),
            pricing=spec.pricing,
            quotas=quotas_of(spec),
        )

    def label_selector(self) -> str:
        return ",".join(f"{k}={v}" for k, v in sorted(self.node_selector.items()))


def quotas_of(spec: GPUPoolSpec) -> NamespaceQuotas:
    """The GPUPool's per-namespace GPU quotas (quotas.py); none when `spec.quotas` is unset."""
    if spec.quotas is None:
        return NO_QUOTAS
    limits = {q.name: q.max_gpus for q in spec.quotas.namespaces or ()}
    return NamespaceQuotas(default=spec.quotas.default_max_gpus, limits=limits)


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


MAX_GPUS = 1_000_000
"""More GPUs than any node has: a larger count (any tenant may write one) is clamped to it."""


def quantity(value: object) -> int:
    """A resource quantity in any of Kubernetes' forms ("8", "1k", "1e3", "2000m", "1Ki") as a whole
    count, rounded up and clamped to [0, MAX_GPUS]; 0 when it is not a quantity. Never raises: pods of
    every namespace pass through here, and `int("1k")` used to fail every cycle."""
    try:
        parsed: Decimal = parse_quantity(value)
    except (ValueError, TypeError, ArithmeticError):
        return 0
    if not parsed.is_finite() or parsed <= 0:
        return 0
    if parsed >= MAX_GPUS:  # before ceil: "1e999999999" is a valid quantity
        return MAX_GPUS
    return math.ceil(parsed)


def gpu_quantity(resources: Mapping[str, Any] | None) -> int:
    if not resources:
        return 0
    value = (resources.get("limits") or {}).get(GPU_RESOURCE) or (resources.get("requests") or {}).get(
        GPU_RESOURCE
    )
    return quantity(value) if value is not None else 0


def pod_gpus(pod: Mapping[str, Any]) -> int:
    """GPUs a pod holds: its containers' sum, or an init container's if larger (Kubernetes' rule; native
    sidecars, which keep running, add to the containers)."""
    spec = pod.get("spec") or {}
    total = sum(gpu_quantity(ct.get("resources")) for ct in spec.get("containers") or ())
    init_peak = 0
    for ct in spec.get("initContainers") or ():
        if ct.get("restartPolicy") == "Always":
            total += gpu_quantity(ct.get("resources"))
        else:
            init_peak = max(init_peak, gpu_quantity(ct.get("resources")))
    return max(total, init_peak)


def parse_pod(pod: Mapping[str, Any]) -> PodView | None:
    meta = pod.get("metadata") or {}
    labels = meta.get("labels") or {}
    try:
        shard = int(labels[SHARD_LABEL])
    except (KeyError, ValueError):
        return None
    status = pod.get("status") or {}
    exit_code: int | None = None
    finished_at: datetime | None = None
    reason: str | None = status.get("reason")
    for cs in status.get("containerStatuses") or ():
        if cs.get("name") != "worker":
            continue
        term = (cs.get("state") or {}).get("terminated")
        if term:
            exit_code = term.get("exitCode")
            reason = term.get("reason") or reason
            finished_at = parse_time(term.get("finishedAt"))
    phase = status.get("phase") or "Pending"
    return PodView(
        name=meta.get("name", ""),
        shard=shard,
        phase=phase,
        node=(pod.get("spec") or {}).get("nodeName"),
        terminating=meta.get("deletionTimestamp") is not None,
        exit_code=exit_code,
        reason=reason,
        progress=parse_report(meta.get("annotations")),
        failed_at=finished_at if phase == "Failed" else None,
        uid=meta.get("uid"),
        run=run_times(pod),
        result=ResultReport.decode((meta.get("annotations") or {}).get(RESULT_ANNOTATION)),
        waiting=waiting_reason(status) if phase == "Pending" else None,
    )


def parse_node(node: Mapping[str, Any], pool: PoolConfig, gpus_other: int, now: datetime) -> NodeView | None:
    """A pool node; None when it has no recognisable capacity type (not a pool node)."""
    meta = node.get("metadata") or {}
    labels = meta.get("labels") or {}
    ct = capacity_type_from_label(labels.get(pool.capacity_type_label))
    if ct is None:
        return None
    status = node.get("status") or {}
    spec = node.get("spec") or {}
    alloc = (status.get("allocatable") or {}).get(GPU_RESOURCE, "0")
    health = node_health(node)
    trouble = classify_node(health, pool.recovery, now)
    schedulable = trouble is NodeTrouble.NONE and not spec.get("unschedulable")
    return NodeView(
        node=Node(
            name=meta.get("name", ""),
            capacity_type=ct,
            gpus=quantity(alloc),
            gpus_other=gpus_other,
            schedulable=schedulable,
        ),
        trouble=trouble,
        cordoned=bool(spec.get("unschedulable")),
    )


def node_health(node: Mapping[str, Any]) -> NodeHealth:
    """The parts of a raw Node that recovery.classify_node reads."""
    meta = node.get("metadata") or {}
    status = node.get("status") or {}
    ready = next((cd for cd in status.get("conditions") or () if cd.get("type") == "Ready"), None)
    is_ready = ready is None or ready.get("status") == "True"
    return NodeHealth(
        name=meta.get("name", ""),
        ready=is_ready,
        not_ready_since=None if is_ready or ready is None else parse_time(ready.get("lastTransitionTime")),
        taints=frozenset(t.get("key") for t in (node.get("spec") or {}).get("taints") or () if t.get("key")),
        deleting=meta.get("deletionTimestamp") is not None,
    )


PodRef = tuple[str, str]
"""(namespace, name) of a pod."""


def gpu_hold(pod: Mapping[str, Any]) -> tuple[PodRef, str, int] | None:
    """(pod, node, GPUs) when the pod holds GPUs on a node (bound, not finished); any pod, ours or not."""
    node = (pod.get("spec") or {}).get("nodeName")
    phase = (pod.get("status") or {}).get("phase")
    if not node or phase in ("Succeeded", "Failed"):
        return None
    gpus = pod_gpus(pod)
    if not gpus:
        return None
    meta = pod.get("metadata") or {}
    return (str(meta.get("namespace") or ""), str(meta.get("name") or "")), str(node), gpus


def other_gpus(holds: Iterable[tuple[PodRef, str, int]], views: Iterable[JobView]) -> dict[str, int]:
    """GPUs held on each node by pods that are not a job's matched workers (`build_jobs`): other
    workloads, and pods that carry our job label but belong to no job (forged, or left by a deleted
    job). The matched workers' GPUs are their jobs' (occupancy.running_of)."""
    workers = {(v.job.metadata.namespace or "", p.name) for v in views for p in v.pods.values()}
    out: dict[str, int] = {}
    for ref, node, gpus in holds:
        if ref not in workers:
            out[node] = out.get(node, 0) + gpus
    return out


OwnerKey = tuple[str, str]
"""(namespace, UID) of a TranslationJob: a UID alone is only unique among objects that exist, and an
ownerReference can name any UID, so a pod in one namespace must never match a job in another."""


def controller_owner(meta: Mapping[str, Any]) -> OwnerKey | None:
    """The (pod's namespace, UID) of the TranslationJob that controls this object: the ownerReference with
    `controller: true`, our API group and kind. ownerReferences are namespace-local (the garbage
    collector ignores one whose owner is in another namespace), so the owner's namespace is the pod's."""
    for ref in meta.get("ownerReferences") or ():
        if ref.get("controller") is not True or ref.get("kind") != "TranslationJob":
            continue
        if str(ref.get("apiVersion", "")).split("/")[0] != GROUP or not ref.get("uid"):
            continue
        return str(meta.get("namespace") or ""), str(ref["uid"])
    return None


def worker_pod(pod: Mapping[str, Any]) -> tuple[OwnerKey, PodView] | None:
    """(owning job's key, view) of one of our worker pods; None for anything else."""
    meta = pod.get("metadata") or {}
    if JOB_LABEL not in (meta.get("labels") or {}):
        return None
    owner = controller_owner(meta)
    view = parse_pod(pod)
    if owner is None or view is None:
        return None
    return owner, view


def build_nodes(
    nodes: Iterable[Mapping[str, Any]],
    other_gpus: Mapping[str, int],
    pool: PoolConfig,
    now: datetime,
) -> dict[str, NodeView]:
    """Pool nodes by name, each charged with the GPUs (by node) of pods that are not our workers."""
    out: dict[str, NodeView] = {}
    for raw in nodes:
        view = parse_node(raw, pool, other_gpus.get((raw.get("metadata") or {}).get("name", ""), 0), now)
        if view is not None:
            out[view.node.name] = view
    return out


def build_jobs(jobs: Iterable[TranslationJob], pods: Iterable[tuple[OwnerKey, PodView]]) -> list[JobView]:
    """Jobs with their worker pods: a pod belongs to a job when the job controls it (`controller_owner`:
    same namespace, UID, API group and kind) and the pod has the deterministic name of its shard. Anyone
    with pod create rights can copy the labels and an ownerReference; neither lets a pod stand in for
    a job's worker elsewhere, or under another shard's name (the plans delete pods by these names)."""
    by_owner: dict[OwnerKey, list[PodView]] = defaultdict(list)
    for owner, view in pods:
        by_owner[owner].append(view)
    out = []
    for job in jobs:
        candidates = by_owner.get((job.metadata.namespace or "", job.metadata.uid or ""), [])
        name = job.metadata.name
        matched = {p.shard: p for p in candidates if p.name == worker_pod_name(name, p.shard)}
        out.append(JobView(job=job, pods=matched))
    return out


def capacity(nodes: Mapping[str, NodeView]) -> Sequence[Node]:
    return [v.node for v in nodes.values()]
