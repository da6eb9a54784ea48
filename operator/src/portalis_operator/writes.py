"""Applying a cycle's plans: every write the scheduling loop makes, and only while this replica may.

Each write waits for a slot (`api_concurrency`) and then passes the fence (leadership.py): once this
replica cannot renew the Lease, nothing more is written. A status write carries the resourceVersion it was
computed from, so a decision made on stale data is refused (409) instead of applied; pods are created only
after the status that records them is stored; metrics are counted from what was written, never from plans.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from portalis_operator import metrics
from portalis_operator.api import GROUP, VERSION, TranslationJob, TranslationJobStatus
from portalis_operator.cost import GPUSeconds, estimate_usd
from portalis_operator.events import EventBudget, event_body
from portalis_operator.informer import checked, read_json, reason_of, sent
from portalis_operator.jobs import JobPlan, PodDelete
from portalis_operator.leadership import Clock, Fence, NotLeading
from portalis_operator.manifests import build_worker_pod, worker_pod_name
from portalis_operator.occupancy import spot_mode_of
from portalis_operator.patches import merge_diff
from portalis_operator.settings import Settings
from portalis_operator.snapshot import JobView, PoolConfig
from portalis_operator.startup import CreateRefusal, refused
from portalis_operator.worker_namespace import WorkerNamespaces
from portalis_operator.workload import CapacityType
from portalis_operator.write_priority import AdmissionFirst

log = logging.getLogger(__name__)
T = TypeVar("T")

JOBS = "translationjobs"
EVENT_POSTERS = 2
BOOKKEEPERS = 2  # writers of status-only changes (writes.bookkeeping), beside the admission path


class Written(Protocol):
    """Where the objects our writes answer with go: cache.ClusterCache, ahead of the watch."""

    def assume_job(self, raw: Mapping[str, Any]) -> None:
        """The job as our status write left it."""

    def assume_pod(self, raw: Mapping[str, Any]) -> None:
        """A worker pod as our create left it."""

    def has_job(self, namespace: str, uid: str) -> bool:
        """A TranslationJob with this uid exists in the namespace."""


class Discard:
    """Written, nowhere (a writer without a cache)."""

    def assume_job(self, raw: Mapping[str, Any]) -> None:
        pass

    def assume_pod(self, raw: Mapping[str, Any]) -> None:
        pass

    def has_job(self, namespace: str, uid: str) -> bool:
        return False  # unknown: every create is sent


class Writer:
    """The loop's writes. `trigger` asks for another cycle (after a 404/409: decide again, fresh)."""

    def __init__(
        self,
        settings: Settings,
        api: client.ApiClient,
        fence: Fence,
        clock: Clock,
        trigger: Callable[[], None],
        written: Written | None = None,
    ) -> None:
        self.settings = settings
        self.fence = fence
        self.clock = clock
        self.trigger = trigger
        self.written: Written = written or Discard()
        self.core = client.CoreV1Api(api)
        self.custom = client.CustomObjectsApi(api)
        self._limit = asyncio.Semaphore(settings.api_concurrency)
        self._refusals: dict[tuple[str, str], CreateRefusal] = {}  # (namespace, pod) -> last refusal
        self.priority = AdmissionFirst(clock.monotonic)  # reports wait behind the admission path
        self._events: asyncio.Queue[tuple[float, TranslationJob, str, str, str]] = asyncio.Queue()
        self._event_budget = EventBudget()
        self._retry: set[str] = set()  # jobs ("namespace/name") whose writes failed: plan them again
        self._deferred: asyncio.Queue[tuple[float, JobView, JobPlan, PoolConfig]] = asyncio.Queue()
        self._pending: set[str] = set()  # jobs with a deferred write queued or in flight
        self._starting: dict[str, asyncio.Task[None]] = {}  # jobs whose workers are being created
        self.namespaces = WorkerNamespaces(settings, api, self._writing, self.written.has_job)

    def start_event_posters(self) -> list[asyncio.Task[None]]:
        """Events and status-only changes are written in the background, each by a few tasks that wait
        while the admission path writes (write_priority.py): under a burst the API server's capacity goes
        to admissions, and they catch up once it has passed."""
        posters = [asyncio.create_task(self.post_events()) for _ in range(EVENT_POSTERS)]
        return posters + [asyncio.create_task(self.write_deferred()) for _ in range(BOOKKEEPERS)]

    def pending(self) -> set[str]:
        """Jobs whose deferred status write is not made yet, or whose workers are still being created
        (`start_workers`): not planned again until that is done."""
        return self._pending | self._starting.keys()

    async def settle(self) -> None:
        """Wait until the workers being created in the background are (tests, shutdown)."""
        while self._starting:
            await asyncio.gather(*self._starting.values(), return_exceptions=True)

    async def apply_all(self, plans: Sequence[tuple[JobView, JobPlan]], pool: PoolConfig) -> None:
        """A cycle's plans: those that admit, start, stop or count something now, at once; status-only
        changes (`bookkeeping`) queued for the background writers. Returns once every status is
        written (what the next cycle's capacity rests on); the workers of a job whose status was
        written are created after it, in the background (`start_workers`), so that the next cycle
        does not wait for them."""
        urgent = []
        for view, plan in plans:
            if view.key in self._starting:
                continue  # planned without the pods being created; planned again once they are
            if bookkeeping(plan):
                if view.key in self._pending:
                    continue  # its queued write lands first; the job is planned again after it
                self._pending.add(view.key)
                self._deferred.put_nowait((self.clock.monotonic(), view, plan, pool))
            else:  # at once, even beside a queued write: whichever lands second gets 409, is retried
                urgent.append(self.apply(view, plan, pool))
        if urgent:
            with self.priority.admitting():
                await asyncio.gather(*urgent)

    async def write_deferred(self) -> None:
        while True:
            queued_at, view, plan, pool = await self._deferred.get()
            try:
                await self.priority.report_turn(queued_at)
                await self.apply(view, plan, pool)
            except NotLeading:
                pass  # the new leader plans every job
            finally:
                self._pending.discard(view.key)
                self._retry.add(view.key)  # plan it again on what the write left
                self._deferred.task_done()
                self.trigger()

    @contextlib.asynccontextmanager
    async def _writing(self) -> AsyncIterator[None]:
        """Every write: bounded concurrency, and only while this replica may write (the fence is checked
        after the wait for a slot, right before the request)."""
        async with self._limit:
            self.fence.check()
            yield

    def take_retries(self) -> set[str]:
        """Jobs whose plan was not wholly written since the last call: the next cycle plans them again
        (a cycle plans only what changed, and a refused write changes nothing)."""
        out, self._retry = self._retry, set()
        return out

    async def apply(self, view: JobView, plan: JobPlan, pool: PoolConfig) -> None:
        """Apply one job's plan; an unexpected error is logged and counted, and the other jobs' plans
        are still applied (API errors are handled per call, in _apply)."""
        try:
            if not await self._apply(view, plan, pool):
                self._retry.add(view.key)
        except (asyncio.CancelledError, NotLeading):
            self._retry.add(view.key)
            raise
        except Exception:
            self._retry.add(view.key)
            metrics.RECONCILE_ERRORS.labels("apply").inc()
            log.exception("applying the plan of %s failed; the other jobs go on", view.key)

    async def _apply(self, view: JobView, plan: JobPlan, pool: PoolConfig) -> bool:
        """False when some write was not made (the job is planned again next cycle)."""
        job = view.job
        ns, name = job.metadata.namespace or "default", job.metadata.name
        status = job.status
        ok = True
        if plan.status is not None:
            if not await self._patch_status(view, plan):
                return False
            status = plan.status
            _count_written(view, plan, pool)
        if plan.deletes:
            ok = all(await asyncio.gather(*(self._delete_pod(ns, d) for d in plan.deletes)))
        if plan.create:
            self.start_workers(view, plan, status, pool)
        for ev in plan.events:  # posted in the background: they must not hold up admissions
            if self._event_budget.allow(job.metadata.uid or view.key, self.clock.monotonic()):
                self._events.put_nowait((self.clock.monotonic(), job, ev.type, ev.reason, ev.message))
            else:
                log.debug("event %s on %s not posted: over its budget", ev.reason, view.key)
        if plan.delete_job:
            await self._call(
                "delete",
                self.custom.delete_namespaced_custom_object(
                    GROUP, VERSION, ns, JOBS, name, propagation_policy="Background"
                ),
            )
        return ok

    def start_workers(
        self, view: JobView, plan: JobPlan, status: TranslationJobStatus, pool: PoolConfig
    ) -> None:
        """Create the job's worker pods (after their namespace's set-up and ConfigMaps) in a task of
        their own: the status that records them is stored already, so a crash or a lost Lease from
        here on leaves nothing the next leader cannot finish. The job is not planned again until the
        task is done (`pending`); then it is, on what the creates left (the retry set)."""
        if view.key in self._starting:
            return  # its workers are being created; a second create would only get 409

        async def start() -> None:
            try:
                with self.priority.admitting():
                    created = await self._create_workers(view, plan, status, pool)
                if not created:
                    log.debug("workers of %s not all created; planned again", view.key)
            except NotLeading:
                pass  # the new leader plans every job
            except Exception:
                metrics.RECONCILE_ERRORS.labels("pods").inc()
                log.exception("creating the workers of %s failed; planned again", view.key)
            finally:
                self._starting.pop(view.key, None)
                self._retry.add(view.key)
                self.trigger()

        self._starting[view.key] = asyncio.create_task(start(), name=f"portalis-start-{view.key}")

    async def _create_workers(
        self, view: JobView, plan: JobPlan, status: TranslationJobStatus, pool: PoolConfig
    ) -> bool:
        job = view.job
        ns, name = job.metadata.namespace or "default", job.metadata.name
        await self.namespaces.ensure_worker_account(ns)
        if not await self.namespaces.ensure_output_config_maps(ns, job):
            return False  # the workers would only wait for them; the next cycle tries again
        spot = spot_mode_of(job)
        nodes = {w.shard: w.node for w in status.workers or ()}
        pod_settings = self.settings.worker_pod_settings(pool.capacity_type_label)
        bodies = [
            build_worker_pod(job, shard, spot_mode=spot, settings=pod_settings, node=nodes.get(shard))
            for shard in plan.create
            if not self._backing_off(ns, worker_pod_name(name, shard))
        ]
        created = await asyncio.gather(*(self._create_pod(ns, body) for body in bodies))
        return all(created)

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
                resp = await self.custom.patch_namespaced_custom_object_status(
                    GROUP,
                    VERSION,
                    job.metadata.namespace,
                    JOBS,
                    job.metadata.name,
                    body,
                    _content_type="application/merge-patch+json",
                    _preload_content=False,
                )
                raw = await _read(resp)
        except ApiException as exc:
            if exc.status in (404, 409):  # deleted, or changed since the snapshot: next cycle decides again
                self.trigger()
                return False
            metrics.RECONCILE_ERRORS.labels("status").inc()
            log.error("status of %s/%s not written: %s", job.metadata.namespace, job.metadata.name, exc)
            return False
        if raw is not None:
            self.written.assume_job(raw)
        return True

    async def _create_pod(self, ns: str, body: dict[str, Any]) -> bool:
        """Create one worker pod. A refusal (quota, LimitRange, Pod Security, an invalid spec) is
        recorded and retried after a backoff (startup.py), never at once: the same create is refused the
        same way, and an immediate retry used to re-run the whole cycle every few milliseconds."""
        key = (ns, body["metadata"]["name"])
        try:
            async with self._writing():
                raw = await _read(await self.core.create_namespaced_pod(ns, body, _preload_content=False))
        except ApiException as exc:
            if exc.status == 409:  # created by an earlier cycle or an earlier operator: same name, same pod
                self._refusals.pop(key, None)
                return True
            metrics.POD_CREATE_REFUSALS.inc()
            record = refused(
                self._refusals.get(key), reason_of(exc), self.clock.monotonic(), self.settings.start_policy()
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
            return True  # planned again while its refusal is on record (refusals_of), after the backoff
        self._refusals.pop(key, None)
        if raw is not None:
            self.written.assume_pod(raw)
        return True

    def _backing_off(self, ns: str, pod: str) -> bool:
        record = self._refusals.get((ns, pod))
        return record is not None and self.clock.monotonic() < record.retry_at

    def refusals_of(self, view: JobView) -> dict[int, str]:
        """What the API server last said to each of this job's refused pod creates, by shard."""
        ns, name = view.job.metadata.namespace or "default", view.job.metadata.name
        out: dict[int, str] = {}
        for shard in range(view.job.spec.parallelism):
            record = self._refusals.get((ns, worker_pod_name(name, shard)))
            if record is not None:
                out[shard] = record.message
        return out

    def forget_refusals(self, views: Sequence[JobView]) -> None:
        """Drop the records of pods whose job is gone or whose pod now exists."""
        keep = {
            (v.job.metadata.namespace or "default", worker_pod_name(v.job.metadata.name, s))
            for v in views
            for s in range(v.job.spec.parallelism)
            if s not in v.pods
        }
        self._refusals = {k: r for k, r in self._refusals.items() if k in keep}

    async def _delete_pod(self, ns: str, delete: PodDelete) -> bool:
        """Delete with a UID precondition: only the pod the plan was made for, never one that took its
        name since (409 then, and the next cycle decides on the new pod)."""
        if delete.uid is None:
            metrics.RECONCILE_ERRORS.labels("pods").inc()
            log.error("pod %s/%s not deleted: its UID is unknown", ns, delete.name)
            return True  # retrying cannot learn it; the pod's next change plans the job again
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
                return False
            metrics.RECONCILE_ERRORS.labels("pods").inc()
            log.error("pod %s/%s not deleted: %s", ns, delete.name, reason_of(exc))
            return False
        return True

    async def post_events(self) -> None:
        while True:
            queued_at, job, type_, reason, message = await self._events.get()
            try:
                await self.priority.report_turn(queued_at)
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
        await self._call(
            "events", sent(lambda: self.core.create_namespaced_event(ns, body, _preload_content=False))
        )

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
            log.error("%s call failed: %s", stage, reason_of(exc))
            return None

    async def flush_events(self) -> None:
        """Wait (at most 10 s) until queued events are posted; called on shutdown."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(10):
                await self._events.join()


def bookkeeping(plan: JobPlan) -> bool:
    """A status-only change that admits, starts, stops and counts nothing (Running, progress, cost, the
    queue's positions): it can wait behind the writes that do."""
    return (
        plan.status is not None
        and not plan.create
        and not plan.deletes
        and not plan.delete_job
        and plan.admission_wait is None
        and not plan.preempted
        and plan.finished is None
        and not plan.reclaim_signals
        and not plan.error_retries
    )


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


async def _read(resp: Any) -> dict[str, Any] | None:
    """The object a write answered with, read raw (no client model: cheaper to build, and what the
    informers hold); an error status raises ApiException (informer.checked); None when there is no
    response (a test's stand-in client)."""
    if resp is None or not hasattr(resp, "read"):
        return None
    data = await read_json(await checked(resp))
    return data if isinstance(data, dict) else None
