"""The smoke modes of the benchmarks that need the local control plane or a Triton server.

The control-plane benchmarks run against the session's control plane (`--state-dir` of the `cluster`
fixture, `--keep` so they leave it up) under names of their own, and remove what they created.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from benchmark_smoke import BENCHMARKS, run_smoke
from portalis_dev import processes
from portalis_dev.cluster import LocalCluster
from portalis_dev.demo import Clients
from portalis_dev.nodes import POOL_LABEL

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]


def test_operator_admission_smoke(cluster: LocalCluster, core: Any, clients: Clients, tmp_path: Path) -> None:
    run = run_smoke(
        "operator_admission",
        tmp_path / "operator_admission.json",
        "--state-dir",
        str(cluster.state_dir),
        "--keep",
        timeout=500,
    )
    v = run.values
    assert v["raw_pod_creation_throughput"] > 0
    assert v["admission_throughput"] > 0
    assert v["create_to_pod_p99"] >= v["create_to_pod_p50"] > 0
    assert v["operator_peak_rss_4_jobs"] > 0
    # The same 4 jobs through Kueue's scheduler, side by side (benchmarks/kueue_side.py).
    assert v["kueue_admission_throughput"] > 0
    assert v["kueue_create_to_admitted_p99"] >= v["kueue_create_to_admitted_p50"] > 0
    assert v["kueue_create_to_pod_p99"] >= v["kueue_create_to_pod_p50"] > 0
    assert v["kueue_peak_rss_4_jobs"] > 0
    # The same jobs again at a steady arrival rate (the latency of one admission, not of a queue).
    assert v["paced_create_to_pod_p99"] >= v["paced_create_to_pod_p50"] > 0
    assert "Kueue: " in run.output
    assert cluster.status().up, "the smoke run must leave a shared control plane up (--keep)"
    left = [n.metadata.name for n in core.list_node().items if _pool(n).startswith("smoke-")]
    assert left == [], "the smoke run must remove the simulated nodes it added"
    assert not [r for r in processes.recorded(cluster.state_dir) if r.name == "kueue"], (
        "Kueue must be stopped"
    )
    queues = clients.custom.list_cluster_custom_object("kueue.x-k8s.io", "v1beta2", "clusterqueues")
    assert [
        q["metadata"]["name"] for q in queues["items"] if q["metadata"]["name"].startswith("smoke-")
    ] == []


def _pool(node: Any) -> str:
    return str((node.metadata.labels or {}).get(POOL_LABEL, ""))


def test_reclaim_recovery_smoke(cluster: LocalCluster, clients: Clients, tmp_path: Path) -> None:
    run = run_smoke(
        "reclaim_recovery",
        tmp_path / "reclaim_recovery.json",
        "--state-dir",
        str(cluster.state_dir),
        "--keep",
        timeout=500,
    )
    v = run.values
    assert v["reclaim_samples"] == 1
    assert 0 < v["reclaim_to_replacement_running_p50"] < 60
    assert 0 < v["autoscaler_queued_to_scale_decision_p50"] < 60
    assert cluster.status().up
    left = [n.metadata.name for n in clients.core.list_node().items if _pool(n).startswith("smoke-")]
    assert left == [], "the smoke run must remove the simulated nodes it added"
    pools = clients.custom.list_cluster_custom_object("portalis.dev", "v1alpha1", "gpupools")["items"]
    assert not [p["metadata"]["name"] for p in pools if p["metadata"]["name"].startswith("smoke-")]


def test_typer_batching_smoke(tmp_path: Path) -> None:
    pytest.importorskip(
        "tritonclient.grpc", reason="tritonclient[grpc] is not installed (the 'serving' extra)"
    )
    pytest.importorskip("nemo.core", reason="nemo_toolkit[core] is not installed (the 'serving' extra)")
    from portalis_worker.model.serving import TritonDistribution, TritonUnavailableError

    try:
        TritonDistribution.find()
    except TritonUnavailableError as exc:
        pytest.skip(f"{exc} (the 'serving' extra)")
    run = run_smoke("typer_batching", tmp_path / "typer_batching.json", timeout=500)
    v = run.values
    assert v["typer_batched_slots_per_s_cpu"] > 0
    assert v["typer_nobatch_slots_per_s_cpu"] > 0
    assert v["typer_worker_style_slots_per_s_cpu"] > 0
    assert v["typer_mean_batch_size_cpu"] >= 1


def test_triton_batching_smoke(tmp_path: Path) -> None:
    pytest.importorskip(
        "tritonclient.grpc", reason="tritonclient[grpc] is not installed (the 'serving' extra)"
    )
    pytest.importorskip("nemo.core", reason="nemo_toolkit[core] is not installed (the 'serving' extra)")
    from portalis_worker.model.serving import TritonDistribution, TritonUnavailableError

    try:
        TritonDistribution.find()
    except TritonUnavailableError as exc:
        pytest.skip(f"{exc} (the 'serving' extra)")
    readme = (BENCHMARKS / "README.md").read_bytes()
    run = run_smoke("triton_batching", tmp_path / "triton_batching.json", timeout=500)
    v = run.values
    assert v["triton_batched_units_per_s_cpu"] > 0
    assert v["triton_nobatch_units_per_s_cpu"] > 0
    assert v["triton_mean_batch_size_cpu"] >= 1
    assert (BENCHMARKS / "README.md").read_bytes() == readme
