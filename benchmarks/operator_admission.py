"""Admission throughput, create-to-pods latency and peak RSS of the operator, against the raw ceiling.

Run: .venv/bin/python benchmarks/operator_admission.py [--jobs 1000] [--rss-jobs 5000]
         [--paced-jobs 300 --paced-rate 10]
     .venv/bin/python benchmarks/operator_admission.py --smoke [--state-dir DIR --keep] [--out FILE]

On a private local control plane (its own state directory), with enough simulated DGX capacity for
every job (1 shard x 1 GPU each), it:
  1. creates N worker pods directly with the Python client, as fast as it can (the ceiling);
  2. runs the operator as a subprocess and submits N TranslationJobs the same way, timing admission
     (job created -> its worker pod seen by a watch) and throughput (jobs admitted per second);
  3. runs Kueue's manager (v0.17.0, built from Go modules on first use; kueue_side.py) with a
     ClusterQueue of the pool's GPUs and submits N suspended Jobs the same way, timing job created ->
     Workload admitted and -> its pod seen by a watch; Kueue is stopped afterwards;
  4. submits --paced-jobs raw pods, then as many TranslationJobs through the operator, at a steady
     --paced-rate per second instead of a burst: the create-to-pod latency of a job when the pipeline
     is not saturated (a burst's p99 is the length of its queue, not the latency of one admission);
  5. repeats 2 with --rss-jobs jobs and reads the operator's peak RSS (VmHWM) at the end.
The runs share the machine at nearly the same moment in time, so their ratios are what to read.
Writes benchmarks/results/operator_admission.json. --smoke submits 4 jobs (also through Kueue and paced; no RSS run) under names of
its own, so it can share a running control plane (--state-dir of one that is up, --keep), removes its
simulated nodes at the end and writes only to --out.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import secrets
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from kubernetes import client, config

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "localcluster" / "src"))
sys.path.insert(0, str(REPO / "benchmarks"))

import apiserver_requests  # noqa: E402
import kueue_side  # noqa: E402
import reporting  # noqa: E402
from first_seen import FirstSeen  # noqa: E402

from portalis_dev import nodes  # noqa: E402
from portalis_dev.cluster import LocalCluster, allocate_ports  # noqa: E402
from portalis_dev.demo import Clients, ensure_namespace, install_crds, wait_until  # noqa: E402

GROUP, VERSION, PLURAL = "portalis.dev", "v1alpha1", "translationjobs"
NAME = "operator_admission"
THREADS = 16


def job(i: int) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "TranslationJob",
        "metadata": {"name": f"bench-{i:05d}"},
        "spec": {
            "source": {"configMap": {"name": "src"}},
            "output": {"configMap": {"name": "out"}},
            "target": {"crateName": "bench"},
            "parallelism": 1,
            "gpusPerWorker": 1,
            "translation": {"backend": "rules"},
            "capacity": {"spot": "never"},
        },
    }


def plain_pod(i: int, pool: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"raw-{i:05d}", "labels": {"bench": "raw"}},
        "spec": {
            "nodeSelector": {nodes.POOL_LABEL: pool},
            "containers": [
                {"name": "w", "image": "registry.invalid/x", "resources": {"limits": {"nvidia.com/gpu": "1"}}}
            ],
        },
    }


def pod_watcher(core: Any, ns: str, selector: str) -> FirstSeen:
    """The first time each pod of `ns` matching `selector` is seen, by name."""
    pods = functools.partial(core.list_namespaced_pod, ns, label_selector=selector)
    return FirstSeen(pods, lambda obj: (obj.get("metadata") or {}).get("name"))


def submit(create: Callable[[int], None], n: int, rate: float | None) -> None:
    """`create(i)` for i in 0..n-1 from THREADS threads: as fast as they go (rate None, a burst), or
    the i-th no earlier than i / rate seconds after the start (a steady arrival rate)."""
    t0 = time.monotonic()

    def paced(i: int) -> None:
        if rate is not None:
            time.sleep(max(0.0, t0 + i / rate - time.monotonic()))
        create(i)

    with ThreadPoolExecutor(THREADS) as executor:
        list(executor.map(paced, range(n)))


def raw_ceiling(core: Any, ns: str, n: int, pool: str, rate: float | None = None) -> dict[str, float]:
    watcher = pod_watcher(core, ns, "bench=raw")
    started: dict[str, float] = {}

    def create(i: int) -> None:
        body = plain_pod(i, pool)
        started[body["metadata"]["name"]] = time.monotonic()
        core.create_namespaced_pod(ns, body)

    t0 = time.monotonic()
    submit(create, n, rate)
    watcher.wait_for(n, 600, "pods appeared")
    elapsed = max(watcher.seen.values()) - t0
    watcher.stop()
    lat = [watcher.seen[k] - v for k, v in started.items()]
    return {"throughput": n / elapsed, "p50": _pct(lat, 50), "p99": _pct(lat, 99)}


def operator_run(
    cluster: LocalCluster, api: Any, ns: str, n: int, pool: str, rate: float | None = None
) -> dict[str, float]:
    """The operator admits `n` jobs, submitted in a burst (`rate` None) or at `rate` jobs/s."""
    core = client.CoreV1Api(api)
    custom = client.CustomObjectsApi(api)
    health_port = allocate_ports().kwok  # any free loopback port
    env = {
        **os.environ,
        "KUBECONFIG": str(cluster.kubeconfig),
        "PORTALIS_OPERATOR_NAMESPACES": json.dumps([ns]),
        "PORTALIS_OPERATOR_POOL": pool,
        "PORTALIS_OPERATOR_METRICS_PORT": "0",
        "PORTALIS_OPERATOR_HEALTH_PORT": str(health_port),
    }
    log = open(cluster.state_dir / "logs" / f"operator-{pool}-{n}.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [str(REPO / ".venv" / "bin" / "portalis-operator")], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    watcher = pod_watcher(core, ns, "portalis.dev/job")
    started: dict[str, float] = {}
    try:
        wait_until(lambda: _synced(health_port), 120, "the operator's first scheduling cycle")

        def create(i: int) -> None:
            body = job(i)
            started[f"{body['metadata']['name']}-w0"] = time.monotonic()
            custom.create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, body)

        t0 = time.monotonic()
        submit(create, n, rate)
        submitted = time.monotonic() - t0
        watcher.wait_for(n, 1200, "pods appeared")
        elapsed = max(watcher.seen.values()) - t0
        rss = _peak_rss_mb(proc.pid)
        cpu = _cpu_seconds(proc.pid)
    finally:
        watcher.stop()
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
    lat = [watcher.seen[k] - v for k, v in started.items() if k in watcher.seen]
    return {
        "throughput": n / elapsed,
        "submit_rate": n / submitted,
        "p50": _pct(lat, 50),
        "p99": _pct(lat, 99),
        "peak_rss_mb": rss,
        "cpu_s": cpu,
    }


def _synced(port: int) -> bool:
    """kopf's liveness endpoint reports our `scheduler` probe: synced once a cycle has completed."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as resp:
        return bool(json.loads(resp.read()).get("scheduler", {}).get("synced"))


