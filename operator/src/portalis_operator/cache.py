"""What the scheduling loop knows of the cluster, kept current by watches (informer.py), and which jobs
changed since the last cycle.

Five informers, each holding compact values only:
- the GPUPool (by name): its validated model;
- TranslationJobs (every watched namespace): validated models, parsed once per change;
- our worker pods (job label): (owning job, PodView);
- pods that hold GPUs (bound and unfinished, any namespace, by field selector): (node, GPUs);
- the pool's nodes (label selector from the GPUPool): the fields snapshot.parse_node reads.

A change marks what it can affect as dirty (cycle.Dirty): a job, the job that controls a worker pod, or
everything (a node or the GPUPool's spec changed; its status, written by the autoscaler, changes no
plan). Pods that hold GPUs only wake the loop: they change capacity, which the scheduler reads whole
each cycle, not any job's own plan.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from kubernetes_asyncio import client
from pydantic import ValidationError

from portalis_operator.api import GROUP, VERSION, GPUPool, TranslationJob
from portalis_operator.cycle import Dirty
from portalis_operator.informer import Informer, Key
from portalis_operator.manifests import JOB_LABEL
from portalis_operator.settings import Settings
from portalis_operator.shared_parts import SharedParts
from portalis_operator.snapshot import OwnerKey, PodRef, PodView, gpu_hold, worker_pod

log = logging.getLogger(__name__)

JOBS = "translationjobs"
POOLS = "gpupools"
UNFINISHED_BOUND = "status.phase!=Succeeded,status.phase!=Failed,spec.nodeName!="

WorkerPod = tuple[OwnerKey, PodView]
Hold = tuple[str, int]  # (node, GPUs)


def parse_job(raw: Mapping[str, Any], parts: SharedParts | None = None) -> TranslationJob | None:
    """The job's validated model; with `parts`, its spec's parts shared with the other cached jobs'."""
    try:
        job = TranslationJob.model_validate(raw)
    except ValidationError as exc:  # the API server validated it; only a newer CRD gets here
        log.error("skipping TranslationJob %s that this operator cannot read: %s", _name(raw), exc)
        return None
    return job if parts is None else parts.share(job)


def parse_pool(raw: Mapping[str, Any]) -> GPUPool | None:
    try:
        return GPUPool.model_validate(raw)
    except ValidationError as exc:
        log.error("GPUPool %s unreadable, using defaults: %s", _name(raw), exc)
        return None


def compact_hold(raw: Mapping[str, Any]) -> Hold | None:
    hold = gpu_hold(raw)
    return None if hold is None else (hold[1], hold[2])


