"""The scheduling loop: snapshot the cluster, decide (pure policies), apply. Kubernetes I/O lives here.

One cycle runs after any relevant event (debounced) and at least every `resync_seconds` (time-based
rules: aging, deadlines, TTLs, backoff). Every cycle starts from a fresh LIST, so there is no cache to
drift and a restarted operator continues exactly where the previous one stopped. A status write carries
the resourceVersion it was computed from, so a decision made on stale data is refused by the API server
(409) instead of being applied; pods are only created after the status that records them is stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import Counter as Tally
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException
from pydantic import ValidationError

from portalis_operator import metrics
from portalis_operator.admission import Admitted, Waiting
from portalis_operator.api import GROUP, VERSION, GPUPool, TranslationJob
from portalis_operator.cost import GPUSeconds, estimate_usd
from portalis_operator.events import event_body
from portalis_operator.health import HealthState, Role, age
from portalis_operator.jobs import Context, JobPlan, PodDelete, plan_each, plan_job
from portalis_operator.leadership import Clock, Fence, LeaseElector, LeaseTiming, NotLeading, SystemClock
from portalis_operator.manifests import JOB_LABEL, build_worker_pod, output_config_maps, worker_pod_name
from portalis_operator.network_policy import worker_network_policy
from portalis_operator.occupancy import (
    busy_nodes,
    holds_capacity,
    output_claim,
    pending_since,
    replace_displaced,
    request_of,
    running_of,
    spot_mode_of,
    with_replacements,
)
from portalis_operator.output_paths import waiting_for_output
from portalis_operator.patches import merge_diff
from portalis_operator.pool import PoolReconciler, PoolSnapshot
from portalis_operator.scheduling import schedule
from portalis_operator.settings import Settings
from portalis_operator.snapshot import (
    JobParser,
    JobView,
    NodeView,
    OwnerKey,
    PodRef,
    PodView,
    PoolConfig,
    build_jobs,
    build_nodes,
    capacity,
    gpu_hold,
    other_gpus,
    worker_pod,
)
from portalis_operator.startup import CreateRefusal, refused
from portalis_operator.workload import CapacityType, RunningJob

log = logging.getLogger(__name__)
T = TypeVar("T")

JOBS = "translationjobs"
PAGE = 500
EVENT_POSTERS = 4
POOLS = "gpupools"
FINAL = ("Succeeded", "Failed")


class Controller:
    def __init__(
        self,
        settings: Settings,
        api: client.ApiClient,
        elector: LeaseElector | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.clock = clock or SystemClock()  # decisions read time only through it (tests inject one)
        self.settings = settings
        # With leader election only the Lease holder writes: every write passes `self.fence` first
        # (leadership.py). Standalone, the fence is always open.
        if elector is None and settings.leader_election:
            elector = LeaseElector(
                api,
                settings.lease_namespace,
                f"portalis-{settings.pool}",
                settings.identity,
                LeaseTiming(
                    settings.lease_duration_seconds,
                    settings.lease_renew_deadline_seconds,
                    settings.lease_retry_seconds,
                ),
                self.clock,
            )
        self.elector = elector
        self.fence = elector.fence if elector is not None else Fence()
        self.api = api
        self.core = client.CoreV1Api(api)
        self.custom = client.CustomObjectsApi(api)
        self.rbac = client.RbacAuthorizationV1Api(api)
        self.networking = client.NetworkingV1Api(api)
        self._wake = asyncio.Event()
        self._limit = asyncio.Semaphore(settings.api_concurrency)
        self._worker_accounts: set[str] = set()
        self._refusals: dict[tuple[str, str], CreateRefusal] = {}  # (namespace, pod) -> last refusal
        self.pool = PoolReconciler(
            api, settings.pool, clock=self.clock.now, fence=self.fence.check, pool_label=settings.pool_label
        )
        self._jobs = JobParser()
        self._events: asyncio.Queue[tuple[TranslationJob, str, str, str]] = asyncio.Queue()
        self.last_sync: float | None = None
        self._last_cycle = 0.0
        self._synced_at: float | None = None  # monotonic, end of the last completed cycle
        self._role: Role | None = None
        self._role_confirmed_at: float | None = None  # monotonic

    def confirm_role(self, role: Role) -> None:
        """This replica's role, as of now: it renewed or followed the Lease, or (standalone) it cycled."""
        self._role = role
        self._role_confirmed_at = time.monotonic()

    def health_state(self, scheduler_running: bool) -> HealthState:
        """What the probes read (health.py): nothing here waits on the API server."""
        return HealthState(
            scheduler_running=scheduler_running,
            role=self._role,
            role_confirmed_age=age(self._role_confirmed_at),
            last_sync_age=age(self._synced_at),
        )

    def trigger(self) -> None:
        self._wake.set()

    async def run(self, stopped: Callable[[], bool]) -> None:
        """Cycle until `stopped()`; errors are counted and logged, never fatal. With leader election the
        Lease is renewed by its own task, so a long cycle never lets it lapse unnoticed."""
        posters = [asyncio.create_task(self._post_events()) for _ in range(EVENT_POSTERS)]
        elector = self.elector
        renewing = (
            asyncio.create_task(
                elector.run(lambda leading: self.confirm_role("leader" if leading else "standby")),
                name="portalis-lease",
            )
            if elector is not None
            else None
        )
        try:
            await self._loop(stopped)
        finally:
            for task in posters:
                task.cancel()
            if renewing is not None and elector is not None:
                renewing.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await renewing
                await elector.release()

    async def flush_events(self) -> None:
        """Wait (at most 10 s) until queued events are posted; called on shutdown."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(10):
                await self._events.join()

    async def _loop(self, stopped: Callable[[], bool]) -> None:
        was_leading = False
        while not stopped():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._wait_seconds(was_leading))
            # Under load, cycles get longer; waiting a share of the last one batches more events per
            # cycle instead of re-listing everything for each of them.
            await asyncio.sleep(max(self.settings.debounce_seconds, min(1.0, 0.5 * self._last_cycle)))
            self._wake.clear()
            was_leading = self.fence.open()
            if not was_leading:
                continue  # a standby: the elector's task says when it leads
            try:
                await self.cycle()
                if self.elector is None:
                    self.confirm_role("standalone")
            except asyncio.CancelledError:
                raise
            except NotLeading:
                log.info("leadership lost during a cycle; its remaining writes were not made")
            except Exception:
                metrics.RECONCILE_ERRORS.labels("cycle").inc()
                log.exception("scheduling cycle failed; retrying")
                await asyncio.sleep(1)

    def _wait_seconds(self, leading: bool) -> float:
        """A standby checks for leadership every retry period; a leader cycles on events or at resync."""
        if self.elector is not None and not leading:
            return min(self.settings.resync_seconds, self.elector.timing.retry_period)
        return self.settings.resync_seconds

    @contextlib.asynccontextmanager
    async def _writing(self) -> AsyncIterator[None]:
        """Every write: bounded concurrency, and only while this replica may write (the fence is checked
        after the wait for a slot, right before the request)."""
        async with self._limit:
            self.fence.check()
            yield

    # ---- one cycle -----------------------------------------------------------------------------------

    async def cycle(self) -> None:
        self.fence.check()
        started = time.monotonic()
        now = self.clock.now()
        gpupool, raw_jobs, our_pods, holds = await asyncio.gather(
            self._pool(), self._list_jobs(), self._worker_pods(), self._gpu_holds()
        )
        pool_spec = gpupool.spec if gpupool is not None else None
        pool = PoolConfig.from_spec(self.settings.pool, pool_spec, self.settings.pool_label)
        raw_nodes = [
            n
            async for page in self._pages(self.core.list_node, label_selector=pool.label_selector())
            for n in page
        ]
        views = build_jobs(self._jobs.parse(raw_jobs), our_pods)
        nodes = build_nodes(raw_nodes, other_gpus(holds, views), pool, now)
        del raw_jobs, raw_nodes, holds

        running = [running_of(v, nodes) for v in views if holds_capacity(v)]
        replacements = replace_displaced(views, nodes, running)
        running = [with_replacements(r, replacements.get(r.job.key, {})) for r in running]
        holding = {r.job.key for r in running}
        claims = (output_claim(v, active=v.key in holding) for v in views)
        output_in_use_by = waiting_for_output(claim for claim in claims if claim is not None)
        queued = [
            request_of(v.job, output_in_use_by.get(v.key))
            for v in views
            if v.key not in holding and v.job.status.phase not in (*FINAL, "Preempted")
        ]
        result = schedule(
            queued, capacity(nodes), running, now, self.settings.scheduling_policy(), quotas=pool.quotas
        )
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
                    start=self.settings.start_policy(),
                    create_refusals=self._refusals_of(v),
                ),
            )

        self._forget_refusals(views)
        plans, failures = plan_each(views, plan, now)
        for view, exc in failures:
            metrics.RECONCILE_ERRORS.labels("plan").inc()
            log.error("planning %s failed; the other jobs go on", view.key, exc_info=exc)
        await asyncio.gather(*(self._apply_isolated(v, p, pool) for v, p in plans))
        self._observe(views, plans, result.waiting, nodes, now)
        admitted = [RunningJob(a.job, a.placements, now) for a in result.admitted]
        await self.pool.reconcile(
            gpupool,
            PoolSnapshot(
                nodes=nodes,
                running=[*running, *admitted],
                waiting=result.waiting,
                busy=busy_nodes(views, [*running, *admitted], nodes),
                pending_since=pending_since(views, nodes, replacements, now),
            ),
        )
        self._last_cycle = time.monotonic() - started
        metrics.SCHEDULING_CYCLE.observe(self._last_cycle)
        self.last_sync = time.time()
        self._synced_at = time.monotonic()
        metrics.LAST_SYNC.set(self.last_sync)

    # ---- applying a plan ----------------------------------------------------------------------------

    async def _apply_isolated(self, view: JobView, plan: JobPlan, pool: PoolConfig) -> None:
        """Apply one job's plan; an unexpected error is logged and counted, and the other jobs' plans
        are still applied (API errors are handled per call, in _apply)."""
        try:
            await self._apply(view, plan, pool)
        except (asyncio.CancelledError, NotLeading):
            raise
        except Exception:
            metrics.RECONCILE_ERRORS.labels("apply").inc()
            log.exception("applying the plan of %s failed; the other jobs go on", view.key)

    async def _apply(self, view: JobView, plan: JobPlan, pool: PoolConfig) -> None:
        job = view.job
        ns, name = job.metadata.namespace or "default", job.metadata.name
        status = job.status
        if plan.status is not None:
            ok = await self._patch_status(view, plan)
            if not ok:
                return
            status = plan.status
            _count_written(view, plan, pool)
        if plan.deletes:
            await asyncio.gather(*(self._delete_pod(ns, d) for d in plan.deletes))
        if plan.create:
            await self._ensure_worker_account(ns)
            if not await self._ensure_output_config_maps(ns, job):
                return  # the workers would only wait for them; the next cycle tries again
            spot = spot_mode_of(job)
            nodes = {w.shard: w.node for w in status.workers or ()}
            pod_settings = self.settings.worker_pod_settings(pool.capacity_type_label)
            bodies = [
                build_worker_pod(job, shard, spot_mode=spot, settings=pod_settings, node=nodes.get(shard))
                for shard in plan.create
                if not self._backing_off(ns, worker_pod_name(name, shard))
            ]
            await asyncio.gather(*(self._create_pod(ns, body) for body in bodies))
        for ev in plan.events:  # posted in the background: they must not hold up admissions
            self._events.put_nowait((job, ev.type, ev.reason, ev.message))
        if plan.delete_job:
            await self._call(
                "delete",
                self.custom.delete_namespaced_custom_object(
                    GROUP, VERSION, ns, JOBS, name, propagation_policy="Background"
                ),
            )

    async def _patch_status(self, view: JobView, plan: JobPlan) -> bool:
        job = view.job
        assert plan.status is not None
        old = job.status.to_wire()
        new = plan.status.to_wire()
        body = {
            "metadata": {"resourceVersion": job.metadata.resource_version},
            "status": merge_diff(old, new),
        }
        try:
            async with self._writing():
                await self.custom.patch_namespaced_custom_object_status(
                    GROUP,
                    VERSION,
                    job.metadata.namespace,
                    JOBS,
                    job.metadata.name,
                    body,
                    _content_type="application/merge-patch+json",
                )
        except ApiException as exc:
            if exc.status in (404, 409):  # deleted, or changed since the snapshot: next cycle decides again
                self.trigger()
                return False
            metrics.RECONCILE_ERRORS.labels("status").inc()
            log.error("status of %s/%s not written: %s", job.metadata.namespace, job.metadata.name, exc)
            return False
        return True

    async def _create_pod(self, ns: str, body: dict[str, Any]) -> None:
        """Create one worker pod. A refusal (quota, LimitRange, Pod Security, an invalid spec) is
        recorded and retried after a backoff (startup.py), never at once: the same create is refused the
        same way, and an immediate retry used to re-run the whole cycle every few milliseconds."""
        key = (ns, body["metadata"]["name"])
        try:
            async with self._writing():
                await self.core.create_namespaced_pod(ns, body)
        except ApiException as exc:
            if exc.status == 409:  # created by an earlier cycle or an earlier operator: same name, same pod
                self._refusals.pop(key, None)
                return
            metrics.POD_CREATE_REFUSALS.inc()
            record = refused(
                self._refusals.get(key), _reason(exc), self.clock.monotonic(), self.settings.start_policy()
            )
            self._refusals[key] = record
            log.error(
                "pod %s/%s not created (attempt %d, next in %.0f s): %s",
                ns,
                key[1],
                record.attempts,
                record.retry_at - self.clock.monotonic(),
                record.message,
            )
            return
        self._refusals.pop(key, None)

    def _backing_off(self, ns: str, pod: str) -> bool:
        record = self._refusals.get((ns, pod))
        return record is not None and self.clock.monotonic() < record.retry_at

    def _refusals_of(self, view: JobView) -> dict[int, str]:
        """What the API server last said to each of this job's refused pod creates, by shard."""
        ns, name = view.job.metadata.namespace or "default", view.job.metadata.name
        out: dict[int, str] = {}
        for shard in range(view.job.spec.parallelism):
            record = self._refusals.get((ns, worker_pod_name(name, shard)))
            if record is not None:
                out[shard] = record.message
        return out

    def _forget_refusals(self, views: Sequence[JobView]) -> None:
        """Drop the records of pods whose job is gone or whose pod now exists."""
        keep = {
            (v.job.metadata.namespace or "default", worker_pod_name(v.job.metadata.name, s))
            for v in views
            for s in range(v.job.spec.parallelism)
            if s not in v.pods
        }
        self._refusals = {k: r for k, r in self._refusals.items() if k in keep}

    async def _delete_pod(self, ns: str, delete: PodDelete) -> None:
        """Delete with a UID precondition: only the pod the plan was made for, never one that took its
        name since (409 then, and the next cycle decides on the new pod)."""
        if delete.uid is None:
            metrics.RECONCILE_ERRORS.labels("pods").inc()
            log.error("pod %s/%s not deleted: its UID is unknown", ns, delete.name)
            return
        body: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "DeleteOptions",
            "preconditions": {"uid": delete.uid},
        }
        if delete.grace_seconds is not None:
            body["gracePeriodSeconds"] = delete.grace_seconds
        try:
            async with self._writing():
                await self.core.delete_namespaced_pod(delete.name, ns, body=body)
        except ApiException as exc:
            if exc.status in (404, 409):  # gone, or replaced since the snapshot
                self.trigger()
                return
            metrics.RECONCILE_ERRORS.labels("pods").inc()
            log.error("pod %s/%s not deleted: %s", ns, delete.name, _reason(exc))

    async def _ensure_output_config_maps(self, ns: str, job: TranslationJob) -> bool:
        """A ConfigMap output's ConfigMaps (manifests.output_config_maps), created before the pods. One
        that exists is kept: the job's own from an earlier cycle, or another object's, which the worker
        then refuses (exit 5, its writers do not name it). False when a create failed otherwise."""
        for body in output_config_maps(job):
            try:
                async with self._writing():
                    await self.core.create_namespaced_config_map(ns, body)
            except ApiException as exc:
                if exc.status != 409:
                    metrics.RECONCILE_ERRORS.labels("pods").inc()
                    log.error("configmap %s/%s not created: %s", ns, body["metadata"]["name"], _reason(exc))
                    return False
        return True

    async def _ensure_worker_account(self, ns: str) -> None:
        """The worker's ServiceAccount in a job's namespace, allowed only to read and patch pods there
        (to report progress; the chart's worker-token ValidatingAdmissionPolicy narrows the patch to its
        own pod's annotations), and the workers' NetworkPolicy. Created once per namespace and operator
        run; existing objects are kept (a platform team may have adapted them)."""
        if ns in self._worker_accounts:
            return
        sa = self.settings.worker_service_account
        labels = {"app.kubernetes.io/managed-by": "portalis-operator"}
        objects: list[Callable[[], Awaitable[Any]]] = [
            lambda: self.core.create_namespaced_service_account(
                ns, {"metadata": {"name": sa, "labels": labels}}
            ),
            lambda: self.rbac.create_namespaced_role(
                ns,
                {
                    "metadata": {"name": sa, "labels": labels},
                    "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "patch"]}],
                },
            ),
            lambda: self.rbac.create_namespaced_role_binding(
                ns,
                {
                    "metadata": {"name": sa, "labels": labels},
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": sa},
                    "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": ns}],
                },
            ),
            # ConfigMap outputs (configmap_output.py in the worker): read the shards' ledgers, update the
            # ConfigMaps whose writers annotation names the token's pod (the chart's policy). No create,
            # no delete: the operator creates them, owned by the job. A Role of its own, so that a
            # namespace whose pods-only Role predates it gets it too.
            lambda: self.rbac.create_namespaced_role(
                ns,
                {
                    "metadata": {"name": f"{sa}-output", "labels": labels},
                    "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "update"]}],
                },
            ),
            lambda: self.rbac.create_namespaced_role_binding(
                ns,
                {
                    "metadata": {"name": f"{sa}-output", "labels": labels},
                    "roleRef": {
                        "apiGroup": "rbac.authorization.k8s.io",
                        "kind": "Role",
                        "name": f"{sa}-output",
                    },
                    "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": ns}],
                },
            ),
        ]
        if self.settings.worker_network_policy:
            objects.append(
                lambda: self.networking.create_namespaced_network_policy(ns, worker_network_policy(sa, ns))
            )
        for create in objects:
            try:
                async with self._writing():
                    await create()
            except ApiException as exc:
                if exc.status != 409:
                    metrics.RECONCILE_ERRORS.labels("pods").inc()
                    log.error("worker service account in %s: %s", ns, _reason(exc))
                    return
        self._worker_accounts.add(ns)

    async def _post_events(self) -> None:
        while True:
            job, type_, reason, message = await self._events.get()
            try:
                await self._post_event(job, type_, reason, message)
            finally:
                self._events.task_done()

    async def _post_event(self, job: TranslationJob, type_: str, reason: str, message: str) -> None:
        ns = job.metadata.namespace or "default"
        body = event_body(
            "TranslationJob",
            job.metadata.name,
            job.metadata.uid,
            type_,
            reason,
            message,
            self.clock.now(),
            namespace=ns,
            object_namespace=ns,
            resource_version=job.metadata.resource_version,
        )
        await self._call("events", self.core.create_namespaced_event(ns, body))

    async def _call(self, stage: str, coro: Coroutine[Any, Any, T]) -> T | None:
        """One write whose failure is only logged; not made (and None) when this replica may not write."""
        try:
            async with self._writing():
                return await coro
        except NotLeading:
            coro.close()  # never started: the new leader decides again
            return None
        except ApiException as exc:
            if exc.status == 404:
                return None
            metrics.RECONCILE_ERRORS.labels(stage).inc()
            log.error("%s call failed: %s", stage, _reason(exc))
            return None

    # ---- reading ------------------------------------------------------------------------------------

    async def _pool(self) -> GPUPool | None:
        try:
            raw = await self.custom.get_cluster_custom_object(GROUP, VERSION, POOLS, self.settings.pool)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        try:
            return GPUPool.model_validate(raw)
        except ValidationError as exc:
            log.error("GPUPool %s unreadable, using defaults: %s", self.settings.pool, exc)
            return None

    async def _list_jobs(self) -> list[dict[str, Any]]:
        if not self.settings.namespaces:
            return [j async for page in self._custom_pages() for j in page]
        return [j for ns in self.settings.namespaces async for page in self._custom_pages(ns) for j in page]

    async def _worker_pods(self) -> list[tuple[OwnerKey, PodView]]:
        """Our worker pods, reduced page by page to what decisions need."""
        out: list[tuple[OwnerKey, PodView]] = []
        calls = (
            [(self.core.list_pod_for_all_namespaces, {})]
            if not self.settings.namespaces
            else [(self.core.list_namespaced_pod, {"namespace": ns}) for ns in self.settings.namespaces]
        )
        for fn, kw in calls:
            async for page in self._pages(fn, label_selector=JOB_LABEL, **kw):
                out += [w for w in map(worker_pod, page) if w is not None]
        return out

    async def _gpu_holds(self) -> list[tuple[PodRef, str, int]]:
        """GPUs held by every bound, unfinished pod (any namespace, ours too): snapshot.other_gpus then
        leaves out the jobs' matched workers. A label is no proof of ownership: a pod that carries the
        job label but belongs to no job still holds its GPUs."""
        holds: list[tuple[PodRef, str, int]] = []
        async for page in self._pages(
            self.core.list_pod_for_all_namespaces,
            field_selector="status.phase!=Succeeded,status.phase!=Failed",
        ):
            holds += filter(None, map(gpu_hold, page))
        return holds

    async def _custom_pages(self, namespace: str | None = None) -> AsyncIterator[list[dict[str, Any]]]:
        kw: dict[str, Any] = {"limit": PAGE, "resource_version": "0"}
        while True:
            if namespace is None:
                raw = await self.custom.list_cluster_custom_object(GROUP, VERSION, JOBS, **kw)
            else:
                raw = await self.custom.list_namespaced_custom_object(GROUP, VERSION, namespace, JOBS, **kw)
            yield list(raw.get("items") or [])
            token = (raw.get("metadata") or {}).get("continue")
            if not token:
                return
            kw = {"limit": PAGE, "_continue": token}

    @staticmethod
    async def _pages(fn: Callable[..., Awaitable[Any]], **kwargs: Any) -> AsyncIterator[list[dict[str, Any]]]:
        """A LIST in pages of raw JSON (the client's models cost more to build than to decide on).

        The first page is served from the API server's watch cache (resourceVersion=0): cheap for the
        server, and safe here because every write this loop makes is guarded (resourceVersion
        preconditions on status, deterministic pod names), so a decision on slightly stale data is
        refused instead of applied."""
        kw: dict[str, Any] = {"limit": PAGE, "resource_version": "0", **kwargs}
        while True:
            resp = await fn(_preload_content=False, **kw)
            try:
                data = json.loads(await resp.read())
            finally:
                resp.release()
            yield list(data.get("items") or [])
            token = (data.get("metadata") or {}).get("continue")
            if not token:
                return
            kw = {"limit": PAGE, "_continue": token, **kwargs}

    # ---- metrics ------------------------------------------------------------------------------------

    def _observe(
        self,
        views: Sequence[JobView],
        plans: Sequence[tuple[JobView, JobPlan]],
        waiting: Sequence[Waiting],
        nodes: Mapping[str, NodeView],
        now: datetime,
    ) -> None:
        depth = Tally(w.job.priority.wire for w in waiting if not w.job.suspended)
        oldest: dict[str, float] = {}
        for w in waiting:
            if not w.job.suspended:
                age = (now - w.job.waiting_since).total_seconds()
                oldest[w.job.priority.wire] = max(oldest.get(w.job.priority.wire, 0.0), age)
        for prio in ("critical", "high", "normal", "low", "background"):
            metrics.QUEUE_DEPTH.labels(prio).set(depth.get(prio, 0))
            metrics.OLDEST_QUEUED.labels(prio).set(oldest.get(prio, 0.0))
        phases = Tally((p.status or v.job.status).phase or "Pending" for v, p in plans)
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
            metrics.JOBS.labels(phase).set(phases.get(phase, 0))
        checkpoints = [
            (now - v.job.status.last_checkpoint_time).total_seconds()
            for v in views
            if v.job.status.phase == "Running" and v.job.status.last_checkpoint_time is not None
        ]
        metrics.LAST_CHECKPOINT_AGE.set(max(checkpoints, default=0.0))
        not_started = [
            (now - v.job.status.admitted_at).total_seconds()
            for v in views
            if v.job.status.phase == "Admitted" and v.job.status.admitted_at is not None
        ]
        metrics.NOT_STARTED_AGE.set(max(not_started, default=0.0))
        pool = self.settings.pool
        by_type = Tally(v.node.capacity_type.value for v in nodes.values())
        for ct in ("spot", "on-demand"):
            metrics.POOL_NODES.labels(pool, ct).set(by_type.get(ct, 0))
        total = sum(v.node.gpus for v in nodes.values())
        metrics.POOL_GPUS.labels(pool, "total").set(total)


