"""Chaos, end to end: the API server is stopped for 60 s in the middle of a run (issue 13).

The operator, the node agent and the workers lose the API server while three shards translate: progress
patches, the ledger mirrors of a ConfigMap output, the operator's watches and status writes all fail.
When it is back, everything must recover on its own: the job Succeeds, no unit is lost or done twice
(each shard's ledger holds every one of its units exactly once, and the crate's report counts them
all), no worker pod is replaced (no reclaim, no retry), and the operator was never unhealthy: its
liveness endpoint, which a kubelet would probe, answers 200 throughout (docs/security.md, item 11).

On the node agent's nodes, whatever PORTALIS_E2E_NODES says. On real kubelet nodes (tried 2026-12-07)
the outage has an effect the agent does not show: as soon as the API server is back, the
kube-controller-manager marks every node NotReady (their kubelets could not renew their Leases; it
enters "master disruption mode" and evicts nothing), the kubelets report Ready again only 60-80 s later
on this loaded machine, and the operator's NotReady grace (GPUPool `notReadyGraceSeconds`, 60 s) has
by then reclaimed a running worker (`recoveries.reclaims` 1). Whether the operator should treat every
node going NotReady at once as a control-plane outage rather than node loss is the operator's decision
(docs/install.md, "The end-to-end tier on real nodes").
"""

from __future__ import annotations

import socket
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from test_configmap_output import configmap_job_env, read_outputs

from harness import wait_for
from portalis_dev import demo, processes
from portalis_dev.cluster import COMPONENTS, LocalCluster
from portalis_worker.protocol import tree_digest

pytestmark = pytest.mark.e2e

OUTAGE_SECONDS = 60.0
COPIES = 2  # the shards translate for some seconds: the outage begins while they do


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def probing(url: str) -> Iterator[list[tuple[float, int]]]:
    """(time, HTTP status or 0 for no answer) of `url` every 0.5 s while the block runs."""
    seen: list[tuple[float, int]] = []
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:
                    seen.append((time.monotonic(), resp.status))
            except OSError as exc:
                seen.append((time.monotonic(), getattr(exc, "code", 0)))
            stop.wait(0.5)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        stop.set()
        thread.join(5)


def _pid(cluster: LocalCluster, name: str) -> int | None:
    return next(
        (r.pid for r in processes.recorded(cluster.state_dir) if r.name == name and processes.alive(r)), None
    )


def _mid_run(env: Any) -> dict[str, Any] | None:
    job = demo.read_job(env.clients, env.namespace, env.name)
    progress = (job or {}).get("status", {}).get("progress") or {}
    workers = (job or {}).get("status", {}).get("workers") or []
    percent = progress.get("percent")
    running = [w for w in workers if w.get("phase") == "Running"]
    return job if percent is not None and 5 <= percent <= 80 and len(running) == 3 else None


def test_an_api_server_outage_mid_run_loses_nothing_and_restarts_nothing(
    cluster: LocalCluster, namespace: str, worker_policies: None
) -> None:
    health_port = free_port()
    with configmap_job_env(
        cluster,
        namespace,
        None,  # the node agent's nodes, whatever PORTALIS_E2E_NODES says: see the module's docstring
        copies=COPIES,
        operator_env={"PORTALIS_OPERATOR_HEALTH_PORT": str(health_port)},
    ) as env:
        demo.create_job(env.clients, env.job)
        operator_pid = _pid(cluster, env.operator)
        before = wait_for(lambda: _mid_run(env), timeout=240, interval=0.2, what="the job mid-run")
        print(f"[{namespace}] stopping kube-apiserver at {before['status']['progress']}")
        with probing(f"http://127.0.0.1:{health_port}/livez") as liveness:
            started = time.monotonic()
            cluster.stop_apiserver()
            try:
                # The outage's length is what is tested: a fixed wait, not a condition.
                time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - started)))
            finally:
                cluster.start_apiserver()
            print(f"[{namespace}] kube-apiserver back after {time.monotonic() - started:.0f} s")
            final = env.follow()
        assert _pid(cluster, env.operator) == operator_pid  # the same process, never restarted
        _, files, ledgers = read_outputs(env)

    assert demo.Snapshot.of(final).phase == "Succeeded", demo.condition_message(final, "Failed")
    running = cluster.status().running
    assert all(running[c] for c in COMPONENTS), running

    # nothing restarted: no worker pod replaced, the operator live throughout
    assert final["status"]["recoveries"] == {"reclaims": 0, "errorRetries": 0}
    assert liveness, "the operator's /livez was never probed"
    assert {status for _, status in liveness} == {200}, [s for _, s in liveness if s != 200][:5]
    during = [t for t, _ in liveness if started <= t <= started + OUTAGE_SECONDS]
    assert len(during) >= OUTAGE_SECONDS  # probed about twice a second through the outage

    # nothing lost: every unit in exactly one shard's ledger, exactly once, and all in the crate's counts
    result = final["status"]["result"]
    assert result["reported"] is True
    assert result["crate"]["digest"] == tree_digest(files)
    counts = Counter(str(r["id"]) for recs in ledgers for r in recs if r["kind"] == "unit")
    assert set(counts.values()) == {1}
    progress = final["status"]["progress"]
    assert len(counts) == result["units"]["total"] == progress["unitsTotal"]
    # the shards' last progress reports too (those sent during the outage were refused)
    assert progress["unitsDone"] + progress["unitsFailed"] == progress["unitsTotal"], progress
