"""What a DGX node of a pool looks like (a pure builder): labels, taints, GPU capacity and names.

The operator owns it because its kwok provider creates such nodes; the dev tool (portalis_dev.nodes, the
local node agent, real local nodes) imports it from here, so a node made by either looks the same.
A DGX H100 node has 8 GPUs, 224 hardware threads and 2 TiB of memory. Spot nodes carry a NoSchedule
taint so that only work that tolerates being reclaimed lands there.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Literal

from portalis_operator.placement import SPOT_TAINT_KEY, SPOT_TAINT_VALUE
from portalis_operator.providers.base import GPU_RESOURCE, POOL_LABEL

__all__ = [
    "CAPACITY_TYPE_LABEL",
    "GPU_RESOURCE",
    "INSTANCE_TYPE_LABEL",
    "KWOK_ANNOTATION",
    "POOL_LABEL",
    "SIMULATED_LABEL",
    "SPOT_TAINT_KEY",
    "ZONES",
    "ZONE_LABEL",
    "CapacityType",
    "DGXNode",
    "build_node",
    "next_names",
    "node_prefix",
    "pool_labels",
    "spot_taint",
    "taints",
]

CapacityType = Literal["spot", "on-demand"]

CAPACITY_TYPE_LABEL = "karpenter.sh/capacity-type"
INSTANCE_TYPE_LABEL = "node.kubernetes.io/instance-type"
ZONE_LABEL = "topology.kubernetes.io/zone"
SIMULATED_LABEL = "portalis.dev/simulated"
KWOK_ANNOTATION = "kwok.x-k8s.io/node"
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
    return {"key": SPOT_TAINT_KEY, "value": SPOT_TAINT_VALUE, "effect": "NoSchedule"}


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
