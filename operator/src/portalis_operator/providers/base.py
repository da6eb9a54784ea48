"""The NodeProvider port: how the operator adds and removes GPU nodes, whatever provisions them.

The autoscaler decides counts (autoscaling.py); a provider carries them out. One contract, three
implementations (kwok, clusterAPI, static), one contract test suite that all of them pass
(tests/integration/test_node_providers.py). The contract in prose is docs/node-providers.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from portalis_operator import api
from portalis_operator.placement import capacity_type_from_label
from portalis_operator.recovery import NodeHealth
from portalis_operator.workload import CapacityType

POOL_LABEL = "portalis.dev/pool"
GPU_RESOURCE = "nvidia.com/gpu"


class ProviderError(Exception):
    """Base of everything a provider raises on purpose."""


class ProviderUnavailable(ProviderError):
    """Transient: the API (or the cloud behind it) failed or conflicted; retry later, nothing is lost."""


class ProviderMisconfigured(ProviderError):
    """Permanent until the GPUPool spec changes: it names something that does not exist."""


class ScalingNotSupported(ProviderError):
    """The provider manages no nodes (static): scale and delete_node are refused."""


class NotInPool(ProviderError):
    """delete_node was asked to remove a node that exists but does not belong to the pool."""


@dataclass(frozen=True)
class PoolNode:
    """A node of a pool, as providers report it.

    `capacity_type` is None when the pool's capacity-type label is missing or not spot/on-demand (such a
    node takes no work). `ready_changed` is the Ready condition's lastTransitionTime.
    """

    name: str
    capacity_type: CapacityType | None
    ready: bool
    gpus: int
    taints: frozenset[str] = frozenset()
    unschedulable: bool = False
    deleting: bool = False
    ready_changed: datetime | None = None
    created_at: datetime | None = None

    def health(self) -> NodeHealth:
        """The view recovery.classify_node needs."""
        return NodeHealth(
            self.name,
            ready=self.ready,
            not_ready_since=None if self.ready else self.ready_changed,
            taints=self.taints,
            deleting=self.deleting,
        )


@runtime_checkable
class NodeProvider(Protocol):
    """Adds and removes a GPUPool's nodes.

    Every method takes the pool (the validated GPUPool), so one provider object serves many pools, and
    raises only ProviderError subclasses: ProviderUnavailable (retry), ProviderMisconfigured (fix the
    spec), ScalingNotSupported (static pools), NotInPool (refused deletion).
    """

    @property
    def can_scale(self) -> bool:
        """False for providers that manage no nodes; the autoscaler is then skipped."""
        ...

    async def list_nodes(self, pool: api.GPUPool) -> list[PoolNode]:
        """The pool's nodes now, sorted by name, whatever their state (NotReady, tainted, deleting)."""
        ...

    async def targets(self, pool: api.GPUPool) -> dict[CapacityType, int]:
        """The node count the provider is working toward, per capacity type (both keys present)."""
        ...

    async def scale(self, pool: api.GPUPool, capacity_type: CapacityType, target: int) -> None:
        """Work toward `target` nodes of `capacity_type`. Idempotent (the same target twice changes
        nothing); returns once the request is accepted, nodes may appear later. Lowering the target lets
        the provider pick victims: the operator shrinks with delete_node instead."""
        ...

    async def delete_node(self, pool: api.GPUPool, name: str) -> None:
        """Remove this node and lower its capacity type's target by one, so it is not replaced.
        Idempotent: a node that is gone (or already being removed) is success. A node of another pool
        raises NotInPool."""
        ...


def selector(labels: Mapping[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def pool_node(node: Any, capacity_type_label: str) -> PoolNode:
    """Convert a kubernetes_asyncio V1Node."""
    meta, spec, status = node.metadata, node.spec, node.status
    labels = meta.labels or {}
    ready, changed = False, None
    for cond in (status.conditions if status else None) or []:
        if cond.type == "Ready":
            ready, changed = cond.status == "True", cond.last_transition_time
    allocatable = (status.allocatable if status else None) or {}
    try:
        gpus = int(allocatable.get(GPU_RESOURCE, "0"))
    except ValueError:
        gpus = 0
    return PoolNode(
        name=meta.name,
        capacity_type=capacity_type_from_label(labels.get(capacity_type_label)),
        ready=ready,
        gpus=gpus,
        taints=frozenset(t.key for t in (spec.taints if spec else None) or []),
        unschedulable=bool(spec.unschedulable) if spec else False,
        deleting=meta.deletion_timestamp is not None,
        ready_changed=changed,
        created_at=meta.creation_timestamp,
    )


def count(nodes: list[PoolNode]) -> dict[CapacityType, int]:
    """Nodes per capacity type, leaving out nodes being deleted."""
    out = dict.fromkeys(CapacityType, 0)
    for n in nodes:
        if n.capacity_type is not None and not n.deleting:
            out[n.capacity_type] += 1
    return out


def unavailable(exc: Exception, what: str) -> ProviderUnavailable:
    status = getattr(exc, "status", None)
    return ProviderUnavailable(f"{what}: {status or type(exc).__name__}: {getattr(exc, 'reason', exc)}")
