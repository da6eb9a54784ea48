"""The operator (in-process, kopf's KopfRunner) against the real local control plane.

Worker pods run on kwok-simulated DGX nodes, which make them Running but never finish them; the tests
complete a worker by writing its pod status (exit code 0, a progress report), as a kubelet would. The
operator code cannot tell the difference.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from harness import operator_running, wait_for
from portalis_dev import nodes
from portalis_dev.cluster import LocalCluster
from portalis_dev.toolchain import binary

pytestmark = pytest.mark.integration

GROUP, VERSION, PLURAL = "portalis.dev", "v1alpha1", "translationjobs"


@pytest.fixture
def pool(namespace: str, core: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A pool private to the test (named after its namespace) and operator settings pointing at it."""
    monkeypatch.setenv("PORTALIS_OPERATOR_NAMESPACES", json.dumps([namespace]))
    monkeypatch.setenv("PORTALIS_OPERATOR_POOL", namespace)
    monkeypatch.setenv("PORTALIS_OPERATOR_METRICS_PORT", "0")
    monkeypatch.setenv("PORTALIS_OPERATOR_HEALTH_PORT", "0")
    monkeypatch.setenv("PORTALIS_OPERATOR_RESYNC_SECONDS", "0.5")
    monkeypatch.setenv("PORTALIS_OPERATOR_PREEMPTION_MIN_RUNTIME_SECONDS", "0")
    yield namespace
    for n in nodes.list_simulated(core, pool=namespace):
        core.delete_node(n.metadata.name)


def job(name: str, priority: str = "normal", shards: int = 1, gpus: int = 8, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "TranslationJob",
        "metadata": {"name": name},
        "spec": {
            "source": {"configMap": {"name": f"{name}-src"}},
            "output": {"configMap": {"name": f"{name}-out"}},
            "target": {"crateName": name.replace("-", "_")},
            "priority": priority,
            "parallelism": shards,
            "gpusPerWorker": gpus,
            "translation": {"backend": "rules"},
            **spec,
        },
    }


class Jobs:
    """Small client for TranslationJobs and their worker pods in one namespace."""

    def __init__(self, api_client: Any, ns: str) -> None:
        self.custom = client.CustomObjectsApi(api_client)
        self.core = client.CoreV1Api(api_client)
        self.ns = ns

    def create(self, body: dict[str, Any]) -> None:
        self.custom.create_namespaced_custom_object(GROUP, VERSION, self.ns, PLURAL, body)

    def get(self, name: str) -> dict[str, Any]:
        obj: dict[str, Any] = self.custom.get_namespaced_custom_object(GROUP, VERSION, self.ns, PLURAL, name)
        return obj

    def patch_spec(self, name: str, spec: dict[str, Any]) -> None:
        self.custom.patch_namespaced_custom_object(GROUP, VERSION, self.ns, PLURAL, name, {"spec": spec})

    def delete(self, name: str) -> None:
        self.custom.delete_namespaced_custom_object(GROUP, VERSION, self.ns, PLURAL, name)

    def phase(self, name: str) -> str | None:
        phase: str | None = self.get(name).get("status", {}).get("phase")
        return phase

    def wait_phase(self, name: str, *phases: str, timeout: float = 60) -> dict[str, Any]:
        return wait_for(
            lambda: (obj := self.get(name)).get("status", {}).get("phase") in phases and obj,
            timeout=timeout,
            what=f"{name} in phase {phases}",
            describe=lambda: self.get(name).get("status"),
        )

    def pods(self, name: str, live: bool = True) -> list[Any]:
        items = self.core.list_namespaced_pod(self.ns, label_selector=f"portalis.dev/job={name}").items
        if live:
            items = [p for p in items if p.metadata.deletion_timestamp is None]
        return sorted(items, key=lambda p: p.metadata.name)

    def running_pods(self, name: str, count: int) -> list[Any]:
        return wait_for(
            lambda: (
                (ps := self.pods(name))
                and len(ps) == count
                and all(p.status.phase == "Running" for p in ps)
                and ps
            ),
            timeout=60,
            what=f"{count} running worker pod(s) of {name}",
            describe=lambda: [(p.metadata.name, p.status.phase) for p in self.pods(name, live=False)],
        )

    def complete(self, name: str, units: int = 10) -> None:
        """Finish every worker of a job the way a kubelet reports a container that exited 0."""
        for p in self.pods(name):
            report = {"unitsTotal": units, "unitsDone": units, "unitsFailed": 0}
            self.core.patch_namespaced_pod(
                p.metadata.name,
                self.ns,
                {"metadata": {"annotations": {"portalis.dev/progress": json.dumps(report)}}},
            )
            self.core.patch_namespaced_pod_status(
                p.metadata.name,
                self.ns,
                {
                    "status": {
                        "phase": "Succeeded",
                        "containerStatuses": [
                            {
                                "name": "worker",
                                "image": p.spec.containers[0].image,
                                "imageID": "",
                                "ready": False,
                                "restartCount": 0,
                                "state": {
                                    "terminated": {
                                        "exitCode": 0,
                                        "reason": "Completed",
                                        "startedAt": p.status.start_time.isoformat(),
                                        "finishedAt": p.status.start_time.isoformat(),
                                    }
                                },
                            }
                        ],
                    }
                },
            )

    def events(self, name: str) -> list[str]:
        items = self.core.list_namespaced_event(self.ns, field_selector=f"involvedObject.name={name}").items
        return [e.reason for e in items]


