"""One contract, three NodeProviders (kwok, clusterAPI, static), against the real local API server, and
the in-memory fake that unit tests inject (providers/fake.py), held to the same contract.

Each test uses its own pool, named after its namespace, and removes that pool's nodes afterwards (nodes
are cluster-scoped). For clusterAPI a minimal MachineDeployment/Machine CRD pair is installed
(fixtures/cluster-api-crds.yaml); no Cluster API controller runs, so the test checks what the provider
asked for: replicas through the scale subresource and delete-machine annotations.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
from kubernetes import client

from harness import wait_for
from portalis_dev.cluster import LocalCluster
from portalis_operator import api
from portalis_operator.providers import (
    NodeProvider,
    NotInPool,
    ProviderMisconfigured,
    ScalingNotSupported,
    for_pool,
)
from portalis_operator.providers.cluster_api import (
    DELETE_MACHINE_ANNOTATION,
    GROUP,
    MACHINE_ANNOTATION,
    MACHINE_DEPLOYMENTS,
    MACHINES,
    VERSION,
)
from portalis_operator.providers.dgx import DGXNode, build_node
from portalis_operator.providers.fake import FakeProvider
from portalis_operator.workload import CapacityType

pytestmark = pytest.mark.integration

T = TypeVar("T")
SPOT, OD = CapacityType.SPOT, CapacityType.ON_DEMAND
KINDS = ["kwok", "clusterAPI", "static", "fake"]


@dataclass
class Pool:
    """One test's pool: the GPUPool object, how to call its provider, how to seed its nodes."""

    kind: str
    model: api.GPUPool
    namespace: str
    cluster: LocalCluster
    core: Any
    custom: Any
    fake: FakeProvider | None = None

    @property
    def name(self) -> str:
        return self.model.metadata.name

    def call(self, fn: Callable[[NodeProvider], Awaitable[T]]) -> T:
        """Run `fn(provider)` on a fresh asyncio client (the provider under test is async)."""
        from kubernetes_asyncio import config

        if self.fake is not None:
            return asyncio.run(_on(self.fake, fn))

        async def main() -> T:
            api_client = await config.new_client_from_config(config_file=str(self.cluster.kubeconfig))
            try:
                return await fn(for_pool(self.model, api_client))
            finally:
                await api_client.close()

        return asyncio.run(main())

    def seed(self, capacity_type: CapacityType, count: int, pool: str | None = None) -> list[str]:
        """Nodes as the provisioner behind the provider would make them (kwok-simulated, so they go Ready)."""
        pool = pool or self.name
        short = "spot" if capacity_type is SPOT else "od"
        names = []
        for i in range(count):
            name = f"seed-{pool}-{short}-{i}"
            if self.fake is not None:
                self.fake.add(pool, capacity_type, name)
                names.append(name)
                continue
            body = build_node(DGXNode(name=name, capacity_type=capacity_type.value, pool=pool))  # type: ignore[arg-type]
            if self.kind == "clusterAPI":
                body["metadata"]["annotations"][MACHINE_ANNOTATION] = f"m-{name}"
                self.custom.create_namespaced_custom_object(
                    GROUP,
                    VERSION,
                    self.namespace,
                    MACHINES,
                    {
                        "apiVersion": f"{GROUP}/{VERSION}",
                        "kind": "Machine",
                        "metadata": {"name": f"m-{name}"},
                    },
                )
            self.core.create_node(body)
            names.append(name)
        if self.kind == "clusterAPI" and pool == self.name:
            current = self.replicas(capacity_type)
            self.set_replicas(capacity_type, current + count)
        return names

    def md_name(self, capacity_type: CapacityType) -> str:
        return f"{self.name}-{'spot' if capacity_type is SPOT else 'od'}"

    def replicas(self, capacity_type: CapacityType) -> int:
        md = self.custom.get_namespaced_custom_object(
            GROUP, VERSION, self.namespace, MACHINE_DEPLOYMENTS, self.md_name(capacity_type)
        )
        return int(md["spec"].get("replicas", 0))

    def set_replicas(self, capacity_type: CapacityType, n: int) -> None:
        self.custom.patch_namespaced_custom_object(
            GROUP,
            VERSION,
            self.namespace,
            MACHINE_DEPLOYMENTS,
            self.md_name(capacity_type),
            {"spec": {"replicas": n}},
        )


