"""The GPUPool reconcile step, called once per scheduling cycle: autoscale, then report. Kubernetes I/O.

The controller hands over what its cycle already knows (the pool's nodes with their trouble, admitted
jobs, the scheduler's waiting jobs, which nodes are busy); this module asks autoscaling.decide (pure, with
the clock passed in) what to change, applies that through the pool's NodeProvider, posts an Event on the
GPUPool for every scale action and writes GPUPool status. Every input of the decision that must survive
a restart lives in the API server: the scale history in status.lastScaleUpTime / lastScaleDownTime, the
nodes themselves, the provider's targets. Only idle-since times are kept in memory (after a restart
scale-down waits the full idle time again, which errs on the side of keeping nodes).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from portalis_operator import conditions as c
from portalis_operator import metrics, providers
from portalis_operator.admission import Waiting, WaitReason
from portalis_operator.api import GROUP, VERSION, GPUCounts, GPUPool, GPUPoolStatus, NodeCounts
from portalis_operator.autoscaling import (
    AutoscalingPolicy,
    Direction,
    NodeActivity,
    ScaleDecision,
    ScaleHistory,
    decide,
    track_idle,
)
from portalis_operator.events import event_body
from portalis_operator.patches import merge_diff
from portalis_operator.recovery import NodeTrouble, leaving
from portalis_operator.snapshot import NodeView
from portalis_operator.workload import CapacityType, JobRequest, RunningJob

log = logging.getLogger(__name__)

POOLS = "gpupools"
EVENT_NAMESPACE = "default"  # events about cluster-scoped objects live in "default", as kubectl expects

# Waiting reasons whose jobs count as demand. InsufficientCapacity and WaitingForHigherPriority wait for
# GPUs that a bigger pool would have. Suspended jobs never count; Preempting jobs get room by eviction.
# ExceedsPoolCapacity (too big for the pool as it is now) is passed on too: autoscaling.decide counts such
# a job only if it fits the pool at nodes.max, so work that can never run buys nothing, while a job that
# needs two nodes in a one-node pool is not stuck forever.
DEMAND_REASONS = frozenset(
    {
        WaitReason.INSUFFICIENT_CAPACITY,
        WaitReason.WAITING_FOR_HIGHER_PRIORITY,
        WaitReason.EXCEEDS_POOL_CAPACITY,
    }
)


@dataclass(frozen=True)
class PoolSnapshot:
    """What the scheduling cycle knows that the autoscaler needs."""

    nodes: Mapping[str, NodeView]
    running: Sequence[RunningJob]  # admitted jobs, including those admitted this cycle
    waiting: Sequence[Waiting]
    busy: Collection[str]  # nodes with a worker pod, a placement, or other pods' GPUs
    pending_since: datetime | None = None  # oldest displaced shard still waiting for a node


def demand_jobs(waiting: Sequence[Waiting]) -> list[JobRequest]:
    return [w.job for w in waiting if w.reason in DEMAND_REASONS and not w.job.suspended]


def activity(
    nodes: Mapping[str, NodeView],
    busy: Collection[str],
    idle_since: Mapping[str, datetime],
    targets: Mapping[CapacityType, int],
) -> list[NodeActivity]:
    """Nodes as autoscaling sees them, plus one placeholder per node the provider is still bringing up
    (target above the nodes that exist): they count as capacity, so a slow provider is not asked twice,
    and are busy, so never chosen for removal."""
    out = [
        NodeActivity(
            name,
            v.node.capacity_type,
            busy=name in busy,
            idle_since=idle_since.get(name),
            leaving=leaving(v.trouble),
        )
        for name, v in sorted(nodes.items())
    ]
    for ct in CapacityType:
        present = sum(
            1 for v in nodes.values() if v.node.capacity_type is ct and v.trouble is not NodeTrouble.DELETED
        )
        for i in range(max(0, targets.get(ct, 0) - present)):
            out.append(NodeActivity(f"<provisioning-{ct.value}-{i}>", ct, busy=True))
    return out


def status_of(
    pool: GPUPool,
    snap: PoolSnapshot,
    decision: ScaleDecision | None,
    now: datetime,
    ready: tuple[bool, str, str],
) -> GPUPoolStatus:
    """The new GPUPool status (pure)."""
    st = pool.status.model_copy(deep=True)
    up = [v for v in snap.nodes.values() if v.trouble is NodeTrouble.NONE]
    st.observed_generation = pool.metadata.generation
    st.nodes = NodeCounts(
        spot=sum(v.node.capacity_type is CapacityType.SPOT for v in up),
        on_demand=sum(v.node.capacity_type is CapacityType.ON_DEMAND for v in up),
    )
    total = sum(v.node.gpus for v in up)
    used = sum(p.gpus for r in snap.running for p in r.placements if p.node in snap.nodes)
    st.gpus = GPUCounts(total=total, used=min(used, total))
    gen = pool.metadata.generation
    ok, reason, message = ready
    st.conditions = c.set_condition(
        st.conditions, "Ready", "True" if ok else "False", reason, message, now, gen
    )
    if decision is not None:
        st.desired = NodeCounts(spot=decision.desired.spot, on_demand=decision.desired.on_demand)
        scaling = decision.changed
        st.conditions = c.set_condition(
            st.conditions,
            "Scaling",
            "True" if scaling else "False",
            decision.reason.value,
            decision.message,
            now,
            gen,
        )
        if decision.changed:
            st.last_scale_time = now
            st.last_scale_reason = decision.reason.value
            if decision.direction is Direction.UP:
                st.last_scale_up_time = now
            else:
                st.last_scale_down_time = now
    return st


class PoolReconciler:
    """Autoscales the operator's GPUPool once per cycle. The clock, the fence and the provider are
    injected (tests pass providers.fake.FakeProvider); by default the provider is the one the GPUPool's
    spec names, with the operator's pool label."""

    def __init__(
        self,
        api: client.ApiClient,
        pool_name: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        fence: Callable[[], None] = lambda: None,
        pool_label: str = providers.POOL_LABEL,
        provider_for: Callable[[GPUPool], providers.NodeProvider] | None = None,
    ) -> None:
        self.api = api
        self.pool_name = pool_name
        self.clock = clock
        self.fence = fence  # raises leadership.NotLeading when this replica may not write
        self.provider_for = provider_for or (lambda pool: providers.for_pool(pool, api, pool_label))
        self.custom = client.CustomObjectsApi(api)
        self.core = client.CoreV1Api(api)
        self.idle_since: dict[str, datetime] = {}

    async def reconcile(self, pool: GPUPool | None, snap: PoolSnapshot) -> ScaleDecision | None:
        if pool is None:
            return None  # no GPUPool object: nothing to scale with; the scheduler uses the nodes it finds
        now = self.clock()
        policy = AutoscalingPolicy.from_spec(pool.spec)
        self._observe_spec(pool, policy)
        self.idle_since = track_idle(self.idle_since, list(snap.nodes), snap.busy, now)
        provider = self.provider_for(pool)
        decision: ScaleDecision | None = None
        ready = (True, "ProviderReady", f"{pool.spec.provider.type} provider reachable")
        try:
            if provider.can_scale:
                targets = await provider.targets(pool)
                nodes = activity(snap.nodes, snap.busy, self.idle_since, targets)
                history = ScaleHistory(pool.status.last_scale_up_time, pool.status.last_scale_down_time)
                decision = decide(
                    snap.running,
                    demand_jobs(snap.waiting),
                    nodes,
                    history,
                    now,
                    policy,
                    pending_since=snap.pending_since,
                )
                if decision.changed:
                    self.fence()
                    await self._apply(provider, pool, decision, targets, snap.nodes)
            else:
                ready = (True, "StaticPool", "static provider: the pool is never scaled")
        except providers.ProviderMisconfigured as exc:
            ready = (False, "ProviderMisconfigured", str(exc))
            decision = None
        except providers.ProviderError as exc:
            metrics.RECONCILE_ERRORS.labels("pool").inc()
            log.warning("pool %s: provider failed: %s", pool.metadata.name, exc)
            ready = (False, "ProviderUnavailable", str(exc))
            decision = None
        if decision is not None:
            for ct in CapacityType:
                metrics.POOL_DESIRED_NODES.labels(self.pool_name, ct.value).set(decision.desired.of(ct))
        new = status_of(pool, snap, decision, now, ready)
        used = new.gpus.used if new.gpus and new.gpus.used is not None else 0
        metrics.POOL_GPUS.labels(self.pool_name, "used").set(used)
        await self._write_status(pool, new)
        return decision

    def _observe_spec(self, pool: GPUPool, policy: AutoscalingPolicy) -> None:
        metrics.POOL_MAX_NODES.labels(self.pool_name).set(policy.max_nodes)
        metrics.POOL_SPOT_TARGET_RATIO.labels(self.pool_name).set(policy.spot_target_ratio)

    async def _apply(
        self,
        provider: providers.NodeProvider,
        pool: GPUPool,
        decision: ScaleDecision,
        targets: Mapping[CapacityType, int],
        nodes: Mapping[str, NodeView],
    ) -> None:
        direction = decision.direction.value if decision.direction else "none"
        for ct in CapacityType:
            added = decision.target.of(ct) - decision.current.of(ct)
            if added > 0:
                self.fence()
                await provider.scale(pool, ct, targets.get(ct, 0) + added)
                metrics.SCALE_ACTIONS.labels(self.pool_name, direction, ct.value).inc(added)
        for name in decision.remove:
            self.fence()
            await provider.delete_node(pool, name)
            self.idle_since.pop(name, None)
            if name in nodes:
                metrics.SCALE_ACTIONS.labels(
                    self.pool_name, direction, nodes[name].node.capacity_type.value
                ).inc()
        reason = "ScaledUp" if decision.direction is Direction.UP else "ScaledDown"
        await self._event(pool, reason, f"{decision.reason.value}: {decision.message}")
        log.info("pool %s: %s", pool.metadata.name, decision.message)

    async def _write_status(self, pool: GPUPool, new: GPUPoolStatus) -> None:
        old = pool.status.to_wire()
        diff = merge_diff(old, new.to_wire())
        if not diff:
            return
        body = {"metadata": {"resourceVersion": pool.metadata.resource_version}, "status": diff}
        self.fence()
        try:
            await self.custom.patch_cluster_custom_object_status(
                GROUP,
                VERSION,
                POOLS,
                pool.metadata.name,
                body,
                _content_type="application/merge-patch+json",
            )
        except ApiException as exc:
            if exc.status in (404, 409):
                return  # deleted or changed since read: the next cycle writes again
            metrics.RECONCILE_ERRORS.labels("pool").inc()
            log.error("status of GPUPool %s not written: %s", pool.metadata.name, exc.reason)

    async def _event(self, pool: GPUPool, reason: str, message: str) -> None:
        body = event_body(
            "GPUPool",
            pool.metadata.name,
            pool.metadata.uid,
            "Normal",
            reason,
            message,
            self.clock(),
            namespace=EVENT_NAMESPACE,
        )
        self.fence()
        try:
            await self.core.create_namespaced_event(EVENT_NAMESPACE, body)
        except ApiException as exc:
            metrics.RECONCILE_ERRORS.labels("events").inc()
            log.error("event on GPUPool %s not posted: %s", pool.metadata.name, exc.reason)
