"""The Kueue side of benchmarks/operator_admission.py: the same jobs, capacity and submission through Kueue.

On the control plane the benchmark already runs, with the same simulated DGX pool: Kueue's manager
(portalis_dev.kueue) with a ResourceFlavor for the pool's nodes, a ClusterQueue whose nominal quota is the
pool's GPU capacity, and a LocalQueue; then N suspended batch/v1 Jobs (1 pod x 1 GPU, the queue-name label)
created from as many threads as the TranslationJobs. Kueue admits each Job's Workload and unsuspends the
Job; the controller-manager's Job controller then creates its pod. Timed per job from its create call:
Workload admitted (the Admitted condition, seen by a watch) and its pod seen by a watch. Kueue is stopped
before this returns, so it does not compete with what runs next.
"""

from __future__ import annotations

import contextlib
import json
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from kubernetes import client

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "localcluster" / "src"))
sys.path.insert(0, str(REPO / "benchmarks"))

import apiserver_requests  # noqa: E402
from first_seen import FirstSeen  # noqa: E402

from portalis_dev import kueue  # noqa: E402
from portalis_dev.cluster import LocalCluster  # noqa: E402
from portalis_dev.demo import wait_until  # noqa: E402
from portalis_dev.nodes import GPU_RESOURCE, POOL_LABEL  # noqa: E402

JOB_NAME_LABEL = "batch.kubernetes.io/job-name"  # the Job controller's label on the pods it creates


def admitted_job(workload: dict[str, Any]) -> str | None:
    """The name of the Job a Workload belongs to, once the Workload is Admitted."""
    conditions = (workload.get("status") or {}).get("conditions") or []
    if not any(c.get("type") == "Admitted" and c.get("status") == "True" for c in conditions):
        return None
    owners = (workload.get("metadata") or {}).get("ownerReferences") or []
    return next((o["name"] for o in owners if o.get("kind") == "Job"), None)


def pod_job(pod: dict[str, Any]) -> str | None:
    return ((pod.get("metadata") or {}).get("labels") or {}).get(JOB_NAME_LABEL)


def batch_job(i: int, queue: str) -> dict[str, Any]:
    """A suspended Job of one pod with one GPU, as Kueue's Job webhook would have left it."""
    gpu = {GPU_RESOURCE: "1"}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": f"bench-{i:05d}", "labels": {kueue.QUEUE_LABEL: queue}},
        "spec": {
            "suspend": True,
            "parallelism": 1,
            "completions": 1,
            "backoffLimit": 0,
            "template": {
                "metadata": {"labels": {"bench": "kueue"}},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [
                        {
                            "name": "w",
                            "image": "registry.invalid/x",
                            "resources": {"requests": dict(gpu), "limits": dict(gpu)},
                        }
                    ],
                },
            },
        },
    }


def queue_objects(name: str, ns: str, pool: str, gpus: int) -> list[tuple[str, dict[str, Any]]]:
    """(plural, body) of the ResourceFlavor (the pool's nodes), ClusterQueue (the pool's GPUs) and LocalQueue."""
    api = f"{kueue.GROUP}/{kueue.VERSION}"
    return [
        (
            "resourceflavors",
            {
                "apiVersion": api,
                "kind": "ResourceFlavor",
                "metadata": {"name": name},
                "spec": {"nodeLabels": {POOL_LABEL: pool}},
            },
        ),
        (
            "clusterqueues",
            {
                "apiVersion": api,
                "kind": "ClusterQueue",
                "metadata": {"name": name},
                "spec": {
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}},
                    "resourceGroups": [
                        {
                            "coveredResources": [GPU_RESOURCE],
                            "flavors": [
                                {
                                    "name": name,
                                    "resources": [{"name": GPU_RESOURCE, "nominalQuota": str(gpus)}],
                                }
                            ],
                        }
                    ],
                },
            },
        ),
        (
            "localqueues",
            {
                "apiVersion": api,
                "kind": "LocalQueue",
                "metadata": {"name": name, "namespace": ns},
                "spec": {"clusterQueue": name},
            },
        ),
    ]