async def _on(provider: NodeProvider, fn: Callable[[NodeProvider], Awaitable[T]]) -> T:
    return await fn(provider)


def _pool_name(namespace: str) -> str:
    """Short (node names carry it and must fit a 63-character label) and unique: the namespace's suffix."""
    return f"pool-{namespace.rsplit('-', 1)[-1]}"


def _pool_model(kind: str, name: str, namespace: str) -> api.GPUPool:
    provider: dict[str, Any] = {"type": kind}
    if kind == "clusterAPI":
        provider["clusterAPI"] = {
            "namespace": namespace,
            "spotMachineDeployment": f"{name}-spot",
            "onDemandMachineDeployment": f"{name}-od",
        }
    if kind == "static":
        provider["static"] = {"nodeSelector": {"portalis.dev/pool": name}}
    return api.GPUPool.model_validate({"metadata": {"name": name}, "spec": {"provider": provider}})


@pytest.fixture(params=KINDS)
def pool(
    request: pytest.FixtureRequest, cluster: LocalCluster, api_client: Any, namespace: str
) -> Iterator[Pool]:
    kind: str = request.param
    core = client.CoreV1Api(api_client)
    custom = client.CustomObjectsApi(api_client)
    if kind == "clusterAPI":
        request.getfixturevalue("capi_crds")
        for suffix in ("spot", "od"):
            custom.create_namespaced_custom_object(
                GROUP,
                VERSION,
                namespace,
                MACHINE_DEPLOYMENTS,
                {
                    "apiVersion": f"{GROUP}/{VERSION}",
                    "kind": "MachineDeployment",
                    "metadata": {"name": f"{_pool_name(namespace)}-{suffix}"},
                    "spec": {"clusterName": "dgx", "replicas": 0},
                },
            )
    model = _pool_model("kwok" if kind == "fake" else kind, _pool_name(namespace), namespace)
    p = Pool(kind, model, namespace, cluster, core, custom, FakeProvider() if kind == "fake" else None)
    try:
        yield p
    finally:
        for pool_name in (p.name, f"{p.name}-other"):
            for node in core.list_node(label_selector=f"portalis.dev/pool={pool_name}").items:
                try:
                    core.delete_node(node.metadata.name)
                except client.ApiException as exc:
                    if exc.status != 404:
                        raise


# ------------------------------------------------------------------------------------------------------
# the contract


def test_lists_only_the_pools_nodes_with_their_state(pool: Pool) -> None:
    spot = pool.seed(SPOT, 2)
    od = pool.seed(OD, 1)
    pool.seed(SPOT, 1, pool=f"{pool.name}-other")

    def all_ready() -> list[Any]:
        nodes = pool.call(lambda p: p.list_nodes(pool.model))
        return nodes if len(nodes) == 3 and all(n.ready for n in nodes) else []

    nodes = wait_for(all_ready, timeout=30, what="the pool's 3 nodes Ready (kwok)")
    assert [n.name for n in nodes] == sorted(spot + od)
    assert {n.name: n.capacity_type for n in nodes} == {**dict.fromkeys(spot, SPOT), **dict.fromkeys(od, OD)}
    assert all(n.gpus == 8 for n in nodes)
    assert {n.name for n in nodes if "portalis.dev/spot" in n.taints} == set(spot)
    assert all(not n.health().deleting for n in nodes)
    assert pool.call(lambda p: p.targets(pool.model)) == {SPOT: 2, OD: 1}


