"""Bin-packing of worker shards onto nodes: every shard on one node, all shards or none."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from portalis_operator.placement import eligible_capacity_types
from portalis_operator.workload import CapacityType, JobRequest, RunningJob, ShardPlacement

FreeGPUs = Mapping[str, int]


@dataclass(frozen=True)
class Node:
    """A pool node as the scheduler sees it.

    `gpus_other` are GPUs held by pods that are not Portalis workers. `schedulable` is False for nodes
    that are NotReady, cordoned or carry an interruption taint: nothing new is placed there.
    """

    name: str
    capacity_type: CapacityType
    gpus: int
    gpus_other: int = 0
    schedulable: bool = True


def capacity(nodes: Sequence[Node]) -> dict[str, int]:
    """GPUs each schedulable node would have free if no Portalis job ran."""
    return {n.name: max(0, n.gpus - n.gpus_other) for n in nodes if n.schedulable}


def free_gpus(nodes: Sequence[Node], running: Sequence[RunningJob]) -> dict[str, int]:
    """Free GPUs per schedulable node after the running jobs' placements (clamped at zero)."""
    free = capacity(nodes)
    for run in running:
        for p in run.placements:
            if p.node in free:
                free[p.node] -= p.gpus
    return {name: max(0, gpus) for name, gpus in free.items()}


def eligible_nodes(job: JobRequest, nodes: Sequence[Node]) -> list[Node]:
    types = eligible_capacity_types(job.spot)
    return [n for n in nodes if n.schedulable and n.capacity_type in types]


def fit(job: JobRequest, free: FreeGPUs, nodes: Sequence[Node]) -> tuple[ShardPlacement, ...] | None:
    """Place every shard of `job` on a node with enough free GPUs, or return None.

    Shards are equal-sized, so a node holds free // gpus_per_shard of them and the greedy fill below is
    exact: it fails only when no placement exists. Order: the preferred capacity type first (spot for
    `preferred`), then best fit (the fullest node that still fits, which keeps whole nodes free for
    8-GPU shards), then name, so that the result is deterministic.
    """
    types = eligible_capacity_types(job.spot)
    g = job.gpus_per_shard
    candidates = sorted(
        (n for n in eligible_nodes(job, nodes) if free.get(n.name, 0) >= g),
        key=lambda n: (types.index(n.capacity_type), free.get(n.name, 0), n.name),
    )
    placements: list[ShardPlacement] = []
    for node in candidates:
        room = free.get(node.name, 0) // g
        while room > 0 and len(placements) < job.shards:
            placements.append(ShardPlacement(shard=len(placements), node=node.name, gpus=g))
            room -= 1
        if len(placements) == job.shards:
            return tuple(placements)
    return None


def take(free: FreeGPUs, placements: Sequence[ShardPlacement]) -> dict[str, int]:
    """Free GPUs after `placements` are bound."""
    out = dict(free)
    for p in placements:
        out[p.node] = out.get(p.node, 0) - p.gpus
    return out


def give(free: FreeGPUs, placements: Sequence[ShardPlacement]) -> dict[str, int]:
    """Free GPUs after `placements` are released."""
    out = dict(free)
    for p in placements:
        if p.node in out:
            out[p.node] += p.gpus
    return out
