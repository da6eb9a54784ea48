"""A fixed set of existing nodes, chosen by label: the operator schedules onto them and never scales."""

from __future__ import annotations

from typing import Any

from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from portalis_operator import api
from portalis_operator.providers.base import (
    PoolNode,
    ProviderMisconfigured,
    ScalingNotSupported,
    count,
    pool_node,
    selector,
    unavailable,
)
from portalis_operator.workload import CapacityType


class StaticProvider:
    """Lists the nodes matching spec.provider.static.nodeSelector; refuses to add or remove any."""

    can_scale = False

    def __init__(self, api_client: Any) -> None:
        self._core = client.CoreV1Api(api_client)

    async def list_nodes(self, pool: api.GPUPool) -> list[PoolNode]:
        static = pool.spec.provider.static
        if static is None or not static.node_selector:
            # an empty selector would claim every node of the cluster
            raise ProviderMisconfigured(f"pool {pool.metadata.name}: static provider needs a nodeSelector")
        try:
            result = await self._core.list_node(label_selector=selector(static.node_selector))
        except ApiException as exc:
            raise unavailable(exc, "list nodes") from exc
        label = pool.spec.spot.capacity_type_label
        return sorted((pool_node(n, label) for n in result.items), key=lambda n: n.name)

    async def targets(self, pool: api.GPUPool) -> dict[CapacityType, int]:
        """The nodes there are: a static pool aims at nothing else."""
        return count(await self.list_nodes(pool))

    async def scale(self, pool: api.GPUPool, capacity_type: CapacityType, target: int) -> None:
        raise ScalingNotSupported(f"pool {pool.metadata.name} is static: its nodes are managed elsewhere")

    async def delete_node(self, pool: api.GPUPool, name: str) -> None:
        raise ScalingNotSupported(f"pool {pool.metadata.name} is static: its nodes are managed elsewhere")
