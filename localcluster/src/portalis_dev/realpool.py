"""A GPU pool of real kubelet nodes for the end-to-end tests and `portalis-dev demo --real-nodes`.

The pool is sized up front: its GPUPool uses the `static` provider, selecting the pool's real nodes by
pool label and node type, so the operator never has to add or remove a node. The providers that scale
(kwok, Cluster API) are proven against the API server in tests/integration/test_node_providers.py; a
provider that starts kubelets would be a dev tool inside the product.

What the operator and the volumes need to run workers on these nodes:
- the worker container's requests fit a node with 2 cores (`OPERATOR_ENV`), where a DGX node's share
  (2 CPUs, 8 GiB each) would leave all but one shard Pending;
- the output volume is a hostPath directory the worker (uid 65532, as the operator's pods run) may write:
  the kubelet does not apply fsGroup to hostPath volumes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from portalis_dev import realnode
from portalis_dev.cluster import LocalCluster

WORKER_UID = 65532  # the operator's WorkerPodSettings.run_as_user
OPERATOR_ENV: Mapping[str, str] = {
    "PORTALIS_OPERATOR_WORKER_CPU_REQUEST": "100m",
    "PORTALIS_OPERATOR_WORKER_MEMORY_REQUEST": "256Mi",
    "PORTALIS_OPERATOR_WORKER_MEMORY_LIMIT": "4Gi",
}


def start_pool(
    cluster: LocalCluster,
    pool: str,
    counts: Mapping[str, int],
    progress: Callable[[str], None] = print,
    image_names: Sequence[str] | None = None,
) -> list[realnode.RealNode]:
    """Real nodes for `pool` ({"spot": n, "on-demand": m}) with `image_names` loaded (default: operator
    and worker), Ready with their GPUs; those of the pool that already run count toward `counts`."""
    running = [n for n in realnode.nodes_of(cluster.state_dir) if realnode.spec_of(n).pool == pool]
    have = {ct: sum(1 for n in running if realnode.spec_of(n).capacity_type == ct) for ct in counts}
    missing = {ct: max(0, want - have[ct]) for ct, want in counts.items()}
    taken = [n.name for n in realnode.nodes_of(cluster.state_dir)]
    specs = realnode.pool_specs(pool, missing, taken)
    added = (
        realnode.add_nodes(
            cluster.state_dir, cluster.kubeconfig, specs, progress=progress, image_names=image_names
        )
        if specs
        else []
    )
    return running + added


def pool_nodes(cluster: LocalCluster, pool: str) -> list[realnode.RealNode]:
    return [n for n in realnode.nodes_of(cluster.state_dir) if realnode.spec_of(n).pool == pool]


def stop_pool(cluster: LocalCluster, pool: str, core: Any) -> None:
    """Reclaim every real node of `pool` (stopped, Node deleted)."""
    for node in pool_nodes(cluster, pool):
        realnode.reclaim(node, core)


def writable_by_workers(output_dir: Path, output_path: str) -> None:
    """Give the worker's uid the output volume's directory and the job's subPaths in it (the crate's
    `<path>`, `<path>/.portalis/ledger`, and the translation memory's `.portalis/memory` at the volume's
    root): the kubelet would create missing subPaths owned by root. Only as root; otherwise they are
    left as they are."""
    if os.geteuid() != 0:
        return
    sub = Path(output_path.strip("/"))
    for directory in (
        output_dir,
        output_dir / sub,
        output_dir / sub / ".portalis",
        output_dir / sub / ".portalis" / "ledger",
        output_dir / ".portalis",
        output_dir / ".portalis" / "memory",
    ):
        directory.mkdir(parents=True, exist_ok=True)
        os.chown(directory, WORKER_UID, WORKER_UID)
