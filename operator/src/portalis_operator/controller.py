"""The scheduling loop: plan the cycle (pure) over the watch-fed cache, apply the plan. The loop and its
timing live here; the cache is cache.py (informers), the pure cycle is cycle.py, writing is writes.py.

A cycle runs after any relevant change (debounced), when a job's time-based rule falls due (the deadline
heap, deadlines.py) and at least every `resync_seconds` (queue aging, cooldowns). It reads no list from
the API server: the informers keep the jobs, our worker pods, the pods that hold GPUs, the pool's nodes
and the GPUPool current, and say which jobs changed. Only those, and the jobs the scheduler moves, are
planned; every job is planned on the first cycle, after taking over the Lease, and every
FULL_SWEEP_SECONDS as a safety net. With leader election only the holder of the Lease cycles, and
every write passes its fence (leadership.py); a standby keeps its cache warm.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime

from kubernetes_asyncio import client

from portalis_operator import metrics
from portalis_operator.cache import ClusterCache
from portalis_operator.carryover import Carryover
from portalis_operator.cycle import EVERYTHING, Dirty, plan_cycle
from portalis_operator.deadlines import DeadlineHeap, node_due, sweep_slice
from portalis_operator.health import HealthState, Role, age
from portalis_operator.leadership import Clock, Fence, LeaseElector, LeaseTiming, NotLeading, SystemClock
from portalis_operator.pool import PoolReconciler
from portalis_operator.settings import Settings
from portalis_operator.snapshot import PoolConfig, build_jobs, build_nodes, other_gpus
from portalis_operator.writes import Writer

log = logging.getLogger(__name__)

FULL_SWEEP_SECONDS = 300.0
"""Every job is planned at least this often, whatever changed: a safety net under the dirty tracking,
spread over the cycles (deadlines.sweep_slice)."""


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
        self._wake = asyncio.Event()
        self.cache = ClusterCache(settings, api, self.trigger)
        self.deadlines = DeadlineHeap()
        self.carry = Carryover()  # each job's occupancy and request, kept while it does not change
        self._node_due: datetime | None = None
        self._swept_at: float | None = None  # monotonic, the last cycle that took a slice of the sweep
        self._sweep_cursor = 0
        self.writer = Writer(settings, api, self.fence, self.clock, self.trigger, self.cache)
        self.pool = PoolReconciler(
            api, settings.pool, clock=self.clock.now, fence=self.fence.check, pool_label=settings.pool_label
        )
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
        posters = self.writer.start_event_posters()
        elector = self.elector
        renewing = (
            asyncio.create_task(
                elector.run(lambda leading: self.confirm_role("leader" if leading else "standby")),
                name="portalis-lease",
            )
            if elector is not None
            else None
        )
        self.cache.start()
        try:
            await self._loop(stopped)
        finally:
            await self.cache.stop()
            for task in posters:
                task.cancel()
            if renewing is not None and elector is not None:
                renewing.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await renewing
                await elector.release()

    async def flush_events(self) -> None:
        """Wait (at most 10 s) until queued events are posted; called on shutdown."""
        await self.writer.flush_events()

    async def _loop(self, stopped: Callable[[], bool]) -> None:
        was_leading = False
        while not stopped():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._wait_seconds(was_leading))
            # Under load, cycles get longer; waiting a share of the last one batches more changes per
            # cycle instead of running the scheduler's pass for each of them.
            await asyncio.sleep(max(self.settings.debounce_seconds, min(1.0, 0.5 * self._last_cycle)))
            self._wake.clear()
            leading = self.fence.open()
            if leading and not was_leading:
                self.cache.mark_everything()  # a new leader plans every job once
            was_leading = leading
            if not leading:
                continue  # a standby: the elector's task says when it leads
            try:
                await self.cycle()
                if self.elector is None and self.cache.connected():
                    self.confirm_role("standalone")
            except asyncio.CancelledError:
                raise
            except NotLeading:
                log.info("leadership lost during a cycle; its remaining writes were not made")
            except Exception:
                self.cache.mark_everything()  # what this cycle took from the dirty set is planned again
                metrics.RECONCILE_ERRORS.labels("cycle").inc()
                log.exception("scheduling cycle failed; retrying")
                await asyncio.sleep(1)

    def _wait_seconds(self, leading: bool) -> float:
        """A standby checks for leadership every retry period; a leader cycles on events, when the next
        deadline falls due, or at resync."""
        if self.elector is not None and not leading:
            return min(self.settings.resync_seconds, self.elector.timing.retry_period)
        wait = self.settings.resync_seconds
        for due in (self.deadlines.next(), self._node_due):
            if due is not None:
                wait = min(wait, max(0.0, (due - self.clock.now()).total_seconds()))
        return wait

    def _dirty(self, now: datetime, keys: Sequence[str]) -> Dirty:
        """What to plan this cycle: what the informers saw change, the jobs whose deadlines fell due,
        the jobs whose writes failed, this cycle's slice of the safety sweep, and every job after a
        node's grace period. `keys`: every job's, in a stable order."""
        dirty = self.cache.take_dirty()
        dirty |= Dirty(frozenset(self.deadlines.pop_due(now) | self.writer.take_retries()))
        # A job with a deferred write queued, or whose workers are being created, is planned once that
        # is done (writes.write_deferred, writes.start_workers).
        dirty = Dirty(dirty.jobs - self.writer.pending(), dirty.everything)
        if self._node_due is not None and now >= self._node_due:
            dirty |= EVERYTHING
        mono = self.clock.monotonic()
        if self._swept_at is not None and not dirty.everything:
            sweep, self._sweep_cursor = sweep_slice(
                keys, self._sweep_cursor, mono - self._swept_at, FULL_SWEEP_SECONDS
            )
            dirty |= Dirty(frozenset(sweep))
        self._swept_at = mono
        return dirty

    # ---- one cycle -----------------------------------------------------------------------------------

    async def cycle(self) -> None:
        """Plan the cycle over the cache (cycle.plan_cycle, pure), apply it, then autoscale."""
        self.fence.check()
        await self.cache.synced()
        started = time.monotonic()
        now = self.clock.now()
        gpupool = self.cache.gpupool()
        pool_spec = gpupool.spec if gpupool is not None else None
        pool = PoolConfig.from_spec(self.settings.pool, pool_spec, self.settings.pool_label)
        raw_nodes = await self.cache.pool_nodes(pool.label_selector())
        views = build_jobs(self.cache.all_jobs(), self.cache.worker_pods())
        nodes = build_nodes(raw_nodes, other_gpus(self.cache.gpu_holds(), views), pool, now)
        dirty = self._dirty(now, [v.key for v in views])
        self._node_due = node_due(raw_nodes, pool.recovery, now)

        self.writer.forget_refusals(views)
        planned = plan_cycle(
            views,
            nodes,
            pool,
            now,
            self.settings.scheduling_policy(),
            self.settings.start_policy(),
            self.writer.refusals_of,
            dirty,
            self.carry,
        )
        for key, when in planned.due.items():
            self.deadlines.schedule(key, when)
        for view, exc in planned.failures:
            metrics.RECONCILE_ERRORS.labels("plan").inc()
            log.error("planning %s failed; the other jobs go on", view.key, exc_info=exc)
        await self.writer.apply_all(planned.plans, pool)
        metrics.observe_cycle(self.settings.pool, views, planned.plans, planned.waiting, nodes, now)
        await self.pool.reconcile(gpupool, planned.pool)
        self._last_cycle = time.monotonic() - started
        metrics.SCHEDULING_CYCLE.observe(self._last_cycle)
        metrics.PLANNED_JOBS.observe(len(planned.plans))
        self.last_sync = time.time()
        self._synced_at = time.monotonic()
        metrics.LAST_SYNC.set(self.last_sync)
