"""The autoscaler and spot recovery wired into the operator, against the real local control plane.

Each test owns a GPUPool named after its namespace (kwok provider unless it says otherwise) with short
delays and cooldowns so that scaling happens in seconds. kwok makes bound worker pods Running; tests
complete workers by writing pod status, as in test_operator.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kubernetes import client
from test_operator import Jobs, job

from harness import operator_running, wait_for
from portalis_dev import nodes

pytestmark = pytest.mark.integration

GROUP, VERSION = "portalis.dev", "v1alpha1"
CAPI_GROUP, CAPI_VERSION = "cluster.x-k8s.io", "v1beta1"
FAST_UP = {"step": 2, "delaySeconds": 0, "cooldownSeconds": 1}
NO_DOWN = {"idleSeconds": 3600, "cooldownSeconds": 3600}


@pytest.fixture
def jobs(api_client: Any, namespace: str, crds: list[str]) -> Jobs:
    return Jobs(api_client, namespace)


@pytest.fixture
def make_pool(
    namespace: str, api_client: Any, core: Any, crds: list[str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., str]]:
    """Creates the test's GPUPool (named after the namespace) and points the operator at it."""
    custom = client.CustomObjectsApi(api_client)
    monkeypatch.setenv("PORTALIS_OPERATOR_NAMESPACES", json.dumps([namespace]))
    monkeypatch.setenv("PORTALIS_OPERATOR_POOL", namespace)
    monkeypatch.setenv("PORTALIS_OPERATOR_METRICS_PORT", "0")
    monkeypatch.setenv("PORTALIS_OPERATOR_HEALTH_PORT", "0")
    monkeypatch.setenv("PORTALIS_OPERATOR_RESYNC_SECONDS", "0.5")

    def create(provider: dict[str, Any] | None = None, **spec: Any) -> str:
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "GPUPool",
            "metadata": {"name": namespace},
            "spec": {"provider": provider or {"type": "kwok"}, **spec},
        }
        custom.create_cluster_custom_object(GROUP, VERSION, "gpupools", body)
        return namespace

    yield create
    try:
        custom.delete_cluster_custom_object(GROUP, VERSION, "gpupools", namespace)
    except client.ApiException as exc:
        if exc.status != 404:
            raise
    for n in core.list_node(label_selector=f"portalis.dev/pool={namespace}").items:
        try:
            core.delete_node(n.metadata.name)
        except client.ApiException as exc:
            if exc.status != 404:
                raise


def pool_nodes(core: Any, pool: str) -> list[Any]:
    items = core.list_node(label_selector=f"portalis.dev/pool={pool}").items
    return [n for n in items if n.metadata.deletion_timestamp is None]


def by_type(core: Any, pool: str) -> dict[str, int]:
    out = {"spot": 0, "on-demand": 0}
    for n in pool_nodes(core, pool):
        out[n.metadata.labels["karpenter.sh/capacity-type"]] += 1
    return out


def pool_events(core: Any, pool: str) -> list[Any]:
    items = core.list_namespaced_event("default", field_selector=f"involvedObject.name={pool}").items
    return [e for e in items if e.involved_object.kind == "GPUPool"]


def node_type(core: Any, name: str) -> str:
    label: str = core.read_node(name).metadata.labels["karpenter.sh/capacity-type"]
    return label


