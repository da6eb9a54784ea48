"""Issue 13, item 10 on the local control plane: the operator creates the workers' NetworkPolicy in a job
namespace (with the worker ServiceAccount), as the API server stores it, and keeps one that exists.

The local control plane runs no network plugin, so what is checked here is the object the API server
accepted; that its ports are the only ones open is tests/unit/test_network_policy.py's.
"""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client
from test_operator import Jobs, job, jobs, pool  # noqa: F401  (fixtures)

from harness import operator_running, wait_for
from portalis_dev import nodes

pytestmark = pytest.mark.integration


def test_the_operator_creates_the_worker_network_policy(
    jobs: Jobs,  # noqa: F811
    core: Any,
    api_client: Any,
    pool: str,  # noqa: F811
) -> None:
    net = client.NetworkingV1Api(api_client)
    nodes.add_nodes(core, "on-demand", 1, pool=pool)
    jobs.create(job("net", shards=1, gpus=8))
    with operator_running(pool):
        jobs.running_pods("net", 1)
        policy = wait_for(
            lambda: net.read_namespaced_network_policy("portalis-worker", jobs.ns),
            timeout=30,
            what="the worker NetworkPolicy",
        )
    spec = policy.spec
    assert spec.policy_types == ["Ingress"]
    (expr,) = spec.pod_selector.match_expressions
    assert (expr.key, expr.operator) == ("portalis.dev/job", "Exists")
    (rule,) = spec.ingress
    assert rule._from is None
    assert sorted(p.port for p in rule.ports) == [8002, 9400]
    worker = jobs.pods("net")[0]
    assert expr.key in worker.metadata.labels  # it selects the worker pod