def _count_written(view: JobView, plan: JobPlan, pool: PoolConfig) -> None:
    """Counters move only once the status that records the change is stored: a plan refused with 409
    is made again next cycle from fresh state, and counted then, once."""
    prio = view.job.spec.priority
    if plan.admission_wait is not None:
        metrics.ADMISSIONS.labels(prio).inc()
        metrics.ADMISSION_WAIT.labels(prio).observe(plan.admission_wait)
    if plan.preempted:
        metrics.PREEMPTIONS.labels(prio).inc()
    if plan.finished:
        metrics.JOBS_FINISHED.labels(plan.finished, prio).inc()
    for signal in plan.reclaim_signals:
        metrics.RECLAIMS.labels(signal.value).inc()
    if plan.error_retries:
        metrics.ERROR_RETRIES.inc(plan.error_retries)
    _count_cost(plan.cost_closed, pool)


def _count_cost(closed: GPUSeconds, pool: PoolConfig) -> None:
    for ct in CapacityType:
        used = closed.of(ct)
        if used <= 0:
            continue
        metrics.GPU_SECONDS.labels(ct.value).inc(used)
        only = GPUSeconds(used, 0.0) if ct is CapacityType.SPOT else GPUSeconds(0.0, used)
        usd = estimate_usd(only, pool.pricing)
        if usd:
            metrics.ESTIMATED_USD.labels(ct.value).inc(usd)


def _reason(exc: ApiException) -> str:
    try:
        return str(json.loads(exc.body or b"{}").get("message", exc.reason))
    except (ValueError, TypeError, AttributeError):
        return str(exc.reason)