def test_pool_grows_in_steps_to_cover_queued_demand_then_shrinks_after_cooldown(
    jobs: Jobs, core: Any, api_client: Any, make_pool: Callable[..., str]
) -> None:
    pool = make_pool(scaleUp=FAST_UP, scaleDown={"step": 1, "idleSeconds": 1, "cooldownSeconds": 2})
    nodes.add_nodes(core, "on-demand", 1, pool=pool)
    names = [f"w{i}" for i in range(5)]
    for n in names:  # 5 x 8 GPUs = 40 GPUs of demand on a one-node pool
        jobs.create(job(n, shards=1, gpus=8))
    seen: list[int] = []

    def all_running() -> bool:
        seen.append(len(pool_nodes(core, pool)))
        return all(jobs.phase(n) == "Running" for n in names)

    with operator_running(pool):
        wait_for(all_running, timeout=120, what="every job running", describe=lambda: by_type(core, pool))
        counts = by_type(core, pool)
        assert sum(counts.values()) == 5
        assert counts["spot"] / 5 >= 0.6  # 4 of 5: the nearest split to 75% spot with one on-demand
        assert max(seen) <= 10
        ups = [e for e in pool_events(core, pool) if e.reason == "ScaledUp"]
        assert len(ups) >= 2  # step 2: 1 -> 3 -> 5
        status = client.CustomObjectsApi(api_client).get_cluster_custom_object(
            GROUP, VERSION, "gpupools", pool
        )["status"]
        assert status["desired"] == {"spot": 4, "onDemand": 1}
        assert status["gpus"]["total"] == 40
        assert status["lastScaleUpTime"]

        for n in names:
            jobs.complete(n)
        for n in names:
            jobs.wait_phase(n, "Succeeded")
        wait_for(
            lambda: by_type(core, pool) == {"spot": 0, "on-demand": 1},
            timeout=120,
            what="pool back to one on-demand node",
            describe=lambda: by_type(core, pool),
        )
    assert any(e.reason == "ScaledDown" for e in pool_events(core, pool))
    done = jobs.get("w0")["status"]["cost"]
    assert done["gpuSecondsSpot"] + done["gpuSecondsOnDemand"] >= 0


def test_deleting_a_spot_node_moves_the_worker_and_falls_back_to_on_demand(
    jobs: Jobs, core: Any, make_pool: Callable[..., str]
) -> None:
    pool = make_pool(scaleUp={"delaySeconds": 3600}, scaleDown=NO_DOWN)
    nodes.add_nodes(core, "spot", 2, pool=pool)
    nodes.add_nodes(core, "on-demand", 1, pool=pool)
    jobs.create(job("survivor", shards=1, gpus=8, recovery={"onDemandAfterReclaims": 2}))
    with operator_running(pool):
        [first] = jobs.running_pods("survivor", 1)
        assert node_type(core, first.spec.node_name) == "spot"
        core.delete_node(first.spec.node_name)
        second = wait_for(
            lambda: (
                (ps := jobs.running_pods("survivor", 1))
                and ps[0].metadata.uid != first.metadata.uid
                and ps[0].spec.node_name != first.spec.node_name
                and ps[0]
            ),
            timeout=60,
            what="a replacement pod on another node",
        )
        status = jobs.get("survivor")["status"]
        assert status["recoveries"]["reclaims"] == 1
        assert "Reclaimed" in jobs.events("survivor")
        if node_type(core, second.spec.node_name) == "spot":  # 2nd reclaim: now on-demand only
            core.delete_node(second.spec.node_name)
            wait_for(
                lambda: (
                    (ps := jobs.running_pods("survivor", 1))
                    and ps[0].metadata.uid != second.metadata.uid
                    and ps[0]
                ),
                timeout=60,
                what="a second replacement",
            )
            assert jobs.get("survivor")["status"]["recoveries"]["reclaims"] == 2
            [third] = jobs.running_pods("survivor", 1)
            assert node_type(core, third.spec.node_name) == "on-demand"
        jobs.complete("survivor")
        jobs.wait_phase("survivor", "Succeeded")
    assert jobs.get("survivor")["status"]["recoveries"].get("errorRetries", 0) == 0


def test_after_the_configured_reclaims_a_shard_runs_on_demand(
    jobs: Jobs, core: Any, make_pool: Callable[..., str]
) -> None:
    pool = make_pool(scaleUp={"delaySeconds": 3600}, scaleDown=NO_DOWN)
    nodes.add_nodes(core, "spot", 3, pool=pool)
    nodes.add_nodes(core, "on-demand", 1, pool=pool)
    jobs.create(
        job("flaky", shards=1, gpus=8, capacity={"spot": "preferred"}, recovery={"onDemandAfterReclaims": 1})
    )
    with operator_running(pool):
        [first] = jobs.running_pods("flaky", 1)
        assert node_type(core, first.spec.node_name) == "spot"
        core.delete_node(first.spec.node_name)
        replacement = wait_for(
            lambda: (
                (ps := jobs.running_pods("flaky", 1)) and ps[0].metadata.uid != first.metadata.uid and ps[0]
            ),
            timeout=60,
            what="replacement",
        )
        assert node_type(core, replacement.spec.node_name) == "on-demand"
        worker = jobs.get("flaky")["status"]["workers"][0]
        assert worker["capacityType"] == "on-demand"