@pytest.fixture
def jobs(api_client: Any, namespace: str, crds: list[str]) -> Jobs:
    return Jobs(api_client, namespace)


def test_mixed_priorities_are_admitted_in_priority_order(jobs: Jobs, core: Any, pool: str) -> None:
    nodes.add_nodes(core, "on-demand", 1, pool=pool)
    jobs.create(job("low-a", "low"))
    jobs.create(job("high-b", "high"))
    jobs.create(job("normal-c", "normal"))
    with operator_running(pool):
        jobs.running_pods("high-b", 1)
        low = jobs.wait_phase("low-a", "Queued")
        normal = jobs.wait_phase("normal-c", "Queued")
        wait_for(lambda: jobs.get("low-a")["status"]["queue"].get("position") == 2, what="low-a second")
        assert normal["status"]["queue"]["position"] == 1
        assert low["status"]["queue"]["reason"] in ("InsufficientCapacity", "WaitingForHigherPriority")
        assert jobs.pods("low-a") == []

        jobs.complete("high-b")
        done = jobs.wait_phase("high-b", "Succeeded")
        assert done["status"]["progress"]["percent"] == 100
        jobs.running_pods("normal-c", 1)
        assert jobs.phase("low-a") == "Queued"
        jobs.complete("normal-c")
        jobs.running_pods("low-a", 1)
        jobs.complete("low-a")
        jobs.wait_phase("low-a", "Succeeded")
    assert {"Queued", "Admitted", "Running", "Succeeded"} <= set(jobs.events("low-a"))
    order = [jobs.get(n)["status"]["admittedAt"] for n in ("high-b", "normal-c", "low-a")]
    assert order == sorted(order)


def test_a_critical_job_preempts_a_low_one_which_requeues_and_completes(
    jobs: Jobs, core: Any, pool: str
) -> None:
    nodes.add_nodes(core, "on-demand", 1, pool=pool)
    with operator_running(pool):
        jobs.create(job("low", "low", shards=2, gpus=4))
        [first, _] = jobs.running_pods("low", 2)
        jobs.create(job("urgent", "critical", shards=1, gpus=8))
        jobs.running_pods("urgent", 1)
        low = jobs.get("low")
        assert low["status"]["phase"] in ("Preempted", "Queued")
        assert "Preempted" in jobs.events("low")
        assert all(p.metadata.uid != first.metadata.uid for p in jobs.pods("low"))

        jobs.complete("urgent")
        jobs.wait_phase("urgent", "Succeeded")
        jobs.running_pods("low", 2)
        jobs.complete("low")
        jobs.wait_phase("low", "Succeeded")
    assert "Requeued" in jobs.events("low")


def test_suspend_stops_workers_and_resume_brings_them_back(jobs: Jobs, core: Any, pool: str) -> None:
    nodes.add_nodes(core, "on-demand", 1, pool=pool)
    with operator_running(pool):
        jobs.create(job("pausable", shards=2, gpus=2))
        jobs.running_pods("pausable", 2)
        jobs.patch_spec("pausable", {"suspend": True})
        jobs.wait_phase("pausable", "Suspended")
        wait_for(lambda: jobs.pods("pausable", live=False) == [], what="workers gone while suspended")
        jobs.patch_spec("pausable", {"suspend": False})
        jobs.running_pods("pausable", 2)
        jobs.complete("pausable")
        jobs.wait_phase("pausable", "Succeeded")
    assert {"Suspended", "Resumed"} <= set(jobs.events("pausable"))