def _pct(values: list[float], p: int) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def _cq_active(custom: Any, name: str) -> bool:
    cq = custom.get_cluster_custom_object(kueue.GROUP, kueue.VERSION, "clusterqueues", name)
    conditions = (cq.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Active" and c.get("status") == "True" for c in conditions)


def _delete_and_wait(custom: Any, objects: list[tuple[str, dict[str, Any]]]) -> None:
    """Delete the queue objects (LocalQueue first) and wait until they are gone: Kueue, still running,
    lifts its finalizers."""
    for plural, body in reversed(objects):
        meta = body["metadata"]
        scope = (meta["namespace"],) if "namespace" in meta else ()
        args = (kueue.GROUP, kueue.VERSION, *scope, plural, meta["name"])
        delete = (
            custom.delete_namespaced_custom_object
            if "namespace" in meta
            else custom.delete_cluster_custom_object
        )
        get = custom.get_namespaced_custom_object if "namespace" in meta else custom.get_cluster_custom_object
        with contextlib.suppress(client.ApiException):
            delete(*args)

        def gone(get: Callable[..., Any] = get, args: tuple[str, ...] = args) -> bool:
            try:
                get(*args)
            except client.ApiException as exc:
                return exc.status == 404
            return False

        wait_until(gone, 120, f"{plural} {meta['name']} to be deleted")


def kueue_run(
    cluster: LocalCluster,
    api: Any,
    ns: str,
    n: int,
    pool: str,
    gpus: int,
    threads: int,
    qps: float = kueue.RELEASE_QPS,
) -> dict[str, float]:
    """Submit n Jobs through Kueue in namespace `ns` (which must exist) against `gpus` of `pool`.

    Afterwards the Jobs, their pods and Workloads and the queue objects are deleted, and waited for, while
    Kueue still runs (it lifts its finalizers): so the namespace can go, and that deletion does not run
    during whatever is measured next. Then Kueue is stopped."""
    core = client.CoreV1Api(api)
    batch = client.BatchV1Api(api)
    custom = client.CustomObjectsApi(api)
    ext = client.ApiextensionsV1Api(api)
    name = f"{pool}-kueue"
    objects = queue_objects(name, ns, pool, gpus)
    manager = kueue.start(cluster, core, ext, progress=lambda m: print(f"[kueue] {m}", flush=True), qps=qps)
    admitted: FirstSeen | None = None
    pods: FirstSeen | None = None
    started: dict[str, float] = {}
    try:
        for plural, body in objects:
            if "namespace" in body["metadata"]:
                custom.create_namespaced_custom_object(kueue.GROUP, kueue.VERSION, ns, plural, body)
            else:
                custom.create_cluster_custom_object(kueue.GROUP, kueue.VERSION, plural, body)
        wait_until(lambda: _cq_active(custom, name), 120, f"ClusterQueue {name} to be Active")

        def workloads(**kw: Any) -> Any:
            return custom.list_namespaced_custom_object(kueue.GROUP, kueue.VERSION, ns, "workloads", **kw)

        def job_pods(**kw: Any) -> Any:
            return core.list_namespaced_pod(ns, label_selector="bench=kueue", **kw)

        admitted = FirstSeen(workloads, admitted_job)
        pods = FirstSeen(job_pods, pod_job)

        def create(i: int) -> None:
            body = batch_job(i, name)
            started[body["metadata"]["name"]] = time.monotonic()
            batch.create_namespaced_job(ns, body)

        counted = apiserver_requests.read(api)
        t0 = time.monotonic()
        with ThreadPoolExecutor(threads) as executor:
            list(executor.map(create, range(n)))
        submitted = time.monotonic() - t0
        admitted.wait_for(n, 1200, "Workloads admitted")
        pods.wait_for(n, 1200, "Job pods seen")
        rss = manager.peak_rss_mb()
        writes = apiserver_requests.writes_per_item(counted, apiserver_requests.read(api), n)
        admit_lat = [admitted.seen[k] - v for k, v in started.items() if k in admitted.seen]
        pod_lat = [pods.seen[k] - v for k, v in started.items() if k in pods.seen]
        result = {
            "throughput": n / (max(pods.seen.values()) - t0),
            "admitted_throughput": n / (max(admitted.seen.values()) - t0),
            "submit_rate": n / submitted,
            "admitted_p50": _pct(admit_lat, 50),
            "admitted_p99": _pct(admit_lat, 99),
            "p50": _pct(pod_lat, 50),
            "p99": _pct(pod_lat, 99),
            "peak_rss_mb": rss,
            "api_writes_per_job": writes["total"],
            "qps": qps,
        }
        print("API writes per Kueue job: " + rows(writes), flush=True)
    finally:
        for w in (admitted, pods):
            if w is not None:
                w.stop()
        try:
            batch.delete_collection_namespaced_job(
                ns, label_selector=f"{kueue.QUEUE_LABEL}={name}", propagation_policy="Background"
            )

            def all_gone() -> bool:
                listed = custom.list_namespaced_custom_object(kueue.GROUP, kueue.VERSION, ns, "workloads")
                left = core.list_namespaced_pod(ns, label_selector="bench=kueue", _preload_content=False)
                try:
                    left_pods = json.loads(left.data).get("items") or []
                finally:
                    left.release_conn()
                return not listed["items"] and not left_pods

            wait_until(all_gone, 600, "the Jobs' pods and Workloads to be deleted")
            _delete_and_wait(custom, objects)
        finally:
            manager.stop()
    return result


def _qps(qps: float) -> str:
    return f"client QPS {qps:g}" if qps >= 0 else "client rate limit off"


def rows(writes: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.2f}" for k, v in writes.items() if k == "total" or v >= 0.01)


def records(
    kq: dict[str, float], raw: dict[str, float], op: dict[str, float], jobs: int
) -> list[dict[str, Any]]:
    """The Kueue side's result records, each compared with the same run's ceiling and operator."""
    ratio = kq["throughput"] / raw["throughput"]
    return [
        {
            "metric": "kueue_admission_throughput",
            "value": kq["throughput"],
            "unit": "jobs/s",
            "compared_with": f"Kueue v0.17.0 ({_qps(kq['qps'])}), Jobs created -> pods seen; raw ceiling {raw['throughput']:.1f} pods/s "
            f"(ratio {ratio:.2f}); our operator {op['throughput']:.1f} jobs/s "
            f"(ratio {op['throughput'] / raw['throughput']:.2f}), same run",
        },
        {
            "metric": "kueue_admission_to_raw_ratio",
            "value": ratio,
            "unit": "ratio",
            "compared_with": f"our operator {op['throughput'] / raw['throughput']:.2f}, same run",
        },
        {
            "metric": "kueue_workload_admitted_throughput",
            "value": kq["admitted_throughput"],
            "unit": "workloads/s",
            "compared_with": "Kueue's own step only (Workload Admitted), before the Job controller makes the pod; "
            "Kueue's perf test ~42 workloads/s",
        },
        {
            "metric": "kueue_create_to_admitted_p50",
            "value": kq["admitted_p50"],
            "unit": "s",
            "compared_with": f"p99 {kq['admitted_p99']:.3f} s",
        },
        {
            "metric": "kueue_create_to_admitted_p99",
            "value": kq["admitted_p99"],
            "unit": "s",
            "compared_with": f"our operator's create -> pod p99 {op['p99']:.3f} s, same run",
        },
        {
            "metric": "kueue_create_to_pod_p50",
            "value": kq["p50"],
            "unit": "s",
            "compared_with": f"our operator {op['p50']:.3f} s; raw {raw['p50']:.3f} s, same run",
        },
        {
            "metric": "kueue_create_to_pod_p99",
            "value": kq["p99"],
            "unit": "s",
            "compared_with": f"our operator {op['p99']:.3f} s; raw {raw['p99']:.3f} s, same run",
        },
        {
            "metric": "kueue_api_writes_per_job",
            "value": kq["api_writes_per_job"],
            "unit": "writes",
            "compared_with": "every client's (Kueue, the Job controller, the scheduler, kwok, the benchmark) "
            "while the Jobs were submitted and admitted; the operator's per job in api_writes_per_job",
        },
        {
            "metric": f"kueue_peak_rss_{jobs}_jobs",
            "value": kq["peak_rss_mb"],
            "unit": "MB",
            "compared_with": f"our operator {op['peak_rss_mb']:.0f} MB at {jobs} jobs, same run",
        },
    ]