def test_scale_moves_targets_and_is_idempotent(pool: Pool) -> None:
    if pool.kind == "static":
        assert not pool.call(_can_scale)
        with pytest.raises(ScalingNotSupported):
            pool.call(lambda p: p.scale(pool.model, SPOT, 3))
        return

    async def scale_twice(p: NodeProvider) -> dict[CapacityType, int]:
        assert p.can_scale
        await p.scale(pool.model, SPOT, 3)
        await p.scale(pool.model, SPOT, 3)
        await p.scale(pool.model, OD, 1)
        return await p.targets(pool.model)

    assert pool.call(scale_twice) == {SPOT: 3, OD: 1}
    if pool.kind == "clusterAPI":
        # through the scale subresource, onto the MachineDeployments' spec.replicas
        assert (pool.replicas(SPOT), pool.replicas(OD)) == (3, 1)
    else:
        nodes = pool.call(lambda p: p.list_nodes(pool.model))
        assert [(n.name, n.capacity_type) for n in nodes] == [
            (f"dgx-{pool.name}-od-0", OD),
            (f"dgx-{pool.name}-spot-0", SPOT),
            (f"dgx-{pool.name}-spot-1", SPOT),
            (f"dgx-{pool.name}-spot-2", SPOT),
        ]

    assert pool.call(lambda p: _then_targets(p, pool.model, SPOT, 1)) == {SPOT: 1, OD: 1}
    with pytest.raises(ValueError, match="target"):
        pool.call(lambda p: p.scale(pool.model, SPOT, -1))


async def _can_scale(p: NodeProvider) -> bool:
    return p.can_scale


async def _then_targets(
    p: NodeProvider, model: api.GPUPool, ct: CapacityType, n: int
) -> dict[CapacityType, int]:
    await p.scale(model, ct, n)
    return await p.targets(model)


def test_delete_node_lowers_the_target_once(pool: Pool) -> None:
    names = pool.seed(SPOT, 2)
    [foreign] = pool.seed(OD, 1, pool=f"{pool.name}-other")
    if pool.kind == "static":
        with pytest.raises(ScalingNotSupported):
            pool.call(lambda p: p.delete_node(pool.model, names[0]))
        return

    async def delete_twice(p: NodeProvider) -> dict[CapacityType, int]:
        await p.delete_node(pool.model, names[0])
        await p.delete_node(pool.model, names[0])  # idempotent: no second decrement
        await p.delete_node(pool.model, "no-such-node")  # gone is success
        return await p.targets(pool.model)

    assert pool.call(delete_twice) == {SPOT: 1, OD: 0}
    with pytest.raises(NotInPool):
        pool.call(lambda p: p.delete_node(pool.model, foreign))
    if pool.kind == "clusterAPI":
        machine = pool.custom.get_namespaced_custom_object(
            GROUP, VERSION, pool.namespace, MACHINES, f"m-{names[0]}"
        )
        assert DELETE_MACHINE_ANNOTATION in machine["metadata"]["annotations"]
        other = pool.custom.get_namespaced_custom_object(
            GROUP, VERSION, pool.namespace, MACHINES, f"m-{names[1]}"
        )
        assert DELETE_MACHINE_ANNOTATION not in (other["metadata"].get("annotations") or {})
        assert pool.replicas(SPOT) == 1
    else:
        remaining = [n.name for n in pool.call(lambda p: p.list_nodes(pool.model))]
        assert remaining == [names[1]]


def test_cluster_api_missing_machine_deployment_is_a_configuration_error(
    cluster: LocalCluster, api_client: Any, namespace: str, capi_crds: list[str]
) -> None:
    model = _pool_model("clusterAPI", _pool_name(namespace), namespace)
    p = Pool("clusterAPI", model, namespace, cluster, None, None)
    with pytest.raises(ProviderMisconfigured, match="not found"):
        p.call(lambda prov: prov.scale(p.model, SPOT, 1))
