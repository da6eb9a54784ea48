"""Every metric the rules and the dashboard query exists: ours in the code, others on an allowlist."""

from __future__ import annotations

import json

import pytest
from monitoring_support import DASHBOARD, alert_rules, metric_names, record_rules

from portalis_operator import metrics as operator_metrics
from portalis_worker import metrics as worker_metrics

pytestmark = pytest.mark.unit

# Metrics of other exporters that the rules and dashboard may use.
EXTERNAL = {
    "up",
    # Triton Inference Server
    "nv_inference_queue_duration_us",
    "nv_inference_request_success",
    "nv_inference_count",
    "nv_inference_exec_count",
    # NVIDIA DCGM exporter
    "DCGM_FI_DEV_XID_ERRORS",
    "DCGM_FI_DEV_GPU_UTIL",
    # kube-state-metrics
    "kube_pod_container_status_restarts_total",
    "kube_pod_container_status_waiting_reason",
}


def exported() -> set[str]:
    """Sample names our registries expose (counters' _total, histograms' _bucket/_sum/_count, ...)."""
    names: set[str] = set()
    for registry in (operator_metrics.REGISTRY, worker_metrics.REGISTRY):
        for family in registry.collect():
            names.add(family.name)
            for suffix in ("_total", "_bucket", "_sum", "_count", "_created"):
                names.add(family.name + suffix)
    return names


def dashboard_exprs() -> list[str]:
    def walk(panels: list[dict]) -> list[str]:
        out: list[str] = []
        for p in panels:
            out += [t["expr"] for t in p.get("targets", [])]
            out += walk(p.get("panels", []))
        return out

    return walk(json.loads(DASHBOARD.read_text())["panels"])


def queried() -> dict[str, set[str]]:
    exprs = {f"rule {r.get('alert') or r['record']}": r["expr"] for r in alert_rules() + record_rules()}
    exprs |= {f"dashboard query {i}": e for i, e in enumerate(dashboard_exprs())}
    return {where: metric_names(e) for where, e in exprs.items()}


def test_extractor_sees_metrics_and_ignores_label_values() -> None:
    expr = 'sum by (pool) (rate(portalis_pool_nodes{job="portalis_fake"}[5m])) / pool:x:sum + up'
    assert metric_names(expr) == {"portalis_pool_nodes", "pool:x:sum", "up"}


def test_every_queried_metric_exists() -> None:
    ours = exported()
    recorded = {r["record"] for r in record_rules()}
    problems = []
    for where, names in queried().items():
        for name in names:
            if ":" in name:
                ok = name in recorded
            elif name.startswith("portalis_"):
                ok = name in ours
            else:
                ok = name in EXTERNAL
            if not ok:
                problems.append(f"{where}: {name}")
    assert not problems, "unknown metrics:\n" + "\n".join(sorted(problems))


def test_rules_and_dashboard_use_our_metrics() -> None:
    used = set().union(*queried().values())
    # A sample of the metrics the on-call depends on, so an extractor that finds nothing cannot pass.
    for name in (
        "portalis_operator_last_sync_timestamp_seconds",
        "portalis_jobs_finished_total",
        "portalis_scheduler_oldest_queued_seconds",
        "portalis_pool_nodes",
        "portalis_worker_lines_total",
        "nv_inference_queue_duration_us",
        "DCGM_FI_DEV_XID_ERRORS",
    ):
        assert name in used, name
