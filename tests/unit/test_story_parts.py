"""The story demo's pure parts (portalis_dev.story) and the node agent's machine mode settings."""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any

import pytest

from portalis_dev import story
from portalis_dev.agent.config import AgentConfig, parse_machine_deployments
from portalis_dev.agent.machines import DELETE_MACHINE_ANNOTATION, scale_down_order
from portalis_operator import api

pytestmark = pytest.mark.unit


def test_the_story_pool_is_a_cluster_api_pool_of_at_most_four_nodes_at_75_percent_spot() -> None:
    body = story.pool_manifest("story", "portalis-story")
    pool = api.GPUPool.model_validate(body)  # what the operator will read
    assert pool.spec.provider.type == "clusterAPI"
    assert pool.spec.provider.cluster_api is not None
    assert pool.spec.provider.cluster_api.namespace == "portalis-story"
    assert (pool.spec.nodes.min, pool.spec.nodes.max) == (1, story.MAX_NODES)
    assert pool.spec.spot.target_ratio == 0.75
    assert pool.spec.scale_down.idle_seconds >= 600  # nothing is removed while the story plays


def test_the_story_jobs_fill_a_node_per_shard_and_the_critical_one_may_use_spot() -> None:
    jobs = story.job_manifests("ns")
    normal, critical = jobs[story.NORMAL]["spec"], jobs[story.CRITICAL]["spec"]
    assert (normal["priority"], critical["priority"]) == ("normal", "critical")
    for spec in (normal, critical):
        assert spec["parallelism"] * spec["gpusPerWorker"] == 2 * 8
        assert spec["capacity"]["spot"] == "preferred"
        assert spec["source"]["persistentVolumeClaim"]["claimName"] == "sample-source"
    assert (
        normal["output"]["persistentVolumeClaim"]["path"]
        != critical["output"]["persistentVolumeClaim"]["path"]
    )


def _ledger_line(record: dict[str, Any]) -> bytes:
    body = json.dumps(record).encode()
    return f"{zlib.crc32(body):08x} ".encode() + body + b"\n"


def test_redone_units_are_the_committed_ones_recorded_twice(tmp_path: Path) -> None:
    (tmp_path / "shard-0.ledger").write_bytes(
        b"".join(_ledger_line({"kind": "unit", "id": u}) for u in ("a", "b", "c", "c", "b")) + b"torn"
    )
    assert story.committed_units(tmp_path) == {"shard-0.ledger": {"a", "b", "c"}}
    # b was committed before the interruption and recorded again; c was in flight then
    assert story.redone_units(tmp_path, [{"shard-0.ledger": {"a", "b"}}]) == ["shard-0.ledger:b"]


def test_metric_values_reads_samples_by_name_and_label() -> None:
    text = "\n".join(
        [
            "# HELP portalis_recovery_reclaims_total x",
            'portalis_recovery_reclaims_total{signal="deleted"} 2.0',
            'portalis_recovery_reclaims_total{signal="taint"} 1.0',
            'portalis_recovery_reclaims_created{signal="deleted"} 1.7e9',
            'portalis_scheduler_oldest_queued_seconds{priority="critical"} 7.0',
            'portalis_scheduler_oldest_queued_seconds{priority="normal"} 900.0',
        ]
    )
    assert story.metric_values(text, "portalis_recovery_reclaims_total") == [2.0, 1.0]
    assert story.metric_values(text, "portalis_scheduler_oldest_queued_seconds", 'priority="critical"') == [
        7.0
    ]
    watch = story.AlertWatch("A", "m", 5, "x", value=6)
    assert watch.fired
    assert watch.line().startswith("FIRED")


def test_scale_down_removes_marked_machines_first_then_the_newest() -> None:
    def machine(name: str, marked: bool = False) -> dict[str, Any]:
        annotations = {DELETE_MACHINE_ANNOTATION: "true"} if marked else {}
        return {"metadata": {"name": name, "annotations": annotations}}

    order = scale_down_order([machine("p-spot-0"), machine("p-spot-1", marked=True), machine("p-spot-2")])
    assert [m["metadata"]["name"] for m in order] == ["p-spot-1", "p-spot-2", "p-spot-0"]


def test_machine_mode_settings() -> None:
    assert parse_machine_deployments("spot=a, on-demand=b") == {"spot": "a", "on-demand": "b"}
    with pytest.raises(ValueError, match="bad machine deployment"):
        parse_machine_deployments("gpu=a")
    common: dict[str, Any] = {
        "kubeconfig": Path("k"),
        "state_dir": Path("s"),
        "agent_id": "agent-p",
        "base_env": {},
    }
    # machine mode needs no nodes of its own; without it an agent needs some
    AgentConfig(nodes={}, machine_namespace="ns", machine_deployments={"spot": "a"}, **common)
    with pytest.raises(ValueError, match="at least one node"):
        AgentConfig(nodes={}, **common)
    with pytest.raises(ValueError, match="go together"):
        AgentConfig(nodes={"spot": 1}, machine_deployments={"spot": "a"}, **common)
    with pytest.raises(ValueError, match="negative"):
        AgentConfig(nodes={"spot": -1, "on-demand": 2}, **common)
