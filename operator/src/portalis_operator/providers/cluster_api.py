"""Cluster API: one MachineDeployment per capacity type, scaled through its `scale` subresource.

Nodes are found by the pool label (`portalis.dev/pool=<pool>`), which the MachineDeployments' bootstrap
config must set on their nodes together with the capacity-type label. A specific node is removed the
Cluster API way: its Machine is annotated `cluster.x-k8s.io/delete-machine` (the MachineSet deletes
annotated machines first) and then the MachineDeployment's replicas are lowered by one, so an idle node
goes, never a random busy one.
"""

from __future__ import annotations

from typing import Any

from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from portalis_operator import api
from portalis_operator.providers.base import (
    POOL_LABEL,
    NotInPool,
    PoolNode,
    ProviderError,
    ProviderMisconfigured,
    pool_node,
    selector,
    unavailable,
)
from portalis_operator.workload import CapacityType

GROUP = "cluster.x-k8s.io"
VERSION = "v1beta1"
MACHINE_DEPLOYMENTS = "machinedeployments"
MACHINES = "machines"
MACHINE_ANNOTATION = "cluster.x-k8s.io/machine"
MACHINE_NAMESPACE_ANNOTATION = "cluster.x-k8s.io/cluster-namespace"
DELETE_MACHINE_ANNOTATION = "cluster.x-k8s.io/delete-machine"
# Set with the delete annotation: marks a removal this operator requested (and the replicas it set),
# so that a retried delete_node does not lower the replicas a second time.
REQUESTED_ANNOTATION = "portalis.dev/scale-down-requested"
MERGE_PATCH = "application/merge-patch+json"


class ClusterAPIProvider:
    """Scales the pool's spot and on-demand MachineDeployments."""

    can_scale = True

    def __init__(self, api_client: Any, pool_label: str = POOL_LABEL) -> None:
        self._core = client.CoreV1Api(api_client)
        self._custom = client.CustomObjectsApi(api_client)
        self._pool_label = pool_label

    @staticmethod
    def _config(pool: api.GPUPool) -> api.ClusterAPIProvider:
        cfg = pool.spec.provider.cluster_api
        if cfg is None:
            raise ProviderMisconfigured(f"pool {pool.metadata.name}: spec.provider.clusterAPI is missing")
        return cfg

    def _deployment(self, pool: api.GPUPool, capacity_type: CapacityType) -> tuple[str, str]:
        cfg = self._config(pool)
        name = (
            cfg.spot_machine_deployment
            if capacity_type is CapacityType.SPOT
            else cfg.on_demand_machine_deployment
        )
        return cfg.namespace, name

    async def list_nodes(self, pool: api.GPUPool) -> list[PoolNode]:
        try:
            result = await self._core.list_node(
                label_selector=selector({self._pool_label: pool.metadata.name})
            )
        except ApiException as exc:
            raise unavailable(exc, "list nodes") from exc
        label = pool.spec.spot.capacity_type_label
        return sorted((pool_node(n, label) for n in result.items), key=lambda n: n.name)

    async def _replicas(self, pool: api.GPUPool, capacity_type: CapacityType) -> int:
        namespace, name = self._deployment(pool, capacity_type)
        try:
            scale = await self._custom.get_namespaced_custom_object_scale(
                GROUP, VERSION, namespace, MACHINE_DEPLOYMENTS, name
            )
        except ApiException as exc:
            raise self._error(exc, f"MachineDeployment {namespace}/{name}") from exc
        return int((scale.get("spec") or {}).get("replicas") or 0)

    async def targets(self, pool: api.GPUPool) -> dict[CapacityType, int]:
        """spec.replicas of each MachineDeployment (read through the scale subresource)."""
        return {t: await self._replicas(pool, t) for t in CapacityType}

    async def scale(self, pool: api.GPUPool, capacity_type: CapacityType, target: int) -> None:
        if target < 0:
            raise ValueError(f"target must be >= 0, got {target}")
        namespace, name = self._deployment(pool, capacity_type)
        try:
            await self._custom.patch_namespaced_custom_object_scale(
                GROUP,
                VERSION,
                namespace,
                MACHINE_DEPLOYMENTS,
                name,
                {"spec": {"replicas": target}},
                _content_type=MERGE_PATCH,
            )
        except ApiException as exc:
            raise self._error(exc, f"MachineDeployment {namespace}/{name}") from exc

    async def delete_node(self, pool: api.GPUPool, name: str) -> None:
        try:
            node = await self._core.read_node(name)
        except ApiException as exc:
            if exc.status == 404:
                return
            raise unavailable(exc, f"read node {name}") from exc
        found = pool_node(node, pool.spec.spot.capacity_type_label)
        labels = node.metadata.labels or {}
        if labels.get(self._pool_label) != pool.metadata.name or found.capacity_type is None:
            raise NotInPool(f"node {name} is not a node of pool {pool.metadata.name}")
        annotations = node.metadata.annotations or {}
        machine = annotations.get(MACHINE_ANNOTATION)
        if not machine:
            raise ProviderError(f"node {name} has no {MACHINE_ANNOTATION} annotation: not a Cluster API node")
        namespace = annotations.get(MACHINE_NAMESPACE_ANNOTATION) or self._config(pool).namespace
        try:
            current = await self._custom.get_namespaced_custom_object(
                GROUP, VERSION, namespace, MACHINES, machine
            )
        except ApiException as exc:
            if exc.status == 404:
                return  # the machine is gone already; its node follows
            raise unavailable(exc, f"read Machine {namespace}/{machine}") from exc
        if REQUESTED_ANNOTATION in ((current.get("metadata") or {}).get("annotations") or {}):
            return  # an earlier call marked it and lowered the replicas
        replicas = max(0, await self._replicas(pool, found.capacity_type) - 1)
        patch = {
            "metadata": {
                "annotations": {DELETE_MACHINE_ANNOTATION: "true", REQUESTED_ANNOTATION: str(replicas)}
            }
        }
        try:
            await self._custom.patch_namespaced_custom_object(
                GROUP, VERSION, namespace, MACHINES, machine, patch, _content_type=MERGE_PATCH
            )
        except ApiException as exc:
            raise unavailable(exc, f"annotate Machine {namespace}/{machine}") from exc
        await self.scale(pool, found.capacity_type, replicas)

    @staticmethod
    def _error(exc: ApiException, what: str) -> ProviderError:
        if exc.status == 404:
            return ProviderMisconfigured(f"{what} not found (check spec.provider.clusterAPI)")
        return unavailable(exc, what)
