"""Generate the Portalis Grafana dashboard (portalis.json beside this file).

The dashboard is data, but writing 30 panels of Grafana JSON by hand invites copy-paste drift; this
script is the source and a unit test checks that the committed JSON equals its output. Queries use the
recording rules of monitoring/rules/portalis.rules.yaml where one exists.

    python monitoring/dashboards/generate.py          # rewrite portalis.json
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "portalis.json"
DS = {"type": "prometheus", "uid": "${datasource}"}

# (title, [rows of panels]); a panel is (title, unit, [(expr, legend)], description)
Panel = tuple[str, str, list[tuple[str, str]], str]
ROWS: list[tuple[str, list[Panel]]] = [
    (
        "Queue and admission",
        [
            (
                "Queued jobs by priority",
                "short",
                [("priority:portalis_scheduler_queue_depth_jobs:max", "{{priority}}")],
                "TranslationJobs waiting for admission.",
            ),
            (
                "Oldest queued job by priority",
                "s",
                [("priority:portalis_scheduler_oldest_queued_seconds:max", "{{priority}}")],
                "SLO: critical within 10m; critical, high and normal within 30m.",
            ),
            (
                "Admissions per second",
                "ops",
                [("priority:portalis_scheduler_admissions:rate5m", "{{priority}}")],
                "",
            ),
            (
                "Admission wait p95",
                "s",
                [("priority:portalis_scheduler_admission_wait_seconds:p95_rate5m", "{{priority}}")],
                "Time from creation or requeue to admission, 95th percentile over 5m.",
            ),
            (
                "Preemptions per hour",
                "short",
                [("sum by (priority) (increase(portalis_scheduler_preemptions_total[1h]))", "{{priority}}")],
                "By the victim's priority.",
            ),
            (
                "Scheduling cycle p99",
                "s",
                [
                    (
                        "histogram_quantile(0.99, sum by (le) "
                        "(rate(portalis_scheduler_cycle_duration_seconds_bucket[5m])))",
                        "p99",
                    )
                ],
                "",
            ),
        ],
    ),
    (
        "Jobs",
        [
            (
                "Jobs by phase",
                "short",
                [("max by (phase) (portalis_jobs_phase_jobs)", "{{phase}}")],
                "",
            ),
            (
                "Finished jobs per hour",
                "short",
                [("sum by (result) (increase(portalis_jobs_finished_total[1h]))", "{{result}}")],
                "",
            ),
            (
                "Job failure ratio (SLO 1 %)",
                "percentunit",
                [
                    ("cluster:portalis_jobs_finished_failed:ratio_rate1h", "1h"),
                    ("cluster:portalis_jobs_finished_failed:ratio_rate6h", "6h"),
                    ("vector(0.01)", "error budget"),
                ],
                "Page at 14.4x the budget over 1h and 5m; ticket at 6x over 6h and 30m.",
            ),
            (
                "Checkpoint age",
                "s",
                [
                    ("max(portalis_jobs_checkpoint_age_max_seconds)", "oldest running job"),
                    (
                        "time() - max by (namespace, pod) "
                        "(portalis_worker_last_checkpoint_timestamp_seconds)",
                        "{{namespace}}/{{pod}}",
                    ),
                ],
                "Work a spot reclaim would lose now. Alert above 30m.",
            ),
            (
                "Reclaims and error retries per hour",
                "short",
                [
                    ("signal:portalis_recovery_reclaims:increase1h", "reclaim: {{signal}}"),
                    ("sum(increase(portalis_recovery_error_retries_total[1h]))", "error retries"),
                ],
                "Reclaims never spend a job's error budget; error retries do.",
            ),
        ],
    ),
    (
        "GPU pool and cost",
        [
            (
                "Pool nodes by capacity type",
                "short",
                [
                    ("pool_capacity_type:portalis_pool_nodes:max", "{{pool}} {{capacity_type}}"),
                    (
                        "max by (pool, capacity_type) (portalis_pool_desired_nodes)",
                        "{{pool}} {{capacity_type}} desired",
                    ),
                    ("max by (pool) (portalis_pool_max_nodes)", "{{pool}} max"),
                ],
                "",
            ),
            (
                "Spot share",
                "percentunit",
                [
                    ("pool:portalis_pool_nodes_spot:ratio", "{{pool}}"),
                    ("max by (pool) (portalis_pool_spot_target_ratio)", "{{pool}} target"),
                ],
                "Alert when more than 20 points off target for 30m (pools of 4+ nodes).",
            ),
            (
                "GPUs",
                "short",
                [("max by (pool, state) (portalis_pool_gpus)", "{{pool}} {{state}}")],
                "",
            ),
            (
                "GPU utilisation (DCGM)",
                "percent",
                [("avg by (Hostname) (DCGM_FI_DEV_GPU_UTIL)", "{{Hostname}}")],
                "",
            ),
            (
                "Scale actions per hour",
                "short",
                [
                    (
                        "sum by (direction, capacity_type) (increase(portalis_pool_scale_actions_total[1h]))",
                        "{{direction}} {{capacity_type}}",
                    )
                ],
                "",
            ),
            (
                "Estimated cost (USD per hour)",
                "currencyUSD",
                [
                    (
                        "sum by (capacity_type) (rate(portalis_cost_estimated_usd_total[1h])) * 3600",
                        "{{capacity_type}}",
                    )
                ],
                "From GPU-seconds and the pool's prices per GPU-hour.",
            ),
            (
                "GPU hours per hour",
                "short",
                [
                    (
                        "sum by (capacity_type) (rate(portalis_cost_gpu_seconds_total[1h]))",
                        "{{capacity_type}}",
                    )
                ],
                "GPU-seconds per second: the number of GPUs busy on average.",
            ),
        ],
    ),
    (
        "Workers and Triton",
        [
            (
                "Lines translated per second",
                "short",
                [("sum by (backend) (rate(portalis_worker_lines_total[5m]))", "{{backend}}")],
                "Python LOC/s by backend (cache, model, rules).",
            ),
            (
                "Units per second",
                "ops",
                [
                    (
                        "sum by (result, backend) (rate(portalis_worker_units_total[5m]))",
                        "{{result}} {{backend}}",
                    )
                ],
                "",
            ),
            (
                "Cache hit ratio",
                "percentunit",
                [
                    (
                        "sum(rate(portalis_worker_cache_hits_total[5m]))"
                        " / sum(rate(portalis_worker_units_total[5m]))",
                        "hits",
                    )
                ],
                "",
            ),
            (
                "Ledger write p99",
                "s",
                [
                    (
                        "histogram_quantile(0.99, sum by (le) "
                        "(rate(portalis_worker_ledger_write_seconds_bucket[5m])))",
                        "p99",
                    )
                ],
                "One durable ledger append (write + fsync).",
            ),
            (
                "Triton queue time per request",
                "s",
                [
                    (
                        "namespace_model:nv_inference_queue_duration_seconds:avg_rate5m",
                        "{{namespace}} {{model}}",
                    )
                ],
                "Alert above 500ms for 10m.",
            ),
            (
                "Triton inferences per second",
                "ops",
                [
                    ("sum by (model) (rate(nv_inference_count[5m]))", "{{model}} inferences"),
                    ("sum by (model) (rate(nv_inference_exec_count[5m]))", "{{model}} batches"),
                ],
                "Inferences over executions is the average batch size.",
            ),
        ],
    ),
    (
        "Operator",
        [
            (
                "Operator replicas up",
                "short",
                [('sum(up{job="portalis-operator"})', "up")],
                "",
            ),
            (
                "Time since last scheduling cycle",
                "s",
                [("time() - max(portalis_operator_last_sync_timestamp_seconds)", "age")],
                "Page above 5m.",
            ),
            (
                "Reconcile errors per second",
                "ops",
                [("sum by (stage) (rate(portalis_operator_reconcile_errors_total[5m]))", "{{stage}}")],
                "",
            ),
        ],
    ),
]


def panel(pid: int, x: int, y: int, p: Panel) -> dict[str, Any]:
    title, unit, targets, description = p
    return {
        "id": pid,
        "type": "timeseries",
        "title": title,
        "description": description,
        "datasource": DS,
        "gridPos": {"h": 8, "w": 8, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}, "tooltip": {"mode": "multi"}},
        "targets": [
            {"datasource": DS, "expr": expr, "legendFormat": legend, "refId": chr(ord("A") + i)}
            for i, (expr, legend) in enumerate(targets)
        ],
    }


def dashboard() -> dict[str, Any]:
    panels: list[dict[str, Any]] = []
    pid, y = 1, 0
    for row_title, row_panels in ROWS:
        panels.append(
            {
                "id": pid,
                "type": "row",
                "title": row_title,
                "collapsed": False,
                "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
                "panels": [],
            }
        )
        pid, y = pid + 1, y + 1
        for i, p in enumerate(row_panels):
            panels.append(panel(pid, (i % 3) * 8, y + (i // 3) * 8, p))
            pid += 1
        y += ((len(row_panels) + 2) // 3) * 8
    return {
        "uid": "portalis-overview",
        "title": "Portalis DGX",
        "description": "TranslationJob queue, GPU pool, spot reclaims, cost, worker throughput and Triton.",
        "tags": ["portalis", "gpu"],
        "timezone": "browser",
        "editable": False,
        "graphTooltip": 1,
        "refresh": "30s",
        "schemaVersion": 39,
        "time": {"from": "now-6h", "to": "now"},
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "label": "Data source",
                    "type": "datasource",
                    "query": "prometheus",
                    "current": {},
                    "hide": 0,
                }
            ]
        },
        "annotations": {"list": []},
        "links": [],
        "panels": panels,
    }


def render() -> str:
    return json.dumps(dashboard(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    OUT.write_text(render())
