"""Fixtures of the end-to-end tests."""

from __future__ import annotations

import contextlib
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from e2e_nodes import REAL, require_root

from portalis_dev import demo, realnode, realpool
from portalis_dev.cluster import LocalCluster
from portalis_dev.toolchain import binary

CHART = Path(__file__).resolve().parents[2] / "charts" / "portalis"


def run(*args: str | Path, stdin: str | None = None) -> str:
    return subprocess.run(args, input=stdin, capture_output=True, text=True, check=True, timeout=120).stdout


@pytest.fixture(scope="module")
def worker_policies(cluster: LocalCluster) -> Iterator[None]:
    """The chart's worker-token policies (pods and ConfigMaps), applied; removed after the module."""
    release = f"cmout-{uuid.uuid4().hex[:6]}"
    rendered = run(
        binary("helm"), "template", release, str(CHART), "-n", "portalis-system", "--kube-version", "1.35.0"
    )
    docs = [
        d
        for d in yaml.safe_load_all(rendered)
        if d
        and d["kind"] in ("ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding")
        and d["metadata"]["name"].endswith(("-worker-token", "-worker-output"))
    ]
    assert len(docs) == 4
    kubectl = binary("kubectl")
    run(
        kubectl,
        "apply",
        "--server-side",
        "--field-manager=portalis-tests",
        "-f",
        "-",
        stdin=yaml.safe_dump_all(docs),
    )
    yield
    for d in docs:
        run(kubectl, "delete", d["kind"].lower(), d["metadata"]["name"], "--ignore-not-found")


@pytest.fixture(scope="session")
def real_pool(cluster: LocalCluster) -> Iterator[str | None]:
    """On real nodes (e2e_nodes.REAL): the name of the session's pool of real DGX nodes, with its GPUPool
    (static provider, selecting exactly those nodes); else None. The nodes start at the first
    `e2e_nodes.top_up`, so a session that needs none starts none; all are stopped at the end."""
    if not REAL:
        yield None
        return
    require_root()
    clients = demo.Clients.of(cluster)
    pool = f"e2e-real-{uuid.uuid4().hex[:5]}"
    try:
        demo.install_crds(clients)
        demo.apply_pool(clients, demo.pool_manifest(pool, node_type=realnode.NODE_TYPE))
        yield pool
    finally:
        realpool.stop_pool(cluster, pool, clients.core)
        with contextlib.suppress(Exception):
            clients.custom.delete_cluster_custom_object(demo.GROUP, demo.VERSION, demo.POOLS, pool)
