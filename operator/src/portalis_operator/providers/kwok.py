"""Simulated DGX nodes (kwok): the provider for tests and local runs.

Nodes are created and deleted directly; the kwok controller makes them Ready. Names, labels, taints and
capacity come from providers/dgx.py, the builder the dev tool (`portalis-dev`) imports too, so a node
made here looks exactly like one made there.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from portalis_operator import api
from portalis_operator.providers.base import (
    POOL_LABEL,
    NotInPool,
    PoolNode,
    count,
    pool_node,
    selector,
    unavailable,
)
from portalis_operator.providers.dgx import SIMULATED_LABEL, ZONES, DGXNode, build_node, next_names
from portalis_operator.workload import CapacityType


def _name_token(pool: str) -> str:
    """The pool part of node names: the hostname label is limited to 63 characters, so long pool names
    are cut and given a hash (names stay unique per pool)."""
    if len(pool) <= 40:
        return pool
    return f"{pool[:33]}-{hashlib.sha256(pool.encode()).hexdigest()[:6]}"


def _index(name: str) -> int:
    m = re.search(r"(\d+)$", name)
    return int(m.group(1)) if m else -1


class KwokProvider:
    """Creates and deletes simulated nodes labelled with the pool's name."""

    can_scale = True

    def __init__(self, api_client: Any, pool_label: str = POOL_LABEL) -> None:
        self._core = client.CoreV1Api(api_client)
        self._pool_label = pool_label

    def _labels(self, pool: api.GPUPool) -> dict[str, str]:
        return {self._pool_label: pool.metadata.name, SIMULATED_LABEL: "true"}

    async def list_nodes(self, pool: api.GPUPool) -> list[PoolNode]:
        try:
            result = await self._core.list_node(label_selector=selector(self._labels(pool)))
        except ApiException as exc:
            raise unavailable(exc, "list nodes") from exc
        label = pool.spec.spot.capacity_type_label
        return sorted((pool_node(n, label) for n in result.items), key=lambda n: n.name)

    async def targets(self, pool: api.GPUPool) -> dict[CapacityType, int]:
        """For kwok the nodes are the target: they exist as soon as they are created."""
        return count(await self.list_nodes(pool))

    async def scale(self, pool: api.GPUPool, capacity_type: CapacityType, target: int) -> None:
        if target < 0:
            raise ValueError(f"target must be >= 0, got {target}")
        nodes = await self.list_nodes(pool)
        mine = [n for n in nodes if n.capacity_type is capacity_type and not n.deleting]
        if len(mine) < target:
            names = next_names(
                {n.name for n in nodes}, pool.metadata.name, capacity_type.value, target - len(mine)
            )
            for name in names:
                await self._create(pool, capacity_type, name)
        elif len(mine) > target:
            # newest names first: the scale-down victims of a plain scale() are the provider's choice
            victims = sorted(mine, key=lambda n: (_index(n.name), n.name), reverse=True)[: len(mine) - target]
            for n in victims:
                await self._delete(n.name)

    async def delete_node(self, pool: api.GPUPool, name: str) -> None:
        try:
            node = await self._core.read_node(name)
        except ApiException as exc:
            if exc.status == 404:
                return
            raise unavailable(exc, f"read node {name}") from exc
        labels = node.metadata.labels or {}
        if any(labels.get(k) != v for k, v in self._labels(pool).items()):
            raise NotInPool(f"node {name} is not a simulated node of pool {pool.metadata.name}")
        await self._delete(name)

    async def _create(self, pool: api.GPUPool, capacity_type: CapacityType, name: str) -> None:
        label = pool.spec.spot.capacity_type_label
        spec = DGXNode(
            name=name,
            capacity_type="spot" if capacity_type is CapacityType.SPOT else "on-demand",
            zone=ZONES[max(_index(name), 0) % len(ZONES)],
            pool=pool.metadata.name,
            gpus=pool.spec.gpus_per_node,
            extra_labels={label: capacity_type.value, self._pool_label: pool.metadata.name},
        )
        try:
            await self._core.create_node(build_node(spec))
        except ApiException as exc:
            if exc.status != 409:  # already there: created by an earlier, interrupted call
                raise unavailable(exc, f"create node {name}") from exc

    async def _delete(self, name: str) -> None:
        try:
            await self._core.delete_node(name)
        except ApiException as exc:
            if exc.status != 404:
                raise unavailable(exc, f"delete node {name}") from exc
