"""status.result on the real local control plane (issue 16), with the operator in-process.

Worker pods run on kwok-simulated nodes; a test finishes a worker the way the real one does: the result
annotation first (only the shard that assembled the crate has one), then the pod status a kubelet writes.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client

from harness import operator_running, wait_for
from portalis_dev import nodes
from portalis_dev.cluster import LocalCluster
from portalis_dev.toolchain import binary
from portalis_worker.protocol import PROGRESS_ANNOTATION, RESULT_ANNOTATION, ResultReport, WorkerExit

pytestmark = pytest.mark.integration

GROUP, VERSION, PLURAL = "portalis.dev", "v1alpha1", "translationjobs"
DIGEST = "sha256:" + "0f" * 32
FAILURES = [
    {
        "path": "shopkit/a.py",
        "unit": f"f{i}",
        "reason": "unsupported" if i % 2 else "dependency",
        "message": "m",
    }
    for i in range(7)
]
REPORT = {
    "crate": "shopkit",
    "files": 21,
    "units": {"total": 205, "translated": 198, "failed": 7, "verified": 50, "mismatch": 0, "compiled": 148},
    "failures": FAILURES,
}


@pytest.fixture
def pool(namespace: str, core: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("PORTALIS_OPERATOR_NAMESPACES", json.dumps([namespace]))
    monkeypatch.setenv("PORTALIS_OPERATOR_POOL", namespace)
    monkeypatch.setenv("PORTALIS_OPERATOR_METRICS_PORT", "0")
    monkeypatch.setenv("PORTALIS_OPERATOR_HEALTH_PORT", "0")
    monkeypatch.setenv("PORTALIS_OPERATOR_RESYNC_SECONDS", "0.5")
    nodes.add_nodes(core, "on-demand", 1, pool=namespace)
    yield namespace
    for n in nodes.list_simulated(core, pool=namespace):
        core.delete_node(n.metadata.name)


def job(name: str, shards: int) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "TranslationJob",
        "metadata": {"name": name},
        "spec": {
            "source": {"configMap": {"name": f"{name}-src"}},
            "output": {"configMap": {"name": f"{name}-out"}},  # no PVC: kwok pods would wait for it
            "target": {"crateName": "shopkit"},
            "parallelism": shards,
            "gpusPerWorker": 1,
            "translation": {"backend": "rules"},
        },
    }


def finish_pod(core: Any, ns: str, pod: Any, exit_code: int, annotations: dict[str, str]) -> None:
    """What the worker and its kubelet write: annotations, then the terminated container."""
    core.patch_namespaced_pod(pod.metadata.name, ns, {"metadata": {"annotations": annotations}})
    started = pod.status.start_time.isoformat()
    core.patch_namespaced_pod_status(
        pod.metadata.name,
        ns,
        {
            "status": {
                "phase": "Succeeded" if exit_code == 0 else "Failed",
                "containerStatuses": [
                    {
                        "name": "worker",
                        "image": pod.spec.containers[0].image,
                        "imageID": "",
                        "ready": False,
                        "restartCount": 0,
                        "state": {
                            "terminated": {
                                "exitCode": exit_code,
                                "reason": "Completed" if exit_code == 0 else "Error",
                                "startedAt": started,
                                "finishedAt": started,
                            }
                        },
                    }
                ],
            }
        },
    )


class Cluster:
    def __init__(self, api_client: Any, ns: str) -> None:
        self.custom = client.CustomObjectsApi(api_client)
        self.core = client.CoreV1Api(api_client)
        self.ns = ns

    def get(self, name: str) -> dict[str, Any]:
        obj: dict[str, Any] = self.custom.get_namespaced_custom_object(GROUP, VERSION, self.ns, PLURAL, name)
        return obj

    def running_pods(self, name: str, count: int) -> list[Any]:
        def ready() -> list[Any] | None:
            items = self.core.list_namespaced_pod(self.ns, label_selector=f"portalis.dev/job={name}").items
            live = sorted(items, key=lambda p: p.metadata.name)
            ok = len(live) == count and all(p.status.phase == "Running" for p in live)
            return live if ok else None

        return wait_for(
            ready,
            timeout=60,
            what=f"{count} running worker pod(s) of {name}",
            describe=lambda: [
                (p.metadata.name, p.status.phase, p.spec.node_name)
                for p in self.core.list_namespaced_pod(self.ns).items
            ],
        )

    def finished(self, name: str) -> dict[str, Any]:
        return wait_for(
            lambda: (o := self.get(name)).get("status", {}).get("phase") in ("Succeeded", "Failed") and o,
            timeout=60,
            what=f"{name} finished",
            describe=lambda: self.get(name).get("status"),
        )


@pytest.fixture
def jobs(api_client: Any, namespace: str, crds: list[str]) -> Cluster:
    return Cluster(api_client, namespace)


def progress(total: int, done: int, failed: int = 0) -> str:
    return json.dumps({"unitsTotal": total, "unitsDone": done, "unitsFailed": failed})


def kubectl(cluster: LocalCluster, *args: str) -> str:
    return subprocess.run(
        [str(binary("kubectl")), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **cluster.env()},
        check=True,
    ).stdout


def test_a_succeeded_job_shows_the_reported_result(cluster: LocalCluster, jobs: Cluster, pool: str) -> None:
    result = ResultReport.from_translation_report(REPORT, DIGEST, 31, True).encode()
    with operator_running(pool):
        jobs.custom.create_namespaced_custom_object(GROUP, VERSION, jobs.ns, PLURAL, job("ok", 2))
        first, second = jobs.running_pods("ok", 2)
        # shard 0 finished first and did not assemble; a hostile writer stuffed junk in its annotation
        junk = json.dumps({**json.loads(result), "examples": [["x" * 10_000, "u", "r", ""]]})
        finish_pod(
            jobs.core, jobs.ns, first, 0, {PROGRESS_ANNOTATION: progress(100, 97, 3), RESULT_ANNOTATION: junk}
        )
        finish_pod(
            jobs.core,
            jobs.ns,
            second,
            0,
            {PROGRESS_ANNOTATION: progress(105, 101, 4), RESULT_ANNOTATION: result},
        )
        final = jobs.finished("ok")
    assert final["status"]["phase"] == "Succeeded"
    got = final["status"]["result"]
    assert got["reported"] is True
    assert got["summary"] == "198/205 units translated, 7 failed; the crate builds"
    assert got["output"] == "configmap://ok-out"
    assert got["units"] == {
        "total": 205,
        "translated": 198,
        "compiled": 148,
        "verified": 50,
        "mismatched": 0,
        "failed": 7,
    }
    assert got["failureReasons"] == [
        {"reason": "dependency", "count": 4},
        {"reason": "unsupported", "count": 3},
    ]
    assert [(f["file"], f["unit"], f["reason"]) for f in got["failures"]] == [
        ("shopkit/a.py", f"f{i}", FAILURES[i]["reason"]) for i in range(5)
    ]
    assert got["failuresTruncated"] is True
    assert got["crate"] == {"name": "shopkit", "digest": DIGEST, "files": 31, "builds": True}

    described = kubectl(cluster, "describe", "tj", "ok", "-n", jobs.ns)
    assert "198/205 units translated, 7 failed; the crate builds" in described
    assert DIGEST in described
    wide = kubectl(cluster, "get", "tj", "ok", "-n", jobs.ns, "-o", "wide")
    header, row = wide.splitlines()[:2]
    assert {"TRANSLATED", "FAILED", "RESULT"} <= set(header.split())
    assert " 198 " in row
    assert " 7 " in row


def test_a_failed_job_shows_what_its_workers_had_done(jobs: Cluster, pool: str) -> None:
    with operator_running(pool):
        jobs.custom.create_namespaced_custom_object(GROUP, VERSION, jobs.ns, PLURAL, job("bad", 1))
        (only,) = jobs.running_pods("bad", 1)
        finish_pod(
            jobs.core, jobs.ns, only, int(WorkerExit.CONFIG), {PROGRESS_ANNOTATION: progress(40, 12, 1)}
        )
        final = jobs.finished("bad")
    assert final["status"]["phase"] == "Failed"
    got = final["status"]["result"]
    assert got["reported"] is False
    assert got["units"] == {"total": 40, "translated": 12, "failed": 1}
    assert "crate" not in got
    assert "output" not in got
    assert got["summary"] == "failed with no crate reported: 12/40 units translated"
