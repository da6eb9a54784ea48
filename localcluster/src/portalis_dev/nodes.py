"""Simulated DGX nodes: what one looks like (a pure builder) and adding/removing them in a cluster.

A DGX H100 node has 8 GPUs, 224 hardware threads and 2 TiB of memory. Spot nodes carry a NoSchedule
taint so that only work that tolerates being reclaimed lands there.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Literal

from kubernetes import client

CapacityType = Literal["spot", "on-demand"]

CAPACITY_TYPE_LABEL = "karpenter.sh/capacity-type"
INSTANCE_TYPE_LABEL = "node.kubernetes.io/instance-type"
ZONE_LABEL = "topology.kubernetes.io/zone"
POOL_LABEL = "portalis.dev/pool"
SIMULATED_LABEL = "portalis.dev/simulated"
KWOK_ANNOTATION = "kwok.x-k8s.io/node"
SPOT_TAINT_KEY = "portalis.dev/spot"
GPU_RESOURCE = "nvidia.com/gpu"
ZONES = ("local-a", "local-b", "local-c")


@dataclass(frozen=True)
class DGXNode:
    name: str
    capacity_type: CapacityType
    zone: str = ZONES[0]
    pool: str = "default"
    instance_type: str = "dgx-h100-80gb"
    gpus: int = 8
    cpu: str = "224"
    memory: str = "2015Gi"
    pods: int = 110
    extra_labels: dict[str, str] = field(default_factory=dict)


def spot_taint() -> dict[str, str]:
    return {"key": SPOT_TAINT_KEY, "value": "true", "effect": "NoSchedule"}


def pool_labels(n: DGXNode) -> dict[str, str]:
    """The labels that make a node a DGX node of its pool, whoever runs it (kwok, the node agent or a
    real kubelet): capacity type, instance type, zone, pool and the GPU product."""
    return {
        CAPACITY_TYPE_LABEL: n.capacity_type,
        INSTANCE_TYPE_LABEL: n.instance_type,
        ZONE_LABEL: n.zone,
        POOL_LABEL: n.pool,
        "nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3",
        "nvidia.com/gpu.count": str(n.gpus),
        **n.extra_labels,
    }


def taints(n: DGXNode) -> list[dict[str, str]]:
    return [spot_taint()] if n.capacity_type == "spot" else []


def build_node(n: DGXNode) -> dict[str, Any]:
    """The Node object kwok simulates: capacity, allocatable, labels, the spot taint."""
    resources = {
        "cpu": n.cpu,
        "memory": n.memory,
        "pods": str(n.pods),
        "ephemeral-storage": "30Ti",
        GPU_RESOURCE: str(n.gpus),
    }
    labels = {
        "kubernetes.io/hostname": n.name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "type": "kwok",
        SIMULATED_LABEL: "true",
        **pool_labels(n),
    }
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": n.name, "labels": labels, "annotations": {KWOK_ANNOTATION: "fake"}},
        "spec": {"taints": taints(n)},
        "status": {"capacity": resources, "allocatable": dict(resources)},
    }


def node_prefix(pool: str, capacity_type: CapacityType) -> str:
    return f"dgx-{pool}-{'spot' if capacity_type == 'spot' else 'od'}-"


def next_names(existing: set[str], pool: str, capacity_type: CapacityType, count: int) -> list[str]:
    """`count` unused names for new nodes, lowest free indexes first."""
    prefix = node_prefix(pool, capacity_type)
    free = (f"{prefix}{i}" for i in itertools.count() if f"{prefix}{i}" not in existing)
    return list(itertools.islice(free, count))


def list_simulated(api: client.CoreV1Api, pool: str | None = None) -> list[client.V1Node]:
    selector = f"{SIMULATED_LABEL}=true" + (f",{POOL_LABEL}={pool}" if pool else "")
    return list(api.list_node(label_selector=selector).items)


def add_nodes(
    api: client.CoreV1Api, capacity_type: CapacityType, count: int, pool: str = "default"
) -> list[str]:
    """Create `count` simulated DGX nodes of one capacity type; returns their names."""
    existing = {n.metadata.name for n in api.list_node().items}
    names = next_names(existing, pool, capacity_type, count)
    for i, name in enumerate(names):
        zone = ZONES[(len(existing) + i) % len(ZONES)]
        api.create_node(build_node(DGXNode(name=name, capacity_type=capacity_type, zone=zone, pool=pool)))
    return names


def remove_node(api: client.CoreV1Api, name: str) -> None:
    api.delete_node(name)