def test_an_interruption_taint_drains_the_node_gracefully(
    jobs: Jobs, core: Any, make_pool: Callable[..., str]
) -> None:
    pool = make_pool(scaleUp={"delaySeconds": 3600}, scaleDown=NO_DOWN)
    nodes.add_nodes(core, "spot", 2, pool=pool)
    nodes.add_nodes(core, "on-demand", 1, pool=pool)
    jobs.create(job("drained", shards=1, gpus=8))
    with operator_running(pool):
        [first] = jobs.running_pods("drained", 1)
        core.patch_node(
            first.spec.node_name,
            {"spec": {"taints": [{"key": "portalis.dev/reclaim", "value": "true", "effect": "NoSchedule"}]}},
        )
        wait_for(
            lambda: (
                (ps := jobs.running_pods("drained", 1))
                and ps[0].metadata.uid != first.metadata.uid
                and ps[0].spec.node_name != first.spec.node_name
            ),
            timeout=90,
            what="a replacement off the tainted node",
        )
        status = jobs.get("drained")["status"]
        assert status["recoveries"]["reclaims"] == 1
    msgs = [
        e.message
        for e in core.list_namespaced_event(jobs.ns, field_selector="involvedObject.name=drained").items
        if e.reason == "Reclaimed"
    ]
    assert any("interruption notice" in m for m in msgs)
    assert core.read_node(first.spec.node_name)  # the node itself is left to its provider


def test_cluster_api_machine_deployments_follow_the_autoscaler(
    jobs: Jobs,
    core: Any,
    api_client: Any,
    namespace: str,
    capi_crds: list[str],
    make_pool: Callable[..., str],
) -> None:
    custom = client.CustomObjectsApi(api_client)
    for suffix, replicas in (("spot", 0), ("od", 1)):
        custom.create_namespaced_custom_object(
            CAPI_GROUP,
            CAPI_VERSION,
            namespace,
            "machinedeployments",
            {
                "apiVersion": f"{CAPI_GROUP}/{CAPI_VERSION}",
                "kind": "MachineDeployment",
                "metadata": {"name": f"md-{suffix}"},
                "spec": {"clusterName": "dgx", "replicas": replicas},
            },
        )
    provider = {
        "type": "clusterAPI",
        "clusterAPI": {
            "namespace": namespace,
            "spotMachineDeployment": "md-spot",
            "onDemandMachineDeployment": "md-od",
        },
    }
    pool = make_pool(provider, scaleUp=FAST_UP, scaleDown=NO_DOWN)
    nodes.add_nodes(core, "on-demand", 1, pool=pool)  # the node md-od's one machine brought up

    def replicas(suffix: str) -> int:
        md = custom.get_namespaced_custom_object(
            CAPI_GROUP, CAPI_VERSION, namespace, "machinedeployments", f"md-{suffix}"
        )
        return int(md["spec"].get("replicas", 0))

    jobs.create(job("one", shards=1, gpus=8))
    jobs.create(job("two", shards=1, gpus=8))
    jobs.create(job("three", shards=1, gpus=8))
    with operator_running(pool):
        wait_for(lambda: replicas("spot") == 2, timeout=60, what="spot MachineDeployment scaled to 2")
        assert replicas("od") == 1
        # no Cluster API controller runs: no machines appear, and the operator does not ask twice
        wait_for(lambda: pool_events(core, pool), timeout=10, what="a scale event on the GPUPool")
        assert replicas("spot") == 2
