"""Autoscaling: how many spot and on-demand nodes the pool should have, and what to change this cycle.

Pure policy over a snapshot, with the clock passed in. pool.PoolReconciler gathers the admitted jobs, the
waiting jobs, the pool's nodes (busy or idle, and since when) and the last scale times, calls
`decide`, and applies the decision through the pool's NodeProvider: `scale` for growth, `delete_node`
for each name in `remove`. The full rule, with the rounding of the spot share, is in
docs/autoscaling.md.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from fractions import Fraction

from portalis_operator import api
from portalis_operator.workload import CapacityType, JobRequest, RunningJob, SpotMode


@dataclass(frozen=True)
class AutoscalingPolicy:
    """The GPUPool spec's scaling knobs. Built from the spec (`from_spec`), so the defaults are the CRD's
    alone (through api.py, drift-tested against crds/); `DEFAULT_AUTOSCALING` is a spec that sets none."""

    min_nodes: int
    max_nodes: int
    gpus_per_node: int
    spot_target_ratio: float
    min_on_demand: int
    up_step: int
    up_delay_seconds: int
    up_cooldown_seconds: int
    down_step: int
    down_idle_seconds: int
    down_cooldown_seconds: int

    def __post_init__(self) -> None:
        if not 0 <= self.min_nodes <= self.max_nodes or self.max_nodes < 1:
            raise ValueError("need 0 <= min_nodes <= max_nodes and max_nodes >= 1")
        if not 0.0 <= self.spot_target_ratio <= 1.0:
            raise ValueError("spot_target_ratio must be within [0, 1]")
        if self.gpus_per_node < 1 or self.up_step < 1 or self.down_step < 1 or self.min_on_demand < 0:
            raise ValueError("gpus_per_node and steps must be >= 1, min_on_demand >= 0")

    @classmethod
    def from_spec(cls, spec: api.GPUPoolSpec) -> AutoscalingPolicy:
        return cls(
            min_nodes=spec.nodes.min,
            max_nodes=spec.nodes.max,
            gpus_per_node=spec.gpus_per_node,
            spot_target_ratio=spec.spot.target_ratio,
            min_on_demand=spec.spot.min_on_demand,
            up_step=spec.scale_up.step,
            up_delay_seconds=spec.scale_up.delay_seconds,
            up_cooldown_seconds=spec.scale_up.cooldown_seconds,
            down_step=spec.scale_down.step,
            down_idle_seconds=spec.scale_down.idle_seconds,
            down_cooldown_seconds=spec.scale_down.cooldown_seconds,
        )

    @property
    def on_demand_floor(self) -> int:
        """minOnDemand, but never more than the pool may hold."""
        return min(self.min_on_demand, self.max_nodes)


DEFAULT_AUTOSCALING = AutoscalingPolicy.from_spec(
    api.GPUPoolSpec.model_validate({"provider": {"type": "static"}})
)
"""The policy of a GPUPool whose spec sets nothing."""


@dataclass(frozen=True)
class NodeCounts:
    spot: int = 0
    on_demand: int = 0

    @property
    def total(self) -> int:
        return self.spot + self.on_demand

    def of(self, capacity_type: CapacityType) -> int:
        return self.spot if capacity_type is CapacityType.SPOT else self.on_demand

    def plus(self, capacity_type: CapacityType, n: int) -> NodeCounts:
        if capacity_type is CapacityType.SPOT:
            return NodeCounts(self.spot + n, self.on_demand)
        return NodeCounts(self.spot, self.on_demand + n)


@dataclass(frozen=True)
class NodeActivity:
    """A pool node as the autoscaler sees it.

    `busy`: it hosts a worker pod or a placement of an admitted job (reservations included): never
    removed. `idle_since`: when it was last seen becoming idle (see `track_idle`); None means not known
    yet, which is treated as "not idle long enough". `leaving`: interruption-tainted or lost; it is going
    away by itself, so it is neither counted as capacity nor removed.
    """

    name: str
    capacity_type: CapacityType
    busy: bool = False
    idle_since: datetime | None = None
    leaving: bool = False


@dataclass(frozen=True)
class ScaleHistory:
    """When the pool last grew and shrank; None: never (or not known since the operator started)."""

    last_scale_up: datetime | None = None
    last_scale_down: datetime | None = None


class Direction(StrEnum):
    UP = "up"
    DOWN = "down"


class Reason(StrEnum):
    """CamelCase reasons for GPUPool status.lastScaleReason, events and the Scaling condition."""

    SCALE_UP_POOL_MINIMUM = "ScaleUpPoolMinimum"
    SCALE_UP_QUEUED_DEMAND = "ScaleUpQueuedDemand"
    SCALE_DOWN_IDLE = "ScaleDownIdle"
    STEADY = "Steady"
    WAITING_FOR_DELAY = "WaitingForScaleUpDelay"
    SCALE_UP_COOLDOWN = "ScaleUpCooldown"
    NO_QUEUED_DEMAND = "NoQueuedDemand"
    AT_MAXIMUM = "PoolAtMaximum"
    SCALE_DOWN_COOLDOWN = "ScaleDownCooldown"
    WAITING_FOR_IDLE_NODES = "WaitingForIdleNodes"


@dataclass(frozen=True)
class Demand:
    """Node counts the demand needs, before the bounds and the spot share are applied.

    `on_demand`: nodes packed with shards of `never` jobs; `spot`: nodes packed with shards of
    `required` jobs; `total`: those plus the nodes `preferred` shards need beyond the room left on them.
    """

    on_demand: int
    spot: int
    total: int


@dataclass(frozen=True)
class ScaleDecision:
    """What pool.PoolReconciler applies.

    `desired`: the pool the demand asks for (status.desired). `target`: node counts after this cycle's
    step; the reconciler calls provider.scale for each capacity type whose target grew. `remove`: idle nodes
    to delete through provider.delete_node (target already lowered for them). `reason`/`message` go to
    status.lastScaleReason (when `direction` is set), events and the Scaling condition.
    """

    current: NodeCounts
    desired: NodeCounts
    target: NodeCounts
    remove: tuple[str, ...]
    direction: Direction | None
    reason: Reason
    message: str

    @property
    def changed(self) -> bool:
        return self.direction is not None


# ------------------------------------------------------------------------------------------------------
# desired size


def spot_share(total: int, ratio: float) -> int:
    """Spot nodes out of `total` for the target ratio: the nearest integer, ties to on-demand.

    Exact arithmetic (the ratio as written, e.g. 0.7 is 7/10) so that no float error moves a tie.
    1 -> 1, 2 -> 1, 5 -> 4, 10 -> 7 at 0.75 (before minOnDemand is applied).
    """
    exact = total * Fraction(str(ratio))
    return math.ceil(exact - Fraction(1, 2))


def _pack(shards: Iterable[int], bins: list[int], gpus_per_node: int) -> int:
    """First-fit decreasing into `bins` (free GPUs per node, updated in place); returns nodes opened."""
    opened = 0
    for g in sorted(shards, reverse=True):
        for i, room in enumerate(bins):
            if room >= g:
                bins[i] -= g
                break
        else:
            bins.append(gpus_per_node - g)
            opened += 1
    return opened


def fits_at_max(job: JobRequest, policy: AutoscalingPolicy) -> bool:
    """Whether `job` alone fits the pool at its largest allowed size (else buying nodes cannot help)."""
    per_node = policy.gpus_per_node // job.gpus_per_shard
    if per_node == 0:
        return False
    nodes = math.ceil(job.shards / per_node)
    if job.spot is SpotMode.NEVER:
        return nodes <= policy.max_nodes
    if job.spot is SpotMode.REQUIRED:
        return nodes <= policy.max_nodes - policy.on_demand_floor
    return nodes <= policy.max_nodes


def counted_jobs(
    running: Sequence[RunningJob], waiting: Sequence[JobRequest], policy: AutoscalingPolicy
) -> list[JobRequest]:
    """Jobs whose GPUs count as demand: every admitted job, and every waiting job that is not suspended
    and could fit the pool at max size."""
    jobs = [r.job for r in running]
    jobs += [j for j in waiting if not j.suspended and fits_at_max(j, policy)]
    return jobs


def demand(jobs: Sequence[JobRequest], policy: AutoscalingPolicy) -> Demand:
    """Nodes needed by shards, packed per node (a shard never spans nodes) with first-fit decreasing."""

    def shards(mode: SpotMode) -> list[int]:
        return [j.gpus_per_shard for j in jobs if j.spot is mode for _ in range(j.shards)]

    g = policy.gpus_per_node
    od_bins: list[int] = []
    spot_bins: list[int] = []
    od = _pack(shards(SpotMode.NEVER), od_bins, g)
    spot = _pack(shards(SpotMode.REQUIRED), spot_bins, g)
    leftovers = od_bins + spot_bins
    flexible = _pack(shards(SpotMode.PREFERRED), leftovers, g)
    return Demand(on_demand=od, spot=spot, total=od + spot + flexible)


def desired_nodes(need: Demand, policy: AutoscalingPolicy) -> NodeCounts:
    """The pool size and mix for `need`: see docs/autoscaling.md.

    On-demand demand is covered first, then spot-only demand, then the rest; the total is clamped to
    [min, max]; the split follows the spot share but never drops below those floors or minOnDemand.
    """
    od_floor = min(max(policy.on_demand_floor, need.on_demand), policy.max_nodes)
    spot_floor = min(need.spot, policy.max_nodes - od_floor)
    total = min(max(need.total, policy.min_nodes, od_floor + spot_floor), policy.max_nodes)
    spot = min(spot_share(total, policy.spot_target_ratio), total - od_floor)
    spot = max(spot, spot_floor)
    return NodeCounts(spot=spot, on_demand=total - spot)


# ------------------------------------------------------------------------------------------------------
# one cycle


def track_idle(
    previous: Mapping[str, datetime], nodes: Iterable[str], busy: Iterable[str], now: datetime
) -> dict[str, datetime]:
    """Carry idle-since times from one cycle to the next (kept by pool.PoolReconciler).

    A busy node drops out; an idle node keeps its time, or starts now when first seen idle. After an
    operator restart every node starts idle "now": scale-down then waits the full idle time again,
    which errs on the side of keeping nodes.
    """
    busy_set = set(busy)
    return {n: previous.get(n, now) for n in nodes if n not in busy_set}


def _seconds_since(then: datetime | None, now: datetime) -> float:
    return math.inf if then is None else (now - then).total_seconds()


def _grow(current: NodeCounts, desired: NodeCounts, od_first: int, spot_first: int, n: int) -> NodeCounts:
    """Add up to `n` nodes toward `desired`: on-demand up to `od_first`, spot up to `spot_first`, then the
    type further below its desired count (ties to on-demand)."""
    out = current
    for _ in range(n):
        od_gap = desired.on_demand - out.on_demand
        spot_gap = desired.spot - out.spot
        if od_gap > 0 and out.on_demand < od_first:
            out = out.plus(CapacityType.ON_DEMAND, 1)
        elif spot_gap > 0 and out.spot < spot_first:
            out = out.plus(CapacityType.SPOT, 1)
        elif od_gap > 0 and od_gap >= spot_gap:
            out = out.plus(CapacityType.ON_DEMAND, 1)
        elif spot_gap > 0:
            out = out.plus(CapacityType.SPOT, 1)
        else:
            break
    return out


def _scale_up_blocker(
    waiting: Sequence[JobRequest],
    pending_since: datetime | None,
    history: ScaleHistory,
    now: datetime,
    policy: AutoscalingPolicy,
) -> tuple[Reason, str] | None:
    """Why a scale-up for a deficit must wait, or None when it may happen now."""
    starts = [j.waiting_since for j in waiting if not j.suspended and fits_at_max(j, policy)]
    if pending_since is not None:
        starts.append(pending_since)
    if not starts:
        return Reason.NO_QUEUED_DEMAND, "no job waits for capacity"
    waited = _seconds_since(min(starts), now)
    if waited < policy.up_delay_seconds:
        return Reason.WAITING_FOR_DELAY, f"demand queued {waited:.0f}s of {policy.up_delay_seconds}s"
    cooled = _seconds_since(history.last_scale_up, now)
    if cooled < policy.up_cooldown_seconds:
        return (
            Reason.SCALE_UP_COOLDOWN,
            f"last scale-up {cooled:.0f}s ago, cooldown {policy.up_cooldown_seconds}s",
        )
    return None


def decide(
    running: Sequence[RunningJob],
    waiting: Sequence[JobRequest],
    nodes: Sequence[NodeActivity],
    history: ScaleHistory,
    now: datetime,
    policy: AutoscalingPolicy | None = None,
    pending_since: datetime | None = None,
) -> ScaleDecision:
    """One autoscaling step.

    `running`: admitted jobs (their placements may not be bound yet). `waiting`: the jobs left in the
    queue (the scheduler's `waiting`, any reason). `pending_since`: the oldest time a recreated worker
    of an admitted job has been waiting for a node (recovery); it counts like a queued job for the delay.
    """
    policy = policy or DEFAULT_AUTOSCALING
    present = [n for n in nodes if not n.leaving]
    current = NodeCounts(
        spot=sum(n.capacity_type is CapacityType.SPOT for n in present),
        on_demand=sum(n.capacity_type is CapacityType.ON_DEMAND for n in present),
    )
    need = demand(counted_jobs(running, waiting, policy), policy)
    desired = desired_nodes(need, policy)
    od_first = min(max(policy.on_demand_floor, need.on_demand), desired.on_demand)
    spot_first = min(need.spot, desired.spot)

    def hold(reason: Reason, message: str) -> ScaleDecision:
        return ScaleDecision(current, desired, current, (), None, reason, message)

    def up(reason: Reason, n: int, message: str) -> ScaleDecision:
        target = _grow(current, desired, od_first, spot_first, n)
        added = f"+{target.spot - current.spot} spot, +{target.on_demand - current.on_demand} on-demand"
        return ScaleDecision(current, desired, target, (), Direction.UP, reason, f"{added}: {message}")

    # 1. Below the pool's own floors: repair at once and in full (no delay, cooldown or step): the floor
    #    is the platform team's explicit request, not a reaction to load.
    room = policy.max_nodes - current.total
    floor_gap = min(
        room,
        max(policy.min_nodes - current.total, policy.on_demand_floor - current.on_demand),
    )
    if floor_gap > 0:
        return up(
            Reason.SCALE_UP_POOL_MINIMUM,
            floor_gap,
            f"pool below its minimum ({policy.min_nodes} nodes, {policy.on_demand_floor} on-demand)",
        )

    # 2. Queued demand the pool cannot hold: grow by a step after the delay, outside the cooldown.
    deficit = max(0, desired.spot - current.spot) + max(0, desired.on_demand - current.on_demand)
    hold_reason, hold_msg = Reason.STEADY, "pool matches demand"
    if deficit > 0:
        blocker = _scale_up_blocker(waiting, pending_since, history, now, policy)
        if blocker is None and room <= 0:
            blocker = Reason.AT_MAXIMUM, f"pool at its maximum of {policy.max_nodes} nodes"
        if blocker is None:
            return up(
                Reason.SCALE_UP_QUEUED_DEMAND,
                min(policy.up_step, deficit, room),
                f"demand needs {desired.spot} spot + {desired.on_demand} on-demand nodes",
            )
        hold_reason, hold_msg = blocker

    # 3. Idle nodes beyond the desired count of their type: remove after idle time and cooldown.
    #    While a deficit is blocked, its reason is the one worth reporting.
    def hold_down(reason: Reason, message: str) -> ScaleDecision:
        return hold(hold_reason, hold_msg) if deficit > 0 else hold(reason, message)

    excess = {t: current.of(t) - desired.of(t) for t in CapacityType}
    if all(e <= 0 for e in excess.values()):
        return hold(hold_reason, hold_msg)
    last_action = max(
        (t for t in (history.last_scale_up, history.last_scale_down) if t is not None), default=None
    )
    cooled = _seconds_since(last_action, now)
    if cooled < policy.down_cooldown_seconds:
        return hold_down(
            Reason.SCALE_DOWN_COOLDOWN,
            f"last scale action {cooled:.0f}s ago, cooldown {policy.down_cooldown_seconds}s",
        )
    idle_enough = now - timedelta(seconds=policy.down_idle_seconds)
    candidates = sorted(
        (n for n in present if not n.busy and n.idle_since is not None and n.idle_since <= idle_enough),
        key=lambda n: (-excess[n.capacity_type], n.idle_since or now, n.name),
    )
    remove: list[NodeActivity] = []
    left = dict(excess)
    for n in candidates:
        if len(remove) == policy.down_step or current.total - len(remove) <= policy.min_nodes:
            break
        if left[n.capacity_type] > 0:
            remove.append(n)
            left[n.capacity_type] -= 1
    if not remove:
        return hold_down(Reason.WAITING_FOR_IDLE_NODES, f"no node idle for {policy.down_idle_seconds}s")
    target = current
    for n in remove:
        target = target.plus(n.capacity_type, -1)
    names = tuple(n.name for n in remove)
    return ScaleDecision(
        current,
        desired,
        target,
        names,
        Direction.DOWN,
        Reason.SCALE_DOWN_IDLE,
        f"removing idle {', '.join(names)}: demand needs {desired.spot} spot + {desired.on_demand} on-demand",
    )
