"""The local control plane is the real thing: real scheduler, controller-manager, API server validation."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from harness import pod, wait_for
from portalis_dev import nodes
from portalis_dev.cluster import LocalCluster
from portalis_dev.toolchain import binary
from portalis_dev.versions import KUBERNETES

pytestmark = pytest.mark.integration


@pytest.fixture
def pool(namespace: str, core: Any) -> Iterator[str]:
    """A node pool private to one test (named after its namespace); its nodes are removed afterwards."""
    yield namespace
    for n in nodes.list_simulated(core, pool=namespace):
        core.delete_node(n.metadata.name)


def _pinned_to(pool: str) -> dict[str, Any]:
    return {"nodeSelector": {nodes.POOL_LABEL: pool}}


def _events(core: Any, ns: str, name: str) -> list[Any]:
    return list(core.list_namespaced_event(ns, field_selector=f"involvedObject.name={name}").items)


def test_gpu_pod_is_bound_to_a_dgx_node_and_runs(core: Any, namespace: str, pool: str) -> None:
    [node] = nodes.add_nodes(core, "on-demand", 1, pool=pool)
    wait_for(lambda: _ready(core, node), what=f"node {node} Ready")
    core.create_namespaced_pod(namespace, pod("two-gpus", gpus=2, **_pinned_to(pool)))

    def running() -> Any:
        p = core.read_namespaced_pod("two-gpus", namespace)
        return p if p.status.phase == "Running" else None

    p = wait_for(running, timeout=60, what="pod two-gpus Running")
    assert p.spec.node_name == node
    allocatable = core.read_node(node).status.allocatable
    assert allocatable["nvidia.com/gpu"] == "8"


def test_pod_asking_more_gpus_than_a_node_has_stays_pending(core: Any, namespace: str, pool: str) -> None:
    [node] = nodes.add_nodes(core, "on-demand", 1, pool=pool)
    wait_for(lambda: _ready(core, node), what=f"node {node} Ready")
    core.create_namespaced_pod(namespace, pod("nine-gpus", gpus=9, **_pinned_to(pool)))
    events = wait_for(
        lambda: [e for e in _events(core, namespace, "nine-gpus") if e.reason == "FailedScheduling"],
        timeout=60,
        what="FailedScheduling event",
    )
    assert "nvidia.com/gpu" in events[0].message
    p = core.read_namespaced_pod("nine-gpus", namespace)
    assert p.status.phase == "Pending"
    assert p.spec.node_name is None


def test_spot_taint_keeps_pods_without_toleration_off_spot_nodes(
    core: Any, namespace: str, pool: str
) -> None:
    [spot] = nodes.add_nodes(core, "spot", 1, pool=pool)
    wait_for(lambda: _ready(core, spot), what=f"node {spot} Ready")
    core.create_namespaced_pod(namespace, pod("intolerant", gpus=1, **_pinned_to(pool)))
    toleration = {"key": nodes.SPOT_TAINT_KEY, "operator": "Equal", "value": "true", "effect": "NoSchedule"}
    core.create_namespaced_pod(
        namespace, pod("tolerant", gpus=1, tolerations=[toleration], **_pinned_to(pool))
    )

    landed = wait_for(
        lambda: core.read_namespaced_pod("tolerant", namespace).spec.node_name,
        timeout=60,
        what="tolerant pod bound",
    )
    assert landed == spot
    events = wait_for(
        lambda: [e for e in _events(core, namespace, "intolerant") if e.reason == "FailedScheduling"],
        timeout=60,
        what="FailedScheduling for the intolerant pod",
    )
    assert "untolerated taint" in events[0].message
    assert core.read_namespaced_pod("intolerant", namespace).spec.node_name is None


def test_deployment_makes_pods_and_deleting_it_collects_them(
    api_client: Any, core: Any, namespace: str, pool: str
) -> None:
    nodes.add_nodes(core, "on-demand", 1, pool=pool)
    apps = client.AppsV1Api(api_client)
    labels = {"app": "web"}
    apps.create_namespaced_deployment(
        namespace,
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": labels},
                "template": {"metadata": {"labels": labels}, "spec": pod("x", **_pinned_to(pool))["spec"]},
            },
        },
    )

    def running_pods() -> list[Any]:
        items = core.list_namespaced_pod(namespace, label_selector="app=web").items
        return items if len(items) == 2 and all(p.status.phase == "Running" for p in items) else []

    pods = wait_for(running_pods, timeout=90, what="2 running pods of the Deployment")
    assert all(p.metadata.owner_references[0].kind == "ReplicaSet" for p in pods)

    apps.delete_namespaced_deployment("web", namespace, propagation_policy="Background")
    wait_for(
        lambda: (
            not core.list_namespaced_pod(namespace, label_selector="app=web").items
            and not apps.list_namespaced_replica_set(namespace).items
        ),
        timeout=90,
        what="garbage collection of the ReplicaSet and pods",
    )


def test_server_side_dry_run_validates_without_persisting(
    cluster: LocalCluster, core: Any, namespace: str
) -> None:
    kubectl = str(binary("kubectl"))
    env = {**os.environ, **cluster.env()}
    manifest = json.dumps(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "dry"}, "data": {"a": "1"}}
    )
    ok = subprocess.run(
        [kubectl, "apply", "--dry-run=server", "-n", namespace, "-f", "-"],
        input=manifest,
        capture_output=True,
        text=True,
        env=env,
    )
    assert ok.returncode == 0, ok.stderr
    assert "(server dry run)" in ok.stdout
    with pytest.raises(ApiException) as missing:
        core.read_namespaced_config_map("dry", namespace)
    assert missing.value.status == 404

    bad = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Not_A_Name"}})
    refused = subprocess.run(
        [kubectl, "apply", "--dry-run=server", "-n", namespace, "-f", "-"],
        input=bad,
        capture_output=True,
        text=True,
        env=env,
    )
    assert refused.returncode != 0
    assert "metadata.name" in refused.stderr


def test_versions_are_the_pinned_release(cluster: LocalCluster, api_client: Any) -> None:
    info = client.VersionApi(api_client).get_code()
    assert info.git_version == KUBERNETES
    out = subprocess.run(
        [str(binary("kubectl")), "version", "-o", "json"],
        capture_output=True,
        text=True,
        env={**os.environ, **cluster.env()},
    )
    assert out.returncode == 0, out.stderr
    versions = json.loads(out.stdout)
    assert versions["clientVersion"]["gitVersion"] == KUBERNETES
    assert versions["serverVersion"]["gitVersion"] == KUBERNETES


def _ready(core: Any, name: str) -> bool:
    conds = core.read_node(name).status.conditions or []
    return any(c.type == "Ready" and c.status == "True" for c in conds)
