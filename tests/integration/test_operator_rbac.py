"""Issue 13, item 8: the operator runs a job from admission to success with nothing but the chart's RBAC
for `watchNamespaces` (a Role in the watched namespace, Leases in the release namespace), so the narrowed
permissions are enough, not only narrower (test_chart.py's can-i tests check the denials).

The operator runs in-process, logged in with a token of the chart's ServiceAccount instead of the admin
kubeconfig; the test's own clients stay admin.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from test_chart import RBAC_KINDS, kubectl, render
from test_operator import Jobs, job, jobs, pool  # noqa: F401  (fixtures)

from harness import operator_running
from portalis_dev import nodes
from portalis_operator import metrics

pytestmark = pytest.mark.integration


@pytest.fixture
def release_namespace(core: Any) -> Iterator[str]:
    ns = f"rbac-rel-{uuid.uuid4().hex[:6]}"
    core.create_namespace({"metadata": {"name": ns, "labels": {"portalis.dev/test": "true"}}})
    yield ns
    core.delete_namespace(ns)


def _kubeconfig(api_client: Any, token: str, path: Path) -> Path:
    conf = api_client.configuration
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {"name": "c", "cluster": {"server": conf.host, "certificate-authority": conf.ssl_ca_cert}}
                ],
                "users": [{"name": "operator", "user": {"token": token}}],
                "contexts": [{"name": "operator", "context": {"cluster": "c", "user": "operator"}}],
                "current-context": "operator",
            }
        )
    )
    return path


def test_the_operator_runs_a_job_with_only_the_charts_rbac_for_its_namespaces(
    jobs: Jobs,  # noqa: F811
    pool: str,  # noqa: F811
    release_namespace: str,
    core: Any,
    api_client: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    release = f"rbac-{uuid.uuid4().hex[:6]}"
    docs = render(release, release_namespace, None, "--set", "operator.watchNamespaces={" + jobs.ns + "}")
    objs = [d for d in docs if d["kind"] in RBAC_KINDS]
    kubectl(
        "apply", "--server-side", "--field-manager=portalis-tests", "-f", "-", stdin=yaml.safe_dump_all(objs)
    )
    cluster_scoped = [
        (d["kind"].lower(), d["metadata"]["name"]) for d in objs if "namespace" not in d["metadata"]
    ]
    in_default = [
        (d["kind"].lower(), d["metadata"]["name"])
        for d in objs
        if d["metadata"].get("namespace") == "default"
    ]
    try:
        (sa,) = [d for d in objs if d["kind"] == "ServiceAccount"]
        token = core.create_namespaced_service_account_token(
            sa["metadata"]["name"], release_namespace, {"spec": {"expirationSeconds": 3600}}
        ).status.token
        monkeypatch.setenv("PORTALIS_OPERATOR_LEADER_ELECTION", "true")  # through the Lease
        monkeypatch.setenv("PORTALIS_OPERATOR_LEASE_NAMESPACE", release_namespace)
        nodes.add_nodes(core, "on-demand", 1, pool=pool)
        jobs.create(job("least", shards=1, gpus=8))
        errors_before = {
            stage: metrics.RECONCILE_ERRORS.labels(stage)._value.get()
            for stage in ("cycle", "pods", "status", "events")
        }
        kubeconfig = _kubeconfig(api_client, token, tmp_path / "operator.kubeconfig")
        with monkeypatch.context() as as_operator:  # only the operator logs in as the ServiceAccount
            as_operator.setenv("KUBECONFIG", str(kubeconfig))
            with operator_running(pool):
                jobs.running_pods("least", 1)
                jobs.complete("least")
                jobs.wait_phase("least", "Succeeded")
        for stage, before in errors_before.items():
            assert metrics.RECONCILE_ERRORS.labels(stage)._value.get() == before, (
                f"{stage} calls were refused"
            )
        coordination = client.CoordinationV1Api(api_client)
        lease = coordination.read_namespaced_lease(f"portalis-{pool}", release_namespace)
        # the operator created the Lease, led, and released it on its way out (a standby takes over at once)
        assert lease.spec.holder_identity is None
        assert lease.spec.lease_duration_seconds == 1
        rbac = client.RbacAuthorizationV1Api(api_client)
        assert rbac.read_namespaced_role("portalis-worker", jobs.ns).rules[0].resources == ["pods"]
        net = client.NetworkingV1Api(api_client)
        assert net.read_namespaced_network_policy("portalis-worker", jobs.ns).spec.policy_types == ["Ingress"]
        assert "Admitted" in jobs.events("least")
    finally:
        for kind, name in cluster_scoped:
            kubectl("delete", kind, name, "--ignore-not-found")
        for kind, name in in_default:
            kubectl("delete", kind, name, "-n", "default", "--ignore-not-found")