def test_deleting_a_job_removes_every_worker(jobs: Jobs, core: Any, pool: str) -> None:
    nodes.add_nodes(core, "on-demand", 1, pool=pool)
    with operator_running(pool):
        jobs.create(job("doomed", shards=3, gpus=2))
        jobs.running_pods("doomed", 3)
        jobs.delete("doomed")
        wait_for(lambda: jobs.pods("doomed", live=False) == [], timeout=60, what="workers garbage-collected")
    with pytest.raises(ApiException):
        jobs.get("doomed")


def test_a_restarted_operator_continues_without_duplicating_pods(jobs: Jobs, core: Any, pool: str) -> None:
    nodes.add_nodes(core, "on-demand", 1, pool=pool)
    with operator_running(pool):
        jobs.create(job("first", shards=2, gpus=2))
        pods_before = jobs.running_pods("first", 2)
    # Operator down: new work arrives, running work finishes.
    jobs.create(job("second", shards=2, gpus=2))
    jobs.complete("first")
    with operator_running(pool):
        jobs.wait_phase("first", "Succeeded")
        jobs.running_pods("second", 2)
        jobs.complete("second")
        jobs.wait_phase("second", "Succeeded")
    assert [p.metadata.uid for p in jobs.pods("first")] == [p.metadata.uid for p in pods_before]
    assert len(jobs.pods("second", live=False)) == 2


def test_jobs_that_cannot_fit_wait_with_a_reason_and_get_no_pods(jobs: Jobs, core: Any, pool: str) -> None:
    nodes.add_nodes(core, "on-demand", 1, pool=pool)
    with operator_running(pool):
        jobs.create(job("too-big", shards=2, gpus=8))
        status = wait_for(
            lambda: jobs.get("too-big").get("status", {}).get("queue", {}).get("reason"),
            what="a queue reason",
        )
        assert status in ("ExceedsPoolCapacity", "InsufficientCapacity")
        assert jobs.pods("too-big", live=False) == []


def test_kubectl_get_shows_phase_priority_and_progress(
    cluster: LocalCluster, jobs: Jobs, core: Any, pool: str
) -> None:
    nodes.add_nodes(core, "on-demand", 1, pool=pool)
    with operator_running(pool):
        jobs.create(job("visible", "high", shards=1, gpus=1))
        jobs.running_pods("visible", 1)
        jobs.complete("visible")
        jobs.wait_phase("visible", "Succeeded")
    import os

    out = subprocess.run(
        [str(binary("kubectl")), "get", "tj", "-n", jobs.ns],
        capture_output=True,
        text=True,
        env={**os.environ, **cluster.env()},
        check=True,
    ).stdout
    header, row = out.splitlines()[:2]
    for column in ("PHASE", "PRIORITY", "PROGRESS", "WORKERS", "RECOVERIES", "AGE"):
        assert column in header
    assert "Succeeded" in row
    assert "high" in row
    assert "100" in row


def test_a_job_on_an_output_path_in_use_waits_for_the_job_that_holds_it(
    jobs: Jobs, core: Any, pool: str
) -> None:
    # Issue 13, item 10: two live jobs writing to one output path clobbered each other's crate and ledger.
    nodes.add_nodes(core, "on-demand", 1, pool=pool)  # room for both: capacity is not the reason

    def output(path: str) -> dict[str, Any]:
        return {"persistentVolumeClaim": {"claimName": "crates", "path": path}}

    with operator_running(pool):
        jobs.create(job("holder", gpus=4, output=output("/team")))
        jobs.wait_phase("holder", "Admitted", "Running")
        jobs.create(job("inside", gpus=4, output=output("/team/app")))
        jobs.create(job("beside", gpus=4, output=output("/teammate")))
        wait_for(
            lambda: (
                (jobs.get("inside").get("status", {}).get("queue") or {}).get("reason") == "OutputPathInUse"
            ),
            what="inside waiting with OutputPathInUse",
            describe=lambda: jobs.get("inside").get("status"),
        )
        jobs.wait_phase("beside", "Admitted", "Running")  # a name prefix is not a parent directory
        assert jobs.pods("inside") == []
        assert "OutputPathInUse" in jobs.events("inside")
        jobs.delete("holder")
        wait_for(lambda: jobs.pods("inside"), what="inside admitted once the holder is gone")