def compact_node(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of a Node that snapshot.parse_node reads, and nothing that changes with heartbeats: the
    Ready condition's lastTransitionTime only while the node is not Ready (recovery's grace period
    counts from it); some kubelets (kwok's among them) move it on every status update of a Ready node,
    and every node change plans every job."""
    meta = raw.get("metadata") or {}
    spec = raw.get("spec") or {}
    status = raw.get("status") or {}
    ready = [
        {
            k: cd.get(k)
            for k in ("type", "status", "lastTransitionTime")
            if k != "lastTransitionTime" or cd.get("status") != "True"
        }
        for cd in status.get("conditions") or ()
        if cd.get("type") == "Ready"
    ]
    return {
        "metadata": {
            "name": meta.get("name"),
            "labels": meta.get("labels") or {},
            "deletionTimestamp": meta.get("deletionTimestamp"),
        },
        "spec": {"unschedulable": spec.get("unschedulable"), "taints": spec.get("taints") or []},
        "status": {"allocatable": status.get("allocatable") or {}, "conditions": ready},
    }


def _name(raw: Mapping[str, Any]) -> str:
    return str((raw.get("metadata") or {}).get("name"))


class ClusterCache:
    """The informers, their tasks and the dirty set. `wake` is called on every change."""

    def __init__(self, settings: Settings, api: client.ApiClient, wake: Callable[[], None]) -> None:
        self.settings = settings
        self.core = client.CoreV1Api(api)
        self.custom = client.CustomObjectsApi(api)
        self._wake = wake
        self._dirty: set[str] = set()
        self._everything = True  # the first cycle plans every job
        self._job_of_owner: dict[OwnerKey, str] = {}
        self.pool = Informer[GPUPool](
            "gpupool",
            self.custom.list_cluster_custom_object,
            parse_pool,
            self._pool_changed,
            group=GROUP,
            version=VERSION,
            plural=POOLS,
            field_selector=f"metadata.name={settings.pool}",
        )
        self.parts = SharedParts()  # equal spec parts of the cached jobs, held once
        spaces: list[str | None] = list(settings.namespaces) or [None]
        self._spaces = spaces
        self.jobs = [self._job_informer(ns) for ns in spaces]
        self.workers = [self._worker_informer(ns) for ns in spaces]
        self.holds = Informer[Hold](
            "gpu-holding pods",
            self.core.list_pod_for_all_namespaces,
            compact_hold,
            lambda *_: wake(),
            field_selector=UNFINISHED_BOUND,
        )
        self.nodes: Informer[dict[str, Any]] | None = None
        self._node_selector: str | None = None
        self._node_task: asyncio.Task[None] | None = None
        self._tasks: list[asyncio.Task[None]] = []

    def _job_informer(self, ns: str | None) -> Informer[TranslationJob]:
        if ns is None:
            return Informer(
                "jobs",
                self.custom.list_cluster_custom_object,
                functools.partial(parse_job, parts=self.parts),
                self._job_changed,
                group=GROUP,
                version=VERSION,
                plural=JOBS,
            )
        return Informer(
            f"jobs in {ns}",
            self.custom.list_namespaced_custom_object,
            functools.partial(parse_job, parts=self.parts),
            self._job_changed,
            group=GROUP,
            version=VERSION,
            namespace=ns,
            plural=JOBS,
        )

    def _worker_informer(self, ns: str | None) -> Informer[WorkerPod]:
        if ns is None:
            return Informer(
                "worker pods",
                self.core.list_pod_for_all_namespaces,
                worker_pod,
                self._worker_changed,
                label_selector=JOB_LABEL,
            )
        return Informer(
            f"worker pods in {ns}",
            self.core.list_namespaced_pod,
            worker_pod,
            self._worker_changed,
            namespace=ns,
            label_selector=JOB_LABEL,
        )

    # ---- lifecycle --------------------------------------------------------------------------------------

    def _informers(self) -> list[Informer[Any]]:
        return [self.pool, *self.jobs, *self.workers, self.holds]

    def start(self) -> None:
        for informer in self._informers():
            self._tasks.append(asyncio.create_task(informer.run(), name=f"portalis-informer-{informer.name}"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        await self._stop_nodes()

    async def synced(self) -> None:
        """Wait until every informer has listed once."""
        await asyncio.gather(*(i.synced.wait() for i in self._informers()))

    def connected(self) -> bool:
        """Every informer's last request was answered: the cache follows the API server. Readiness
        rests on it (health.py): cycles over a cache cut off from the API server still succeed."""
        informers = self._informers() + ([self.nodes] if self.nodes is not None else [])
        return all(i.connected for i in informers)

    async def pool_nodes(self, label_selector: str) -> list[dict[str, Any]]:
        """The pool's nodes (compact_node). The node informer follows the GPUPool's selector: a new
        selector starts a new informer, and the caller waits for its first list."""
        if self.nodes is None or label_selector != self._node_selector:
            await self._stop_nodes()
            self.nodes = Informer(
                "pool nodes",
                self.core.list_node,
                compact_node,
                self._everything_changed,
                label_selector=label_selector,
            )
            self._node_selector = label_selector
            self._node_task = asyncio.create_task(self.nodes.run(), name="portalis-informer-nodes")
        await self.nodes.synced.wait()
        return list(self.nodes.items.values())

    async def _stop_nodes(self) -> None:
        task, self._node_task = self._node_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._everything_changed()

    # ---- what the cycle reads --------------------------------------------------------------------------

    def gpupool(self) -> GPUPool | None:
        return next(iter(self.pool.items.values()), None)

    def all_jobs(self) -> list[TranslationJob]:
        """Every job, in (namespace, name) order (the order a LIST gives)."""
        items = [kv for informer in self.jobs for kv in informer.items.items()]
        items.sort(key=lambda kv: kv[0])
        return [job for _, job in items]

    def worker_pods(self) -> Iterable[WorkerPod]:
        return [w for informer in self.workers for w in informer.items.values()]

    def gpu_holds(self) -> list[tuple[PodRef, str, int]]:
        return [(ref, node, gpus) for ref, (node, gpus) in self.holds.items.items()]

    def take_dirty(self) -> Dirty:
        """What changed since the last call (and forget it)."""
        dirty = Dirty(frozenset(self._dirty), self._everything)
        self._dirty = set()
        self._everything = False
        return dirty

    def assume_job(self, raw: Mapping[str, Any]) -> None:
        """A job as our status write left it (informer.assume)."""
        informer = self._in(self.jobs, raw)
        if informer is not None:
            informer.assume(raw)

    def assume_pod(self, raw: Mapping[str, Any]) -> None:
        """A worker pod as our create left it (informer.assume)."""
        informer = self._in(self.workers, raw)
        if informer is not None:
            informer.assume(raw)

    def has_job(self, namespace: str, uid: str) -> bool:
        """A TranslationJob with this uid is in the cache (writes.Written)."""
        return (namespace, uid) in self._job_of_owner

    def _in(self, informers: Sequence[Informer[Any]], raw: Mapping[str, Any]) -> Informer[Any] | None:
        """The informer of the object's namespace (the only one, when every namespace is watched)."""
        if len(informers) == 1:
            return informers[0]
        ns = str((raw.get("metadata") or {}).get("namespace") or "")
        return informers[self._spaces.index(ns)] if ns in self._spaces else None

    def mark_everything(self) -> None:
        self._everything = True

    # ---- changes ---------------------------------------------------------------------------------------

    def _job_changed(self, key: Key, old: TranslationJob | None, new: TranslationJob | None) -> None:
        for job in (old, new):
            if job is not None and job.metadata.uid:
                owner = (job.metadata.namespace or "", job.metadata.uid)
                if job is new:
                    self._job_of_owner[owner] = f"{key[0]}/{key[1]}"
                else:
                    self._job_of_owner.pop(owner, None)
        self._dirty.add(f"{key[0]}/{key[1]}")
        self._wake()

    def _worker_changed(self, key: Key, old: WorkerPod | None, new: WorkerPod | None) -> None:
        for pod in (old, new):
            if pod is not None and pod[0] in self._job_of_owner:
                self._dirty.add(self._job_of_owner[pod[0]])
        self._wake()

    def _pool_changed(self, key: Key, old: GPUPool | None, new: GPUPool | None) -> None:
        """A new spec (or a pool created or deleted) can change every job's plan; the pool's status,
        which the autoscaler writes as jobs come and go, changes none: it only wakes the loop."""
        if old is None or new is None or old.spec != new.spec:
            self._everything_changed()
        else:
            self._wake()

    def _everything_changed(self, *_: Any) -> None:
        self._everything = True
        self._wake()