def _delete_namespace(core: Any, ns: str) -> None:
    """Wait until the scheduler and kwok are done with a run's pods (all Running), then delete its
    namespace and wait until it is gone: binding, starting and deleting them must not run during the
    next run, and they hold the pool's GPUs. Before, the operator run shared the API server with the
    raw run's backlog of binds and status updates and with the deletion of its 1,000 pods."""
    wait_until(lambda: _all_running(core, ns), 600, f"the pods of {ns} Running")
    core.delete_namespace(ns)
    wait_until(lambda: not _exists(core, ns), 600, f"namespace {ns} deleted")


def _all_running(core: Any, ns: str) -> bool:
    pods = core.list_namespaced_pod(ns, _preload_content=False)
    try:
        items = json.loads(pods.data).get("items") or []
    finally:
        pods.release_conn()
    return all((p.get("status") or {}).get("phase") == "Running" for p in items)


def _exists(core: Any, ns: str) -> bool:
    try:
        core.read_namespace(ns)
    except client.ApiException as exc:
        if exc.status == 404:
            return False
        raise
    return True


def _cpu_seconds(pid: int) -> float:
    """The process's user + system CPU time so far (/proc/<pid>/stat, clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _rows(writes: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.2f}" for k, v in writes.items() if k == "total" or v >= 0.01)


def _pct(values: list[float], p: int) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--jobs", type=int, default=1000)
    ap.add_argument("--rss-jobs", type=int, default=5000)
    ap.add_argument("--paced-jobs", type=int, default=300, help="jobs of the steady-rate run (0: none)")
    ap.add_argument(
        "--paced-rate", type=float, default=10.0, help="its arrival rate, jobs (and raw pods) per second"
    )
    ap.add_argument("--state-dir", default=str(REPO / ".state" / "bench"))
    ap.add_argument("--keep", action="store_true", help="leave the control plane running")
    ap.add_argument(
        "--kueue-qps",
        type=float,
        default=50,
        help="Kueue's API client rate limit (default: its release's 50; negative: off)",
    )
    reporting.add_arguments(ap, NAME)
    args = ap.parse_args()
    if args.smoke:
        args.jobs, args.rss_jobs, args.paced_jobs = 4, 0, 4
    # The pool and the namespaces' prefix: a smoke run's own, so that it can share a control plane.
    pool = f"smoke-{secrets.token_hex(3)}" if args.smoke else "bench"

    cluster = LocalCluster(Path(args.state_dir))
    cluster.up(progress=lambda m: print(f"[control plane] {m}", flush=True))
    api = config.new_client_from_config(str(cluster.kubeconfig))
    core = client.CoreV1Api(api)
    clients = Clients.of(cluster)
    install_crds(clients)
    gpus_needed = max(args.jobs, args.rss_jobs)
    have = len(nodes.list_simulated(core, pool=pool))
    want = (gpus_needed + 7) // 8
    if want > have:
        print(f"adding {want - have} simulated DGX nodes", flush=True)
        nodes.add_nodes(core, "on-demand", want - have, pool=pool)

    results: list[dict[str, Any]] = []
    try:
        ensure_namespace(clients, f"{pool}-raw")
        counted = apiserver_requests.read(api)
        raw = raw_ceiling(core, f"{pool}-raw", args.jobs, pool)
        reading = apiserver_requests.read(api)
        raw_writes = apiserver_requests.writes_per_item(counted, reading, args.jobs)
        raw_cpu = apiserver_requests.cpu_seconds_per_item(counted, reading, args.jobs)
        print(f"API writes per raw pod: {_rows(raw_writes)}; API server CPU {1000 * raw_cpu:.1f} ms per pod")
        print(
            f"raw pod creation: {raw['throughput']:.1f} pods/s, p50 {raw['p50']:.3f} s, p99 {raw['p99']:.3f} s"
        )
        _delete_namespace(core, f"{pool}-raw")

        ensure_namespace(clients, f"{pool}-op")
        counted = apiserver_requests.read(api)
        op = operator_run(cluster, api, f"{pool}-op", args.jobs, pool)
        reading = apiserver_requests.read(api)
        op_writes = apiserver_requests.writes_per_item(counted, reading, args.jobs)
        op_cpu = apiserver_requests.cpu_seconds_per_item(counted, reading, args.jobs)
        print(
            f"API writes per job: {_rows(op_writes)}; API server CPU {1000 * op_cpu:.1f} ms per job, "
            f"operator CPU {1000 * op['cpu_s'] / args.jobs:.1f} ms per job"
        )
        print(
            f"operator: {op['throughput']:.1f} jobs/s admitted ({op['throughput'] / raw['throughput']:.2f}x of raw), "
            f"create-to-pod p50 {op['p50']:.3f} s p99 {op['p99']:.3f} s, peak RSS {op['peak_rss_mb']:.0f} MB"
        )
        _delete_namespace(core, f"{pool}-op")

        # Kueue (built on first use) on the same pool: quota = the pool's GPUs; stopped before the RSS run.
        ensure_namespace(clients, f"{pool}-kueue")
        gpus = 8 * len(nodes.list_simulated(core, pool=pool))
        kq = kueue_side.kueue_run(
            cluster, api, f"{pool}-kueue", args.jobs, pool, gpus, THREADS, args.kueue_qps
        )
        print(
            f"Kueue: {kq['throughput']:.1f} jobs/s to pods ({kq['throughput'] / raw['throughput']:.2f}x of raw), "
            f"{kq['admitted_throughput']:.1f}/s admitted; create-to-admitted p50 {kq['admitted_p50']:.3f} s "
            f"p99 {kq['admitted_p99']:.3f} s, create-to-pod p50 {kq['p50']:.3f} s p99 {kq['p99']:.3f} s, "
            f"peak RSS {kq['peak_rss_mb']:.0f} MB"
        )
        _delete_namespace(core, f"{pool}-kueue")

        # A steady arrival rate below what the burst showed the pipeline can take: the latency of one
        # job through the operator, not the length of a burst's queue. Raw pods at the same rate beside it.
        paced: tuple[dict[str, float], dict[str, float]] | None = None
        if args.paced_jobs:
            ensure_namespace(clients, f"{pool}-paced-raw")
            paced_raw = raw_ceiling(core, f"{pool}-paced-raw", args.paced_jobs, pool, args.paced_rate)
            _delete_namespace(core, f"{pool}-paced-raw")
            ensure_namespace(clients, f"{pool}-paced")
            paced_op = operator_run(cluster, api, f"{pool}-paced", args.paced_jobs, pool, args.paced_rate)
            _delete_namespace(core, f"{pool}-paced")
            paced = (paced_raw, paced_op)
            print(
                f"at {args.paced_rate:g} jobs/s: operator create-to-pod p50 {paced_op['p50']:.3f} s "
                f"p99 {paced_op['p99']:.3f} s; raw pods p50 {paced_raw['p50']:.3f} s p99 {paced_raw['p99']:.3f} s"
            )

        big: dict[str, float] | None = None
        if args.rss_jobs:
            ensure_namespace(clients, f"{pool}-rss")
            big = operator_run(cluster, api, f"{pool}-rss", args.rss_jobs, pool)
            print(
                f"operator at {args.rss_jobs} jobs: peak RSS {big['peak_rss_mb']:.0f} MB, {big['throughput']:.1f} jobs/s"
            )
            core.delete_namespace(f"{pool}-rss")

        results = [
            {
                "metric": "raw_pod_creation_throughput",
                "value": raw["throughput"],
                "unit": "pods/s",
                "compared_with": "ceiling: the same pods created directly with the Python client, 16 threads",
            },
            {
                "metric": "admission_throughput",
                "value": op["throughput"],
                "unit": "jobs/s",
                "compared_with": f"raw ceiling {raw['throughput']:.1f} pods/s (ratio "
                f"{op['throughput'] / raw['throughput']:.2f}); Kueue's perf test ~42 workloads/s",
            },
            {
                "metric": "admission_to_raw_ratio",
                "value": op["throughput"] / raw["throughput"],
                "unit": "ratio",
                "compared_with": "target >= 0.5",
            },
            {
                "metric": "api_writes_per_raw_pod",
                "value": raw_writes["total"],
                "unit": "writes",
                "compared_with": "every client's, during the raw run: " + _rows(raw_writes),
            },
            {
                "metric": "api_writes_per_job",
                "value": op_writes["total"],
                "unit": "writes",
                "compared_with": "every client's, during the operator run: " + _rows(op_writes),
            },
            {
                "metric": "apiserver_cpu_per_raw_pod",
                "value": 1000 * raw_cpu,
                "unit": "ms",
                "compared_with": "the API server's CPU time during the raw run, per pod",
            },
            {
                "metric": "apiserver_cpu_per_job",
                "value": 1000 * op_cpu,
                "unit": "ms",
                "compared_with": f"the API server's CPU time during the operator run, per job; raw {1000 * raw_cpu:.1f} ms",
            },
            {
                "metric": "operator_cpu_per_job",
                "value": 1000 * op["cpu_s"] / args.jobs,
                "unit": "ms",
                "compared_with": "the operator's CPU time over its run (start-up included), per job",
            },
            {
                "metric": "create_to_pod_p50",
                "value": op["p50"],
                "unit": "s",
                "compared_with": f"raw create-to-seen p50 {raw['p50']:.3f} s",
            },
            {
                "metric": "create_to_pod_p99",
                "value": op["p99"],
                "unit": "s",
                "compared_with": f"target < 2 s; raw p99 {raw['p99']:.3f} s",
            },
            {
                "metric": f"operator_peak_rss_{args.jobs}_jobs",
                "value": op["peak_rss_mb"],
                "unit": "MB",
                "compared_with": "target < 300 MB at 5000 jobs",
            },
        ]
        results += kueue_side.records(kq, raw, op, args.jobs)
        if paced is not None:
            paced_raw, paced_op = paced
            share = args.paced_rate / op["throughput"]
            for pct in ("p50", "p99"):
                results.append(
                    {
                        "metric": f"paced_create_to_pod_{pct}",
                        "value": paced_op[pct],
                        "unit": "s",
                        "compared_with": f"{args.paced_jobs} jobs arriving at {args.paced_rate:g}/s "
                        f"({share:.2f}x of this run's burst admission throughput); raw pods at the same "
                        f"rate {paced_raw[pct]:.3f} s" + ("; target < 2 s" if pct == "p99" else ""),
                    }
                )
        if big is not None:
            results.append(
                {
                    "metric": f"operator_peak_rss_{args.rss_jobs}_jobs",
                    "value": big["peak_rss_mb"],
                    "unit": "MB",
                    "compared_with": "target < 300 MB",
                }
            )
    finally:
        if args.smoke:
            for node in nodes.list_simulated(core, pool=pool):
                nodes.remove_node(core, node.metadata.name)
        if not args.keep:
            cluster.down(progress=lambda m: None)
    written = reporting.write(NAME, results, args.out, args.smoke)
    if written is not None:
        print(f"wrote {written}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
