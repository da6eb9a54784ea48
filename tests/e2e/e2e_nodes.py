"""Which nodes run the end-to-end tier's pods (PORTALIS_E2E_NODES), and the session's pool of real nodes.

- `real` (the default, and what CI runs): real kubelet + containerd nodes (portalis_dev.realpool) that
  run the images of `make images`, with Kubernetes' own pod semantics. Needs root (containerd, mounts,
  network namespaces).
- `agent`: the node agent's simulated nodes, whose pods run as host processes (portalis_dev.agent). For a
  machine where the tests cannot run as root; nothing about the images is tested then.

Four modules run on the node agent whatever this says (docs/install.md, "The end-to-end tier on real
nodes"): test_kubectl_plugin.py (a git server on the host's loopback, trusted through the agent's
environment), test_model_job.py (the Triton sidecar's image is not built here),
test_apiserver_outage.py (on real nodes the operator reclaims a worker after the outage) and
test_story_demo.py (its pool's machines become agent nodes).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import pytest

from portalis_dev import realpool
from portalis_dev.cluster import LocalCluster

ENV = "PORTALIS_E2E_NODES"
CHOICES = ("real", "agent")
REAL_POOL_NODES: Mapping[str, int] = {"spot": 3, "on-demand": 1}
"""The session's real pool: three spot nodes, so a chaos run can lose two, and one on-demand node."""


def choice(environ: Mapping[str, str] = os.environ) -> str:
    """The value of PORTALIS_E2E_NODES (default `real`); anything else is a usage error that says so."""
    value = environ.get(ENV, "").strip() or "real"
    if value not in CHOICES:
        raise pytest.UsageError(f"{ENV}={value!r}: expected one of {', '.join(CHOICES)} (default real)")
    return value


REAL = choice() == "real"


def require_root() -> None:
    """Fail (not skip) without root: CI runs the tier on real nodes, and a skip would hide that it did not."""
    if os.geteuid() != 0:
        pytest.fail(
            "the e2e tier runs on real kubelet nodes, which need root (containerd, mounts, network "
            f"namespaces): run the tests as root, or set {ENV}=agent for the node agent's simulated nodes"
        )


def top_up(cluster: LocalCluster, pool: str) -> None:
    """The session pool's nodes all running: those a chaos test reclaimed are started again."""
    realpool.start_pool(
        cluster, pool, REAL_POOL_NODES, progress=lambda m: print(f"[{pool}] {m}"), image_names=["worker"]
    )
