"""Simulated DGX nodes in a cluster: adding and removing them. What one looks like is the operator's
builder (portalis_operator.providers.dgx), re-exported here for the dev tool and the tests.
"""

from __future__ import annotations

from kubernetes import client

from portalis_operator.providers.dgx import (
    CAPACITY_TYPE_LABEL,
    GPU_RESOURCE,
    INSTANCE_TYPE_LABEL,
    KWOK_ANNOTATION,
    POOL_LABEL,
    SIMULATED_LABEL,
    SPOT_TAINT_KEY,
    ZONE_LABEL,
    ZONES,
    CapacityType,
    DGXNode,
    build_node,
    next_names,
    node_prefix,
    pool_labels,
    spot_taint,
    taints,
)

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
    "add_nodes",
    "build_node",
    "list_simulated",
    "next_names",
    "node_prefix",
    "pool_labels",
    "remove_node",
    "spot_taint",
    "taints",
]


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
