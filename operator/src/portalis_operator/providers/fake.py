"""An in-memory NodeProvider: the port's contract without a cluster, for unit tests of what uses it.

It passes the same contract suite as the real providers (tests/integration/test_node_providers.py) and
behaves like kwok there: the nodes are the target, new nodes get the lowest free `dgx-<pool>-...` names,
scale-down removes the newest. Every call is recorded in `calls`; `fail_with` makes the next calls raise
(a ProviderUnavailable, say) to test how the caller copes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from portalis_operator import api
from portalis_operator.placement import SPOT_TAINT_KEY
from portalis_operator.providers.base import NotInPool, PoolNode, ProviderError, count
from portalis_operator.providers.dgx import next_names
from portalis_operator.workload import CapacityType


@dataclass
class FakeProvider:
    """Nodes by pool name; one object may serve several pools, like the real providers."""

    nodes: dict[str, dict[str, PoolNode]] = field(default_factory=dict)
    calls: list[tuple[str, str, str, int | None]] = field(default_factory=list)  # (method, pool, arg, n)
    fail_with: ProviderError | None = None
    can_scale: bool = True

    def add(
        self, pool: str, capacity_type: CapacityType, name: str, gpus: int = 8, ready: bool = True
    ) -> PoolNode:
        """A node as the provisioner behind the provider would make it (tests seed pools with it)."""
        taints = frozenset({SPOT_TAINT_KEY}) if capacity_type is CapacityType.SPOT else frozenset()
        node = PoolNode(name, capacity_type, ready=ready, gpus=gpus, taints=taints)
        self.nodes.setdefault(pool, {})[name] = node
        return node

    def _check(self) -> None:
        if self.fail_with is not None:
            raise self.fail_with

    async def list_nodes(self, pool: api.GPUPool) -> list[PoolNode]:
        self._check()
        return sorted(self.nodes.get(pool.metadata.name, {}).values(), key=lambda n: n.name)

    async def targets(self, pool: api.GPUPool) -> dict[CapacityType, int]:
        return count(await self.list_nodes(pool))

    async def scale(self, pool: api.GPUPool, capacity_type: CapacityType, target: int) -> None:
        if target < 0:
            raise ValueError(f"target must be >= 0, got {target}")
        self._check()
        name = pool.metadata.name
        self.calls.append(("scale", name, capacity_type.value, target))
        mine = [
            n
            for n in self.nodes.get(name, {}).values()
            if n.capacity_type is capacity_type and not n.deleting
        ]
        if len(mine) < target:
            existing = {n for nodes in self.nodes.values() for n in nodes}
            for new in next_names(existing, name, capacity_type.value, target - len(mine)):
                self.add(name, capacity_type, new, gpus=pool.spec.gpus_per_node)
        else:
            victims = sorted(mine, key=lambda n: (_index(n.name), n.name), reverse=True)[: len(mine) - target]
            for n in victims:
                del self.nodes[name][n.name]

    async def delete_node(self, pool: api.GPUPool, name: str) -> None:
        self._check()
        self.calls.append(("delete_node", pool.metadata.name, name, None))
        for owner, nodes in self.nodes.items():
            if name in nodes:
                if owner != pool.metadata.name:
                    raise NotInPool(f"node {name} is not a node of pool {pool.metadata.name}")
                del nodes[name]
                return  # gone (or never there) is success

    def mark_deleting(self, pool: str, name: str) -> None:
        self.nodes[pool][name] = replace(self.nodes[pool][name], deleting=True)


def _index(name: str) -> int:
    m = re.search(r"(\d+)$", name)
    return int(m.group(1)) if m else -1
