"""The operator's scheduling cycle at Kueue's performance-test scale: per-cycle time and memory as the
number of TranslationJobs grows (5,000 to 50,000), without an API server.

Run: .venv/bin/python benchmarks/operator_cycle_scale.py [--jobs 5000,10000,20000,50000]
     .venv/bin/python benchmarks/operator_cycle_scale.py --smoke [--out FILE]

For each size, in a fresh process (so that its peak RSS is its own): the jobs and their worker pods are
fed as watch events into the operator's own cache (cache.ClusterCache's informers, as the API server's
watch would deliver them: raw JSON, reduced and parsed on arrival), on enough simulated DGX nodes for
half of them; one full cycle admits that half and every planned status is stored back the way the
operator's own writes are (Informer.assume), so the other half waits in a settled queue. Then timed,
each the controller's pure part of a cycle (snapshot from the cache, cycle.plan_cycle, metrics):
  - a quiet cycle (nothing changed: what a resync costs),
  - a cycle after 100 jobs changed (their pods reported progress),
  - a full sweep (every job planned: the first cycle, a new leader, the 300 s safety net).
The process's peak RSS (VmHWM) is read at the end. Same machine, same run: read the ratios between
sizes (linear growth means time and memory per job stay flat). The API server's side (the LIST a
restart makes, the writes) is benchmarks/operator_admission.py's.
Writes benchmarks/results/operator_cycle_scale.json.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

import reporting  # noqa: E402

NAME = "operator_cycle_scale"
GROUP = "portalis.dev/v1alpha1"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
CHANGED = 100


def raw_job(i: int) -> dict[str, Any]:
    return {
        "apiVersion": GROUP,
        "kind": "TranslationJob",
        "metadata": {
            "name": f"bench-{i:06d}",
            "namespace": f"team-{i % 20}",
            "uid": f"uid-{i}",
            "generation": 1,
            "resourceVersion": str(10 + i),
            "creationTimestamp": (T0 + timedelta(milliseconds=i)).isoformat(),
        },
        "spec": {
            "source": {"configMap": {"name": "src"}},
            "output": {"configMap": {"name": "out"}},
            "target": {"crateName": "bench"},
            "parallelism": 1,
            "gpusPerWorker": 1,
            "priority": ("high", "normal", "low")[i % 3],
            "translation": {"backend": "rules"},
            "capacity": {"spot": "never"},
        },
    }


def raw_node(i: int) -> dict[str, Any]:
    return {
        "metadata": {
            "name": f"dgx-{i:05d}",
            "labels": {"portalis.dev/pool": "default", "karpenter.sh/capacity-type": "on-demand"},
        },
        "status": {
            "allocatable": {"nvidia.com/gpu": "8"},
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    }


def raw_pod(job: dict[str, Any], node: str, version: int, done: int) -> dict[str, Any]:
    meta = job["metadata"]
    from portalis_worker.protocol import PROGRESS_ANNOTATION, ProgressReport

    progress = ProgressReport(units_total=100, units_done=done).encode()
    return {
        "metadata": {
            "name": f"{meta['name']}-w0",
            "namespace": meta["namespace"],
            "uid": f"pod-{meta['uid']}",
            "resourceVersion": str(version),
            "labels": {"portalis.dev/job": meta["name"], "portalis.dev/shard": "0"},
            "annotations": {PROGRESS_ANNOTATION: progress},
            "ownerReferences": [
                {
                    "apiVersion": GROUP,
                    "kind": "TranslationJob",
                    "name": meta["name"],
                    "uid": meta["uid"],
                    "controller": True,
                }
            ],
        },
        "spec": {
            "nodeName": node,
            "containers": [{"name": "worker", "resources": {"limits": {"nvidia.com/gpu": "1"}}}],
        },
        "status": {
            "phase": "Running",
            "startTime": T0.isoformat(),
            "containerStatuses": [{"name": "worker", "state": {"running": {"startedAt": T0.isoformat()}}}],
        },
    }


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def measure(n: int) -> dict[str, float]:
    """One size, in this process: load, settle, time the three kinds of cycle."""
    from kubernetes_asyncio import client

    from portalis_operator import metrics
    from portalis_operator.cache import ClusterCache
    from portalis_operator.carryover import Carryover
    from portalis_operator.cycle import EVERYTHING, Dirty, plan_cycle
    from portalis_operator.settings import Settings
    from portalis_operator.snapshot import PoolConfig, build_jobs, build_nodes, other_gpus

    settings = Settings()
    carry = Carryover()  # kept between cycles, as the controller keeps it
    api = client.ApiClient(client.Configuration())  # reaches no server: nothing here is sent
    cache = ClusterCache(settings, api, lambda: None)
    jobs_in, workers_in, holds_in = cache.jobs[0], cache.workers[0], cache.holds
    nodes = [raw_node(i) for i in range((n // 2 + 7) // 8)]
    pool = PoolConfig.from_spec("default", None, settings.pool_label)
    version = 10 + n
    started = time.perf_counter()
    for i in range(n):
        jobs_in.apply({"type": "ADDED", "object": raw_job(i)})
    loaded = time.perf_counter() - started

    def cycle(now: datetime, dirty: Dirty) -> tuple[float, int, Any, float]:
        """(wall seconds, jobs planned, the plan, CPU seconds of this process). The garbage collector's
        debt from before is paid first: at 50,000 jobs a full collection takes seconds, and whichever
        cycle it fell in looked 2 to 4 times slower than the same cycle without it."""
        gc.collect()
        t, cpu = time.perf_counter(), time.process_time()
        views = build_jobs(cache.all_jobs(), cache.worker_pods())
        node_views = build_nodes(nodes, other_gpus(cache.gpu_holds(), views), pool, now)
        planned = plan_cycle(
            views,
            node_views,
            pool,
            now,
            settings.scheduling_policy(),
            settings.start_policy(),
            lambda _: {},
            dirty,
            carry,
        )
        metrics.observe_cycle("default", views, planned.plans, planned.waiting, node_views, now)
        return time.perf_counter() - t, len(planned.plans), planned, time.process_time() - cpu

    # Settle: a full cycle admits half; statuses stored as our writes are, pods as the watch brings them.
    now = T0 + timedelta(seconds=5)
    _, _, planned, _ = cycle(now, EVERYTHING)
    for view, plan in planned.plans:
        if plan.status is None:
            continue
        version += 1
        raw = view.job.model_copy(update={"status": plan.status}).model_dump(by_alias=True, mode="json")
        raw["metadata"]["resourceVersion"] = str(version)
        jobs_in.assume(raw)
        for w in plan.status.workers or ():
            version += 1
            pod = raw_pod(raw, str(w.node), version, 0)
            workers_in.apply({"type": "ADDED", "object": pod})
            holds_in.apply({"type": "ADDED", "object": pod})
    now += timedelta(seconds=5)
    _, _, planned, _ = cycle(now, EVERYTHING)  # the Running transitions, stored the same way
    for view, plan in planned.plans:
        if plan.status is not None:
            version += 1
            raw = view.job.model_copy(update={"status": plan.status}).model_dump(by_alias=True, mode="json")
            raw["metadata"]["resourceVersion"] = str(version)
            jobs_in.assume(raw)
    cache.take_dirty()

    quiet = []
    for k in range(5):
        quiet.append(cycle(now + timedelta(seconds=1 + k), Dirty()))
    running = [key for key in sorted(workers_in.items)][:CHANGED]
    changed_keys = []
    for key in running:
        owner, _pod = workers_in.items[key]
        version += 1
        job_key = next(k for k, j in jobs_in.items.items() if j.metadata.uid == owner[1])
        raw_j = jobs_in.items[job_key].model_dump(by_alias=True, mode="json")
        node = _pod.node or ""
        workers_in.apply({"type": "MODIFIED", "object": raw_pod(raw_j, node, version, 50)})
        changed_keys.append(f"{job_key[0]}/{job_key[1]}")
    dirty = cache.take_dirty()
    after_change = cycle(now + timedelta(seconds=10), dirty)
    full = [cycle(now + timedelta(seconds=20 + k), EVERYTHING) for k in range(3)]
    await api.close()
    return {
        "jobs": n,
        "load_s": loaded,
        "quiet_cycle_s": statistics.median(c[0] for c in quiet),
        "quiet_cycle_cpu_s": statistics.median(c[3] for c in quiet),
        "quiet_planned": quiet[0][1],
        "changed_cycle_s": after_change[0],
        "changed_cycle_cpu_s": after_change[3],
        "changed_planned": after_change[1],
        "full_cycle_s": statistics.median(c[0] for c in full),
        "full_cycle_cpu_s": statistics.median(c[3] for c in full),
        "full_planned": full[0][1],
        "peak_rss_mb": peak_rss_mb(),
    }


def one_size(n: int) -> dict[str, float]:
    """`measure(n)` in a fresh process, so that its peak RSS is its own."""
    proc = subprocess.run(
        [sys.executable, __file__, "--one", str(n)], capture_output=True, text=True, check=True, timeout=3600
    )
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--jobs", default="5000,10000,20000,50000", help="sizes, comma-separated")
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)
    reporting.add_arguments(ap, NAME)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(asyncio.run(measure(args.one))))
        return 0
    sizes = [200, 400] if args.smoke else [int(s) for s in args.jobs.split(",")]
    runs = [one_size(n) for n in sizes]
    base = runs[0]
    results = []
    for r in runs:
        n = int(r["jobs"])
        scale = n / base["jobs"]
        print(
            f"{n:>6} jobs: quiet cycle {r['quiet_cycle_s'] * 1000:.0f} ms ({r['quiet_planned']:.0f} planned), "
            f"{CHANGED} changed {r['changed_cycle_s'] * 1000:.0f} ms ({r['changed_planned']:.0f} planned), "
            f"full sweep {r['full_cycle_s'] * 1000:.0f} ms ({r['full_cycle_cpu_s'] * 1000:.0f} ms CPU), "
            f"peak RSS {r['peak_rss_mb']:.0f} MB",
            flush=True,
        )
        vs = f"x{scale:g} jobs of the {base['jobs']:.0f}-job run"
        results += [
            reporting.record(
                f"quiet_cycle_{n}_jobs",
                r["quiet_cycle_s"],
                "s",
                f"{r['quiet_cycle_s'] / base['quiet_cycle_s']:.2f}x the {base['jobs']:.0f}-job run's "
                f"{base['quiet_cycle_s']:.4f} s at {vs}; nothing planned",
            ),
            reporting.record(
                f"changed_cycle_{n}_jobs",
                r["changed_cycle_s"],
                "s",
                f"{CHANGED} jobs' pods changed ({r['changed_planned']:.0f} planned); "
                f"{r['changed_cycle_s'] / base['changed_cycle_s']:.2f}x the {base['jobs']:.0f}-job run at {vs}",
            ),
            reporting.record(
                f"full_sweep_{n}_jobs",
                r["full_cycle_s"],
                "s",
                f"every job planned; {r['full_cycle_s'] / base['full_cycle_s']:.2f}x the "
                f"{base['jobs']:.0f}-job run at {vs}",
            ),
            reporting.record(
                f"full_sweep_cpu_{n}_jobs",
                r["full_cycle_cpu_s"],
                "s",
                f"CPU seconds of the full sweep (the machine's load does not enter); "
                f"{r['full_cycle_cpu_s'] / base['full_cycle_cpu_s']:.2f}x the {base['jobs']:.0f}-job run at {vs}",
            ),
            reporting.record(
                f"quiet_cycle_cpu_{n}_jobs",
                r["quiet_cycle_cpu_s"],
                "s",
                f"CPU seconds of a quiet cycle; "
                f"{r['quiet_cycle_cpu_s'] / base['quiet_cycle_cpu_s']:.2f}x the {base['jobs']:.0f}-job run at {vs}",
            ),
            reporting.record(
                f"peak_rss_{n}_jobs",
                r["peak_rss_mb"],
                "MB",
                f"{r['peak_rss_mb'] / base['peak_rss_mb']:.2f}x the {base['jobs']:.0f}-job run at {vs}; "
                "target < 300 MB at 5000 jobs",
            ),
        ]
    written = reporting.write(NAME, results, args.out, args.smoke)
    if written is not None:
        print(f"wrote {written}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
